//! `xrm-offline seed` and `serve --seed`: writes the deterministic Field Service organisation in one transaction.

pub mod data;
pub mod profile;
pub mod users;

use std::collections::HashMap;

use serde_json::{Map, Value};
use xrm_offline::schema::{OwnershipType, Schema};

use crate::clock;
use crate::store::{BulkRow, Store};

/// What a seed wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    /// Rows per table, in write order.
    pub tables: Vec<(String, usize)>,
    /// Total rows.
    pub total: usize,
    /// False when the database was already seeded (nothing written).
    pub written: bool,
}

const DAY: i64 = 86_400_000;

/// Keeps the columns the schema knows (and their annotations); drops the rest.
fn conform(schema: &Schema, table: &str, data: Map<String, Value>) -> Map<String, Value> {
    let Some(t) = schema.table(table) else { return data };
    data.into_iter()
        .filter(|(k, _)| {
            let base = k.split('@').next().unwrap_or(k);
            t.attribute_by_row_key(base).is_some()
        })
        .collect()
}

fn set_lookup(data: &mut Map<String, Value>, attr: &str, table: &str, id: &str) {
    data.insert(format!("_{attr}_value"), Value::from(id));
    data.insert(format!("_{attr}_value@Microsoft.Dynamics.CRM.lookuplogicalname"), Value::from(table));
}

/// Seeds `store` at `scale` (about 10,000 rows per unit) with dates relative to `now_ms`. Does nothing when the
/// database was seeded before.
pub fn seed(store: &Store, schema: &Schema, scale: u32, now_ms: i64) -> Result<SeedReport, String> {
    let mut db = store.lock();
    if db.meta("seed")?.is_some() {
        let counts = db.counts()?;
        let total = counts.iter().map(|c| c.1 as usize).sum();
        return Ok(SeedReport {
            tables: counts.into_iter().map(|(t, n)| (t, n as usize)).collect(),
            total,
            written: false,
        });
    }
    let today = now_ms - now_ms.rem_euclid(DAY);
    let rows = data::generate(scale, today, schema);
    let user_bu: HashMap<String, String> = rows
        .iter()
        .filter(|r| r.table == "systemuser")
        .filter_map(|r| {
            r.data.get("_businessunitid_value").and_then(Value::as_str).map(|b| (r.id.clone(), b.to_string()))
        })
        .collect();
    let admin = users::user_id("admin");
    let stamp = Value::from(clock::format_rfc3339(today - 30 * DAY));
    let mut order: Vec<&'static str> = Vec::new();
    let mut by_table: HashMap<&'static str, Vec<BulkRow>> = HashMap::new();
    for r in rows {
        let Some(t) = schema.table(r.table) else { continue };
        let mut d = conform(schema, r.table, r.data);
        let has = |n: &str| t.attribute(n).is_some();
        if has("createdon") {
            d.insert("createdon".into(), stamp.clone());
        }
        if has("modifiedon") {
            d.insert("modifiedon".into(), stamp.clone());
        }
        if has("createdby") {
            set_lookup(&mut d, "createdby", "systemuser", &admin);
        }
        if has("modifiedby") {
            set_lookup(&mut d, "modifiedby", "systemuser", &admin);
        }
        if has("statecode") && !d.contains_key("statecode") {
            d.insert("statecode".into(), Value::from(0));
        }
        if has("statuscode") && !d.contains_key("statuscode") {
            d.insert("statuscode".into(), Value::from(1));
        }
        let (owner, bu) = if t.ownership == OwnershipType::UserOwned {
            let owner = r.owner.unwrap_or_else(|| admin.clone());
            let bu = user_bu.get(&owner).cloned().unwrap_or_else(|| users::bu_id("root"));
            set_lookup(&mut d, "ownerid", "systemuser", &owner);
            set_lookup(&mut d, "owninguser", "systemuser", &owner);
            d.insert("_owningteam_value".into(), Value::Null);
            set_lookup(&mut d, "owningbusinessunit", "businessunit", &bu);
            (Some(owner), Some(bu))
        } else {
            (None, None)
        };
        if !by_table.contains_key(r.table) {
            order.push(r.table);
        }
        by_table.entry(r.table).or_default().push((r.id, d, owner, bu));
    }
    db.fast_writes(true)?;
    db.begin()?;
    let mut report = SeedReport { tables: Vec::new(), total: 0, written: true };
    for t in order {
        let rows = by_table.remove(t).unwrap_or_default();
        report.total += rows.len();
        report.tables.push((t.to_string(), rows.len()));
        if let Err(e) = db.put_bulk(t, rows) {
            db.rollback();
            return Err(e);
        }
    }
    if let Err(e) = db.set_meta("seed", &scale.to_string()) {
        db.rollback();
        return Err(e);
    }
    if let Err(e) = db.commit() {
        db.rollback();
        return Err(e);
    }
    db.fast_writes(false)?;
    Ok(report)
}
