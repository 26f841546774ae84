//! Number text read the way `str::parse::<f64>` reads it, without compiling the standard library's float parser
//! into the wasm build: its tables and slow path are 17 KB of wasm that hardly compress, while the browser
//! already has a correctly rounded parser (`parseFloat`). Native builds use `str::parse`.

/// `s` as an `f64`, accepting exactly what `str::parse::<f64>` accepts (an optional sign, then digits with an
/// optional fraction and exponent, or `inf`, `infinity`, `nan` in any case) and giving the same value.
pub fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let neg = b.first() == Some(&b'-');
    let unsigned = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
        return Some(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if unsigned.eq_ignore_ascii_case(b"nan") {
        return Some(if neg { -f64::NAN } else { f64::NAN });
    }
    decimal_syntax(unsigned).then(|| parse_decimal(s))
}

/// Digits, an optional `.` and digits (at least one digit in all), then an optional exponent with digits.
fn decimal_syntax(b: &[u8]) -> bool {
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(0);
    let mut i = int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(target_arch = "wasm32")]
fn parse_decimal(s: &str) -> f64 {
    // parseFloat reads the same syntax (checked above) to the nearest double, as Rust does.
    js_sys::parse_float(s)
}

#[cfg(not(target_arch = "wasm32"))]
fn parse_decimal(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// Strings at the edges of the decimal syntax, for the tests (native and in the browser) that check `parse_f64`
/// accepts the same set as `str::parse::<f64>` with bit-identical values.
#[doc(hidden)]
pub const PARSE_SAMPLES: &[&str] = &[
    "",
    "+",
    "-",
    ".",
    "e5",
    "1e",
    "1e+",
    "1.e5",
    ".5",
    "5.",
    "+.5",
    "-5.",
    "1e5",
    "1E-5",
    "1.5e+300",
    "1e400",
    "-1e400",
    "1e-400",
    "0",
    "-0",
    "00012",
    "0x10",
    " 1",
    "1 ",
    "1_000",
    "inf",
    "-Infinity",
    "NaN",
    "+nan",
    "infinit",
    "1.2.3",
    "12345678901234567890123",
    "0.1",
    "2.2250738585072014e-308",
    "4.9e-324",
    "1..2",
    "9007199254740993",
    "-.e1",
    "1e1.5",
    "0.30000000000000004",
    "123456789012345678901234567890e-10",
    "2.4703282292062328e-324",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
];

/// Panics (naming the string) where `parse_f64` and `str::parse::<f64>` disagree on any of `samples`.
#[doc(hidden)]
pub fn assert_parses_like_std(samples: &[&str]) {
    for s in samples {
        let ours = parse_f64(s);
        let std = s.parse::<f64>().ok();
        assert_eq!(ours.is_some(), std.is_some(), "{s:?}");
        if let (Some(a), Some(b)) = (ours, std) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{s:?}: {a} vs {b}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_str_parse_reads() {
        assert_parses_like_std(PARSE_SAMPLES);
    }
}
