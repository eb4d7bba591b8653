//! The session's input: lines in, entries out. An entry may span lines (the
//! tutorial writes definitions over several) and a line may hold several
//! entries; an entry ends at `;`, where the next one starts, or at the end
//! of a line where it is complete.

use crate::ast::Entry;
use crate::diagnostic::Diagnostic;
use crate::lexer::{lex_line, Spanned};
use crate::operators::Operators;
use crate::parser::{parse_entry, Parsed};

#[derive(Default)]
pub struct Input {
    /// Tokens not yet taken: at most the start of an unfinished entry.
    tokens: Vec<Spanned>,
    /// Lines read so far, which numbers the next one.
    lines: usize,
}

impl Input {
    pub fn push_line(&mut self, text: &str) {
        self.lines += 1;
        self.tokens.extend(lex_line(text, self.lines));
    }

    /// The number of the line read last.
    pub fn line(&self) -> usize {
        self.lines
    }

    /// The next finished entry, or a mistake. `ops` is the operator table
    /// as the entries before this one left it.
    pub fn next(&mut self, ops: &Operators) -> Option<Result<Entry, Diagnostic>> {
        let Some((parsed, used)) = parse_entry(&self.tokens, ops) else {
            self.tokens.clear();
            return None;
        };
        self.tokens.drain(..used);
        match parsed {
            Parsed::Entry(entry) => Some(Ok(entry)),
            Parsed::Error(e) => Some(Err(e)),
            Parsed::Incomplete(_) => None,
        }
    }

    /// Whether an entry is waiting for more lines.
    pub fn is_pending(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// At the end of the input: what the unfinished entry lacks, if any.
    pub fn finish(&mut self, ops: &Operators) -> Option<Diagnostic> {
        let parsed = parse_entry(&self.tokens, ops);
        self.tokens.clear();
        match parsed {
            Some((Parsed::Incomplete(e), _)) => Some(e),
            _ => None,
        }
    }

    /// Drops an unfinished entry.
    pub fn discard(&mut self) {
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Expr;

    fn entries(input: &mut Input, ops: &Operators) -> Vec<Result<Entry, Diagnostic>> {
        std::iter::from_fn(|| input.next(ops)).collect()
    }

    #[test]
    fn an_entry_spans_lines_until_complete() {
        let ops = Operators::new();
        let mut input = Input::default();
        input.push_line("def f(x)   # the body follows");
        assert!(entries(&mut input, &ops).is_empty());
        assert!(input.is_pending());
        input.push_line("  if x then");
        input.push_line("    1");
        assert!(entries(&mut input, &ops).is_empty());
        input.push_line("  else 2; 3");
        let got = entries(&mut input, &ops);
        assert!(matches!(got[0], Ok(Entry::Def(_))), "{got:?}");
        assert!(matches!(got[1], Ok(Entry::Expr(Expr::Number(3.0)))));
        assert!(!input.is_pending());
        assert_eq!(input.line(), 4);
    }

    #[test]
    fn mistakes_carry_their_line_and_unfinished_entries_end_with_the_input() {
        let ops = Operators::new();
        let mut input = Input::default();
        input.push_line("(1 +");
        input.push_line("  ) 4");
        let got = entries(&mut input, &ops);
        assert_eq!(got.len(), 1, "the error takes the rest of the line");
        let e = got[0].as_ref().unwrap_err();
        assert_eq!(e.describe(2), "col 3: expected an expression, found ')'");
        input.push_line("def g(x)");
        assert!(entries(&mut input, &ops).is_empty());
        let e = input.finish(&ops).unwrap();
        assert_eq!(e.message, "unexpected end of input: expected an expression");
        assert!(!input.is_pending());
        input.push_line("def g(x)");
        input.discard();
        assert!(!input.is_pending());
        assert_eq!(input.finish(&ops), None);
    }
}
