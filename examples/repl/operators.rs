//! The operator table the parser reads: which characters are binary
//! operators and how tightly they bind, which are unary operators, and
//! which of them are built in. Definitions at the prompt extend it, so an
//! operator takes effect on the entries that follow its definition.

use std::collections::{HashMap, HashSet};

use crate::ast::Operator;

/// Precedence of a binary operator defined without one, as in the tutorial.
pub const DEFAULT_PRECEDENCE: u8 = 30;

/// The tutorial's built-in binary operators, whose code is fixed: `=` is
/// assignment (chapter 7), the others are arithmetic and `<`.
const FIXED: [(char, u8); 5] = [('=', 2), ('<', 10), ('+', 20), ('-', 20), ('*', 40)];

/// Built in until defined: this REPL's extras, which the tutorial's
/// chapter 6 defines itself (`def binary> 10 …`, `def unary-(v) …`).
const PREDEFINED: [(char, u8); 2] = [('>', 10), ('/', 40)];

/// What a binary operator's use compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// An instruction (or, for `=`, a store).
    Builtin,
    /// A call to the function that defines it.
    Defined,
}

/// What a unary operator's use compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryBinding {
    /// Built-in negation (`-x` is `0 - x`).
    Negate,
    Defined,
}

#[derive(Debug, Clone)]
pub struct Operators {
    binary: HashMap<char, (u8, Binding)>,
    unary: HashSet<char>,
}

/// Whether `c` can name an operator: ASCII punctuation other than the
/// characters of the grammar itself.
pub fn is_operator_char(c: char) -> bool {
    c.is_ascii_punctuation() && !"(),;#._".contains(c)
}

/// The name of the function that defines an operator: `binary|`, `unary!`
/// (no identifier can clash: identifiers hold no punctuation).
pub fn function_name(operator: Operator) -> String {
    match operator {
        Operator::Unary(op) => format!("unary{op}"),
        Operator::Binary { op, .. } => format!("binary{op}"),
    }
}

impl Operators {
    pub fn new() -> Operators {
        let binary = FIXED
            .iter()
            .chain(&PREDEFINED)
            .map(|&(op, precedence)| (op, (precedence, Binding::Builtin)))
            .collect();
        Operators {
            binary,
            unary: HashSet::new(),
        }
    }

    pub fn binary(&self, op: char) -> Option<(u8, Binding)> {
        self.binary.get(&op).copied()
    }

    pub fn unary(&self, op: char) -> Option<UnaryBinding> {
        if self.unary.contains(&op) {
            Some(UnaryBinding::Defined)
        } else if op == '-' {
            Some(UnaryBinding::Negate)
        } else {
            None
        }
    }

    /// Why `op` cannot be defined as a binary operator, if it cannot.
    pub fn refuse_binary(op: char) -> Option<String> {
        match op {
            '=' => Some("'=' is assignment and cannot be redefined".into()),
            _ if FIXED.iter().any(|&(fixed, _)| fixed == op) => Some(format!(
                "'{op}' is a built-in operator and cannot be redefined"
            )),
            _ => None,
        }
    }

    /// Makes a defined operator available to the entries that follow.
    pub fn install(&mut self, operator: Operator) {
        match operator {
            Operator::Unary(op) => {
                self.unary.insert(op);
            }
            Operator::Binary { op, precedence } => {
                self.binary.insert(op, (precedence, Binding::Defined));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_extend_the_table() {
        let mut ops = Operators::new();
        assert_eq!(ops.binary('='), Some((2, Binding::Builtin)));
        assert_eq!(ops.binary('|'), None);
        assert_eq!(ops.unary('!'), None);
        assert_eq!(ops.unary('-'), Some(UnaryBinding::Negate));
        ops.install(Operator::Binary {
            op: '>',
            precedence: 15,
        });
        ops.install(Operator::Unary('-'));
        assert_eq!(ops.binary('>'), Some((15, Binding::Defined)));
        assert_eq!(ops.unary('-'), Some(UnaryBinding::Defined));
        assert!(Operators::refuse_binary('+').is_some());
        assert!(Operators::refuse_binary('=')
            .unwrap()
            .contains("assignment"));
        assert_eq!(Operators::refuse_binary('/'), None);
        assert!(is_operator_char('|') && !is_operator_char('(') && !is_operator_char('a'));
    }
}
