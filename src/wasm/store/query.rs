//! Offline reads: a plan from the engine, candidate rows from IndexedDB (through an index when a condition allows),
//! the evaluator for the rest.

use std::collections::BTreeSet;

use js_sys::Array;
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

use super::access::{self, range_js, Access, Bound};
use super::{idb, idb_err, js_err, not_found, rowcache, Inner};
use crate::error::Error;
use crate::query::plan::{Condition, Filter, Literal, Operator, Query};
use crate::query::{self, EvalContext, MemorySource, Predicate, Row};
use crate::store::layout::table_store;
use crate::wasm::convert::{self, object};

/// Tables a plan reads besides its own: joins, `$expand`, related-row filters.
fn related_tables(q: &Query, out: &mut BTreeSet<String>) {
    fn in_filter(f: &Filter, out: &mut BTreeSet<String>) {
        match f {
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|x| in_filter(x, out)),
            Filter::Not(x) => in_filter(x, out),
            Filter::Condition(_) => {}
            Filter::Related(r) => {
                out.insert(r.table.clone());
                if let Some(f) = &r.filter {
                    in_filter(f, out);
                }
            }
        }
    }
    fn in_join(j: &crate::query::plan::Join, out: &mut BTreeSet<String>) {
        out.insert(j.table.clone());
        if let Some(f) = &j.filter {
            in_filter(f, out);
        }
        j.joins.iter().for_each(|x| in_join(x, out));
    }
    if let Some(f) = &q.filter {
        in_filter(f, out);
    }
    q.joins.iter().for_each(|j| in_join(j, out));
    for e in &q.expands {
        out.insert(e.query.table.clone());
        related_tables(&e.query, out);
    }
}

/// Rows of `table` (through `index` within `range` when given) as JSON from IndexedDB, parsed.
async fn read_json(
    inner: &Inner,
    table: &str,
    index: Option<String>,
    range: JsValue,
    count: Option<u32>,
    skip_keys: Array,
) -> Result<Vec<Row>, JsValue> {
    let json = idb::get_all_json(&inner.db, &table_store(table), index, range, count, skip_keys)
        .await
        .map_err(|e| idb_err("query", e))?;
    let rows = parse_rows(&json)?;
    inner.stats.set(inner.stats.get().add(1, rows.len()));
    Ok(rows)
}

/// Rows from JSON as UTF-8 bytes (a `Uint8Array`: one copy into wasm memory, where a string would be re-encoded
/// character by character by the bindings).
fn parse_rows(json: &JsValue) -> Result<Vec<Row>, JsValue> {
    let text = String::from_utf8(js_sys::Uint8Array::new(json).to_vec()).unwrap_or_default();
    let rows = crate::read::json_array(&text).map_err(|e| {
        js_err(Error::new(crate::error::ErrorCode::StorageError, format!("a stored row is not JSON: {e}")))
    })?;
    Ok(rows.into_iter().filter_map(|r| if let Value::Object(o) = r { Some(o) } else { None }).collect())
}

async fn load_rows(inner: &Inner, table: &str) -> Result<Vec<Row>, JsValue> {
    read_json(inner, table, None, JsValue::UNDEFINED, None, Array::new()).await
}

/// Reads rows in index order until `need` rows match the filter (plus the rows that tie with the last of them on
/// the sort key). `None` when the index ran out before that and rows with a null key may belong to the result
/// (descending order without a non-null condition): the caller then reads the whole table.
#[allow(clippy::too_many_arguments)]
async fn ordered_scan(
    inner: &Inner,
    q: &Query,
    index: &str,
    lower: Option<Bound>,
    upper: Option<Bound>,
    descending: bool,
    non_null: bool,
    need: usize,
    source: &MemorySource,
    ctx: &EvalContext,
) -> Result<Option<Vec<Row>>, JsValue> {
    let pred = match &q.filter {
        Some(f) => Some(Predicate::compile(&inner.schema, &q.table, f, source, ctx).map_err(js_err)?),
        None => None,
    };
    let pk = inner.schema.table(&q.table).map(|t| t.primary_id_attribute.clone()).unwrap_or_default();
    // The row keys the filter reads, with the id and the index key: only they cross into wasm for the test, and the
    // whole row only for the rows that match.
    let columns: Option<Array> = filter_keys(&inner.schema, q).map(|mut keys| {
        keys.insert(pk.clone());
        keys.insert(index.to_string());
        keys.iter().map(|k| JsValue::from_str(k)).collect()
    });
    let mut matched: Vec<Row> = Vec::new();
    let mut last_key: Option<Value> = None;
    let mut batch = first_batch(need);
    let mut read: usize = 0;
    let mut lower = lower;
    let mut skip: Vec<String> = Vec::new();
    let mut after = JsValue::UNDEFINED;
    loop {
        // `n`: rows IndexedDB returned (before skipping rows a previous batch already read); `whole`: the batch's
        // rows as JS objects when `rows` holds only the `columns` of each.
        let (rows, n, whole) = if descending {
            let json = idb::get_all_json_desc(
                &inner.db,
                &table_store(&q.table),
                index,
                range_js(&lower, &upper),
                batch,
                after.clone(),
            )
            .await
            .map_err(|e| idb_err("query", e))?;
            let rows = parse_rows(&json)?;
            let n = rows.len();
            (rows, n, None)
        } else {
            let keys: Array = skip.iter().map(|k| JsValue::from_str(k)).collect();
            let range = range_js(&lower, &upper);
            let got = idb::scan_json(
                &inner.db,
                &table_store(&q.table),
                Some(index.to_string()),
                range,
                Some(batch),
                keys,
                columns.clone().map(JsValue::from).unwrap_or(JsValue::UNDEFINED),
            )
            .await
            .map_err(|e| idb_err("query", e))?;
            let parts = Array::from(&got);
            let n = parts.get(0).as_f64().unwrap_or(0.0) as usize;
            let whole = columns.as_ref().map(|_| parts.get(2));
            (parse_rows(&parts.get(1))?, n, whole)
        };
        let fresh = rows.len();
        read += fresh;
        inner.stats.set(inner.stats.get().add(1, fresh));
        // Matches of this batch, by position, when only columns were read.
        let mut hits: Vec<u32> = Vec::new();
        let mut done = false;
        for (i, row) in rows.into_iter().enumerate() {
            let key = row.get(index).cloned();
            if matched.len() + hits.len() >= need && key != last_key {
                done = true;
                break;
            }
            let id = row.get(&pk).and_then(Value::as_str).unwrap_or_default().to_string();
            // Where the next batch resumes.
            if descending {
                after = object(&[("key", crate::wasm::convert::to_js(&key)?), ("primaryKey", JsValue::from_str(&id))]);
            } else if let Some(k) = &key {
                if lower.as_ref().map(|b| &b.key) == Some(k) {
                    skip.push(id);
                } else {
                    lower = Some(Bound { key: k.clone(), open: false });
                    skip = vec![id];
                }
            }
            if pred.as_ref().is_none_or(|p| p.test(&row)) {
                last_key = key;
                if whole.is_some() {
                    hits.push(i as u32);
                } else {
                    matched.push(row);
                }
            }
        }
        if let (Some(whole), false) = (&whole, hits.is_empty()) {
            matched.extend(parse_rows(&idb::pick_json(whole, hits))?);
        }
        if done {
            return Ok(Some(matched));
        }
        if n < batch as usize {
            // The index is exhausted.
            return Ok(if non_null || !descending { Some(matched) } else { None });
        }
        batch = next_batch(batch, fresh, matched.len(), need, read);
    }
}

/// The row keys `q`'s filter reads on its own table, or `None` when it reads more than those (related rows are
/// tested from their own tables, so a related-row filter needs only the key it joins on).
pub(crate) fn filter_keys(schema: &crate::schema::Schema, q: &Query) -> Option<BTreeSet<String>> {
    fn walk(t: &crate::schema::TableDef, f: &Filter, out: &mut BTreeSet<String>) -> Option<()> {
        match f {
            Filter::And(v) | Filter::Or(v) => v.iter().try_for_each(|x| walk(t, x, out)),
            Filter::Not(x) => walk(t, x, out),
            Filter::Condition(c) if c.entity.is_none() => {
                out.insert(t.attribute(&c.attribute)?.row_key());
                Some(())
            }
            Filter::Condition(_) => None,
            Filter::Related(r) => {
                out.insert(t.attribute(&r.to)?.row_key());
                Some(())
            }
        }
    }
    let t = schema.table(&q.table)?;
    let mut out = BTreeSet::new();
    if let Some(f) = &q.filter {
        walk(t, f, &mut out)?;
    }
    Some(out)
}

/// The first batch of an ordered scan: a few times what is needed, so the match rate it shows sizes the next one.
fn first_batch(need: usize) -> u32 {
    (need.saturating_mul(4)).clamp(32, 1024) as u32
}

/// The next batch of an ordered scan, sized from the match rate seen so far so the scan reads about as many rows
/// as the result needs (every row read is a random read in IndexedDB) in as few requests as possible (each is a
/// transaction and a round trip). A batch wholly made of rows a previous batch already read (ties on the key)
/// doubles, so a long run of ties is always passed.
fn next_batch(batch: u32, fresh: usize, matched: usize, need: usize, read: usize) -> u32 {
    const MAX: u32 = 4096;
    if fresh == 0 {
        return batch.saturating_mul(2);
    }
    if matched >= need {
        // Only the rows that tie with the last match are still wanted.
        return 16;
    }
    let rate = if matched > 0 { matched as f64 / read as f64 } else { 1.0 / (read as f64 + 1.0) };
    let want = ((need - matched) as f64 / rate * 1.15) as u32 + 8;
    want.clamp(32, MAX)
}

async fn source_for(inner: &Inner, q: &Query, main: Vec<Row>) -> Result<MemorySource, JsValue> {
    let mut source = MemorySource::new();
    let mut others = BTreeSet::new();
    related_tables(q, &mut others);
    let main_loaded_fully = others.contains(&q.table);
    for t in others {
        if !inner.tables.contains(&t) {
            // Related rows of a table outside the profile are not on the device: Dataverse offline gives none.
            continue;
        }
        let rows = load_rows(inner, &t).await?;
        source.extend(&t, rows);
    }
    if !main_loaded_fully {
        source.extend(&q.table, main);
    }
    Ok(source)
}

/// Splits `$skiptoken=<offset>` (the offline paging cookie of our nextLinks) from the other options.
fn split_skiptoken(options: &str) -> Result<(String, usize), JsValue> {
    let body = options.trim_start_matches('?');
    let mut rest = Vec::new();
    let mut skip = 0usize;
    for part in body.split('&').filter(|p| !p.is_empty()) {
        if let Some(v) = part.strip_prefix("$skiptoken=") {
            skip = v
                .parse()
                .map_err(|_| js_err(Error::query(format!("$skiptoken '{v}' is not an offline page token"))))?;
        } else {
            rest.push(part);
        }
    }
    Ok((rest.join("&"), skip))
}

/// `retrieveMultipleRecords` offline.
pub async fn retrieve_multiple(
    inner: &Inner,
    table: &str,
    options: &str,
    page_size: u32,
    ctx: &EvalContext,
) -> Result<JsValue, JsValue> {
    // A nextLink we produced is a whole URL: keep its query part.
    let options = options.split_once('?').map(|(_, q)| q).unwrap_or(options);
    let (options, skip) = split_skiptoken(options)?;
    let plan = query::parse_odata(&inner.schema, table, &options).map_err(js_err)?;
    inner.stats.set(Default::default());
    if plan.table != table {
        return Err(js_err(Error::query(format!("the FetchXML queries '{}', not '{table}'", plan.table))));
    }
    let mut main = None;
    if let Access::Ordered { index, lower, upper, descending, non_null } = access::choose(inner, &plan, ctx) {
        let need = (skip + page_size as usize + 1).min(plan.top.map_or(usize::MAX, |t| t as usize));
        let related = source_for(inner, &plan, Vec::new()).await?;
        main = match rowcache::ordered(inner, &plan, &index, &lower, &upper, descending, non_null, need, &related, ctx)
            .await?
        {
            rowcache::Cached::Rows(rows) => rows,
            rowcache::Cached::Unavailable => {
                ordered_scan(inner, &plan, &index, lower, upper, descending, non_null, need, &related, ctx).await?
            }
        };
    }
    let main = match main {
        Some(rows) => rows,
        None => match access::choose(inner, &plan, ctx) {
            Access::Equal { index, key } => {
                let range = object(&[("only", crate::wasm::convert::to_js(&key)?)]);
                read_json(inner, table, Some(index), range, None, Array::new()).await?
            }
            Access::Range { index, lower, upper } => {
                read_json(inner, table, Some(index), range_js(&lower, &upper), None, Array::new()).await?
            }
            Access::Full | Access::Ordered { .. } => load_rows(inner, table).await?,
        },
    };
    let source = source_for(inner, &plan, main).await?;
    let result = query::execute(&inner.schema, &plan, &source, ctx).map_err(js_err)?;
    let total = result.entities.len();
    let page: Vec<Value> = result.entities.into_iter().skip(skip).take(page_size as usize).map(Value::Object).collect();
    let mut out = Map::new();
    if let Some(c) = result.count {
        out.insert("@odata.count".into(), c.into());
    }
    out.insert("entities".into(), Value::Array(page));
    if skip + (page_size as usize) < total {
        let set = inner.schema.table(table).map(|t| t.entity_set_name.clone()).unwrap_or_else(|| table.to_string());
        let sep = if options.is_empty() { "" } else { "&" };
        let next = skip + page_size as usize;
        let base = inner.org_url.trim_end_matches('/');
        out.insert(
            "nextLink".into(),
            Value::String(format!("{base}/api/data/v9.2/{set}?{options}{sep}$skiptoken={next}")),
        );
    }
    convert::to_js(&out)
}

/// `retrieveRecord` offline: `$select` and `$expand` only, as the Microsoft documentation says.
pub async fn retrieve_record(
    inner: &Inner,
    table: &str,
    id: &str,
    options: &str,
    ctx: &EvalContext,
) -> Result<JsValue, JsValue> {
    let mut plan = query::parse_odata(&inner.schema, table, options).map_err(js_err)?;
    if plan.filter.is_some() || !plan.orders.is_empty() || plan.top.is_some() || plan.count {
        return Err(js_err(Error::query("retrieveRecord accepts only $select and $expand")));
    }
    let store = table_store(table);
    let row = idb::get(&inner.db, &store, &JsValue::from_str(id)).await.map_err(|e| idb_err("retrieveRecord", e))?;
    if row.is_undefined() {
        return Err(not_found(table, id));
    }
    let row = match convert::from_js("stored row", row)? {
        Value::Object(o) => o,
        _ => return Err(not_found(table, id)),
    };
    let id_attr = inner.schema.table(table).map(|t| t.primary_id_attribute.clone()).unwrap_or_default();
    plan.filter = Some(Filter::Condition(Condition {
        entity: None,
        attribute: id_attr,
        operator: Operator::Eq,
        values: vec![Literal::Guid(id.to_string())],
    }));
    let source = source_for(inner, &plan, vec![row]).await?;
    let result = query::execute(&inner.schema, &plan, &source, ctx).map_err(js_err)?;
    match result.entities.into_iter().next() {
        Some(r) => convert::to_js(&r),
        None => Err(not_found(table, id)),
    }
}
