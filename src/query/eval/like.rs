//! SQL `LIKE` patterns, case-insensitive: `%` any run of characters, `_` one character, `[abc]`, `[a-f]` and
//! `[^abc]` one character of (or not of) a class. A `[` without a closing `]` is a literal `[`; `[%]` and `[_]`
//! match a literal `%` and `_`.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Char(char),
    One,
    Many,
    Class { negate: bool, items: Vec<(char, char)> },
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Tok::Char(p) => *p == c,
            Tok::One => true,
            Tok::Many => true,
            Tok::Class { negate, items } => items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negate,
        }
    }
}

/// A compiled pattern (lower case).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// Compiles a pattern.
    pub(crate) fn new(pattern: &str) -> Pattern {
        let chars: Vec<char> = crate::lower::lowercase_chars(pattern).chars().collect();
        let mut toks = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '%' => {
                    if toks.last() != Some(&Tok::Many) {
                        toks.push(Tok::Many);
                    }
                    i += 1;
                }
                '_' => {
                    toks.push(Tok::One);
                    i += 1;
                }
                '[' => {
                    // The class ends at the first ']' after at least one member.
                    let body_start = i + 1;
                    let negate = chars.get(body_start) == Some(&'^');
                    let first = if negate { body_start + 1 } else { body_start };
                    let close = chars.iter().skip(first + 1).position(|&x| x == ']').map(|p| p + first + 1);
                    match close {
                        Some(end) if end > first => {
                            let body = &chars[first..end];
                            let mut items = Vec::new();
                            let mut k = 0;
                            while k < body.len() {
                                if k + 2 < body.len() && body[k + 1] == '-' {
                                    items.push((body[k], body[k + 2]));
                                    k += 3;
                                } else {
                                    items.push((body[k], body[k]));
                                    k += 1;
                                }
                            }
                            toks.push(Tok::Class { negate, items });
                            i = end + 1;
                        }
                        _ => {
                            toks.push(Tok::Char('['));
                            i += 1;
                        }
                    }
                }
                c => {
                    toks.push(Tok::Char(c));
                    i += 1;
                }
            }
        }
        Pattern { toks }
    }

    /// Whether `s` matches, ignoring case. Allocates only for non-ASCII text.
    pub(crate) fn matches(&self, s: &str) -> bool {
        if s.is_ascii() {
            let b = s.as_bytes();
            self.matches_at(b.len(), |i| char::from(b[i].to_ascii_lowercase()))
        } else {
            let chars: Vec<char> = crate::lower::lowercase_chars(s).chars().collect();
            self.matches_at(chars.len(), |i| chars[i])
        }
    }

    /// Wildcard matching with one backtrack point for the last `%` (linear for most patterns, O(n·m) at worst).
    fn matches_at(&self, n: usize, at: impl Fn(usize) -> char) -> bool {
        let p = &self.toks;
        let (mut pi, mut vi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        loop {
            if pi < p.len() {
                if p[pi] == Tok::Many {
                    star = Some((pi, vi));
                    pi += 1;
                    continue;
                }
                if vi < n && p[pi].matches(at(vi)) {
                    pi += 1;
                    vi += 1;
                    continue;
                }
            } else if vi == n {
                return true;
            }
            match star {
                Some((sp, sv)) if sv < n => {
                    star = Some((sp, sv + 1));
                    pi = sp + 1;
                    vi = sv + 1;
                }
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p).matches(s)
    }

    #[test]
    fn wildcards() {
        assert!(m("abc", "ABC"));
        assert!(!m("abc", "abcd"));
        assert!(m("a%", "Alpha"));
        assert!(m("%ha", "Alpha"));
        assert!(m("%LP%", "alpha"));
        assert!(m("%", ""));
        assert!(!m("_", ""));
        assert!(m("a_c", "abc"));
        assert!(!m("a_c", "ac"));
        assert!(m("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!m("%a%b%c%", "xxcxxbxxaxx"));
        assert!(m("a%%c", "ac"));
        assert!(m("%ss", "mississippi_ss"));
    }

    #[test]
    fn classes() {
        assert!(m("[a-c]x", "Bx"));
        assert!(!m("[a-c]x", "dx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("100[%]", "100%"));
        assert!(!m("100[%]", "1000"));
        assert!(m("a[_]b", "a_b"));
        assert!(m("[abc", "[abc"));
        assert!(m("[]]", "]"));
    }

    #[test]
    fn unicode() {
        assert!(m("élan%", "ÉLAN vital"));
        assert!(m("%straße", "Hauptstraße"));
        assert!(m("_b", "éb"));
    }
}
