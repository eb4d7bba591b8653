//! Tokens of Kaleidoscope, each with the place it starts at.

use crate::diagnostic::Pos;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Def,
    Extern,
    If,
    Then,
    Else,
    For,
    In,
    Binary,
    Unary,
    Var,
    Ident(String),
    Number(f64),
    /// Any other single character: operators, parentheses, commas, `;`.
    Char(char),
    /// Text that is no token (`1.2.3`): the parser reports it where it
    /// stands, so that the entries around it still run.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub pos: Pos,
}

fn keyword(word: &str) -> Option<Token> {
    Some(match word {
        "def" => Token::Def,
        "extern" => Token::Extern,
        "if" => Token::If,
        "then" => Token::Then,
        "else" => Token::Else,
        "for" => Token::For,
        "in" => Token::In,
        "binary" => Token::Binary,
        "unary" => Token::Unary,
        "var" => Token::Var,
        _ => return None,
    })
}

/// Splits line number `line` of the input into tokens; `#` starts a
/// comment to the end of the line.
pub fn lex_line(text: &str, line: usize) -> Vec<Spanned> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let run = |i: &mut usize, part: fn(char) -> bool| -> String {
        let start = *i;
        while *i < chars.len() && part(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect()
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col: i + 1 };
        let token = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c == '#' {
            break;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let word = run(&mut i, |c| c.is_ascii_alphanumeric() || c == '_');
            keyword(&word).unwrap_or(Token::Ident(word))
        } else if c.is_ascii_digit() || c == '.' {
            let text = run(&mut i, |c| c.is_ascii_digit() || c == '.');
            match text.parse::<f64>() {
                Ok(value) => Token::Number(value),
                Err(_) => Token::Invalid(format!("bad number {text:?}")),
            }
        } else {
            i += 1;
            Token::Char(c)
        };
        tokens.push(Spanned { token, pos });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_keywords_and_comments() {
        let t = lex_line("def binary| 5 (x y) x*2.5 # note", 4);
        assert_eq!(t[0].token, Token::Def);
        assert_eq!(t[0].pos, Pos { line: 4, col: 1 });
        assert_eq!(t[1].token, Token::Binary);
        assert_eq!(t[2].token, Token::Char('|'));
        assert_eq!(t[2].pos.col, 11);
        assert_eq!(t[3].token, Token::Number(5.0));
        assert_eq!(t[10].token, Token::Number(2.5));
        assert_eq!(t[10].pos.col, 23);
        assert_eq!(t.len(), 11);
        let t = lex_line("var unary_x = 1..2", 1);
        assert_eq!(t[0].token, Token::Var);
        assert_eq!(t[1].token, Token::Ident("unary_x".into()));
        assert_eq!(t[3].token, Token::Invalid("bad number \"1..2\"".into()));
    }
}
