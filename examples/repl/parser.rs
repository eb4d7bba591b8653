//! A recursive-descent parser with operator precedence, as in LLVM's
//! Kaleidoscope tutorial: it reads one entry at a time from a run of tokens,
//! with the operator table as it stands when that entry starts.

use crate::ast::{Entry, Expr, Function, Operator, Prototype};
use crate::diagnostic::{Diagnostic, Pos};
use crate::lexer::{Spanned, Token};
use crate::operators::{
    function_name, is_operator_char, Binding, Operators, UnaryBinding, DEFAULT_PRECEDENCE,
};

/// The outcome of parsing the first entry of a run of tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Entry(Entry),
    /// A mistake; the tokens up to the next `;` go with it.
    Error(Diagnostic),
    /// The tokens end before the entry does: it needs more input. The
    /// diagnostic says what was expected, should the input end here.
    Incomplete(Diagnostic),
}

/// Parses the first entry of `tokens` (skipping empty `;` entries) and
/// says how many tokens it took, its closing `;` included. `None` when
/// there is no entry.
pub fn parse_entry(tokens: &[Spanned], ops: &Operators) -> Option<(Parsed, usize)> {
    let start = tokens.iter().position(|t| t.token != Token::Char(';'))?;
    let mut parser = Parser {
        tokens,
        pos: start,
        ops,
        refusal: None,
    };
    Some(match parser.entry() {
        Ok(entry) => {
            parser.eat_char(';');
            match parser.refusal {
                Some(refusal) => (Parsed::Error(refusal), parser.pos),
                None => (Parsed::Entry(entry), parser.pos),
            }
        }
        Err(e) if e.pos.is_none() => (Parsed::Incomplete(e), 0),
        Err(e) => {
            let resume = tokens[parser.pos..]
                .iter()
                .position(|t| t.token == Token::Char(';'))
                .map_or(tokens.len(), |semicolon| parser.pos + semicolon + 1);
            (Parsed::Error(e), resume)
        }
    })
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    pos: usize,
    ops: &'a Operators,
    /// The first thing found well-formed but not allowed (`def binary+`):
    /// reported once the whole entry is read, so that the rest of a
    /// definition over several lines is not taken for new entries.
    refusal: Option<Diagnostic>,
}

/// An error at the end of the tokens has no place: that is how an
/// incomplete entry is told from a wrong one.
type ParseResult<T> = Result<T, Diagnostic>;

fn describe(token: &Token) -> String {
    match token {
        Token::Def => "'def'".into(),
        Token::Extern => "'extern'".into(),
        Token::If => "'if'".into(),
        Token::Then => "'then'".into(),
        Token::Else => "'else'".into(),
        Token::For => "'for'".into(),
        Token::In => "'in'".into(),
        Token::Binary => "'binary'".into(),
        Token::Unary => "'unary'".into(),
        Token::Var => "'var'".into(),
        Token::Ident(name) => format!("'{name}'"),
        Token::Number(value) => format!("the number {value}"),
        Token::Char(c) => format!("'{c}'"),
        Token::Invalid(text) => text.clone(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.pos)
    }

    fn peek_token(&self) -> Option<&Token> {
        self.peek().map(|t| &t.token)
    }

    /// "expected …" at the next token, or at the end of the input.
    fn expected<T>(&self, what: &str) -> ParseResult<T> {
        Err(match self.peek() {
            Some(Spanned {
                token: Token::Invalid(message),
                pos,
            }) => Diagnostic::at(*pos, message.clone()),
            Some(next) => Diagnostic::at(
                next.pos,
                format!("expected {what}, found {}", describe(&next.token)),
            ),
            None => Diagnostic::new(format!("unexpected end of input: expected {what}")),
        })
    }

    fn refuse(&mut self, pos: Pos, message: impl Into<String>) {
        self.refusal.get_or_insert(Diagnostic::at(pos, message));
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek_token() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_char(&mut self, c: char) -> bool {
        self.eat(&Token::Char(c))
    }

    fn expect(&mut self, token: &Token) -> ParseResult<()> {
        if self.eat(token) {
            Ok(())
        } else {
            self.expected(&describe(token))
        }
    }

    fn ident(&mut self, what: &str) -> ParseResult<(String, Pos)> {
        match self.peek() {
            Some(Spanned {
                token: Token::Ident(name),
                pos,
            }) => {
                let found = (name.clone(), *pos);
                self.pos += 1;
                Ok(found)
            }
            _ => self.expected(what),
        }
    }

    fn entry(&mut self) -> ParseResult<Entry> {
        if self.eat(&Token::Def) {
            let proto = self.prototype()?;
            let body = self.expression()?;
            Ok(Entry::Def(Function { proto, body }))
        } else if self.eat(&Token::Extern) {
            let at = self.peek().map(|t| t.pos);
            let proto = self.prototype()?;
            if let (Some(_), Some(at)) = (proto.operator, at) {
                self.refuse(
                    at,
                    "extern declares a host function; operators are defined with def",
                );
            }
            Ok(Entry::Extern(proto))
        } else {
            Ok(Entry::Expr(self.expression()?))
        }
    }

    /// What follows `binary` or `unary` (`kind`) in a prototype: the
    /// operator's character and, for a binary one, its precedence.
    fn operator(&mut self, kind: &Token) -> ParseResult<Operator> {
        let (op, pos) = match self.peek() {
            Some(&Spanned {
                token: Token::Char(c),
                pos,
            }) if is_operator_char(c) => (c, pos),
            _ => return self.expected(&format!("an operator character after {}", describe(kind))),
        };
        self.pos += 1;
        if *kind == Token::Unary {
            return Ok(Operator::Unary(op));
        }
        if let Some(why) = Operators::refuse_binary(op) {
            self.refuse(pos, why);
        }
        let precedence = self.precedence();
        Ok(Operator::Binary { op, precedence })
    }

    /// `binary| 5`: the precedence is optional.
    fn precedence(&mut self) -> u8 {
        let Some(&Spanned {
            token: Token::Number(value),
            pos,
        }) = self.peek()
        else {
            return DEFAULT_PRECEDENCE;
        };
        self.pos += 1;
        if value.fract() != 0.0 || !(1.0..=100.0).contains(&value) {
            self.refuse(pos, "precedence must be a whole number from 1 to 100");
            return DEFAULT_PRECEDENCE;
        }
        value as u8
    }

    /// `name(a b)` or `name(a, b)`; `binary| 5 (a b)`; `unary!(a)`.
    fn prototype(&mut self) -> ParseResult<Prototype> {
        const WHAT: &str = "a function name, 'binary' or 'unary'";
        let Some(Spanned {
            token,
            pos: name_pos,
        }) = self.peek().cloned()
        else {
            return self.expected(WHAT);
        };
        let (name, operator) = match token {
            Token::Ident(name) => {
                self.pos += 1;
                (name, None)
            }
            Token::Unary | Token::Binary => {
                self.pos += 1;
                let operator = self.operator(&token)?;
                (function_name(operator), Some(operator))
            }
            _ => return self.expected(WHAT),
        };
        self.expect(&Token::Char('('))?;
        let mut params = Vec::new();
        if !self.eat_char(')') {
            loop {
                params.push(self.ident("a parameter name")?.0);
                if self.eat_char(')') {
                    break;
                }
                // Commas between parameters are optional: the tutorial
                // separates them with spaces.
                self.eat_char(',');
            }
        }
        let operands = match operator {
            Some(Operator::Unary(_)) => 1,
            Some(Operator::Binary { .. }) => 2,
            None => params.len(),
        };
        if params.len() != operands {
            let given = params.len();
            self.refuse(
                name_pos,
                format!("{name} takes {operands} operand(s), {given} given"),
            );
        }
        Ok(Prototype {
            name,
            params,
            operator,
            pos: Some(name_pos),
        })
    }

    fn expression(&mut self) -> ParseResult<Expr> {
        let lhs = self.unary()?;
        self.binary_rhs(0, lhs)
    }

    /// The binary operator at the next token, if it is one.
    fn binary_operator(&self) -> Option<(char, Pos, u8, Binding)> {
        match self.peek() {
            Some(Spanned {
                token: Token::Char(c),
                pos,
            }) => {
                let (precedence, binding) = self.ops.binary(*c)?;
                Some((*c, *pos, precedence, binding))
            }
            _ => None,
        }
    }

    fn binary_rhs(&mut self, min_precedence: u8, mut lhs: Expr) -> ParseResult<Expr> {
        loop {
            let Some((op, pos, precedence, binding)) = self.binary_operator() else {
                return Ok(lhs);
            };
            if precedence < min_precedence {
                return Ok(lhs);
            }
            self.pos += 1;
            let mut rhs = self.unary()?;
            if let Some((_, _, next, _)) = self.binary_operator() {
                if next > precedence {
                    rhs = self.binary_rhs(precedence + 1, rhs)?;
                }
            }
            lhs = combine(op, pos, precedence, binding, lhs, rhs)?;
        }
    }

    /// A primary expression, or a unary operator applied to a unary one.
    fn unary(&mut self) -> ParseResult<Expr> {
        let Some(&Spanned {
            token: Token::Char(op),
            pos,
        }) = self.peek()
        else {
            return self.primary();
        };
        if !is_operator_char(op) {
            return self.primary();
        }
        let Some(binding) = self.ops.unary(op) else {
            let message = match self.ops.binary(op) {
                Some(_) => format!("'{op}' is not a unary operator"),
                None => format!("unknown operator '{op}'"),
            };
            return Err(Diagnostic::at(pos, message));
        };
        self.pos += 1;
        let operand = self.unary()?;
        Ok(match binding {
            UnaryBinding::Negate => Expr::Binary {
                op: '-',
                lhs: Box::new(Expr::Number(0.0)),
                rhs: Box::new(operand),
            },
            UnaryBinding::Defined => Expr::Call {
                callee: function_name(Operator::Unary(op)),
                args: vec![operand],
                pos,
            },
        })
    }

    fn primary(&mut self) -> ParseResult<Expr> {
        let Some(Spanned { token, pos }) = self.peek().cloned() else {
            return self.expected("an expression");
        };
        match token {
            Token::Number(value) => {
                self.pos += 1;
                Ok(Expr::Number(value))
            }
            Token::Char('(') => {
                self.pos += 1;
                let e = self.expression()?;
                self.expect(&Token::Char(')'))?;
                Ok(e)
            }
            Token::Ident(name) => {
                self.pos += 1;
                if !self.eat_char('(') {
                    return Ok(Expr::Variable { name, pos });
                }
                let mut args = Vec::new();
                if !self.eat_char(')') {
                    loop {
                        args.push(self.expression()?);
                        if self.eat_char(')') {
                            break;
                        }
                        if !self.eat_char(',') {
                            return self.expected("')' or ','");
                        }
                    }
                }
                Ok(Expr::Call {
                    callee: name,
                    args,
                    pos,
                })
            }
            Token::If => {
                self.pos += 1;
                let cond = self.expression()?;
                self.expect(&Token::Then)?;
                let then = self.expression()?;
                self.expect(&Token::Else)?;
                let otherwise = self.expression()?;
                Ok(Expr::If {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                })
            }
            Token::For => {
                self.pos += 1;
                let (var, _) = self.ident("a loop variable after 'for'")?;
                self.expect(&Token::Char('='))?;
                let start = self.expression()?;
                self.expect(&Token::Char(','))?;
                let cond = self.expression()?;
                let step = if self.eat_char(',') {
                    Some(Box::new(self.expression()?))
                } else {
                    None
                };
                self.expect(&Token::In)?;
                let body = self.expression()?;
                Ok(Expr::For {
                    var,
                    start: Box::new(start),
                    cond: Box::new(cond),
                    step,
                    body: Box::new(body),
                })
            }
            Token::Var => {
                self.pos += 1;
                let mut vars = Vec::new();
                loop {
                    let (name, _) = self.ident("a variable name")?;
                    let init = if self.eat_char('=') {
                        Some(self.expression()?)
                    } else {
                        None
                    };
                    vars.push((name, init));
                    if !self.eat_char(',') {
                        break;
                    }
                }
                self.expect(&Token::In)?;
                let body = self.expression()?;
                Ok(Expr::Var {
                    vars,
                    body: Box::new(body),
                })
            }
            _ => self.expected("an expression"),
        }
    }
}

/// `lhs op rhs` as the operator table says `op` compiles.
fn combine(
    op: char,
    pos: Pos,
    precedence: u8,
    binding: Binding,
    lhs: Expr,
    rhs: Expr,
) -> ParseResult<Expr> {
    Ok(match (op, binding) {
        ('=', Binding::Builtin) => match lhs {
            Expr::Variable { name, pos } => Expr::Assign {
                name,
                pos,
                value: Box::new(rhs),
            },
            _ => {
                return Err(Diagnostic::at(
                    pos,
                    "the destination of '=' must be a variable",
                ))
            }
        },
        (_, Binding::Builtin) => Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        (_, Binding::Defined) => Expr::Call {
            callee: function_name(Operator::Binary { op, precedence }),
            args: vec![lhs, rhs],
            pos,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex_line;

    fn parse_all(line: &str, ops: &Operators) -> Vec<Parsed> {
        let tokens = lex_line(line, 1);
        let mut rest = &tokens[..];
        let mut out = Vec::new();
        while let Some((parsed, used)) = parse_entry(rest, ops) {
            let incomplete = matches!(parsed, Parsed::Incomplete(_));
            out.push(parsed);
            if incomplete {
                break;
            }
            rest = &rest[used..];
        }
        out
    }

    fn expr(line: &str, ops: &Operators) -> Expr {
        match parse_all(line, ops).as_slice() {
            [Parsed::Entry(Entry::Expr(e))] => e.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn def(line: &str, ops: &Operators) -> Function {
        match parse_all(line, ops).as_slice() {
            [Parsed::Entry(Entry::Def(f))] => f.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// The entry at `index` of `line` is a mistake at `(column, message)`.
    fn assert_error(line: &str, ops: &Operators, index: usize, expected: (usize, &str)) {
        assert_eq!(error(&parse_all(line, ops)[index]), expected, "{line}");
    }

    fn error(parsed: &Parsed) -> (usize, &str) {
        match parsed {
            Parsed::Error(Diagnostic {
                pos: Some(pos),
                message,
            }) => (pos.col, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn precedence_binds_tighter_operators_first() {
        let e = expr("1 + 2 * 3 < 4", &Operators::new());
        let Expr::Binary { op: '<', lhs, .. } = e else {
            panic!("{e:?}")
        };
        assert!(matches!(*lhs, Expr::Binary { op: '+', .. }));
    }

    #[test]
    fn prototypes_take_spaces_or_commas() {
        let ops = Operators::new();
        for line in ["def foo(x y) x+foo(y, 4.0);", "def foo(x, y) x+foo(y, 4.0)"] {
            assert_eq!(def(line, &ops).proto.params, ["x", "y"]);
        }
    }

    #[test]
    fn defined_operators_become_calls_with_their_precedence() {
        let mut ops = Operators::new();
        ops.install(Operator::Binary {
            op: '|',
            precedence: 5,
        });
        ops.install(Operator::Unary('!'));
        // `!a < b | c` is `(unary!(a) < b) | c`.
        let Expr::Call { callee, args, .. } = expr("!a < b | c", &ops) else {
            panic!()
        };
        assert_eq!(callee, "binary|");
        let Expr::Binary { op: '<', lhs, .. } = &args[0] else {
            panic!("{args:?}")
        };
        assert!(matches!(&**lhs, Expr::Call { callee, .. } if callee == "unary!"));
        assert_error("1 & 2", &ops, 1, (3, "unknown operator '&'"));
        assert_error("*2", &ops, 0, (1, "'*' is not a unary operator"));
        assert_error("2)", &ops, 1, (2, "expected an expression, found ')'"));
    }

    #[test]
    fn assignment_is_lowest_and_needs_a_variable() {
        let ops = Operators::new();
        let Expr::Assign { name, value, .. } = expr("x = y + 1", &ops) else {
            panic!()
        };
        assert_eq!(name, "x");
        assert!(matches!(*value, Expr::Binary { op: '+', .. }));
        assert_error(
            "1 = 2",
            &ops,
            0,
            (3, "the destination of '=' must be a variable"),
        );
        assert_error(
            "def binary = 9 (a b) a",
            &ops,
            0,
            (12, "'=' is assignment and cannot be redefined"),
        );
    }

    #[test]
    fn operator_prototypes_are_checked() {
        let ops = Operators::new();
        let cases = [
            (
                "def binary+ (a b) a",
                11,
                "'+' is a built-in operator and cannot be redefined",
            ),
            (
                "def binary| 0 (a b) a",
                13,
                "precedence must be a whole number from 1 to 100",
            ),
            (
                "def binary| 2.5 (a b) a",
                13,
                "precedence must be a whole number from 1 to 100",
            ),
            ("def unary!(a b) a", 5, "unary! takes 1 operand(s), 2 given"),
            (
                "def 1(a) a",
                5,
                "expected a function name, 'binary' or 'unary', found the number 1",
            ),
            (
                "def binary (a b) a",
                12,
                "expected an operator character after 'binary', found '('",
            ),
            (
                "extern unary!(a)",
                8,
                "extern declares a host function; operators are defined with def",
            ),
        ];
        for (line, col, message) in cases {
            let parsed = parse_all(line, &ops);
            assert_eq!(parsed.len(), 1, "{line}: the whole entry goes");
            assert_eq!(error(&parsed[0]), (col, message), "{line}");
        }
        let f = def("def binary : 1 (x y) y", &ops);
        assert_eq!(
            f.proto.operator,
            Some(Operator::Binary {
                op: ':',
                precedence: 1
            })
        );
        assert_eq!(f.proto.name, "binary:");
    }

    #[test]
    fn entries_follow_each_other_and_errors_skip_to_the_next_semicolon() {
        let ops = Operators::new();
        // The tutorial's chapter 2: a definition, then a top-level `y`.
        let parsed = parse_all("def foo(x y) x+y y;", &ops);
        assert!(matches!(parsed[0], Parsed::Entry(Entry::Def(_))));
        assert!(matches!(
            parsed[1],
            Parsed::Entry(Entry::Expr(Expr::Variable { .. }))
        ));
        assert_eq!(parsed.len(), 2);
        let parsed = parse_all("def f(x) x; f(2; 3", &ops);
        assert_eq!(parsed.len(), 3);
        assert_eq!(error(&parsed[1]), (16, "expected ')' or ',', found ';'"));
        assert!(matches!(parsed[2], Parsed::Entry(_)));
        let parsed = parse_all("1; 2; 1.2.3 4; 5 # 6; 7", &ops);
        assert_eq!(parsed.len(), 4);
        assert_eq!(error(&parsed[2]), (7, "bad number \"1.2.3\""));
        assert!(matches!(
            parsed[3],
            Parsed::Entry(Entry::Expr(Expr::Number(5.0)))
        ));
    }

    #[test]
    fn an_entry_cut_short_is_incomplete() {
        let ops = Operators::new();
        for line in ["def f(x)", "if x then", "(1 +", "var a = 1 in", "f(1,"] {
            assert!(
                matches!(parse_all(line, &ops).last(), Some(Parsed::Incomplete(_))),
                "{line}"
            );
        }
        let parsed = parse_all("1; def f(x)", &ops);
        assert!(matches!(parsed[0], Parsed::Entry(_)));
        assert_eq!(
            parsed[1],
            Parsed::Incomplete(Diagnostic::new(
                "unexpected end of input: expected an expression"
            ))
        );
    }
}
