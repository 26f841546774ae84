//! The Dataverse representation of a profile: a `mobileofflineprofile` row with its
//! `MobileOfflineProfile_MobileOfflineProfileItem` items expanded, plus the `mobileofflineprofileitemassociation`
//! rows that name the relationships each item follows, exactly as the Web API returns them.

use serde_json::{json, Value};

use super::model::{
    derived_guid, item_label, CustomFilter, ItemFilter, Ownership, Profile, ProfileItem, DEFAULT_SYNC_INTERVAL_MINUTES,
};
use crate::error::{Error, ErrorCode};
use crate::schema::Schema;

/// Navigation property from a profile to its items.
pub const ITEMS_NAVIGATION: &str = "MobileOfflineProfile_MobileOfflineProfileItem";
/// Navigation property from an item to its associations (when a file carries them nested).
pub const ASSOCIATIONS_NAVIGATION: &str = "MobileOfflineProfileItem_MobileOfflineProfileItemAssociation";
/// The `publishedon` value the writer gives a profile (a published profile has one; `null` is a draft).
pub const PUBLISHED_ON: &str = "2025-01-01T00:00:00Z";

/// A profile in its Dataverse representation.
#[derive(Debug, Clone, PartialEq)]
pub struct DataverseProfile {
    /// The `mobileofflineprofile` row with `MobileOfflineProfile_MobileOfflineProfileItem` expanded.
    pub profile: Value,
    /// The `mobileofflineprofileitemassociation` rows, each with `_mobileofflineprofileitemid_value`.
    pub associations: Vec<Value>,
}

impl DataverseProfile {
    /// One document holding both: `{"profile": {...}, "associations": [...]}` (what
    /// [`Profile::from_dataverse_json`] and the command-line tool read).
    pub fn to_value(&self) -> Value {
        json!({ "profile": self.profile, "associations": self.associations })
    }
}

/// Writes `profile` in the Dataverse representation. Ids missing from the model are derived from the profile
/// name and table names, so the output is stable. Relationship schema names become `relationshipid`s (the
/// relationship's `MetadataId` in `schema`); an unknown relationship is an error naming the item.
pub fn to_dataverse_json(profile: &Profile, schema: &Schema) -> Result<DataverseProfile, Error> {
    let profile_id =
        profile.id.clone().unwrap_or_else(|| derived_guid(&format!("mobileofflineprofile:{}", profile.name)));
    let mut items = Vec::new();
    let mut associations = Vec::new();
    for (index, item) in profile.items.iter().enumerate() {
        let item_id = item
            .id
            .clone()
            .unwrap_or_else(|| derived_guid(&format!("mobileofflineprofileitem:{profile_id}:{}", item.table)));
        let own = match &item.filter {
            ItemFilter::Ownership(o) => *o,
            _ => Ownership::default(),
        };
        let selected_columns = item.columns.as_ref().map(|c| json!({ "Columns": c }).to_string());
        let entity_filter = match &item.filter {
            ItemFilter::Custom(c) => Value::String(c.fetchxml.clone()),
            _ => Value::Null,
        };
        items.push(json!({
            "mobileofflineprofileitemid": item_id,
            "name": item.table,
            "selectedentitytypecode": item.table,
            "recorddistributioncriteria": item.filter.distribution_criteria(),
            "recordsownedbyme": own.me,
            "recordsownedbymyteam": own.teams,
            "recordsownedbymybusinessunit": own.business_unit,
            "syncintervalinminutes": item.sync_interval_minutes,
            "selectedcolumns": selected_columns,
            "profileitementityfilter": entity_filter,
            "getrelatedentityrecords": !item.relationships.is_empty(),
            "_regardingobjectid_value": profile_id,
        }));
        for name in &item.relationships {
            let r = schema.relationship(name).ok_or_else(|| {
                Error::profile(format!(
                    "{}: relationship '{name}' is not in the schema, so it has no relationshipid",
                    item_label(index, &item.table)
                ))
            })?;
            let other = if r.referenced_entity.eq_ignore_ascii_case(&item.table) {
                &r.referencing_entity
            } else {
                &r.referenced_entity
            };
            associations.push(json!({
                "mobileofflineprofileitemassociationid":
                    derived_guid(&format!("mobileofflineprofileitemassociation:{item_id}:{}", r.schema_name)),
                "_mobileofflineprofileitemid_value": item_id,
                "relationshipid": r.metadata_id,
                "name": format!("{} ({other})", r.referencing_attribute),
                "selectedrelationshipsschema": r.schema_name,
            }));
        }
    }
    let row = json!({
        "mobileofflineprofileid": profile_id,
        "name": profile.name,
        "publishedon": PUBLISHED_ON,
        "componentstate": 0,
        "isvalidated": true,
        ITEMS_NAVIGATION: items,
    });
    Ok(DataverseProfile { profile: row, associations })
}

impl Profile {
    /// Reads the Dataverse representation from text: a bundle `{"profile": {...}, "associations": [...]}`, a bare
    /// `mobileofflineprofile` row (associations nested in each item under
    /// `MobileOfflineProfileItem_MobileOfflineProfileItemAssociation`, if any), or a `{"value": [row]}` collection.
    pub fn from_dataverse_json(text: &str, schema: &Schema) -> Result<Profile, Vec<Error>> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| vec![Error::new(ErrorCode::InvalidJson, format!("the profile is not valid JSON: {e}"))])?;
        Profile::from_dataverse_value(&doc, schema)
    }

    /// As [`Profile::from_dataverse_json`], from parsed JSON.
    pub fn from_dataverse_value(doc: &Value, schema: &Schema) -> Result<Profile, Vec<Error>> {
        if let Some(row) = doc.get("profile") {
            let associations = match doc.get("associations") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => return Err(vec![Error::profile("\"associations\" must be an array of rows")]),
            };
            return Profile::from_dataverse(row, &associations, schema);
        }
        if let Some(Value::Array(rows)) = doc.get("value") {
            return match rows.as_slice() {
                [row] => Profile::from_dataverse(row, &[], schema),
                _ => Err(vec![Error::profile(format!(
                    "expected one mobileofflineprofile row in \"value\", found {}",
                    rows.len()
                ))]),
            };
        }
        Profile::from_dataverse(doc, &[], schema)
    }

    /// Reads a `mobileofflineprofile` row (items expanded) and its `mobileofflineprofileitemassociation` rows. Each
    /// association's `relationshipid` is resolved to a relationship schema name through `schema`
    /// (`selectedrelationshipsschema` is the fallback when the id is unknown).
    pub fn from_dataverse(row: &Value, associations: &[Value], schema: &Schema) -> Result<Profile, Vec<Error>> {
        let Value::Object(obj) = row else {
            return Err(vec![Error::profile("the mobileofflineprofile row must be a JSON object")]);
        };
        let mut errors = Vec::new();
        let id = obj.get("mobileofflineprofileid").and_then(Value::as_str).map(str::to_string);
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        if name.trim().is_empty() {
            errors.push(Error::profile("the mobileofflineprofile row has no \"name\""));
        }
        let list = match obj.get(ITEMS_NAVIGATION) {
            Some(Value::Array(a)) => a.as_slice(),
            _ => {
                errors.push(Error::profile(format!(
                    "the mobileofflineprofile row has no \"{ITEMS_NAVIGATION}\" array: expand the items \
                     ($expand={ITEMS_NAVIGATION})"
                )));
                &[]
            }
        };
        let item_ids: Vec<&str> = list.iter().filter_map(|i| i.get("mobileofflineprofileitemid")?.as_str()).collect();
        for (i, a) in associations.iter().enumerate() {
            match a.get("_mobileofflineprofileitemid_value").and_then(Value::as_str) {
                None => errors.push(Error::profile(format!(
                    "associations[{i}]: no \"_mobileofflineprofileitemid_value\" (the item it belongs to)"
                ))),
                Some(owner) if !item_ids.iter().any(|id| id.eq_ignore_ascii_case(owner)) => {
                    errors.push(Error::profile(format!(
                        "associations[{i}]: belongs to item '{owner}', which is not an item of this profile"
                    )))
                }
                Some(_) => {}
            }
        }
        let mut items = Vec::new();
        for (index, v) in list.iter().enumerate() {
            match read_item(index, v, associations, schema) {
                Ok(item) => items.push(item),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(Profile { id, name, items })
        } else {
            Err(errors)
        }
    }
}

fn read_item(index: usize, v: &Value, associations: &[Value], schema: &Schema) -> Result<ProfileItem, Vec<Error>> {
    let Value::Object(obj) = v else {
        return Err(vec![Error::profile(format!("{}: each item must be an object", item_label(index, "")))]);
    };
    let table =
        obj.get("selectedentitytypecode").and_then(Value::as_str).unwrap_or_default().trim().to_ascii_lowercase();
    let label = item_label(index, &table);
    let mut errors = Vec::new();
    let mut err = |msg: String| errors.push(Error::profile(format!("{label}: {msg}")));
    if table.is_empty() {
        err("\"selectedentitytypecode\" must hold the table's logical name".into());
    }
    let id = obj.get("mobileofflineprofileitemid").and_then(Value::as_str).map(str::to_string);
    let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
    let entity_filter = obj.get("profileitementityfilter").and_then(Value::as_str).unwrap_or_default();
    let filter = match obj.get("recorddistributioncriteria").and_then(Value::as_i64) {
        Some(0) => Some(ItemFilter::Related),
        Some(1) => Some(ItemFilter::All),
        Some(2) => Some(ItemFilter::Ownership(Ownership {
            me: flag("recordsownedbyme"),
            teams: flag("recordsownedbymyteam"),
            business_unit: flag("recordsownedbymybusinessunit"),
        })),
        Some(3) if !entity_filter.trim().is_empty() => Some(ItemFilter::Custom(CustomFilter::new(entity_filter))),
        Some(3) => {
            err("custom data filter (recorddistributioncriteria 3) with an empty \"profileitementityfilter\"".into());
            None
        }
        other => {
            err(format!(
                "\"recorddistributioncriteria\" must be 0 (related), 1 (all), 2 (other) or 3 (custom), not {}",
                other.map_or_else(
                    || obj.get("recorddistributioncriteria").cloned().unwrap_or(Value::Null).to_string(),
                    |n| n.to_string()
                )
            ));
            None
        }
    };
    let sync_interval_minutes = match obj.get("syncintervalinminutes") {
        None | Some(Value::Null) => DEFAULT_SYNC_INTERVAL_MINUTES,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => {
                err(format!("\"syncintervalinminutes\" must be a whole number of minutes, not {v}"));
                DEFAULT_SYNC_INTERVAL_MINUTES
            }
        },
    };
    let columns = match obj.get("selectedcolumns") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match read_selected_columns(s) {
            Some(c) => Some(c),
            None => {
                err(format!("\"selectedcolumns\" must be a JSON string {{\"Columns\": [...]}}, not {s}"));
                None
            }
        },
        Some(other) => {
            err(format!("\"selectedcolumns\" must be a JSON string {{\"Columns\": [...]}}, not {other}"));
            None
        }
    };
    // Associations: the separate rows for this item, plus any nested under the item.
    let mut relationships = Vec::new();
    let nested = match obj.get(ASSOCIATIONS_NAVIGATION) {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    let mine = associations.iter().filter(|a| {
        let owner = a.get("_mobileofflineprofileitemid_value").and_then(Value::as_str);
        matches!((owner, &id), (Some(o), Some(id)) if o.eq_ignore_ascii_case(id))
    });
    for a in mine.chain(nested.iter()) {
        let rel_id = a.get("relationshipid").and_then(Value::as_str).unwrap_or_default();
        let fallback = a.get("selectedrelationshipsschema").and_then(Value::as_str).filter(|s| !s.is_empty());
        match schema.relationship_by_id(rel_id) {
            Some(r) if !rel_id.is_empty() => relationships.push(r.schema_name.clone()),
            _ => match fallback {
                Some(s) => relationships.push(s.to_string()),
                None => err(format!(
                    "association '{}' names relationship id '{rel_id}', which is not in the schema",
                    a.get("name").and_then(Value::as_str).unwrap_or("?")
                )),
            },
        }
    }
    match filter {
        Some(filter) if errors.is_empty() => {
            Ok(ProfileItem { id, table, filter, relationships, sync_interval_minutes, columns })
        }
        _ => Err(errors),
    }
}

fn read_selected_columns(s: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(s).ok()?;
    let list = match &v {
        Value::Object(o) => o.get("Columns").or_else(|| o.get("columns"))?,
        Value::Array(_) => &v,
        _ => return None,
    };
    list.as_array()?.iter().map(|c| c.as_str().map(|c| c.trim().to_ascii_lowercase())).collect()
}

/// Whether a JSON document looks like the Dataverse representation rather than the plain form.
pub(crate) fn looks_like_dataverse(doc: &Value) -> bool {
    let Some(o) = doc.as_object() else { return false };
    if o.contains_key("items") {
        return false;
    }
    o.contains_key("profile")
        || o.contains_key(ITEMS_NAVIGATION)
        || o.contains_key("mobileofflineprofileid")
        || matches!(o.get("value"), Some(Value::Array(_)))
}
