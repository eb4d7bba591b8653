//! The syntax tree.

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Variable {
        name: String,
        col: usize,
    },
    Binary {
        op: char,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        callee: String,
        args: Vec<Expr>,
        col: usize,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    For {
        var: String,
        start: Box<Expr>,
        cond: Box<Expr>,
        step: Option<Box<Expr>>,
        body: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prototype {
    pub name: String,
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub proto: Prototype,
    pub body: Expr,
}

/// One entry of the language: what a `;` ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Def(Function),
    Extern(Prototype),
    Expr(Expr),
}

impl Expr {
    /// Names of the functions this expression calls.
    pub fn callees(&self, out: &mut Vec<String>) {
        match self {
            Expr::Number(_) | Expr::Variable { .. } => {}
            Expr::Binary { lhs, rhs, .. } => {
                lhs.callees(out);
                rhs.callees(out);
            }
            Expr::Call { callee, args, .. } => {
                out.push(callee.clone());
                args.iter().for_each(|a| a.callees(out));
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                cond.callees(out);
                then.callees(out);
                otherwise.callees(out);
            }
            Expr::For {
                start,
                cond,
                step,
                body,
                ..
            } => {
                start.callees(out);
                cond.callees(out);
                if let Some(step) = step {
                    step.callees(out);
                }
                body.callees(out);
            }
        }
    }
}
