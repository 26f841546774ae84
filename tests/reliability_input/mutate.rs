//! Input generators: mutations of real documents (byte flips, truncation, deleted / duplicated / swapped tokens,
//! huge numbers, deep nesting, unicode, very long strings), JSON tree mutations, and random bytes.

use proptest::prelude::*;
use serde_json::Value;

/// Numbers that break naive arithmetic and parsing.
pub const HUGE_NUMBERS: &[&str] = &[
    "99999999999999999999999999",
    "4294967295",
    "4294967296",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e400",
    "-1e400",
    "1.7976931348623157e308",
    "4.9e-324",
    "-0",
    "NaN",
    "Infinity",
    "0x7fffffff",
    "00000000000000000000000000000001",
    "1.",
    ".5",
    "1e",
    "2147483647.5",
];

/// Text that changes length when lower-cased, reverses direction, or is not a character at all.
pub const UNICODE: &[&str] = &[
    "\u{0}",
    "\u{feff}",
    "é",
    "e\u{301}",
    "𝄞",
    "\u{202e}",
    "İ",
    "ẞ",
    "ß",
    "ﬃ",
    "Σ",
    "\u{10ffff}",
    "\u{fffd}",
    "\r\n",
    "\t",
    "\u{2028}",
    "日本語",
    "\u{1f600}",
    "K",
    "Ⱥ",
];

/// One edit: `(kind, a, b, c)`, interpreted by [`apply`].
pub type Edit = (u8, u32, u32, u32);

/// The nesting depths tried: around the limits (64 for FetchXML and `$filter`, 128 for serde_json) and far past.
const DEPTHS: &[usize] = &[2, 8, 9, 63, 64, 65, 127, 128, 129, 300, 1_000, 5_000, 50_000];

/// The largest piece one edit inserts.
const MAX_PIECE: usize = 200_000;

/// Lengths of "very long strings".
const LONG: &[usize] = &[256, 1_000, 4_096, 65_536, 200_000];

fn class(b: u8) -> u8 {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'$' | 0x80..=0xff => 0,
        b' ' | b'\t' | b'\r' | b'\n' => 1,
        _ => 2,
    }
}

/// Token boundaries: runs of word bytes, runs of spaces, single punctuation bytes.
fn tokens(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = class(b[i]);
        let mut j = i + 1;
        if c != 2 {
            while j < b.len() && class(b[j]) == c {
                j += 1;
            }
        }
        out.push((i, j));
        i = j;
    }
    out
}

fn pick<T: Copy>(list: &[T], n: u32) -> T {
    list[n as usize % list.len()]
}

/// Applies `edits` to `seed`; `nest` holds (open, close) fragments that nest in this format.
pub fn apply(seed: &str, edits: &[Edit], nest: &[(&str, &str)]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(kind, x, y, z) in edits {
        let toks = tokens(&b);
        let at = if b.is_empty() { 0 } else { x as usize % (b.len() + 1) };
        let tok = |n: u32| toks.get(n as usize % toks.len().max(1)).copied().unwrap_or((0, 0));
        match kind % 12 {
            0 if !b.is_empty() => {
                let i = x as usize % b.len();
                b[i] ^= 1 << (y % 8);
            }
            1 => b.insert(at, y as u8),
            2 => {
                let end = (at + (y as usize % 16) + 1).min(b.len());
                b.drain(at.min(end)..end);
            }
            3 => b.truncate(at),
            4 => {
                let (s, e) = tok(x);
                b.drain(s..e);
            }
            5 => {
                let (s, e) = tok(x);
                let piece = b[s..e].repeat(1 + (z as usize % 4));
                b.splice(e..e, piece);
            }
            6 => {
                let (s1, e1) = tok(x);
                let (s2, e2) = tok(y);
                if e1 <= s2 {
                    let t1 = b[s1..e1].to_vec();
                    let t2 = b[s2..e2].to_vec();
                    b.splice(s2..e2, t1);
                    b.splice(s1..e1, t2);
                } else if e2 <= s1 {
                    let t1 = b[s1..e1].to_vec();
                    let t2 = b[s2..e2].to_vec();
                    b.splice(s1..e1, t2);
                    b.splice(s2..e2, t1);
                }
            }
            7 => {
                // A huge number: replaces a token made of digits, else goes in at a token boundary.
                let n = pick(HUGE_NUMBERS, y).as_bytes().to_vec();
                let digit_toks: Vec<&(usize, usize)> = toks.iter().filter(|(s, _)| b[*s].is_ascii_digit()).collect();
                match digit_toks.get(x as usize % digit_toks.len().max(1)) {
                    Some(&&(s, e)) if z % 2 == 0 => {
                        b.splice(s..e, n);
                    }
                    _ => {
                        let (s, _) = tok(x);
                        b.splice(s..s, n);
                    }
                }
            }
            8 if !nest.is_empty() => {
                let (open, close) = pick(nest, y);
                // Nesting pieces stay under 200 KB (a query string or document larger than that is not what
                // these edits are about: long inputs have their own edit).
                let depth = pick(DEPTHS, z).min(MAX_PIECE / (open.len() + close.len()).max(1));
                let (s, _) = tok(x);
                let mut piece = open.repeat(depth).into_bytes();
                if z % 3 != 0 {
                    piece.extend(close.repeat(depth).into_bytes());
                }
                b.splice(s..s, piece);
            }
            9 => {
                let (s, e) = tok(x);
                let u = pick(UNICODE, y).as_bytes().to_vec();
                if z % 2 == 0 {
                    b.splice(s..s, u);
                } else {
                    b.splice(e..e, u);
                }
            }
            10 => {
                let len = pick(LONG, z);
                let (s, e) = tok(x);
                let piece = if y % 2 == 0 || e == s {
                    "a".repeat(len).into_bytes()
                } else {
                    b[s..e].repeat((len / (e - s) + 1).min(MAX_PIECE / (e - s) + 1))
                };
                b.splice(e..e, piece);
            }
            _ => {
                // One token copied over another (a name in the wrong place).
                let (s1, e1) = tok(x);
                let (s2, e2) = tok(y);
                let t = b[s2..e2].to_vec();
                b.splice(s1..e1, t);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Byte-level edits of one of `seeds`.
pub fn mutated(seeds: Vec<String>, nest: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = String> {
    let n = seeds.len();
    (0..n, prop::collection::vec(any::<Edit>(), 1..6)).prop_map(move |(i, edits)| apply(&seeds[i], &edits, nest))
}

/// Random bytes (read as UTF-8 with replacement, as a host decoding a response would), any string, or a soup of
/// the characters the format is made of.
pub fn random_text(alphabet: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2_000).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        any::<String>(),
        prop::collection::vec(prop::sample::select(alphabet.chars().collect::<Vec<_>>()), 0..600)
            .prop_map(|c| c.into_iter().collect()),
    ]
}

/// A text input of a format: mostly mutated seeds, sometimes the seeds as they are, sometimes random text.
pub fn text_input(
    seeds: Vec<String>,
    nest: &'static [(&'static str, &'static str)],
    alphabet: &'static str,
) -> impl Strategy<Value = String> {
    let plain = seeds.clone();
    prop_oneof![
        12 => mutated(seeds, nest),
        1 => prop::sample::select(plain),
        3 => random_text(alphabet),
    ]
}

// ------------------------------------------------------------------------------------------------------------
// JSON

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Paths of the first `limit` nodes, in document order (the root is the empty path).
fn paths(v: &Value, limit: usize) -> Vec<Vec<Seg>> {
    let mut out = Vec::new();
    let mut stack: Vec<(Vec<Seg>, &Value)> = vec![(Vec::new(), v)];
    while let Some((path, node)) = stack.pop() {
        if out.len() >= limit {
            break;
        }
        match node {
            Value::Object(o) => {
                for (k, child) in o.iter().rev() {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.clone()));
                    stack.push((p, child));
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate().rev() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    stack.push((p, child));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn get_mut<'v>(v: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(o)) => o.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get<'v>(v: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(o)) => o.get(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Values that are the wrong type, out of range, empty or strange.
fn weird(n: u32) -> Value {
    use serde_json::json;
    match n % 26 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(false),
        3 => json!(0),
        4 => json!(-1),
        5 => json!(1.5),
        6 => json!(1e308),
        7 => json!(-1e308),
        8 => json!(i64::MAX),
        9 => json!(u64::MAX),
        10 => json!(i64::MIN),
        11 => json!(""),
        12 => json!(" "),
        13 => json!("é𝄞\u{202e}İẞ\u{0}"),
        14 => json!({}),
        15 => json!([]),
        16 => json!("99999999999999999999"),
        17 => json!("00000000-0000-0000-0000-000000000000"),
        18 => json!("<filter><condition attribute=\"x\" operator=\"eq\" value=\"1\"/></filter>"),
        19 => json!("<fetch"),
        20 => json!(4_294_967_296u64),
        21 => json!(-4_294_967_296i64),
        22 => json!("{\"Columns\":[\"name\",1]}"),
        23 => json!([null, 1, "a", {}]),
        24 => json!({"Value": null}),
        _ => json!(0.000_000_1),
    }
}

/// Marks a node to be replaced by deep nesting after serialisation (nesting is written as text so that building
/// and dropping it never recurses here).
const NEST_MARK: &str = "\u{1}nest\u{1}";

/// One tree edit `(kind, a, b, c)` of `doc`.
fn apply_json(doc: &mut Value, (kind, x, y, z): Edit, nests: &mut Vec<(usize, bool)>) {
    let all = paths(doc, 20_000);
    let p = &all[x as usize % all.len()];
    let q = &all[y as usize % all.len()];
    match kind % 9 {
        0 => {
            if let Some(n) = get_mut(doc, p) {
                *n = weird(y ^ z);
            }
        }
        1 => {
            // Delete the node from its parent.
            if let Some((last, parent)) = p.split_last() {
                match (last, get_mut(doc, parent)) {
                    (Seg::Key(k), Some(Value::Object(o))) => {
                        o.remove(k);
                    }
                    (Seg::Index(i), Some(Value::Array(a))) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        2 => {
            // Duplicate the node beside itself.
            let Some(copy) = get(doc, p).cloned() else { return };
            if let Some((last, parent)) = p.split_last() {
                match (last, get_mut(doc, parent)) {
                    (Seg::Key(k), Some(Value::Object(o))) => {
                        o.insert(format!("{k}{}", z % 3), copy);
                    }
                    (Seg::Index(i), Some(Value::Array(a))) => {
                        for _ in 0..1 + z % 3 {
                            a.insert(*i, copy.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        3 => {
            // Swap two nodes (when neither contains the other).
            let (Some(a), Some(b)) = (get(doc, p).cloned(), get(doc, q).cloned()) else { return };
            let prefix = |s: &[Seg], t: &[Seg]| {
                s.len() <= t.len() && s.iter().zip(t).all(|(a, b)| format!("{a:?}") == format!("{b:?}"))
            };
            if prefix(p, q) || prefix(q, p) {
                return;
            }
            if let Some(n) = get_mut(doc, p) {
                *n = b;
            }
            if let Some(n) = get_mut(doc, q) {
                *n = a;
            }
        }
        4 => {
            // Rename the key holding the node.
            if let Some((Seg::Key(k), parent)) = p.split_last() {
                if let Some(Value::Object(o)) = get_mut(doc, parent) {
                    if let Some(v) = o.remove(k) {
                        let new = match z % 5 {
                            0 => k.to_uppercase(),
                            1 => format!(" {k}"),
                            2 => String::new(),
                            3 => format!("{k}{}", pick(UNICODE, y)),
                            _ => "$comment".to_string(),
                        };
                        o.insert(new, v);
                    }
                }
            }
        }
        5 => {
            if let Some(n) = get_mut(doc, p) {
                *n = Value::String(NEST_MARK.into());
                nests.push((pick(DEPTHS, z), y % 2 == 0));
            }
        }
        6 => {
            if let Some(n) = get_mut(doc, p) {
                let len = pick(LONG, z);
                *n = match (y % 3, n.clone()) {
                    (0, _) => Value::String("x".repeat(len)),
                    (1, v) => Value::Array(vec![v; 2 + (len % 61)]),
                    (_, _) => Value::String(pick(UNICODE, z).repeat(len / 4)),
                };
            }
        }
        7 => {
            // Change the type, keeping the meaning.
            if let Some(n) = get_mut(doc, p) {
                *n = match n.clone() {
                    Value::Number(x) => Value::String(x.to_string()),
                    Value::String(s) => match s.parse::<f64>() {
                        Ok(f) => serde_json::json!(f),
                        Err(_) => Value::Array(vec![Value::String(s)]),
                    },
                    Value::Bool(b) => Value::String(b.to_string()),
                    Value::Object(o) => Value::Array(vec![Value::Object(o)]),
                    Value::Array(mut a) => a.pop().unwrap_or(Value::Null),
                    Value::Null => Value::String("null".into()),
                };
            }
        }
        _ => {
            // Graft a copy of another node here (when it does not contain this one).
            let Some(other) = get(doc, q).cloned() else { return };
            if q.len() < p.len() {
                return;
            }
            if let Some(n) = get_mut(doc, p) {
                *n = other;
            }
        }
    }
}

/// Serialises `doc` and writes each nesting mark as `depth` levels of arrays or objects around a number.
fn write_with_nests(doc: &Value, nests: &[(usize, bool)]) -> String {
    let mut text = doc.to_string();
    let mark = serde_json::to_string(NEST_MARK).unwrap_or_default();
    for &(depth, arrays) in nests {
        let Some(at) = text.find(&mark) else { break };
        let nested = if arrays {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        };
        text.replace_range(at..at + mark.len(), &nested);
    }
    text
}

/// JSON inputs: tree edits of one of `seeds` (then, sometimes, byte edits of the text), the seeds as they are,
/// or random text; with the index of the seed they came from.
pub fn json_input_indexed(seeds: Vec<Value>) -> impl Strategy<Value = (usize, String)> {
    const NEST: &[(&str, &str)] = &[("[", "]"), ("{\"a\":", "}")];
    let plain: Vec<String> = seeds.iter().map(Value::to_string).collect();
    let n = seeds.len();
    let tree = (0..n, prop::collection::vec(any::<Edit>(), 1..5), prop::collection::vec(any::<Edit>(), 0..3)).prop_map(
        move |(i, tree_edits, byte_edits)| {
            let mut doc = seeds[i].clone();
            let mut nests = Vec::new();
            for e in tree_edits {
                apply_json(&mut doc, e, &mut nests);
            }
            let text = write_with_nests(&doc, &nests);
            let text = if byte_edits.is_empty() { text } else { apply(&text, &byte_edits, NEST) };
            (i, text)
        },
    );
    let plain2 = plain.clone();
    let bytes = (0..n, prop::collection::vec(any::<Edit>(), 1..6))
        .prop_map(move |(i, edits)| (i, apply(&plain[i], &edits, NEST)));
    prop_oneof![
        10 => tree,
        3 => bytes,
        1 => (0..n).prop_map(move |i| (i, plain2[i].clone())),
        2 => (0..n, random_text("{}[]\":,0123456789.eE+-truefalsnl \\/u")),
    ]
}

/// As [`json_input_indexed`], without the index.
pub fn json_input(seeds: Vec<Value>) -> impl Strategy<Value = String> {
    json_input_indexed(seeds).prop_map(|(_, t)| t)
}
