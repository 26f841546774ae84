//! Lower case as `str::to_lowercase` gives it, without compiling the standard library's case tables into the wasm
//! build (11 KB of data plus their lookup code, used for case-insensitive comparisons, `like` and `ORDER BY`):
//! ASCII text is lowered in place, other text by the browser's `String.prototype.toLowerCase`, which applies the
//! same Unicode default case mapping (including the final-sigma rule). Native builds use the standard library.

/// `s.to_lowercase()`.
pub fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    unicode_lowercase(s)
}

/// Each character lowered on its own, as `s.chars().flat_map(char::to_lowercase)` gives it: the same as
/// `lowercase` except that a capital sigma is always `σ` (no final-sigma rule, the only mapping that depends on the
/// neighbouring characters), so each `Σ` is swapped for `σ` first.
pub fn lowercase_chars(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    if s.contains('Σ') {
        return unicode_lowercase(&s.replace('Σ', "σ"));
    }
    unicode_lowercase(s)
}

#[cfg(target_arch = "wasm32")]
fn unicode_lowercase(s: &str) -> String {
    js_sys::JsString::from(s).to_lower_case().into()
}

#[cfg(not(target_arch = "wasm32"))]
fn unicode_lowercase(s: &str) -> String {
    s.to_lowercase()
}

/// Texts where case mapping has context or changes length, for the test (in the browser) that checks `lowercase`
/// against `str::to_lowercase`; the test also checks every code point alone.
#[doc(hidden)]
pub const LOWERCASE_SAMPLES: &[&str] = &[
    "ΟΔΟΣ",
    "ΣΑΣ ΣΑΣ.",
    "Σ",
    "aΣ",
    "aΣb",
    "a.Σ",
    "aΣ.",
    "a\u{301}Σ",
    "ΑΣ\u{301}",
    "İstanbul",
    "ẞ STRASSE",
    "Ǆ ǅ ǆ",
    "Ⅻ",
    "𐐀𐐁",
    "MiXeD ÀÉÎ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_like_the_standard_library() {
        for s in LOWERCASE_SAMPLES.iter().copied().chain(["", "abc", "ABC", "Ωmega"]) {
            assert_eq!(lowercase(s), s.to_lowercase(), "{s}");
            assert_eq!(lowercase_chars(s), s.chars().flat_map(char::to_lowercase).collect::<String>(), "{s}");
        }
    }
}
