//! A recursive-descent parser with operator precedence, as in LLVM's
//! Kaleidoscope tutorial (plus `/` and `>`).

use crate::ast::{Entry, Expr, Function, Prototype};
use crate::lexer::{lex_at, Spanned, SyntaxError, Token};

/// Parses a line into its `;`-separated entries. Each entry stands alone:
/// a mistake in one is reported and the others still run.
pub fn parse_line(line: &str) -> Vec<Result<Entry, SyntaxError>> {
    let code = line.split('#').next().unwrap_or("");
    let mut entries = Vec::new();
    let mut first_col = 1;
    for piece in code.split(';') {
        let piece_col = first_col;
        first_col += piece.chars().count() + 1;
        let tokens = match lex_at(piece, piece_col) {
            Ok(tokens) if tokens.is_empty() => continue,
            Ok(tokens) => tokens,
            Err(e) => {
                entries.push(Err(e));
                continue;
            }
        };
        let mut parser = Parser {
            tokens,
            pos: 0,
            end_col: first_col - 1,
        };
        entries.push(parser.entry().and_then(|entry| match parser.peek() {
            None => Ok(entry),
            Some(_) => parser.error("unexpected text after the entry (missing ';'?)"),
        }));
    }
    entries
}

fn precedence(op: char) -> Option<u8> {
    match op {
        '<' | '>' => Some(10),
        '+' | '-' => Some(20),
        '*' | '/' => Some(40),
        _ => None,
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    end_col: usize,
}

type ParseResult<T> = Result<T, SyntaxError>;

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn error<T>(&self, message: impl Into<String>) -> ParseResult<T> {
        Err(SyntaxError {
            col: self.col(),
            message: message.into(),
        })
    }

    fn expect_close_or_comma(&mut self) -> ParseResult<bool> {
        if self.eat_char(')') {
            Ok(true)
        } else if self.eat_char(',') {
            Ok(false)
        } else {
            self.error("expected ')' or ','")
        }
    }

    fn eat_char(&mut self, c: char) -> bool {
        if self.peek().map(|t| &t.token) == Some(&Token::Char(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_char(&mut self, c: char) -> ParseResult<()> {
        if self.eat_char(c) {
            Ok(())
        } else {
            self.error(format!("expected '{c}'"))
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek().map(|t| &t.token) == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self, what: &str) -> ParseResult<String> {
        match self.peek().map(|t| t.token.clone()) {
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            _ => self.error(format!("expected {what}")),
        }
    }

    fn entry(&mut self) -> ParseResult<Entry> {
        if self.eat(&Token::Def) {
            let proto = self.prototype()?;
            let body = self.expression()?;
            Ok(Entry::Def(Function { proto, body }))
        } else if self.eat(&Token::Extern) {
            Ok(Entry::Extern(self.prototype()?))
        } else {
            Ok(Entry::Expr(self.expression()?))
        }
    }

    fn prototype(&mut self) -> ParseResult<Prototype> {
        let name = self.ident("function name")?;
        self.expect_char('(')?;
        let mut params = Vec::new();
        if !self.eat_char(')') {
            loop {
                params.push(self.ident("parameter name")?);
                if self.expect_close_or_comma()? {
                    break;
                }
            }
        }
        Ok(Prototype { name, params })
    }

    fn expression(&mut self) -> ParseResult<Expr> {
        let lhs = self.unary()?;
        self.binary_rhs(0, lhs)
    }

    fn binary_rhs(&mut self, min_prec: u8, mut lhs: Expr) -> ParseResult<Expr> {
        loop {
            let (op, prec) = match self.peek().map(|t| &t.token) {
                Some(Token::Char(c)) => match precedence(*c) {
                    Some(p) if p >= min_prec => (*c, p),
                    _ => return Ok(lhs),
                },
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let mut rhs = self.unary()?;
            if let Some(Token::Char(next)) = self.peek().map(|t| &t.token) {
                if precedence(*next).is_some_and(|p| p > prec) {
                    rhs = self.binary_rhs(prec + 1, rhs)?;
                }
            }
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
    }

    /// A primary expression, or `-` applied to one (as `0 - x`).
    fn unary(&mut self) -> ParseResult<Expr> {
        if self.eat_char('-') {
            let operand = self.unary()?;
            return Ok(Expr::Binary {
                op: '-',
                lhs: Box::new(Expr::Number(0.0)),
                rhs: Box::new(operand),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> ParseResult<Expr> {
        let Some(token) = self.peek().cloned() else {
            return self.error("unexpected end of input: expected an expression");
        };
        match token.token {
            Token::Number(value) => {
                self.pos += 1;
                Ok(Expr::Number(value))
            }
            Token::Char('(') => {
                self.pos += 1;
                let e = self.expression()?;
                self.expect_char(')')?;
                Ok(e)
            }
            Token::Ident(name) => {
                self.pos += 1;
                if !self.eat_char('(') {
                    return Ok(Expr::Variable {
                        name,
                        col: token.col,
                    });
                }
                let mut args = Vec::new();
                if !self.eat_char(')') {
                    loop {
                        args.push(self.expression()?);
                        if self.expect_close_or_comma()? {
                            break;
                        }
                    }
                }
                Ok(Expr::Call {
                    callee: name,
                    args,
                    col: token.col,
                })
            }
            Token::If => {
                self.pos += 1;
                let cond = self.expression()?;
                if !self.eat(&Token::Then) {
                    return self.error("expected 'then'");
                }
                let then = self.expression()?;
                if !self.eat(&Token::Else) {
                    return self.error("expected 'else'");
                }
                let otherwise = self.expression()?;
                Ok(Expr::If {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                })
            }
            Token::For => {
                self.pos += 1;
                let var = self.ident("loop variable after 'for'")?;
                self.expect_char('=')?;
                let start = self.expression()?;
                self.expect_char(',')?;
                let cond = self.expression()?;
                let step = if self.eat_char(',') {
                    Some(Box::new(self.expression()?))
                } else {
                    None
                };
                if !self.eat(&Token::In) {
                    return self.error("expected 'in'");
                }
                let body = self.expression()?;
                Ok(Expr::For {
                    var,
                    start: Box::new(start),
                    cond: Box::new(cond),
                    step,
                    body: Box::new(body),
                })
            }
            _ => self.error("expected an expression"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Entry {
        let mut entries = parse_line(line);
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.remove(0).unwrap()
    }

    #[test]
    fn precedence_binds_tighter_operators_first() {
        let Entry::Expr(e) = one("1 + 2 * 3 < 4") else {
            panic!()
        };
        let Expr::Binary { op: '<', lhs, .. } = e else {
            panic!("{e:?}")
        };
        assert!(matches!(*lhs, Expr::Binary { op: '+', .. }));
    }

    #[test]
    fn several_entries_and_errors_with_columns() {
        let entries = parse_line("def f(x) x; f(2; 3");
        assert_eq!(entries.len(), 3);
        assert!(entries[0].is_ok());
        let err = entries[1].as_ref().unwrap_err();
        assert_eq!(err.col, 16);
        assert_eq!(err.message, "expected ')' or ','");
        assert!(entries[2].is_ok());
    }

    #[test]
    fn a_bad_entry_does_not_spoil_its_neighbours() {
        let entries = parse_line("1; 2; 1.2.3; 4 # 5; 6");
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[2].as_ref().unwrap_err().col, 7);
        assert!(entries[3].is_ok());
        let entries = parse_line("1; 2)");
        assert_eq!(entries[1].as_ref().unwrap_err().col, 5);
    }
}
