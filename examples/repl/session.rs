//! A REPL session: lines in, results out. Each `def` lives in a module of
//! its own; each top-level expression is compiled into a module, run, and
//! its code freed at once. Redefining a function or an operator recompiles
//! every function that calls it (they were bound to the old code's address)
//! and then frees the old code.

use std::collections::{BTreeMap, HashMap};

use inkwell::context::Context;

use crate::ast::{Entry, Expr, Function, Prototype};
use crate::backend::{host, Backend, Handle};
use crate::codegen::Codegen;
use crate::diagnostic::Diagnostic;
use crate::input::Input;
use crate::operators::Operators;

/// What one entry produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Value(f64),
    Defined(String),
    Extern(String),
    Error(String),
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Value(v) => write!(f, "=> {v}"),
            Output::Defined(s) => write!(f, "defined {s}"),
            Output::Extern(s) => write!(f, "extern {s}"),
            Output::Error(e) => write!(f, "error: {e}"),
        }
    }
}

struct Definition {
    function: Function,
    /// Definition order: callees are always older than their callers.
    seq: u64,
    handle: Handle,
    address: usize,
}

pub struct Session {
    backend: Box<dyn Backend>,
    defs: HashMap<String, Definition>,
    externs: HashMap<String, usize>,
    seq: u64,
    operators: Operators,
    input: Input,
    /// Top-level expressions run (each compiled, run and freed).
    expressions: u64,
}

const EXPR_NAME: &str = "__anon_expr";

impl Session {
    pub fn new(backend: Box<dyn Backend>) -> Session {
        Session {
            backend,
            defs: HashMap::new(),
            externs: HashMap::new(),
            seq: 0,
            operators: Operators::new(),
            input: Input::default(),
            expressions: 0,
        }
    }

    /// Reads one line of input and runs every entry it finishes, handing
    /// each result to `emit` as soon as it is known (so that output of the
    /// JIT code and results stay in order). An entry the line leaves
    /// unfinished waits for the next lines.
    pub fn feed_line(&mut self, line: &str, mut emit: impl FnMut(Output)) {
        self.input.push_line(line);
        while let Some(entry) = self.input.next(&self.operators) {
            emit(match entry {
                Err(e) => Output::Error(self.describe(&e)),
                Ok(entry) => self.eval(entry).unwrap_or_else(Output::Error),
            });
        }
    }

    /// Whether an entry is waiting for more lines.
    pub fn is_pending(&self) -> bool {
        self.input.is_pending()
    }

    /// The input has ended: reports an unfinished entry.
    pub fn end_of_input(&mut self, mut emit: impl FnMut(Output)) {
        if let Some(e) = self.input.finish(&self.operators) {
            emit(Output::Error(self.describe(&e)));
        }
    }

    /// Drops an unfinished entry (the user gave up on it).
    pub fn discard_pending(&mut self) {
        self.input.discard();
    }

    /// Live definitions (each one object) and top-level expressions run
    /// (whose code is freed as soon as they return).
    pub fn counts(&self) -> (usize, u64) {
        (self.defs.len(), self.expressions)
    }

    fn describe(&self, e: &Diagnostic) -> String {
        e.describe(self.input.line())
    }

    /// `message` about the entry that wrote `proto`, at its name.
    fn at(&self, proto: &Prototype, message: String) -> String {
        self.describe(&Diagnostic {
            pos: proto.pos,
            message,
        })
    }

    /// Every callable name with its arity (a definition wins over an extern
    /// of the same name). A snapshot, since loading code needs `&mut self`.
    fn arities(&self) -> HashMap<String, usize> {
        let mut all: HashMap<String, usize> = host::functions()
            .iter()
            .map(|&(n, a, _)| (n.to_string(), a))
            .collect();
        all.extend(self.externs.iter().map(|(n, a)| (n.clone(), *a)));
        all.extend(
            self.defs
                .iter()
                .map(|(n, d)| (n.clone(), d.function.proto.params.len())),
        );
        all
    }

    fn eval(&mut self, entry: Entry) -> Result<Output, String> {
        match entry {
            Entry::Extern(proto) => {
                if proto.name == EXPR_NAME {
                    return Err(self.at(&proto, format!("'{EXPR_NAME}' is reserved")));
                }
                let known = self.defs.contains_key(&proto.name)
                    || host::functions().iter().any(|(n, _, _)| *n == proto.name);
                if !known && !host_symbol_exists(&proto.name) {
                    let message = format!("no host function '{}'", proto.name);
                    return Err(self.at(&proto, message));
                }
                self.externs.insert(proto.name.clone(), proto.params.len());
                Ok(Output::Extern(proto.signature()))
            }
            Entry::Def(function) => self.define(function),
            Entry::Expr(expr) => self.evaluate(expr),
        }
    }

    /// Compiles and loads `function`, resolving calls with `overrides` first.
    fn load(
        &mut self,
        function: &Function,
        overrides: &HashMap<String, usize>,
        arities: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<(Handle, usize), String> {
        let context = Context::create();
        let module = Codegen::new(&context, &function.proto.name, arities)
            .function(function)
            .map_err(|e| self.describe(&e))?;
        let mut callees = Vec::new();
        function.body.callees(&mut callees);
        let imports: Vec<(String, usize)> = callees
            .into_iter()
            .filter(|c| *c != function.proto.name)
            .filter_map(|c| {
                let addr = overrides
                    .get(&c)
                    .copied()
                    .or_else(|| self.defs.get(&c).map(|d| d.address))?;
                Some((c, addr))
            })
            .collect();
        let handle = self.backend.load(module, &imports)?;
        match self.backend.address(handle, &function.proto.name) {
            Ok(address) => Ok((handle, address)),
            Err(e) => {
                self.backend.unload(handle);
                Err(e)
            }
        }
    }

    fn evaluate(&mut self, expr: Expr) -> Result<Output, String> {
        let function = Function {
            proto: Prototype {
                name: EXPR_NAME.into(),
                params: Vec::new(),
                operator: None,
                pos: None,
            },
            body: expr,
        };
        let arities = self.arities();
        let (handle, address) =
            self.load(&function, &HashMap::new(), &|n| arities.get(n).copied())?;
        // SAFETY: the module defines `__anon_expr` as `double ()`.
        let run: extern "C" fn() -> f64 = unsafe { std::mem::transmute(address) };
        let value = run();
        self.backend.unload(handle);
        self.expressions += 1;
        Ok(Output::Value(value))
    }

    /// The definitions that call `name`, directly or not, each after the
    /// ones it calls.
    fn dependents(&self, name: &str) -> Vec<String> {
        let callees_of = |def: &Definition| {
            let mut callees = Vec::new();
            def.function.body.callees(&mut callees);
            callees
        };
        let mut found: BTreeMap<u64, String> = BTreeMap::new();
        let mut work = vec![name.to_string()];
        while let Some(target) = work.pop() {
            for (def_name, def) in &self.defs {
                if def_name == name || found.values().any(|n| n == def_name) {
                    continue;
                }
                if callees_of(def).contains(&target) {
                    found.insert(def.seq, def_name.clone());
                    work.push(def_name.clone());
                }
            }
        }
        // Order: callees within the set first (the call graph of existing
        // definitions has no cycles: a function can only call what exists).
        let mut pending: Vec<String> = found.into_values().collect();
        let mut ordered = Vec::new();
        while !pending.is_empty() {
            let ready = pending
                .iter()
                .position(|n| {
                    callees_of(&self.defs[n])
                        .iter()
                        .all(|c| c == n || !pending.contains(c))
                })
                .unwrap_or(0);
            ordered.push(pending.remove(ready));
        }
        ordered
    }

    fn define(&mut self, function: Function) -> Result<Output, String> {
        let name = function.proto.name.clone();
        let refuse = |message| Err(self.at(&function.proto, message));
        if name == EXPR_NAME {
            return refuse(format!("'{EXPR_NAME}' is reserved"));
        }
        if host::functions().iter().any(|(n, _, _)| *n == name) {
            return refuse(format!("{name} is a host function and cannot be redefined"));
        }
        // The new definition, then every function bound to the old one, in
        // definition order; arities seen by the codegen are the new ones.
        let dependents = self.dependents(&name);
        let mut new_callees = Vec::new();
        function.body.callees(&mut new_callees);
        if let Some(cycle) = dependents.iter().find(|d| new_callees.contains(d)) {
            return refuse(format!(
                "{name} would call {cycle}, which calls {name}: mutual recursion across definitions is not supported"
            ));
        }
        let mut plan = vec![(name.clone(), function.clone())];
        for dependent in dependents {
            plan.push((dependent.clone(), self.defs[&dependent].function.clone()));
        }
        // Arities as they will be once the plan is loaded.
        let mut arities = self.arities();
        for (n, f) in &plan {
            arities.insert(n.clone(), f.proto.params.len());
        }
        let lookup = |n: &str| arities.get(n).copied();
        // Check every function before touching the JIT: a redefinition that
        // breaks a caller (e.g. a new arity) is refused as a whole.
        for (_, f) in &plan {
            let context = Context::create();
            Codegen::new(&context, "check", &lookup)
                .function(f)
                .map_err(|e| self.describe(&e))?;
        }
        // Old code goes first (ORC cannot hold two definitions of a name);
        // its callers are recompiled right after, before anything runs.
        let old: Vec<Definition> = plan
            .iter()
            .filter_map(|(n, _)| self.defs.remove(n))
            .collect();
        for def in &old {
            self.backend.unload(def.handle);
        }
        let mut overrides = HashMap::new();
        for (n, f) in plan {
            match self.load(&f, &overrides, &|x| arities.get(x).copied()) {
                Ok((handle, address)) => {
                    overrides.insert(n.clone(), address);
                    let seq = match old.iter().find(|d| d.function.proto.name == n) {
                        Some(d) => d.seq,
                        None => {
                            self.seq += 1;
                            self.seq
                        }
                    };
                    self.defs.insert(
                        n,
                        Definition {
                            function: f,
                            seq,
                            handle,
                            address,
                        },
                    );
                }
                Err(e) => return Err(format!("{n}: {e} (definition dropped)")),
            }
        }
        let proto = &self.defs[&name].function.proto;
        if let Some(operator) = proto.operator {
            self.operators.install(operator);
        }
        Ok(Output::Defined(proto.signature()))
    }
}

/// Whether the process has a symbol of that name (libm and the like).
fn host_symbol_exists(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: dlsym with RTLD_DEFAULT and a valid C string only looks up.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
}
