//! GUIDs as Dataverse writes them: 8-4-4-4-12 hex digits, compared case-insensitively, stored lower case.

/// The canonical form of a GUID (lower case, no braces), or `None` when `s` is not a GUID.
pub fn normalize(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(t);
    let b = t.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(t.to_ascii_lowercase())
}

/// Formats 16 random bytes as a version-4 GUID (the caller supplies the randomness: `crypto.getRandomValues` in
/// the browser, a seeded generator in tests).
pub fn from_random_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 0x0f) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_rejects() {
        assert_eq!(
            normalize("{A0000000-0000-0000-0000-00000000000F}").as_deref(),
            Some("a0000000-0000-0000-0000-00000000000f")
        );
        assert_eq!(normalize("a0000000-0000-0000-0000-00000000000"), None);
        assert_eq!(normalize("a0000000x0000-0000-0000-000000000001"), None);
        assert_eq!(normalize("g0000000-0000-0000-0000-000000000001"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn random_bytes_make_a_v4_guid() {
        let g = from_random_bytes([0xff; 16]);
        assert_eq!(g, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(normalize(&g).as_deref(), Some(g.as_str()));
        let b: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(from_random_bytes(b), "00010203-0405-4607-8809-0a0b0c0d0e0f");
    }
}
