//! Rows as the Web API returns them: `@odata.etag` first, every requested column (null when empty), lookups as
//! `_x_value`, and the annotations the `Prefer: odata.include-annotations` header asks for, placed before the
//! value they describe as Dataverse does.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};
use xrm_offline::schema::{AttributeDef, AttributeType, TableDef};

use super::prefer::{ASSOCIATED_NAV, FORMATTED, LOOKUP_LOGICAL_NAME};
use super::Ctx;
use crate::clock;
use crate::store::Db;

/// Which columns to return.
#[derive(Debug, Clone, PartialEq)]
pub enum Cols<'a> {
    /// Every column of the table (no `$select`).
    All,
    /// These logical names (plus the primary id).
    Some(&'a [String]),
    /// Whatever keys the row has (nested `$expand` rows, already projected by the engine).
    Present,
}

/// Shapes rows, caching lookup names for formatted values.
pub struct Shaper<'a, 'c> {
    ctx: &'a Ctx<'c>,
    db: &'a Db,
    names: RefCell<HashMap<(String, String), Option<String>>>,
}

impl<'a, 'c> Shaper<'a, 'c> {
    /// A shaper for one response.
    pub fn new(ctx: &'a Ctx<'c>, db: &'a Db) -> Self {
        Shaper { ctx, db, names: RefCell::new(HashMap::new()) }
    }

    /// One row of `table`.
    pub fn row(&self, table: &TableDef, row: &Map<String, Value>, cols: Cols<'_>) -> Map<String, Value> {
        let mut out = Map::new();
        let etag = match row.get("@odata.etag") {
            Some(e) => Some(e.clone()),
            None => row.get("versionnumber").and_then(Value::as_i64).map(|v| Value::from(format!("W/\"{v}\""))),
        };
        if let Some(e) = etag {
            out.insert("@odata.etag".into(), e);
        }
        let attrs: Vec<&AttributeDef> = match cols {
            Cols::All => {
                table.attributes.iter().filter(|a| !matches!(a.attribute_type, AttributeType::Other(_))).collect()
            }
            Cols::Some(list) => {
                let mut v: Vec<&AttributeDef> = list.iter().filter_map(|n| table.attribute(n)).collect();
                if let Some(pid) = table.attribute(&table.primary_id_attribute) {
                    if !v.iter().any(|a| a.logical_name == pid.logical_name) {
                        v.push(pid);
                    }
                }
                v
            }
            Cols::Present => table.attributes.iter().filter(|a| row.contains_key(&a.row_key())).collect(),
        };
        for a in attrs {
            let key = a.row_key();
            let value = row.get(&key).cloned().unwrap_or(Value::Null);
            self.annotate(table, a, &key, &value, row, &mut out);
            out.insert(key, value);
        }
        // Navigation properties ($expand) and link-entity columns (alias.column).
        for (k, v) in row {
            if k.contains('@') || out.contains_key(k) || table.attribute_by_row_key(k).is_some() {
                continue;
            }
            if let Some((rel, collection)) = table.navigation(k) {
                let other = if collection { &rel.referencing_entity } else { &rel.referenced_entity };
                let Some(other_table) = self.ctx.schema().table(other) else { continue };
                let shaped = match v {
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|r| Value::Object(self.row(other_table, r, Cols::Present)))
                            .collect(),
                    ),
                    Value::Object(r) => Value::Object(self.row(other_table, r, Cols::Present)),
                    other => other.clone(),
                };
                out.insert(k.clone(), shaped);
            } else if k.contains('.') {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    fn annotate(
        &self,
        table: &TableDef,
        a: &AttributeDef,
        key: &str,
        value: &Value,
        row: &Map<String, Value>,
        out: &mut Map<String, Value>,
    ) {
        let prefer = &self.ctx.prefer;
        if !prefer.any_annotations() || value.is_null() {
            return;
        }
        if a.attribute_type.is_lookup() {
            let target = row
                .get(&format!("{key}@{LOOKUP_LOGICAL_NAME}"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| a.targets.first().cloned())
                .unwrap_or_default();
            if prefer.wants(FORMATTED) {
                if let Some(name) = value.as_str().and_then(|id| self.lookup_name(&target, id)) {
                    out.insert(format!("{key}@{FORMATTED}"), Value::from(name));
                }
            }
            if prefer.wants(ASSOCIATED_NAV) {
                let nav = table
                    .many_to_one
                    .iter()
                    .find(|r| r.referencing_attribute == a.logical_name && r.referenced_entity == target)
                    .map(|r| r.referencing_navigation.clone())
                    .unwrap_or_else(|| a.logical_name.clone());
                out.insert(format!("{key}@{ASSOCIATED_NAV}"), Value::from(nav));
            }
            if prefer.wants(LOOKUP_LOGICAL_NAME) {
                out.insert(format!("{key}@{LOOKUP_LOGICAL_NAME}"), Value::from(target));
            }
            return;
        }
        if prefer.wants(FORMATTED) {
            if let Some(text) = formatted(a, value) {
                out.insert(format!("{key}@{FORMATTED}"), Value::from(text));
            }
        }
    }

    fn lookup_name(&self, table: &str, id: &str) -> Option<String> {
        let key = (table.to_string(), id.to_string());
        if let Some(v) = self.names.borrow().get(&key) {
            return v.clone();
        }
        let name = self.ctx.schema().table(table).and_then(|t| {
            let pn = t.primary_name_attribute.clone()?;
            let row = self.db.get(&t.logical_name, id).ok()??;
            row.data.get(&pn).and_then(Value::as_str).map(str::to_string)
        });
        self.names.borrow_mut().insert(key, name.clone());
        name
    }
}

/// The en-US formatted value of a column value, as Dataverse returns it.
pub fn formatted(a: &AttributeDef, value: &Value) -> Option<String> {
    match &a.attribute_type {
        t if t.is_option_set() => {
            value.as_i64().map(|v| a.option_label(v).map(str::to_string).unwrap_or_else(|| v.to_string()))
        }
        AttributeType::Boolean => value.as_bool().map(|b| if b { "Yes" } else { "No" }.to_string()),
        AttributeType::DateTime => value.as_str().and_then(clock::parse_rfc3339).map(clock::format_display),
        AttributeType::Money => value.as_f64().map(|v| {
            let s = group(&format!("{:.2}", v.abs()));
            if v < 0.0 {
                format!("-${s}")
            } else {
                format!("${s}")
            }
        }),
        AttributeType::Integer | AttributeType::BigInt => value.as_i64().map(|v| {
            let s = group(&v.abs().to_string());
            if v < 0 {
                format!("-{s}")
            } else {
                s
            }
        }),
        AttributeType::Decimal | AttributeType::Double => value.as_f64().map(|v| {
            let s = group(&format!("{:.2}", v.abs()));
            if v < 0.0 {
                format!("-{s}")
            } else {
                s
            }
        }),
        _ => None,
    }
}

/// `1234567.50` -> `1,234,567.50`.
fn group(s: &str) -> String {
    let (int, frac) = s.split_once('.').map(|(i, f)| (i, Some(f))).unwrap_or((s, None));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group("1234567.50"), "1,234,567.50");
        assert_eq!(group("12"), "12");
        assert_eq!(group("123"), "123");
        assert_eq!(group("1000"), "1,000");
    }
}
