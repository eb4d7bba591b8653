//! Where in the input something went wrong, and what.

/// A place in the session's input: its line (1-based, counting every line
/// the session has read) and column (1-based, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A message about the input, at a place when one is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub pos: Option<Pos>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: Some(pos),
            message: message.into(),
        }
    }

    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: None,
            message: message.into(),
        }
    }

    /// The message as the user reads it after typing line `current`: the
    /// column alone when it is on that line, which is nearly always.
    pub fn describe(&self, current: usize) -> String {
        match self.pos {
            Some(Pos { line, col }) if line == current => format!("col {col}: {}", self.message),
            Some(Pos { line, col }) => format!("line {line}, col {col}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_alone_on_the_current_line() {
        let d = Diagnostic::at(Pos { line: 3, col: 7 }, "oops");
        assert_eq!(d.describe(3), "col 7: oops");
        assert_eq!(d.describe(4), "line 3, col 7: oops");
        assert_eq!(Diagnostic::new("plain").describe(1), "plain");
    }
}
