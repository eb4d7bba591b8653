//! LLVM IR for Kaleidoscope with inkwell: every value is a double.

use std::collections::HashMap;

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{FloatValue, FunctionValue, ValueKind};
use inkwell::FloatPredicate;

use crate::ast::{Expr, Function, Prototype};

/// A semantic error, at a column when one is known.
#[derive(Debug, Clone, PartialEq)]
pub struct CodegenError {
    pub col: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.col {
            Some(col) => write!(f, "col {col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

type Result<T> = std::result::Result<T, CodegenError>;

fn error<T>(col: Option<usize>, message: impl Into<String>) -> Result<T> {
    Err(CodegenError {
        col,
        message: message.into(),
    })
}

fn llvm<E: std::fmt::Display>(e: E) -> CodegenError {
    CodegenError {
        col: None,
        message: format!("LLVM: {e}"),
    }
}

/// Builds one module holding one function.
pub struct Codegen<'ctx, 'a> {
    context: &'ctx Context,
    module: Module<'ctx>,
    builder: Builder<'ctx>,
    /// Arity of every function that may be called.
    arities: &'a dyn Fn(&str) -> Option<usize>,
    variables: HashMap<String, FloatValue<'ctx>>,
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
            self.variables.insert(name.clone(), param);
        }
        let body = self.expr(&function.body)?;
        self.builder.build_return(Some(&body)).map_err(llvm)?;
        if !value.verify(false) {
            return error(
                None,
                format!("internal error: invalid IR for {}", function.proto.name),
            );
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

    fn expr(&mut self, expr: &Expr) -> Result<FloatValue<'ctx>> {
        let f64_type = self.context.f64_type();
        match expr {
            Expr::Number(value) => Ok(f64_type.const_float(*value)),
            Expr::Variable { name, col } => match self.variables.get(name) {
                Some(v) => Ok(*v),
                None => error(Some(*col), format!("unknown variable '{name}'")),
            },
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
                    other => error(None, format!("unknown operator '{other}'")),
                }
            }
            Expr::Call { callee, args, col } => {
                let Some(arity) = (self.arities)(callee) else {
                    return error(Some(*col), format!("unknown function '{callee}'"));
                };
                if arity != args.len() {
                    return error(
                        Some(*col),
                        format!("{callee} takes {arity} argument(s), {} given", args.len()),
                    );
                }
                let proto = Prototype {
                    name: callee.clone(),
                    params: vec![String::new(); arity],
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
                    ValueKind::Instruction(_) => error(Some(*col), "call did not yield a value"),
                }
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond)?;
                let b = &self.builder;
                let zero = f64_type.const_zero();
                let test = b
                    .build_float_compare(FloatPredicate::ONE, cond, zero, "ifcond")
                    .map_err(llvm)?;
                let function = self.current_function();
                let then_bb = self.context.append_basic_block(function, "then");
                let else_bb = self.context.append_basic_block(function, "else");
                let merge_bb = self.context.append_basic_block(function, "ifcont");
                b.build_conditional_branch(test, then_bb, else_bb)
                    .map_err(llvm)?;

                self.builder.position_at_end(then_bb);
                let then_value = self.expr(then)?;
                self.builder
                    .build_unconditional_branch(merge_bb)
                    .map_err(llvm)?;
                let then_end = self.builder.get_insert_block().expect("inside a block");

                self.builder.position_at_end(else_bb);
                let else_value = self.expr(otherwise)?;
                self.builder
                    .build_unconditional_branch(merge_bb)
                    .map_err(llvm)?;
                let else_end = self.builder.get_insert_block().expect("inside a block");

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
                // As in the tutorial: the body runs, then the step is added,
                // then the condition (on the value before the step) decides.
                let start = self.expr(start)?;
                let function = self.current_function();
                let preheader = self.builder.get_insert_block().expect("inside a block");
                let loop_bb = self.context.append_basic_block(function, "loop");
                self.builder
                    .build_unconditional_branch(loop_bb)
                    .map_err(llvm)?;
                self.builder.position_at_end(loop_bb);
                let phi = self.builder.build_phi(f64_type, var).map_err(llvm)?;
                phi.add_incoming(&[(&start, preheader)]);
                let value = phi.as_basic_value().into_float_value();
                let shadowed = self.variables.insert(var.clone(), value);

                self.expr(body)?;
                let step = match step {
                    Some(step) => self.expr(step)?,
                    None => f64_type.const_float(1.0),
                };
                let next = self
                    .builder
                    .build_float_add(value, step, "nextvar")
                    .map_err(llvm)?;
                let end = self.expr(cond)?;
                let zero = f64_type.const_zero();
                let test = self
                    .builder
                    .build_float_compare(FloatPredicate::ONE, end, zero, "loopcond")
                    .map_err(llvm)?;
                let loop_end = self.builder.get_insert_block().expect("inside a block");
                let after_bb = self.context.append_basic_block(function, "afterloop");
                self.builder
                    .build_conditional_branch(test, loop_bb, after_bb)
                    .map_err(llvm)?;
                phi.add_incoming(&[(&next, loop_end)]);
                self.builder.position_at_end(after_bb);
                match shadowed {
                    Some(old) => self.variables.insert(var.clone(), old),
                    None => self.variables.remove(var),
                };
                Ok(f64_type.const_zero())
            }
        }
    }

    fn current_function(&self) -> FunctionValue<'ctx> {
        self.builder
            .get_insert_block()
            .and_then(|b| b.get_parent())
            .expect("inside a function")
    }
}
