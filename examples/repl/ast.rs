//! The syntax tree. Uses of user-defined operators are calls to the
//! functions that define them (`binary|`, `unary!`), so redefining an
//! operator finds and recompiles its users as it does a function's callers.

use crate::diagnostic::Pos;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Variable {
        name: String,
        pos: Pos,
    },
    /// A built-in binary operator: `+ - * / < >`.
    Binary {
        op: char,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        callee: String,
        args: Vec<Expr>,
        pos: Pos,
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
    /// `var a = 1, b in body`: variables without a value start at 0.
    Var {
        vars: Vec<(String, Option<Expr>)>,
        body: Box<Expr>,
    },
    /// `name = value`, which yields the value.
    Assign {
        name: String,
        pos: Pos,
        value: Box<Expr>,
    },
}

/// What a prototype defines besides a plain function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operator {
    Unary(char),
    Binary { op: char, precedence: u8 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prototype {
    pub name: String,
    pub params: Vec<String>,
    pub operator: Option<Operator>,
    /// Where its name was written; none for prototypes the REPL makes.
    pub pos: Option<Pos>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub proto: Prototype,
    pub body: Expr,
}

/// One entry of the language: a definition, an extern or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Def(Function),
    Extern(Prototype),
    Expr(Expr),
}

impl Prototype {
    /// The prototype as the user wrote it, with commas between parameters.
    pub fn signature(&self) -> String {
        let params = self.params.join(", ");
        match self.operator {
            Some(Operator::Binary { precedence, .. }) => {
                format!("{}({params}), precedence {precedence}", self.name)
            }
            _ => format!("{}({params})", self.name),
        }
    }
}

impl Expr {
    /// The expressions directly inside this one.
    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Number(_) | Expr::Variable { .. } => Vec::new(),
            Expr::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            Expr::Call { args, .. } => args.iter().collect(),
            Expr::If {
                cond,
                then,
                otherwise,
            } => vec![cond, then, otherwise],
            Expr::For {
                start,
                cond,
                step,
                body,
                ..
            } => {
                let mut children: Vec<&Expr> = vec![start, cond];
                children.extend(step.as_deref());
                children.push(body);
                children
            }
            Expr::Var { vars, body } => {
                let mut children: Vec<&Expr> =
                    vars.iter().filter_map(|(_, init)| init.as_ref()).collect();
                children.push(body);
                children
            }
            Expr::Assign { value, .. } => vec![value],
        }
    }

    /// Names of the functions this expression calls, operators included.
    pub fn callees(&self, out: &mut Vec<String>) {
        if let Expr::Call { callee, .. } = self {
            out.push(callee.clone());
        }
        for child in self.children() {
            child.callees(out);
        }
    }
}
