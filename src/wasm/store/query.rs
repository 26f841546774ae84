//! Offline reads: a plan from the engine, candidate rows from IndexedDB (through an index when a condition allows),
//! the evaluator for the rest.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

use super::{idb, idb_err, js_err, not_found, Inner};
use crate::error::Error;
use crate::query::plan::{Condition, Filter, Literal, Operator, Query};
use crate::query::{self, EvalContext, MemorySource, Row};
use crate::schema::AttributeType;
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

async fn load_rows(inner: &Inner, table: &str, index: Option<(String, JsValue)>) -> Result<Vec<Row>, JsValue> {
    let store = table_store(table);
    let rows = match index {
        Some((name, key)) => {
            let range = object(&[("only", key)]);
            idb::get_all(&inner.db, &store, Some(name), range, None).await
        }
        None => idb::get_all(&inner.db, &store, None, JsValue::UNDEFINED, None).await,
    }
    .map_err(|e| idb_err("query", e))?;
    let rows: Vec<Value> = serde_wasm_bindgen::from_value(rows).map_err(|e| idb_err("query", e.into()))?;
    Ok(rows.into_iter().filter_map(|r| if let Value::Object(o) = r { Some(o) } else { None }).collect())
}

/// An equality on an indexed column among the top-level AND-ed conditions: the index narrows the rows read;
/// the evaluator still checks every condition.
fn index_for(inner: &Inner, q: &Query) -> Option<(String, JsValue)> {
    let t = inner.schema.table(&q.table)?;
    let store = inner.layout.stores.iter().find(|s| s.name == table_store(&q.table))?;
    let conds: Vec<&Condition> = match q.filter.as_ref()? {
        Filter::Condition(c) => vec![c],
        Filter::And(v) => v.iter().filter_map(|f| if let Filter::Condition(c) = f { Some(c) } else { None }).collect(),
        _ => return None,
    };
    for c in conds {
        if c.entity.is_some() || c.operator != Operator::Eq || c.values.len() != 1 {
            continue;
        }
        let Some(a) = t.attribute(&c.attribute) else { continue };
        let key = a.row_key();
        if !store.indexes.iter().any(|i| i.name == key) {
            continue;
        }
        let v = match (&a.attribute_type, &c.values[0]) {
            (ty, Literal::Guid(g) | Literal::Text(g)) if ty.is_lookup() || *ty == AttributeType::Uniqueidentifier => {
                crate::store::guid::normalize(g).map(|g| JsValue::from_str(&g))
            }
            (ty, Literal::Int(n)) if ty.is_numeric() => Some(JsValue::from_f64(*n as f64)),
            (ty, Literal::Text(s)) if ty.is_numeric() => s.trim().parse::<f64>().ok().map(JsValue::from_f64),
            _ => None,
        };
        if let Some(v) = v {
            return Some((key, v));
        }
    }
    None
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
        let rows = load_rows(inner, &t, None).await?;
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
    if plan.table != table {
        return Err(js_err(Error::query(format!("the FetchXML queries '{}', not '{table}'", plan.table))));
    }
    let main = load_rows(inner, table, index_for(inner, &plan)).await?;
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
