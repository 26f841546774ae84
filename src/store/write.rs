//! Offline writes: what the device validates before a create or an update is stored, and the row it stores.
//!
//! The Microsoft client validates on the device only what does not need the server: attribute names exist and are
//! lower case, values have the column's type, lookups point at a table the column allows, no duplicate id on create,
//! the row exists for update and delete (the last two need the store and are checked by its caller). Business rules
//! run on the server when the change uploads. Lookups are written offline as
//! `{"parentcustomerid": {"logicalname": "account", "id": "<guid>"}}`; `@odata.bind` is an online-only form.

use serde_json::{Map, Value};

use super::guid;
use crate::dates;
use crate::error::{Error, ErrorCode, Result};
use crate::query::Row;
use crate::schema::{AttributeDef, AttributeType, Schema, TableDef};

/// Annotation holding a lookup's table.
pub const LOOKUP_LOGICAL_NAME: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";
/// Annotation holding a lookup's navigation property.
pub const LOOKUP_NAVIGATION: &str = "@Microsoft.Dynamics.CRM.associatednavigationproperty";
/// Annotation holding a formatted value (a lookup's primary name, an option's label).
pub const FORMATTED_VALUE: &str = "@OData.Community.Display.V1.FormattedValue";

/// A validated write: the row to store and the columns it changes (in the stored shape).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedWrite {
    /// The primary id (lower case).
    pub id: String,
    /// The whole row as it will be stored.
    pub row: Row,
    /// Only the columns this write sets, in the stored shape (lookups as `_x_value` with annotations).
    pub changes: Row,
}

/// Validates an offline `createRecord` of `table` and builds the row. `new_id` is used when the record carries no
/// primary id. `is_offline_table` says whether a lookup's target table is in the offline profile.
pub fn prepare_create(
    schema: &Schema,
    table: &str,
    record: &Value,
    new_id: &str,
    is_offline_table: &dyn Fn(&str) -> bool,
) -> Result<PreparedWrite> {
    let t = schema.require_table(table)?;
    let input = as_object(record, "createRecord")?;
    let mut changes = Map::new();
    let mut id = None;
    for (key, value) in input {
        let attr = check_key(t, key)?;
        if attr.logical_name == t.primary_id_attribute {
            let g = value.as_str().and_then(guid::normalize).ok_or_else(|| {
                Error::argument(format!("'{key}' is the primary id of '{table}' and must be a GUID string"))
            })?;
            id = Some(g);
            continue;
        }
        write_value(t, attr, value, &mut changes, is_offline_table)?;
    }
    let id = match id {
        Some(g) => g,
        None => guid::normalize(new_id).ok_or_else(|| Error::argument("the generated id is not a GUID"))?,
    };
    let mut row = changes.clone();
    row.insert(t.primary_id_attribute.clone(), Value::String(id.clone()));
    Ok(PreparedWrite { id, row, changes })
}

/// Validates an offline `updateRecord` of `existing` (a stored row of `table`) and builds the merged row. Only the
/// columns whose value really changes are listed in `changes`.
pub fn prepare_update(
    schema: &Schema,
    table: &str,
    existing: &Row,
    record: &Value,
    is_offline_table: &dyn Fn(&str) -> bool,
) -> Result<PreparedWrite> {
    let t = schema.require_table(table)?;
    let input = as_object(record, "updateRecord")?;
    let id = existing
        .get(&t.primary_id_attribute)
        .and_then(Value::as_str)
        .and_then(guid::normalize)
        .ok_or_else(|| Error::argument(format!("the stored '{table}' row has no primary id")))?;
    let mut written = Map::new();
    for (key, value) in input {
        let attr = check_key(t, key)?;
        if attr.logical_name == t.primary_id_attribute {
            if value.as_str().and_then(guid::normalize).as_deref() != Some(id.as_str()) {
                return Err(Error::argument(format!("the primary id '{key}' of a '{table}' row can't be changed")));
            }
            continue;
        }
        write_value(t, attr, value, &mut written, is_offline_table)?;
    }
    let mut row = existing.clone();
    let mut changes = Map::new();
    for (k, v) in written {
        if row.get(&k) != Some(&v) {
            if v.is_null() {
                // Clearing a lookup also clears its annotations.
                if k.ends_with("_value") && !k.contains('@') {
                    let prefix = format!("{k}@");
                    row.retain(|rk, _| !rk.starts_with(&prefix));
                }
            }
            changes.insert(k.clone(), v.clone());
            row.insert(k, v);
        }
    }
    Ok(PreparedWrite { id, row, changes })
}

fn as_object<'a>(record: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    record.as_object().ok_or_else(|| Error::argument(format!("{what} needs the record as an object of column values")))
}

/// Checks a key of the record: `@odata.bind` is refused offline with the offline form to use, names must be the
/// lower-case logical name of an existing column.
fn check_key<'a>(t: &'a TableDef, key: &str) -> Result<&'a AttributeDef> {
    if let Some(nav) = key.strip_suffix("@odata.bind") {
        return Err(Error::argument(format!(
            "'{key}': @odata.bind is not supported offline; write the lookup as \
             {{\"{}\": {{\"logicalname\": \"<table>\", \"id\": \"<guid>\"}}}}",
            nav.to_ascii_lowercase()
        )));
    }
    if key.contains('@') {
        return Err(Error::argument(format!("'{key}': annotations can't be written")));
    }
    if key.starts_with('_') && key.ends_with("_value") {
        let inner = &key[1..key.len() - "_value".len()];
        return Err(Error::new(
            ErrorCode::AttributeNotFound,
            format!("'{key}' can't be written; write the lookup as {{\"{inner}\": {{\"logicalname\": \"<table>\", \"id\": \"<guid>\"}}}}"),
        ));
    }
    let attr = t.attribute(key).ok_or_else(|| {
        Error::new(
            ErrorCode::AttributeNotFound,
            format!("'{}' entity doesn't contain attribute with Name = '{key}'", t.logical_name),
        )
    })?;
    if key != attr.logical_name {
        return Err(Error::new(
            ErrorCode::AttributeNotFound,
            format!("'{key}': attribute names are lower case offline; use '{}'", attr.logical_name),
        ));
    }
    Ok(attr)
}

fn type_error(t: &TableDef, attr: &AttributeDef, expected: &str, value: &Value) -> Error {
    Error::argument(format!(
        "'{}' of '{}' is a {} column and needs {expected}, not {value}",
        attr.logical_name,
        t.logical_name,
        attr.attribute_type.as_str()
    ))
}

fn write_value(
    t: &TableDef,
    attr: &AttributeDef,
    value: &Value,
    out: &mut Map<String, Value>,
    is_offline_table: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let name = &attr.logical_name;
    if value.is_null() {
        out.insert(attr.row_key(), Value::Null);
        return Ok(());
    }
    let stored = match &attr.attribute_type {
        AttributeType::String | AttributeType::Memo | AttributeType::EntityName => {
            value.as_str().ok_or_else(|| type_error(t, attr, "a string", value))?;
            value.clone()
        }
        AttributeType::Integer => {
            let n = value.as_i64().ok_or_else(|| type_error(t, attr, "a whole number", value))?;
            if i32::try_from(n).is_err() {
                return Err(type_error(t, attr, "a 32-bit whole number", value));
            }
            value.clone()
        }
        AttributeType::BigInt => {
            value.as_i64().ok_or_else(|| type_error(t, attr, "a whole number", value))?;
            value.clone()
        }
        AttributeType::Decimal | AttributeType::Double | AttributeType::Money => {
            value.as_f64().ok_or_else(|| type_error(t, attr, "a number", value))?;
            value.clone()
        }
        AttributeType::Boolean => {
            value.as_bool().ok_or_else(|| type_error(t, attr, "true or false", value))?;
            value.clone()
        }
        AttributeType::Picklist | AttributeType::State | AttributeType::Status => {
            let n = value.as_i64().ok_or_else(|| type_error(t, attr, "an option value (a whole number)", value))?;
            if !attr.options.is_empty() && attr.option_label(n).is_none() {
                let valid: Vec<String> = attr.options.iter().map(|(v, l)| format!("{v} ({l})")).collect();
                return Err(Error::argument(format!(
                    "{n} is not a valid option of '{name}' of '{}'; valid options: {}",
                    t.logical_name,
                    valid.join(", ")
                )));
            }
            value.clone()
        }
        AttributeType::DateTime => {
            let s = value.as_str().ok_or_else(|| type_error(t, attr, "an ISO 8601 date string", value))?;
            let ms =
                dates::parse_datetime(s, 0).ok_or_else(|| type_error(t, attr, "an ISO 8601 date string", value))?;
            Value::String(dates::format_datetime(ms))
        }
        AttributeType::Uniqueidentifier => {
            let g =
                value.as_str().and_then(guid::normalize).ok_or_else(|| type_error(t, attr, "a GUID string", value))?;
            Value::String(g)
        }
        AttributeType::Lookup | AttributeType::Customer | AttributeType::Owner => {
            return write_lookup(t, attr, value, out, is_offline_table);
        }
        AttributeType::Other(kind) => {
            return Err(Error::argument(format!("'{name}' is a {kind} column, which can't be written offline")));
        }
    };
    out.insert(name.clone(), stored);
    Ok(())
}

fn write_lookup(
    t: &TableDef,
    attr: &AttributeDef,
    value: &Value,
    out: &mut Map<String, Value>,
    is_offline_table: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let name = &attr.logical_name;
    let form = format!("{{\"{name}\": {{\"logicalname\": \"<table>\", \"id\": \"<guid>\"}}}}");
    let obj = value.as_object().ok_or_else(|| Error::argument(format!("'{name}' is a lookup; write it as {form}")))?;
    let target = obj
        .get("logicalname")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::argument(format!("the lookup '{name}' needs \"logicalname\": write it as {form}")))?;
    let id =
        obj.get("id").and_then(Value::as_str).and_then(guid::normalize).ok_or_else(|| {
            Error::argument(format!("the lookup '{name}' needs \"id\" as a GUID: write it as {form}"))
        })?;
    if let Some(extra) = obj.keys().find(|k| !matches!(k.as_str(), "logicalname" | "id" | "name")) {
        return Err(Error::argument(format!(
            "the lookup '{name}' has an unexpected key '{extra}': write it as {form}"
        )));
    }
    if !attr.targets.iter().any(|x| x == target) {
        return Err(Error::argument(format!(
            "the lookup '{name}' of '{}' can point at {}, not '{target}'",
            t.logical_name,
            attr.targets.join(" or ")
        )));
    }
    if !is_offline_table(target) {
        return Err(Error::new(
            ErrorCode::TableNotAvailableOffline,
            format!("the lookup '{name}' points at '{target}', which is not in the offline profile"),
        ));
    }
    let key = attr.row_key();
    let nav = t
        .many_to_one
        .iter()
        .find(|r| r.referencing_attribute == *name && r.referenced_entity == target)
        .map(|r| r.referencing_navigation.clone());
    out.insert(key.clone(), Value::String(id));
    out.insert(format!("{key}{LOOKUP_LOGICAL_NAME}"), Value::String(target.to_string()));
    if let Some(nav) = nav {
        out.insert(format!("{key}{LOOKUP_NAVIGATION}"), Value::String(nav));
    }
    if let Some(label) = obj.get("name").and_then(Value::as_str) {
        out.insert(format!("{key}{FORMATTED_VALUE}"), Value::String(label.to_string()));
    }
    Ok(())
}
