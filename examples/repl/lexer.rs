//! Tokens of Kaleidoscope, each with the column it starts at (1-based).

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Def,
    Extern,
    If,
    Then,
    Else,
    For,
    In,
    Ident(String),
    Number(f64),
    /// Any other single character: operators, parentheses, commas, `;`.
    Char(char),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub col: usize,
}

/// A lexing or parsing error at a column.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub col: usize,
    pub message: String,
}

/// Splits text that starts at column `first_col` of its line into tokens;
/// `#` starts a comment to the end of the line.
pub fn lex_at(text: &str, first_col: usize) -> Result<Vec<Spanned>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = first_col + i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.as_str() {
                "def" => Token::Def,
                "extern" => Token::Extern,
                "if" => Token::If,
                "then" => Token::Then,
                "else" => Token::Else,
                "for" => Token::For,
                "in" => Token::In,
                _ => Token::Ident(word),
            };
            tokens.push(Spanned { token, col });
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let value = text.parse::<f64>().map_err(|_| SyntaxError {
                col,
                message: format!("bad number {text:?}"),
            })?;
            tokens.push(Spanned {
                token: Token::Number(value),
                col,
            });
        } else {
            tokens.push(Spanned {
                token: Token::Char(c),
                col,
            });
            i += 1;
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_comments() {
        let t = lex_at("def f(x) x*2.5 # note", 1).unwrap();
        assert_eq!(
            t[0],
            Spanned {
                token: Token::Def,
                col: 1
            }
        );
        assert_eq!(t[1].token, Token::Ident("f".into()));
        assert_eq!(t[6].token, Token::Char('*'));
        assert_eq!(t[7].token, Token::Number(2.5));
        assert_eq!(t[7].col, 12);
        assert_eq!(t.len(), 8);
        assert!(lex_at("1..2", 1).is_err());
    }
}
