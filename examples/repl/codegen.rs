//! LLVM IR for Kaleidoscope with inkwell: every value is a double, and
//! every variable (parameters, loop variables, `var`) a stack slot, so that
//! `=` can assign any of them (the tutorial's chapter 7).

use std::collections::HashMap;

use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{FloatValue, FunctionValue, PointerValue, ValueKind};
use inkwell::FloatPredicate;

use crate::ast::{Expr, Function, Prototype};
use crate::diagnostic::{Diagnostic, Pos};

type Result<T> = std::result::Result<T, Diagnostic>;

fn llvm<E: std::fmt::Display>(e: E) -> Diagnostic {
    Diagnostic::new(format!("LLVM: {e}"))
}

/// Builds one module holding one function.
pub struct Codegen<'ctx, 'a> {
    context: &'ctx Context,
    module: Module<'ctx>,
    builder: Builder<'ctx>,
    /// Arity of every function that may be called.
    arities: &'a dyn Fn(&str) -> Option<usize>,
    /// The stack slot of each variable in scope.
    variables: HashMap<String, PointerValue<'ctx>>,
}

impl<'ctx, 'a> Codegen<'ctx, 'a> {
    pub fn new(
        context: &'ctx Context,
        name: &str,
        arities: &'a dyn Fn(&str) -> Option<usize>,
    ) -> Self {
        Codegen {
            context,
            module: context.create_module(name),
            builder: context.create_builder(),
            arities,
            variables: HashMap::new(),
        }
    }

    /// Compiles `function` (its own name may be called: recursion) and
    /// returns the finished module.
    pub fn function(mut self, function: &Function) -> Result<Module<'ctx>> {
        let value = self.declare(&function.proto);
        let entry = self.context.append_basic_block(value, "entry");
        self.builder.position_at_end(entry);
        for (param, name) in value.get_param_iter().zip(&function.proto.params) {
            let param = param.into_float_value();
            param.set_name(name);
            let slot = self.slot(name)?;
            self.builder.build_store(slot, param).map_err(llvm)?;
            self.variables.insert(name.clone(), slot);
        }
        let body = self.expr(&function.body)?;
        self.builder.build_return(Some(&body)).map_err(llvm)?;
        if !value.verify(false) {
            return Err(Diagnostic::new(format!(
                "internal error: invalid IR for {}",
                function.proto.name
            )));
        }
        Ok(self.module)
    }

    fn declare(&self, proto: &Prototype) -> FunctionValue<'ctx> {
        if let Some(f) = self.module.get_function(&proto.name) {
            return f;
        }
        let f64_type = self.context.f64_type();
        let params = vec![f64_type.into(); proto.params.len()];
        self.module
            .add_function(&proto.name, f64_type.fn_type(&params, false), None)
    }

    /// A stack slot for a variable, at the top of the entry block, where
    /// LLVM's mem2reg would find it.
    fn slot(&self, name: &str) -> Result<PointerValue<'ctx>> {
        let entry = self
            .current_function()
            .get_first_basic_block()
            .expect("a function being built has an entry block");
        let at_entry = self.context.create_builder();
        match entry.get_first_instruction() {
            Some(first) => at_entry.position_before(&first),
            None => at_entry.position_at_end(entry),
        }
        at_entry
            .build_alloca(self.context.f64_type(), name)
            .map_err(llvm)
    }

    fn variable(&self, name: &str, pos: Pos) -> Result<PointerValue<'ctx>> {
        self.variables
            .get(name)
            .copied()
            .ok_or_else(|| Diagnostic::at(pos, format!("unknown variable '{name}'")))
    }

    /// Brings `name` into scope as `slot`; returns what it hid.
    fn bind(&mut self, name: &str, slot: PointerValue<'ctx>) -> Option<PointerValue<'ctx>> {
        self.variables.insert(name.to_string(), slot)
    }

    /// Ends the scope of `name`, bringing back what it hid.
    fn unbind(&mut self, name: &str, hidden: Option<PointerValue<'ctx>>) {
        match hidden {
            Some(old) => self.variables.insert(name.to_string(), old),
            None => self.variables.remove(name),
        };
    }

    /// `value != 0`, as conditions are read.
    fn truth(
        &self,
        value: FloatValue<'ctx>,
        name: &str,
    ) -> Result<inkwell::values::IntValue<'ctx>> {
        let zero = self.context.f64_type().const_zero();
        self.builder
            .build_float_compare(FloatPredicate::ONE, value, zero, name)
            .map_err(llvm)
    }

    fn expr(&mut self, expr: &Expr) -> Result<FloatValue<'ctx>> {
        let f64_type = self.context.f64_type();
        match expr {
            Expr::Number(value) => Ok(f64_type.const_float(*value)),
            Expr::Variable { name, pos } => {
                let slot = self.variable(name, *pos)?;
                let value = self
                    .builder
                    .build_load(f64_type, slot, name)
                    .map_err(llvm)?;
                Ok(value.into_float_value())
            }
            Expr::Assign { name, pos, value } => {
                let slot = self.variable(name, *pos)?;
                let value = self.expr(value)?;
                self.builder.build_store(slot, value).map_err(llvm)?;
                Ok(value)
            }
            Expr::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                let b = &self.builder;
                let compare = |pred| -> Result<FloatValue<'ctx>> {
                    let bit = b.build_float_compare(pred, l, r, "cmp").map_err(llvm)?;
                    b.build_unsigned_int_to_float(bit, f64_type, "bool")
                        .map_err(llvm)
                };
                match op {
                    '+' => b.build_float_add(l, r, "add").map_err(llvm),
                    '-' => b.build_float_sub(l, r, "sub").map_err(llvm),
                    '*' => b.build_float_mul(l, r, "mul").map_err(llvm),
                    '/' => b.build_float_div(l, r, "div").map_err(llvm),
                    '<' => compare(FloatPredicate::ULT),
                    '>' => compare(FloatPredicate::UGT),
                    other => Err(Diagnostic::new(format!("unknown operator '{other}'"))),
                }
            }
            Expr::Call { callee, args, pos } => self.call(callee, args, *pos),
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond)?;
                let test = self.truth(cond, "ifcond")?;
                let function = self.current_function();
                let then_bb = self.context.append_basic_block(function, "then");
                let else_bb = self.context.append_basic_block(function, "else");
                let merge_bb = self.context.append_basic_block(function, "ifcont");
                self.builder
                    .build_conditional_branch(test, then_bb, else_bb)
                    .map_err(llvm)?;

                let (then_value, then_end) = self.arm(then_bb, then, merge_bb)?;
                let (else_value, else_end) = self.arm(else_bb, otherwise, merge_bb)?;
                self.builder.position_at_end(merge_bb);
                let phi = self.builder.build_phi(f64_type, "iftmp").map_err(llvm)?;
                phi.add_incoming(&[(&then_value, then_end), (&else_value, else_end)]);
                Ok(phi.as_basic_value().into_float_value())
            }
            Expr::For {
                var,
                start,
                cond,
                step,
                body,
            } => {
                // As in the tutorial: the body runs, then the step and the
                // end condition are computed, then the variable is stepped;
                // the condition decides whether the body runs again. The
                // start value is computed before the variable is in scope.
                let slot = self.slot(var)?;
                let start = self.expr(start)?;
                self.builder.build_store(slot, start).map_err(llvm)?;
                let function = self.current_function();
                let loop_bb = self.context.append_basic_block(function, "loop");
                self.builder
                    .build_unconditional_branch(loop_bb)
                    .map_err(llvm)?;
                self.builder.position_at_end(loop_bb);
                let hidden = self.bind(var, slot);

                self.expr(body)?;
                let step = match step {
                    Some(step) => self.expr(step)?,
                    None => f64_type.const_float(1.0),
                };
                let end = self.expr(cond)?;
                let current = self.builder.build_load(f64_type, slot, var).map_err(llvm)?;
                let next = self
                    .builder
                    .build_float_add(current.into_float_value(), step, "nextvar")
                    .map_err(llvm)?;
                self.builder.build_store(slot, next).map_err(llvm)?;
                let test = self.truth(end, "loopcond")?;
                let after_bb = self.context.append_basic_block(function, "afterloop");
                self.builder
                    .build_conditional_branch(test, loop_bb, after_bb)
                    .map_err(llvm)?;
                self.builder.position_at_end(after_bb);
                self.unbind(var, hidden);
                Ok(f64_type.const_zero())
            }
            Expr::Var { vars, body } => {
                // Each initializer is computed before its variable is in
                // scope (`var a = a in` reads the outer `a`), after the
                // variables before it.
                let mut hidden = Vec::with_capacity(vars.len());
                for (name, init) in vars {
                    let value = match init {
                        Some(init) => self.expr(init)?,
                        None => f64_type.const_zero(),
                    };
                    let slot = self.slot(name)?;
                    self.builder.build_store(slot, value).map_err(llvm)?;
                    hidden.push((name, self.bind(name, slot)));
                }
                let value = self.expr(body)?;
                for (name, old) in hidden.into_iter().rev() {
                    self.unbind(name, old);
                }
                Ok(value)
            }
        }
    }

    /// One arm of an `if`: `expr` from `block` on, then a branch to
    /// `merge`. Returns the value and the block it ends in (where the phi
    /// takes it from: nested ifs and loops move on to blocks of their own).
    fn arm(
        &mut self,
        block: BasicBlock<'ctx>,
        expr: &Expr,
        merge: BasicBlock<'ctx>,
    ) -> Result<(FloatValue<'ctx>, BasicBlock<'ctx>)> {
        self.builder.position_at_end(block);
        let value = self.expr(expr)?;
        self.builder
            .build_unconditional_branch(merge)
            .map_err(llvm)?;
        let end = self.builder.get_insert_block().expect("inside a block");
        Ok((value, end))
    }

    fn call(&mut self, callee: &str, args: &[Expr], pos: Pos) -> Result<FloatValue<'ctx>> {
        let Some(arity) = (self.arities)(callee) else {
            return Err(Diagnostic::at(pos, format!("unknown function '{callee}'")));
        };
        if arity != args.len() {
            return Err(Diagnostic::at(
                pos,
                format!("{callee} takes {arity} argument(s), {} given", args.len()),
            ));
        }
        let proto = Prototype {
            name: callee.to_string(),
            params: vec![String::new(); arity],
            operator: None,
            pos: None,
        };
        let function = self.declare(&proto);
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.expr(arg)?.into());
        }
        let call = self
            .builder
            .build_call(function, &values, "call")
            .map_err(llvm)?;
        match call.try_as_basic_value() {
            ValueKind::Basic(value) => Ok(value.into_float_value()),
            ValueKind::Instruction(_) => Err(Diagnostic::at(pos, "call did not yield a value")),
        }
    }

    fn current_function(&self) -> FunctionValue<'ctx> {
        self.builder
            .get_insert_block()
            .and_then(|b| b.get_parent())
            .expect("inside a function")
    }
}
