//! Request bodies to stored rows: `x@odata.bind` lookups, type checks, option-set values, lengths, required
//! columns, the columns the server maintains (created/modified on/by, owner, owning business unit) and the
//! Field Service business rules.

use serde_json::{Map, Value};
use xrm_offline::schema::{AttributeDef, AttributeType, OwnershipType, TableDef};

use super::error::{ApiError, ApiResult};
use super::prefer::LOOKUP_LOGICAL_NAME;
use super::{normalize_guid, Ctx};
use crate::clock;
use crate::store::{Db, StoredRow};

/// A row ready to store.
pub struct Prepared {
    /// The full row.
    pub data: Map<String, Value>,
    /// Owner (user-owned tables).
    pub owner: Option<String>,
    /// Owning business unit.
    pub business_unit: Option<String>,
}

/// Work order system status "Completed".
pub const WO_COMPLETED: i64 = 690970003;

/// Columns the server maintains; values sent for them are ignored, as Dataverse ignores them.
const SYSTEM_COLUMNS: &[&str] = &[
    "createdon",
    "modifiedon",
    "createdby",
    "modifiedby",
    "versionnumber",
    "owninguser",
    "owningteam",
    "owningbusinessunit",
];

fn invalid_property(name: &str, table: &TableDef) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid property '{name}' was found in entity 'Microsoft.Dynamics.CRM.{}'.",
        table.logical_name
    ))
}

fn lookup_key(attr: &str) -> String {
    format!("_{attr}_value")
}

/// Applies a create (`existing` = None) or update body to a row.
pub fn prepare(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    id: &str,
    body: &Value,
    existing: Option<&StoredRow>,
) -> ApiResult<Prepared> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object describing the entity."));
    };
    let creating = existing.is_none();
    let mut data = existing.map(|r| r.data.clone()).unwrap_or_default();
    data.insert(table.primary_id_attribute.clone(), Value::from(id));
    let mut nulled: Vec<String> = Vec::new();
    for (k, v) in fields {
        if k.starts_with('@') {
            continue;
        }
        if let Some(nav) = k.strip_suffix("@odata.bind") {
            bind(ctx, db, table, nav, v, &mut data, &mut nulled)?;
            continue;
        }
        if k.contains('@') {
            continue; // other instance annotations are ignored, as Dataverse does
        }
        let Some(a) = table.attribute(k).filter(|a| a.logical_name == *k) else {
            if table.navigation(k).is_some() {
                return Err(ApiError::bad_request(format!(
                    "Deep insert and navigation property values are not supported: bind '{k}' with '{k}@odata.bind'."
                )));
            }
            return Err(invalid_property(k, table));
        };
        if a.attribute_type.is_lookup() {
            // A lookup is written through its navigation property only.
            return Err(invalid_property(k, table));
        }
        if SYSTEM_COLUMNS.contains(&a.logical_name.as_str()) {
            continue;
        }
        if a.logical_name == table.primary_id_attribute {
            continue; // the key decides the id
        }
        if (creating && !a.valid_for_create) || (!creating && !a.valid_for_update) {
            continue;
        }
        let value = convert(table, a, v)?;
        if value.is_null() {
            nulled.push(a.logical_name.clone());
        }
        data.insert(a.logical_name.clone(), value);
    }
    system_columns(ctx, db, table, &mut data, creating)?;
    computed_columns(table, &mut data);
    required_columns(table, &data, creating, &nulled)?;
    business_rules(ctx, table, &mut data, existing)?;
    let (owner, business_unit) = ownership(table, &data);
    Ok(Prepared { data, owner, business_unit })
}

/// `nav@odata.bind: "/contacts(<id>)"` (also `contacts(<id>)` or an absolute URL; `null` clears the lookup).
fn bind(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    nav: &str,
    v: &Value,
    data: &mut Map<String, Value>,
    nulled: &mut Vec<String>,
) -> ApiResult<()> {
    let mut rels: Vec<(String, String)> = table
        .many_to_one
        .iter()
        .filter(|r| r.referencing_navigation == nav)
        .map(|r| (r.referencing_attribute.clone(), r.referenced_entity.clone()))
        .collect();
    if rels.is_empty() {
        // `ownerid` (and any lookup the metadata lists without a relationship) binds by its column name.
        if let Some(a) = table.attribute(nav).filter(|a| a.attribute_type.is_lookup() && a.logical_name == nav) {
            rels = a.targets.iter().map(|t| (a.logical_name.clone(), t.clone())).collect();
        }
    }
    if rels.is_empty() {
        return Err(ApiError::bad_request(format!(
            "An undeclared property '{nav}' which only has property annotations in the payload but no property value \
             was found in the payload. In OData, only declared navigation properties and declared named streams can \
             be represented as properties without values."
        )));
    }
    let attr = rels[0].0.clone();
    if SYSTEM_COLUMNS.contains(&attr.as_str()) {
        return Ok(());
    }
    let key = lookup_key(&attr);
    let text = match v {
        Value::Null => {
            data.insert(key.clone(), Value::Null);
            data.remove(&format!("{key}@{LOOKUP_LOGICAL_NAME}"));
            nulled.push(attr);
            return Ok(());
        }
        Value::String(s) => s.as_str(),
        _ => {
            return Err(ApiError::bad_request(format!(
                "The value of '{nav}@odata.bind' must be a string such as \"/contacts(<id>)\"."
            )))
        }
    };
    let path = text.rsplit_once("/api/data/v9.2/").map(|(_, p)| p).unwrap_or(text).trim_start_matches('/');
    let (set, rest) = path.split_once('(').ok_or_else(|| {
        ApiError::bad_request(format!(
            "The URI '{text}' in '{nav}@odata.bind' is not valid: expected /<entityset>(<id>)."
        ))
    })?;
    let id = normalize_guid(rest.trim_end_matches(')'))
        .ok_or_else(|| ApiError::bad_request(format!("The URI '{text}' in '{nav}@odata.bind' has no valid id.")))?;
    let target = ctx
        .schema()
        .table_by_set(set)
        .ok_or_else(|| ApiError::bad_request(format!("Resource not found for the segment '{set}'.")))?;
    if !rels.iter().any(|r| r.1 == target.logical_name) {
        return Err(ApiError::bad_request(format!(
            "The navigation property '{nav}' of '{}' cannot point at a '{}' record.",
            table.logical_name, target.logical_name
        )));
    }
    if !db.exists(&target.logical_name, &id)? {
        return Err(ApiError::not_found(&target.logical_name, &id));
    }
    data.insert(key.clone(), Value::from(id));
    data.insert(format!("{key}@{LOOKUP_LOGICAL_NAME}"), Value::from(target.logical_name.clone()));
    Ok(())
}

fn edm(a: &AttributeDef) -> &'static str {
    match a.attribute_type {
        AttributeType::Integer | AttributeType::Picklist | AttributeType::State | AttributeType::Status => "Edm.Int32",
        AttributeType::BigInt => "Edm.Int64",
        AttributeType::Decimal | AttributeType::Money => "Edm.Decimal",
        AttributeType::Double => "Edm.Double",
        AttributeType::Boolean => "Edm.Boolean",
        AttributeType::DateTime => "Edm.DateTimeOffset",
        AttributeType::Uniqueidentifier => "Edm.Guid",
        _ => "Edm.String",
    }
}

fn literal_error(a: &AttributeDef, v: &Value) -> ApiError {
    ApiError::bad_request(format!(
        "Cannot convert the literal '{}' to the expected type '{}'.",
        v.to_string().trim_matches('"'),
        edm(a)
    ))
}

/// Checks and normalises one value.
fn convert(table: &TableDef, a: &AttributeDef, v: &Value) -> ApiResult<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let t = &a.attribute_type;
    match t {
        AttributeType::String | AttributeType::Memo | AttributeType::EntityName => {
            let s = v.as_str().ok_or_else(|| literal_error(a, v))?;
            if let Some(max) = a.max_length {
                if s.chars().count() > max as usize {
                    return Err(ApiError::new(
                        400,
                        "0x80044331",
                        format!(
                            "A validation error occurred. The length of the '{}' attribute of the '{}' entity exceeded \
                             the maximum allowed length of '{max}'.",
                            a.logical_name, table.logical_name
                        ),
                    ));
                }
            }
            Ok(v.clone())
        }
        AttributeType::Integer => match v.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(v.clone()),
            _ => Err(literal_error(a, v)),
        },
        AttributeType::BigInt => v.as_i64().map(|_| v.clone()).ok_or_else(|| literal_error(a, v)),
        AttributeType::Decimal | AttributeType::Double | AttributeType::Money => {
            if v.is_number() {
                Ok(v.clone())
            } else {
                // Dataverse accepts decimals written as strings.
                v.as_str().and_then(|s| s.parse::<f64>().ok()).map(Value::from).ok_or_else(|| literal_error(a, v))
            }
        }
        AttributeType::Boolean => v.as_bool().map(Value::from).ok_or_else(|| literal_error(a, v)),
        AttributeType::DateTime => v
            .as_str()
            .and_then(clock::parse_rfc3339)
            .map(|ms| Value::from(clock::format_rfc3339(ms)))
            .ok_or_else(|| literal_error(a, v)),
        t if t.is_option_set() => {
            let n = v.as_i64().filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| literal_error(a, v))?;
            if !a.options.is_empty() && a.option_label(n).is_none() {
                let accepted: Vec<String> = a.options.iter().map(|(v, _)| v.to_string()).collect();
                return Err(ApiError::new(
                    400,
                    "0x8004431a",
                    format!(
                        "A validation error occurred. The value {n} of '{}' on record of type '{}' is outside the valid \
                         range. Accepted Values: {}",
                        a.logical_name,
                        table.logical_name,
                        accepted.join(",")
                    ),
                ));
            }
            Ok(Value::from(n))
        }
        AttributeType::Uniqueidentifier => {
            v.as_str().and_then(normalize_guid).map(Value::from).ok_or_else(|| literal_error(a, v))
        }
        _ => Ok(v.clone()),
    }
}

fn set_lookup(data: &mut Map<String, Value>, attr: &str, id: &str, table: &str) {
    let key = lookup_key(attr);
    data.insert(key.clone(), Value::from(id));
    data.insert(format!("{key}@{LOOKUP_LOGICAL_NAME}"), Value::from(table));
}

fn system_columns(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    data: &mut Map<String, Value>,
    creating: bool,
) -> ApiResult<()> {
    let now = Value::from(clock::format_rfc3339(ctx.app.clock.now_ms()));
    let has = |n: &str| table.attribute(n).is_some();
    if creating {
        if has("createdon") {
            data.insert("createdon".into(), now.clone());
        }
        if has("createdby") {
            set_lookup(data, "createdby", &ctx.user.id, "systemuser");
        }
        if has("statecode") && data.get("statecode").is_none_or(Value::is_null) {
            data.insert("statecode".into(), Value::from(0));
        }
        if has("statuscode") && data.get("statuscode").is_none_or(Value::is_null) {
            data.insert("statuscode".into(), Value::from(1));
        }
    }
    if has("modifiedon") {
        data.insert("modifiedon".into(), now);
    }
    if has("modifiedby") {
        set_lookup(data, "modifiedby", &ctx.user.id, "systemuser");
    }
    if table.ownership == OwnershipType::UserOwned {
        let owner = data.get("_ownerid_value").and_then(Value::as_str).map(str::to_string);
        let (owner, kind) = match owner {
            Some(o) => {
                let kind = data
                    .get(&format!("_ownerid_value@{LOOKUP_LOGICAL_NAME}"))
                    .and_then(Value::as_str)
                    .unwrap_or("systemuser")
                    .to_string();
                (o, kind)
            }
            None => (ctx.user.id.clone(), "systemuser".to_string()),
        };
        set_lookup(data, "ownerid", &owner, &kind);
        let bu = if kind == "team" {
            db.get("team", &owner)?
                .and_then(|t| t.data.get("_businessunitid_value").and_then(Value::as_str).map(str::to_string))
        } else if owner == ctx.user.id {
            Some(ctx.user.business_unit.clone())
        } else {
            crate::auth::load_principal(&owner, db).map(|p| p.business_unit)
        };
        if kind == "team" {
            set_lookup(data, "owningteam", &owner, "team");
            data.insert("_owninguser_value".into(), Value::Null);
        } else {
            set_lookup(data, "owninguser", &owner, "systemuser");
            data.insert("_owningteam_value".into(), Value::Null);
        }
        if let Some(bu) = bu {
            set_lookup(data, "owningbusinessunit", &bu, "businessunit");
        }
    }
    Ok(())
}

fn computed_columns(table: &TableDef, data: &mut Map<String, Value>) {
    if matches!(table.logical_name.as_str(), "contact" | "systemuser") && table.attribute("fullname").is_some() {
        let first = data.get("firstname").and_then(Value::as_str).unwrap_or("");
        let last = data.get("lastname").and_then(Value::as_str).unwrap_or("");
        let full = format!("{first} {last}").trim().to_string();
        if !full.is_empty() {
            data.insert("fullname".into(), Value::from(full));
        }
    }
}

fn required_columns(table: &TableDef, data: &Map<String, Value>, creating: bool, nulled: &[String]) -> ApiResult<()> {
    for a in &table.attributes {
        if !a.required
            || SYSTEM_COLUMNS.contains(&a.logical_name.as_str())
            || a.logical_name == table.primary_id_attribute
        {
            continue;
        }
        if a.logical_name == "ownerid" || matches!(a.attribute_type, AttributeType::State | AttributeType::Status) {
            continue;
        }
        let missing = data.get(&a.row_key()).is_none_or(Value::is_null);
        if missing && (creating || nulled.contains(&a.logical_name)) {
            return Err(ApiError::invalid_argument(format!(
                "A value for the required column '{}' of '{}' is missing. Set '{}' on {}.",
                a.logical_name,
                table.logical_name,
                if a.attribute_type.is_lookup() {
                    format!("{}@odata.bind", a.logical_name)
                } else {
                    a.logical_name.clone()
                },
                if creating { "create" } else { "update (it cannot be cleared)" }
            )));
        }
    }
    Ok(())
}

/// Field Service rules the server enforces (plug-in errors in Dataverse carry 0x80040265).
fn business_rules(
    ctx: &Ctx<'_>,
    table: &TableDef,
    data: &mut Map<String, Value>,
    existing: Option<&StoredRow>,
) -> ApiResult<()> {
    if table.logical_name == "msdyn_workorder" {
        let status = data.get("msdyn_systemstatus").and_then(Value::as_i64);
        let was = existing.and_then(|r| r.data.get("msdyn_systemstatus")).and_then(Value::as_i64);
        if status == Some(WO_COMPLETED) {
            let summary = data.get("msdyn_workordersummary").and_then(Value::as_str).map(str::trim).unwrap_or("");
            if summary.is_empty() {
                return Err(ApiError::new(
                    400,
                    "0x80040265",
                    "A work order set to Completed needs a completion note: set msdyn_workordersummary (Work Order \
                     Summary) in the same request.",
                ));
            }
            if was != Some(WO_COMPLETED) && table.attribute("msdyn_completedon").is_some() {
                data.insert("msdyn_completedon".into(), Value::from(clock::format_rfc3339(ctx.app.clock.now_ms())));
            }
        }
    }
    if table.logical_name == "bookableresourcebooking" {
        let start = data.get("starttime").and_then(Value::as_str).and_then(clock::parse_rfc3339);
        let end = data.get("endtime").and_then(Value::as_str).and_then(clock::parse_rfc3339);
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                return Err(ApiError::new(
                    400,
                    "0x80040265",
                    "The booking's endtime must not be before its starttime.",
                ));
            }
            if table.attribute("duration").is_some() {
                data.insert("duration".into(), Value::from((e - s) / 60_000));
            }
        }
    }
    Ok(())
}

fn ownership(table: &TableDef, data: &Map<String, Value>) -> (Option<String>, Option<String>) {
    if table.ownership != OwnershipType::UserOwned {
        return (None, None);
    }
    let get = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    (get("_ownerid_value"), get("_owningbusinessunit_value"))
}
