//! How an offline query reads IndexedDB: the access path chosen from the plan and the store's indexes.
//!
//! - **Ordered**: the first sort key is an indexed column that a condition keeps non-null (or the order is
//!   descending, where nulls come last): read the index in that order, in growing batches, test each row with the
//!   compiled predicate, and stop once enough rows matched (finishing the run of rows that tie on the sort key).
//!   A `$top=50` over 100,000 rows then reads a few hundred rows, not the table.
//! - **Equal**: an equality on an indexed column: read only the rows with that key.
//! - **Range**: a range (`ge`, `lt`...) on an indexed column: read only that range.
//! - **Full**: read the table.
//!
//! In every case the evaluator still applies the whole filter: an index only narrows what is read. Rows cross into
//! wasm as JSON (UTF-8 bytes, one buffer per batch), parsed by serde_json, which is much cheaper than reading JS
//! objects key by key; the ordered walk sends only the columns the filter reads, and whole rows for the matches.

use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::dates;
use crate::query::plan::{Condition, Filter, Literal, Operator, Query};
use crate::query::EvalContext;
use crate::schema::{AttributeDef, AttributeType};
use crate::store::layout::table_store;
use crate::wasm::convert::object;

use super::Inner;

/// A bound of an index range.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The key as stored in the row (string or number).
    pub key: Value,
    /// Whether the bound itself is excluded.
    pub open: bool,
}

/// The access path of a query.
#[derive(Debug, Clone)]
pub enum Access {
    /// Read every row.
    Full,
    /// Read the rows whose `index` key equals `key`.
    Equal { index: String, key: Value },
    /// Read the rows whose `index` key is within the bounds.
    Range { index: String, lower: Option<Bound>, upper: Option<Bound> },
    /// Read `index` in order (descending when asked) within the bounds, stopping early.
    Ordered { index: String, lower: Option<Bound>, upper: Option<Bound>, descending: bool, non_null: bool },
}

/// The JS key range `{lower, upper, lowerOpen, upperOpen}` (or `{only}`).
pub fn range_js(lower: &Option<Bound>, upper: &Option<Bound>) -> JsValue {
    let key = |v: &Value| match v {
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JsValue::from_str(s),
        _ => JsValue::UNDEFINED,
    };
    let mut pairs: Vec<(&str, JsValue)> = Vec::new();
    if let Some(b) = lower {
        pairs.push(("lower", key(&b.key)));
        pairs.push(("lowerOpen", JsValue::from_bool(b.open)));
    }
    if let Some(b) = upper {
        pairs.push(("upper", key(&b.key)));
        pairs.push(("upperOpen", JsValue::from_bool(b.open)));
    }
    if pairs.is_empty() {
        JsValue::UNDEFINED
    } else {
        object(&pairs)
    }
}

/// The key a literal has in an index on `attr`, as stored rows hold it: lower-case GUIDs, numbers, and date-times
/// in `YYYY-MM-DDTHH:MM:SSZ` (a date alone is the user's local midnight, as the evaluator reads it).
fn index_key(attr: &AttributeDef, lit: &Literal, ctx: &EvalContext) -> Option<Value> {
    let ty = &attr.attribute_type;
    match lit {
        Literal::Guid(g) | Literal::Text(g) if ty.is_lookup() || *ty == AttributeType::Uniqueidentifier => {
            crate::store::guid::normalize(g).map(Value::String)
        }
        Literal::Int(n) if ty.is_numeric() => serde_json::Number::from_f64(*n as f64).map(Value::Number),
        Literal::Number(n) if ty.is_numeric() => serde_json::Number::from_f64(*n).map(Value::Number),
        Literal::Text(s) if ty.is_numeric() => {
            crate::num::parse_f64(s.trim()).and_then(serde_json::Number::from_f64).map(Value::Number)
        }
        Literal::DateTime(s) | Literal::Text(s) if *ty == AttributeType::DateTime => {
            dates::parse_datetime(s, ctx.utc_offset_minutes).map(|ms| Value::String(dates::format_datetime(ms)))
        }
        _ => None,
    }
}

fn top_conditions(q: &Query) -> Vec<&Condition> {
    match q.filter.as_ref() {
        Some(Filter::Condition(c)) => vec![c],
        Some(Filter::And(v)) => {
            v.iter().filter_map(|f| if let Filter::Condition(c) = f { Some(c) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

/// Bounds on `attr` from the top-level AND-ed conditions, and whether some condition keeps it non-null (every
/// comparison except `null` is false on a null column).
fn bounds(attr: &AttributeDef, conds: &[&Condition], ctx: &EvalContext) -> (Option<Bound>, Option<Bound>, bool) {
    let (mut lower, mut upper, mut non_null) = (None, None, false);
    for c in conds.iter().filter(|c| c.entity.is_none() && c.attribute == attr.logical_name) {
        if c.operator != Operator::Null {
            non_null = true;
        }
        let Some(key) = c.values.first().and_then(|v| index_key(attr, v, ctx)) else { continue };
        match c.operator {
            Operator::Eq if c.values.len() == 1 => {
                lower.get_or_insert(Bound { key: key.clone(), open: false });
                upper.get_or_insert(Bound { key, open: false });
            }
            Operator::Gt => {
                lower.get_or_insert(Bound { key, open: true });
            }
            Operator::Ge => {
                lower.get_or_insert(Bound { key, open: false });
            }
            Operator::Lt => {
                upper.get_or_insert(Bound { key, open: true });
            }
            Operator::Le => {
                upper.get_or_insert(Bound { key, open: false });
            }
            _ => {}
        }
    }
    (lower, upper, non_null)
}

/// Chooses the access path for `q` over the store's indexes.
pub fn choose(inner: &Inner, q: &Query, ctx: &EvalContext) -> Access {
    let (Some(t), Some(store)) =
        (inner.schema.table(&q.table), inner.layout.stores.iter().find(|s| s.name == table_store(&q.table)))
    else {
        return Access::Full;
    };
    let indexed = |a: &AttributeDef| store.indexes.iter().any(|i| i.name == a.row_key());
    let conds = top_conditions(q);
    // Ordered: the first sort key is indexed and the result is cut (top or a page), no join multiplies rows.
    if let Some(order) = q.orders.first() {
        if order.entity.is_none() && q.joins.is_empty() && !q.distinct && !q.count {
            if let Some(a) = t.attribute(&order.attribute).filter(|a| indexed(a)) {
                let (lower, upper, non_null) = bounds(a, &conds, ctx);
                if non_null || order.descending {
                    return Access::Ordered {
                        index: a.row_key(),
                        lower,
                        upper,
                        descending: order.descending,
                        non_null,
                    };
                }
            }
        }
    }
    // Equality, then range, on an indexed column.
    let mut best: Option<Access> = None;
    for c in &conds {
        let Some(a) = t.attribute(&c.attribute).filter(|a| c.entity.is_none() && indexed(a)) else { continue };
        let (lower, upper, _) = bounds(a, &conds, ctx);
        match (&lower, &upper) {
            (Some(l), Some(u)) if !l.open && !u.open && l.key == u.key => {
                return Access::Equal { index: a.row_key(), key: l.key.clone() };
            }
            (None, None) => {}
            _ => {
                best.get_or_insert(Access::Range { index: a.row_key(), lower, upper });
            }
        }
    }
    best.unwrap_or(Access::Full)
}
