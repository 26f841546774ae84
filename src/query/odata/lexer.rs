//! Tokens of an OData `$filter` expression, with their character positions.

use crate::error::{Error, Result};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name: a column, a keyword (`and`, `eq`...), a function (`Microsoft.Dynamics.CRM.In`).
    Ident(String),
    /// `'text'` with `''` unescaped.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A decimal literal.
    Num(f64),
    /// An unquoted GUID.
    Guid(String),
    /// An unquoted date or date-time.
    DateTime(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Slash,
    Equals,
    /// End of input.
    End,
}

/// A token and the character position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Int(_) | Tok::Num(_) => "a number".into(),
            Tok::Guid(_) => "a GUID".into(),
            Tok::DateTime(_) => "a date".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::Colon => "':'".into(),
            Tok::Slash => "'/'".into(),
            Tok::Equals => "'='".into(),
            Tok::End => "the end".into(),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Matches `n` digits at `i`.
fn digits(cs: &[char], i: usize, n: usize) -> bool {
    (0..n).all(|k| cs.get(i + k).is_some_and(|c| c.is_ascii_digit()))
}

/// The length of a GUID (8-4-4-4-12 hex digits) starting at `i`, if one does.
fn guid_len(cs: &[char], i: usize) -> Option<usize> {
    let mut k = i;
    for (g, n) in [8usize, 4, 4, 4, 12].iter().enumerate() {
        if g > 0 {
            if cs.get(k) != Some(&'-') {
                return None;
            }
            k += 1;
        }
        if !(0..*n).all(|d| cs.get(k + d).is_some_and(|c| c.is_ascii_hexdigit())) {
            return None;
        }
        k += n;
    }
    if cs.get(k).is_some_and(|&c| is_ident_char(c) || c == '-') {
        return None;
    }
    Some(k - i)
}

/// The length of a date (`2024-01-31`) or date-time (`2024-01-31T10:00:00.000Z`, `...+02:00`) starting at `i`.
fn date_len(cs: &[char], i: usize) -> Option<usize> {
    let date = digits(cs, i, 4)
        && cs.get(i + 4) == Some(&'-')
        && digits(cs, i + 5, 2)
        && cs.get(i + 7) == Some(&'-')
        && digits(cs, i + 8, 2);
    if !date {
        return None;
    }
    let mut k = i + 10;
    if cs.get(k) == Some(&'T') {
        if !(digits(cs, k + 1, 2) && cs.get(k + 3) == Some(&':') && digits(cs, k + 4, 2)) {
            return None;
        }
        k += 6;
        if cs.get(k) == Some(&':') {
            if !digits(cs, k + 1, 2) {
                return None;
            }
            k += 3;
            if cs.get(k) == Some(&'.') {
                k += 1;
                let start = k;
                while cs.get(k).is_some_and(|c| c.is_ascii_digit()) {
                    k += 1;
                }
                if k == start {
                    return None;
                }
            }
        }
        match cs.get(k) {
            Some('Z') => k += 1,
            Some('+' | '-') => {
                if !(digits(cs, k + 1, 2) && cs.get(k + 3) == Some(&':') && digits(cs, k + 4, 2)) {
                    return None;
                }
                k += 6;
            }
            _ => {}
        }
    }
    if cs.get(k).is_some_and(|&c| is_ident_char(c)) {
        return None;
    }
    Some(k - i)
}

/// Splits `src` into tokens; `what` names the option in errors (`$filter`).
pub(crate) fn lex(src: &str, what: &str) -> Result<Vec<Token>> {
    let cs: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let pos = i;
        let single = match c {
            ' ' | '\t' | '\r' | '\n' => {
                i += 1;
                continue;
            }
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '/' => Some(Tok::Slash),
            '=' => Some(Tok::Equals),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token { tok, pos });
            i += 1;
            continue;
        }
        if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err(Error::query(format!("unterminated string starting at {pos} in {what}"))),
                    Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Token { tok: Tok::Str(s), pos });
            continue;
        }
        if let Some(n) = guid_len(&cs, i) {
            out.push(Token { tok: Tok::Guid(cs[i..i + n].iter().collect()), pos });
            i += n;
            continue;
        }
        if let Some(n) = date_len(&cs, i) {
            out.push(Token { tok: Tok::DateTime(cs[i..i + n].iter().collect()), pos });
            i += n;
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let mut k = i + 1;
            while cs.get(k).is_some_and(|d| d.is_ascii_digit()) {
                k += 1;
            }
            let mut decimal = false;
            if cs.get(k) == Some(&'.') && cs.get(k + 1).is_some_and(|d| d.is_ascii_digit()) {
                decimal = true;
                k += 1;
                while cs.get(k).is_some_and(|d| d.is_ascii_digit()) {
                    k += 1;
                }
            }
            if matches!(cs.get(k), Some('e' | 'E')) {
                let mut e = k + 1;
                if matches!(cs.get(e), Some('+' | '-')) {
                    e += 1;
                }
                if cs.get(e).is_some_and(|d| d.is_ascii_digit()) {
                    decimal = true;
                    k = e;
                    while cs.get(k).is_some_and(|d| d.is_ascii_digit()) {
                        k += 1;
                    }
                }
            }
            if cs.get(k).is_some_and(|&d| is_ident_char(d)) {
                return Err(Error::query(format!("invalid number at {pos} in {what}")));
            }
            let text: String = cs[i..k].iter().collect();
            let tok = if decimal {
                match crate::num::parse_f64(&text) {
                    Some(v) if v.is_finite() => Tok::Num(v),
                    _ => return Err(Error::query(format!("number out of range at {pos} in {what}"))),
                }
            } else {
                match text.parse::<i64>() {
                    Ok(v) => Tok::Int(v),
                    Err(_) => return Err(Error::query(format!("integer out of range at {pos} in {what}"))),
                }
            };
            out.push(Token { tok, pos });
            i = k;
            continue;
        }
        if is_ident_start(c) {
            let mut k = i + 1;
            while cs.get(k).is_some_and(|&d| is_ident_char(d)) {
                k += 1;
            }
            out.push(Token { tok: Tok::Ident(cs[i..k].iter().collect()), pos });
            i = k;
            continue;
        }
        return Err(Error::query(format!("unexpected character '{c}' at {pos} in {what}")));
    }
    out.push(Token { tok: Tok::End, pos: cs.len() });
    Ok(out)
}
