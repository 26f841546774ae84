//! The query cache: per table, the columns offline queries filter and order on, for every row, kept in memory, so
//! an ordered query with `$top` picks its rows without walking IndexedDB and then reads only those rows by key.
//!
//! Consistency across tabs and writers rests on **stamps**: every transaction that writes a table's rows also puts
//! `meta["rows/<table>/<writer>"] = <seq>` (one key per store instance, so the put is blind: no read in the write
//! transaction). A cache holds the stamps it reflects, read in the same transaction as its columns. A query picks
//! its rows from the cache, then reads those rows AND the stamps in one readonly transaction: equal stamps mean the
//! cache described exactly the snapshot the rows come from; otherwise (another tab or connection wrote) the cache is
//! rebuilt and the query runs again. Writes made through this store instance update the cache directly (the
//! columns of the rows they put or delete) and advance its own stamp, but only when the cache already held every
//! earlier write of this instance; otherwise it is left stale and the next query rebuilds it. The rows read are
//! tested against the whole filter again: the cache only chooses which rows to read.
//!
//! Every row-writing path goes through [`write`], [`put_rows`] or `modify_row_in` (which adds [`stamp_ops`]): the
//! stamp commits in the same transaction as the rows, so no crash can separate them.

use std::cell::{Cell as StdCell, RefCell};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use js_sys::Array;
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::access::Bound;
use super::{idb, idb_err, js_err, op, stores, Inner};
use crate::error::{Error, ErrorCode};
use crate::query::plan::Query;
use crate::query::{EvalContext, MemorySource, Predicate, Row};
use crate::store::layout::{table_store, META};
use crate::wasm::convert::object;

/// Tables with more rows are not cached (memory: about 100 bytes a row for four columns, see docs/PERFORMANCE.md).
const MAX_ROWS: usize = 500_000;
/// At most this many columns per table (the indexed ones and those queries filter on).
const MAX_KEYS: usize = 16;
/// A write of more rows than this to a cached table drops its sorted orders (rebuilt by the next query) instead of
/// moving each row in them.
const BULK: usize = 64;

/// One cached value, as stored (a missing column is `Null`: the evaluator treats both alike).
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(Box<str>),
    Other(Box<Value>),
}

impl Cell {
    fn from_value(v: Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => n.as_f64().map_or(Cell::Null, Cell::Num),
            },
            Value::String(s) => Cell::Str(s.into_boxed_str()),
            other => Cell::Other(Box::new(other)),
        }
    }

    /// The same cell from a JS value (as `from_value` of the value's JSON text).
    fn from_js(v: &JsValue) -> Cell {
        if v.is_undefined() || v.is_null() {
            Cell::Null
        } else if let Some(b) = v.as_bool() {
            Cell::Bool(b)
        } else if let Some(f) = v.as_f64() {
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                Cell::Int(f as i64)
            } else if f.is_finite() {
                Cell::Num(f)
            } else {
                Cell::Null
            }
        } else if let Some(s) = v.as_string() {
            Cell::Str(s.into_boxed_str())
        } else {
            let json = js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string()).unwrap_or_default();
            Cell::from_value(serde_json::from_str(&json).unwrap_or(Value::Null))
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Num(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Cell::Str(s) => Value::String(s.to_string()),
            Cell::Other(v) => (**v).clone(),
        }
    }

    /// Whether IndexedDB puts this value in an index: numbers and strings (arrays are keys too: `None`, the cache
    /// then does not answer orders on that column).
    fn indexed(&self) -> Option<bool> {
        match self {
            Cell::Int(_) | Cell::Num(_) | Cell::Str(_) => Some(true),
            Cell::Other(v) if v.is_array() => None,
            _ => Some(false),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(f) => Some(*f),
            _ => None,
        }
    }
}

/// IndexedDB's key order over the cells it indexes: numbers before strings, strings by UTF-16 code units.
fn key_cmp(a: &Cell, b: &Cell) -> Ordering {
    match (a.num(), b.num(), a, b) {
        (Some(x), Some(y), _, _) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Some(_), None, _, _) => Ordering::Less,
        (None, Some(_), _, _) => Ordering::Greater,
        (_, _, Cell::Str(x), Cell::Str(y)) => {
            if x.is_ascii() && y.is_ascii() {
                x.cmp(y)
            } else {
                x.encode_utf16().cmp(y.encode_utf16())
            }
        }
        _ => Ordering::Equal,
    }
}

/// A GUID primary key as a number whose order is the text's (lower-case hex digits in text order).
fn parse_id(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut n: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        n = (n << 4) | u128::from(d);
    }
    Some(n)
}

fn format_id(n: u128) -> String {
    // By hand: `format!("{:x}")` of a u128 links the 128-bit formatting code into the wasm.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(HEX[((n >> (124 - 4 * i)) & 0xf) as usize] as char);
    }
    out
}

/// The cached columns of one table.
struct TableCache {
    /// The `meta` stamps (key, value) this cache reflects, by key.
    stamps: Vec<(String, f64)>,
    /// The cached row keys (besides the primary key).
    keys: Vec<String>,
    ids: Vec<u128>,
    /// `cols[k][row]`: the value of `keys[k]`.
    cols: Vec<Vec<Cell>>,
    /// Row position by id (deleted rows keep their position, with null cells, out of every order).
    pos: HashMap<u128, u32>,
    /// Per key, the positions of the rows IndexedDB's index on it holds, in its order (key, then id).
    sorted: HashMap<usize, Vec<u32>>,
}

impl TableCache {
    fn bytes(&self) -> usize {
        let cells: usize = self
            .cols
            .iter()
            .flatten()
            .map(|c| match c {
                Cell::Str(s) => s.len(),
                Cell::Other(_) => 64,
                _ => 0,
            })
            .sum();
        let n = self.ids.len();
        n * (16 + 24 * self.keys.len() + 40) + cells + self.sorted.values().map(|v| v.len() * 4).sum::<usize>()
    }

    fn cmp_at(&self, k: usize, a: u32, b: u32) -> Ordering {
        let col = &self.cols[k];
        key_cmp(&col[a as usize], &col[b as usize]).then(self.ids[a as usize].cmp(&self.ids[b as usize]))
    }

    /// The order of `keys[k]` (built on first use); `None` when a value is an array (IndexedDB would index it).
    fn order(&mut self, k: usize) -> Option<&Vec<u32>> {
        if !self.sorted.contains_key(&k) {
            let mut list = Vec::new();
            for (i, c) in self.cols[k].iter().enumerate() {
                if c.indexed()? && self.pos.contains_key(&self.ids[i]) {
                    list.push(i as u32);
                }
            }
            crate::sort::sort_by(&mut list, |&a, &b| self.cmp_at(k, a, b));
            self.sorted.insert(k, list);
        }
        self.sorted.get(&k)
    }

    fn own(&self, key: &str) -> Option<f64> {
        self.stamps.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn set_own(&mut self, key: &str, value: f64) {
        match self.stamps.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(i) => self.stamps[i].1 = value,
            Err(i) => self.stamps.insert(i, (key.to_string(), value)),
        }
    }

    /// Puts (`Some(cells)`) or deletes (`None`) row `id`, keeping the orders when `keep_orders`.
    fn apply(&mut self, id: u128, cells: Option<Vec<Cell>>, keep_orders: bool) {
        let at = self.pos.get(&id).copied();
        if keep_orders {
            if let Some(p) = at {
                for list in self.sorted.values_mut() {
                    if let Some(i) = list.iter().position(|&x| x == p) {
                        list.remove(i);
                    }
                }
            }
        } else {
            self.sorted.clear();
        }
        let p = match (at, &cells) {
            (_, None) => {
                if let Some(p) = at {
                    self.pos.remove(&id);
                    self.cols.iter_mut().for_each(|c| c[p as usize] = Cell::Null);
                }
                return;
            }
            (Some(p), Some(_)) => p,
            (None, Some(_)) => {
                let p = self.ids.len() as u32;
                self.ids.push(id);
                self.cols.iter_mut().for_each(|c| c.push(Cell::Null));
                self.pos.insert(id, p);
                p
            }
        };
        for (col, cell) in self.cols.iter_mut().zip(cells.unwrap_or_default()) {
            col[p as usize] = cell;
        }
        if keep_orders {
            let keys: Vec<usize> = self.sorted.keys().copied().collect();
            for k in keys {
                match self.cols[k][p as usize].indexed() {
                    Some(true) => {}
                    Some(false) => continue,
                    None => {
                        self.sorted.remove(&k);
                        continue;
                    }
                }
                let list = &self.sorted[&k];
                let i = list.partition_point(|&x| self.cmp_at(k, x, p) == Ordering::Less);
                if let Some(l) = self.sorted.get_mut(&k) {
                    l.insert(i, p);
                }
            }
        }
    }
}

/// The caches of one store instance, with its writer stamp.
pub(crate) struct Caches {
    /// This instance's writer id (a random GUID): its stamp key is `rows/<table>/<writer>`.
    writer: String,
    seq: StdCell<u64>,
    /// Per table, the seq of this instance's last committed write.
    committed: RefCell<HashMap<String, u64>>,
    tables: RefCell<HashMap<String, TableCache>>,
    /// Tables found too big to cache.
    too_big: RefCell<BTreeSet<String>>,
    /// Whether queries use the cache (`setQueryCache`; the differential test compares both paths).
    pub(crate) enabled: StdCell<bool>,
}

impl Caches {
    pub(crate) fn new() -> Caches {
        Caches {
            writer: idb::new_id(),
            seq: StdCell::new(0),
            committed: RefCell::default(),
            tables: RefCell::default(),
            too_big: RefCell::default(),
            enabled: StdCell::new(true),
        }
    }

    /// `{ rows, bytes }` held by the caches (bytes estimated from what they hold).
    pub(crate) fn size(&self) -> (usize, usize) {
        let t = self.tables.borrow();
        (t.values().map(|c| c.pos.len()).sum(), t.values().map(TableCache::bytes).sum())
    }
}

/// The stamps `[[key, value], ...]` (JSON text) as `(key, value)` pairs, walked from a `Value` (a derived
/// deserializer for the tuple costs wasm size).
fn stamps_of(text: &JsValue) -> Result<Vec<(String, f64)>, String> {
    let v: Value = serde_json::from_str(&text.as_string().unwrap_or_default()).map_err(|e| e.to_string())?;
    let pairs = v.as_array().ok_or("not an array")?;
    pairs
        .iter()
        .map(|p| match (p.get(0).and_then(Value::as_str), p.get(1).and_then(Value::as_f64)) {
            (Some(k), Some(n)) => Ok((k.to_string(), n)),
            _ => Err(format!("bad stamp {p}")),
        })
        .collect()
}

fn prefix(table: &str) -> (String, String) {
    (format!("rows/{table}/"), format!("rows/{table}/\u{ffff}"))
}

/// The stamps of this write: per table, the seq its stamp carries.
#[derive(Default)]
pub(crate) struct Stamped(Vec<(String, u64)>);

/// The `meta` puts that stamp a write of `tables`' rows (one op each), and what [`committed`] needs afterwards.
pub(crate) fn stamp_ops<'a>(inner: &Inner, tables: impl IntoIterator<Item = &'a str>) -> (Vec<JsValue>, Stamped) {
    let c = &inner.caches;
    let mut ops = Vec::new();
    let mut out = Stamped::default();
    for t in tables {
        if out.0.iter().any(|(x, _)| x == t) {
            continue;
        }
        let seq = c.seq.get() + 1;
        c.seq.set(seq);
        let (p, _) = prefix(t);
        let entry =
            object(&[("key", JsValue::from_str(&format!("{p}{}", c.writer))), ("value", JsValue::from(seq as f64))]);
        ops.push(op("put", META, &entry));
        out.0.push((t.to_string(), seq));
    }
    (ops, out)
}

/// As [`stamp_ops`] for one table, as the JSON text of its `meta` put op (for a write made as one JSON text).
pub(crate) fn stamp_json(inner: &Inner, table: &str) -> (String, Stamped) {
    let c = &inner.caches;
    let seq = c.seq.get() + 1;
    c.seq.set(seq);
    let key = serde_json::to_string(&format!("{}{}", prefix(table).0, c.writer)).unwrap_or_default();
    (format!(r#"{{"store":"{META}","put":{{"key":{key},"value":{seq}}}}}"#), Stamped(vec![(table.to_string(), seq)]))
}

fn op_table<'a>(inner: &'a Inner, store: &str) -> Option<&'a str> {
    let t = store.strip_prefix("t:")?;
    inner.tables.get(t).map(String::as_str).filter(|t| table_store(t) == store)
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The tables whose rows `ops` write.
fn tables_of<'a>(inner: &'a Inner, ops: &Array) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for o in ops.iter() {
        if let Some(t) = get(&o, "store").as_string().and_then(|s| op_table(inner, &s)) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// After a write committed: each stamped table's cache takes the write's rows (from `ops`, or `rows` put into
/// `rows_store`) and this instance's new stamp, when it held every earlier write of this instance.
pub(crate) fn committed(inner: &Inner, stamped: &Stamped, ops: &Array, rows: Option<(&str, &Array)>) {
    let c = &inner.caches;
    for (table, seq) in &stamped.0 {
        let prev = c.committed.borrow_mut().insert(table.clone(), *seq);
        let mut tables = c.tables.borrow_mut();
        let Some(cache) = tables.get_mut(table) else { continue };
        let key = format!("{}{}", prefix(table).0, c.writer);
        if cache.own(&key).map(|v| v as u64) != prev {
            // The cache misses a write of ours (it was built from a snapshot taken before that write committed):
            // leave it stale, the next query rebuilds it.
            continue;
        }
        let store = table_store(table);
        let pk = inner.schema.table(table).map(|t| t.primary_id_attribute.clone()).unwrap_or_default();
        let mut changes: Vec<(JsValue, bool)> = Vec::new();
        for o in ops.iter() {
            if get(&o, "store").as_string().as_deref() != Some(&store) {
                continue;
            }
            for kind in ["put", "add"] {
                let v = get(&o, kind);
                if !v.is_undefined() {
                    changes.push((v, true));
                }
            }
            let d = get(&o, "delete");
            if !d.is_undefined() {
                changes.push((d, false));
            }
        }
        if let Some((s, rows)) = rows {
            if s == store {
                changes.extend(rows.iter().map(|r| (r, true)));
            }
        }
        let keep = changes.len() <= BULK;
        let mut ok = true;
        for (v, put) in changes {
            let id = if put { get(&v, &pk).as_string() } else { v.as_string() };
            let Some(id) = id.as_deref().and_then(parse_id) else {
                ok = false;
                break;
            };
            // As an index holds it: numbers, strings (and arrays); anything else is not in the index (null).
            let cells = put.then(|| {
                cache
                    .keys
                    .iter()
                    .map(|k| match Cell::from_js(&get(&v, k)) {
                        c @ (Cell::Int(_) | Cell::Num(_) | Cell::Str(_)) => c,
                        Cell::Other(v) if v.is_array() => Cell::Other(v),
                        _ => Cell::Null,
                    })
                    .collect()
            });
            cache.apply(id, cells, keep);
        }
        if ok {
            cache.set_own(&key, *seq as f64);
        } else {
            tables.remove(table);
        }
    }
}

/// `idb::write` with the stamps of the tables `ops` write; the caches take the write once it committed.
pub(crate) async fn write(inner: &Inner, names: &[&str], ops: Array) -> Result<JsValue, JsValue> {
    let tables = tables_of(inner, &ops);
    if tables.is_empty() {
        return idb::write(&inner.db, stores(names), ops).await;
    }
    let (extra, stamped) = stamp_ops(inner, tables);
    let all: Array = ops.iter().chain(extra).collect();
    let mut names: Vec<&str> = names.to_vec();
    if !names.contains(&META) {
        names.push(META);
    }
    let keys = idb::write(&inner.db, stores(&names), all).await?;
    committed(inner, &stamped, &ops, None);
    Ok(keys)
}

/// `idb::put_rows` of `rows` into `table`'s store (plus `extra` ops over `names`, which hold `meta`), stamped.
pub(crate) async fn put_rows(
    inner: &Inner,
    names: &[&str],
    table: &str,
    rows: &Array,
    extra: Array,
) -> Result<(), JsValue> {
    let (stamp, stamped) = stamp_ops(inner, [table]);
    let store = table_store(table);
    let mut names: Vec<&str> = names.to_vec();
    if !names.contains(&META) {
        names.push(META);
    }
    let all: Array = extra.iter().chain(stamp).collect();
    // The cache of the table (when a query built one) takes the page's rows once it committed; otherwise the rows
    // are let go as soon as their puts are placed (a first-sync page's objects then die young: docs/SYNC.md).
    let keep = inner.caches.tables.borrow().contains_key(table);
    idb::put_rows(&inner.db, stores(&names), &store, rows, all, !keep).await?;
    committed(inner, &stamped, &extra, keep.then_some((&store, rows)));
    if !keep {
        // A query built the cache while the page was written, from a snapshot that may lack the page: rebuilt by
        // the next query.
        inner.caches.tables.borrow_mut().remove(table);
    }
    Ok(())
}

/// Builds the cache of `table` with `keys` (and the primary key): every row, in one transaction with the stamps.
/// `false` when the table has too many rows to cache.
async fn build(inner: &Inner, table: &str, keys: Vec<String>) -> Result<bool, JsValue> {
    let (lower, upper) = prefix(table);
    let key_list: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
    let got = idb::load_columns(&inner.db, &table_store(table), key_list, &lower, &upper)
        .await
        .map_err(|e| idb_err("query", e))?;
    let parts = Array::from(&got);
    let n = parts.get(0).as_f64().unwrap_or(0.0) as usize;
    inner.stats.set(inner.stats.get().add(1, n));
    inner.caches.tables.borrow_mut().remove(table);
    if n > MAX_ROWS {
        inner.caches.too_big.borrow_mut().insert(table.to_string());
        return Ok(false);
    }
    let bad = |e: String| js_err(Error::new(ErrorCode::StorageError, format!("query cache of '{table}': {e}")));
    let stamps = stamps_of(&parts.get(2)).map_err(bad)?;
    let mut cache = TableCache {
        stamps,
        cols: vec![Vec::with_capacity(n); keys.len()],
        keys,
        ids: Vec::with_capacity(n),
        pos: HashMap::with_capacity(n),
        sorted: HashMap::new(),
    };
    // One chunk of rows parsed at a time: the peak is a chunk's values, not the table's.
    for chunk in Array::from(&parts.get(1)).iter() {
        let text = String::from_utf8(js_sys::Uint8Array::new(&chunk).to_vec()).map_err(|e| bad(e.to_string()))?;
        let rows: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        drop(text);
        let Value::Array(rows) = rows else { return Err(bad("not an array".into())) };
        for row in rows {
            let Value::Array(row) = row else { return Err(bad("not an array".into())) };
            let mut it = row.into_iter();
            let Some(id) = it.next().and_then(|v| v.as_str().and_then(parse_id)) else {
                // A primary key that is not a lower-case GUID: not cached (queries take the IndexedDB paths).
                inner.caches.too_big.borrow_mut().insert(table.to_string());
                return Ok(false);
            };
            cache.pos.insert(id, cache.ids.len() as u32);
            cache.ids.push(id);
            for (col, v) in cache.cols.iter_mut().zip(it) {
                col.push(Cell::from_value(v));
            }
        }
    }
    inner.caches.tables.borrow_mut().insert(table.to_string(), cache);
    Ok(true)
}

/// What [`ordered`] found.
pub(crate) enum Cached {
    /// The cache does not answer this query: take the IndexedDB paths.
    Unavailable,
    /// The matching rows in index order, as `ordered_scan` returns them (`None`: read the whole table).
    Rows(Option<Vec<Row>>),
}

/// The ordered access path from the cache (same contract as `ordered_scan`): walks the cached order of `index`
/// within the bounds (descending when asked), tests the filter on the cached columns, and reads by key, in one
/// transaction with the stamps, the first `need` rows that match plus the rows tying with the last of them on the
/// index key (known from the cache too); the rows read are tested with the filter again.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ordered(
    inner: &Inner,
    q: &Query,
    index: &str,
    lower: &Option<Bound>,
    upper: &Option<Bound>,
    descending: bool,
    non_null: bool,
    need: usize,
    source: &MemorySource,
    ctx: &EvalContext,
) -> Result<Cached, JsValue> {
    let c = &inner.caches;
    if !c.enabled.get() || c.too_big.borrow().contains(&q.table) {
        return Ok(Cached::Unavailable);
    }
    let pred = match &q.filter {
        Some(f) => Some(Predicate::compile(&inner.schema, &q.table, f, source, ctx).map_err(js_err)?),
        None => None,
    };
    let Some(mut wanted) = super::query::filter_keys(&inner.schema, q) else { return Ok(Cached::Unavailable) };
    let pk = inner.schema.table(&q.table).map(|t| t.primary_id_attribute.clone()).unwrap_or_default();
    wanted.insert(index.to_string());
    wanted.remove(&pk);
    'attempt: for _ in 0..3 {
        // The cache must hold every column the filter and the order read.
        let missing = c.tables.borrow().get(&q.table).is_none_or(|t| wanted.iter().any(|k| !t.keys.contains(k)));
        if missing {
            // `extend`, not `collect()`: collecting into a set sorts first, a sort compiled for this one call.
            let mut keys = BTreeSet::new();
            if let Some(t) = c.tables.borrow().get(&q.table) {
                keys.extend(t.keys.iter().cloned());
            }
            keys.extend(wanted.iter().cloned());
            if let Some(s) = inner.layout.stores.iter().find(|s| s.name == table_store(&q.table)) {
                for i in &s.indexes {
                    if keys.len() < MAX_KEYS {
                        keys.insert(i.name.clone());
                    }
                }
            }
            keys.remove(&pk);
            if keys.len() > MAX_KEYS || !build(inner, &q.table, keys.into_iter().collect()).await? {
                return Ok(Cached::Unavailable);
            }
        }
        // The window of the index, its cached conditions, and the stamps the cache reflects.
        let (window, keys, stamps) = {
            let mut tables = c.tables.borrow_mut();
            let Some(cache) = tables.get_mut(&q.table) else { return Ok(Cached::Unavailable) };
            let Some(k) = cache.keys.iter().position(|x| x == index) else { return Ok(Cached::Unavailable) };
            let Some(order) = cache.order(k).cloned() else { return Ok(Cached::Unavailable) };
            let col = &cache.cols[k];
            let bound = |b: &Option<Bound>| b.as_ref().map(|b| (Cell::from_value(b.key.clone()), b.open));
            let start = bound(lower).map_or(0, |(key, open)| {
                order.partition_point(|&p| {
                    let o = key_cmp(&col[p as usize], &key);
                    o == Ordering::Less || (open && o == Ordering::Equal)
                })
            });
            let end = bound(upper).map_or(order.len(), |(key, open)| {
                order.partition_point(|&p| {
                    let o = key_cmp(&col[p as usize], &key);
                    o == Ordering::Less || (!open && o == Ordering::Equal)
                })
            });
            let mut window = order[start.min(end)..end].to_vec();
            if descending {
                window.reverse();
            }
            (window, cache.keys.clone(), cache.stamps.clone())
        };
        let test = &pred;
        let (lo, hi) = prefix(&q.table);
        let index_at = keys.iter().position(|x| x == index).unwrap_or(0);
        // Only the columns the filter reads go into the row it is tested on (with the primary key).
        let used: Vec<usize> = (0..keys.len()).filter(|&i| wanted.contains(&keys[i])).collect();
        let mut row = Row::new();
        // The rows of the answer, with their index key: the first `need` that match, then those tying with the last.
        let mut picked: Vec<(u128, Cell)> = Vec::new();
        let mut ended = false;
        {
            let tables = c.tables.borrow();
            let Some(cache) = tables.get(&q.table) else { continue 'attempt };
            for &p in &window {
                let p = p as usize;
                let key = &cache.cols[index_at][p];
                if picked.len() >= need && picked.last().is_none_or(|(_, l)| key_cmp(l, key) != Ordering::Equal) {
                    ended = true;
                    break;
                }
                if let Some(t) = test {
                    for &i in &used {
                        let key = &keys[i];
                        match &cache.cols[i][p] {
                            Cell::Null => {
                                row.remove(key);
                            }
                            cell => match row.get_mut(key) {
                                Some(slot) => *slot = cell.to_value(),
                                None => {
                                    row.insert(key.clone(), cell.to_value());
                                }
                            },
                        }
                    }
                    match row.get_mut(&pk) {
                        Some(slot) => *slot = Value::String(format_id(cache.ids[p])),
                        None => {
                            row.insert(pk.clone(), Value::String(format_id(cache.ids[p])));
                        }
                    }
                    if !t.test(&row) {
                        continue;
                    }
                }
                picked.push((cache.ids[p], key.clone()));
            }
        }
        // Read them, and the stamps, in one transaction.
        let ids: Array = picked.iter().map(|(id, _)| JsValue::from_str(&format_id(*id))).collect();
        let got = idb::get_rows_stamped(&inner.db, &table_store(&q.table), ids, &lo, &hi)
            .await
            .map_err(|e| idb_err("query", e))?;
        let parts = Array::from(&got);
        let now = stamps_of(&parts.get(1))
            .map_err(|e| js_err(Error::new(ErrorCode::StorageError, format!("query cache stamps: {e}"))))?;
        inner.stats.set(inner.stats.get().add(1, picked.len()));
        if now != stamps {
            // Another connection wrote since the cache was built: rebuild, pick again.
            c.tables.borrow_mut().remove(&q.table);
            continue 'attempt;
        }
        let text = String::from_utf8(js_sys::Uint8Array::new(&parts.get(0)).to_vec()).unwrap_or_default();
        let rows = crate::read::json_array(&text)
            .map_err(|e| js_err(Error::new(ErrorCode::StorageError, format!("a stored row is not JSON: {e}"))))?;
        let mut matched = Vec::with_capacity(rows.len());
        for r in rows {
            match r {
                Value::Object(r) if pred.as_ref().is_none_or(|p| p.test(&r)) => matched.push(r),
                _ => {
                    // Equal stamps, but a row that is gone or does not match: a writer that does not stamp. The
                    // cache is not trusted: rebuilt.
                    c.tables.borrow_mut().remove(&q.table);
                    continue 'attempt;
                }
            }
        }
        if !ended && descending && !non_null {
            // The index ran out: rows with a null key (not in it) come last and may belong to the result.
            return Ok(Cached::Rows(None));
        }
        return Ok(Cached::Rows(Some(matched)));
    }
    Ok(Cached::Unavailable)
}
