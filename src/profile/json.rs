//! The plain JSON form of a profile (documented in docs/PROFILES.md):
//!
//! ```json
//! {"name": "My profile", "items": [
//!   {"table": "bookableresourcebooking", "filter": {"custom": "<filter>...</filter>"}},
//!   {"table": "msdyn_workorder", "filter": "related",
//!    "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"], "syncIntervalMinutes": 5},
//!   {"table": "account", "filter": {"ownership": ["me", "teams", "businessunit"]}, "columns": ["name"]}]}
//! ```

use serde_json::{json, Map, Value};

use super::model::{
    item_label, CustomFilter, ItemFilter, Ownership, Profile, ProfileItem, DEFAULT_SYNC_INTERVAL_MINUTES,
};
use crate::error::{Error, ErrorCode};

impl Profile {
    /// Reads the plain JSON form. Every problem found is returned, each naming the item (`items[3] (account): ...`).
    /// The result is not validated against a schema: see [`Profile::validate`].
    pub fn from_json(text: &str) -> Result<Profile, Vec<Error>> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| vec![Error::new(ErrorCode::InvalidJson, format!("the profile is not valid JSON: {e}"))])?;
        Profile::from_json_value(&doc)
    }

    /// As [`Profile::from_json`], from parsed JSON.
    pub fn from_json_value(doc: &Value) -> Result<Profile, Vec<Error>> {
        let Value::Object(obj) = doc else {
            return Err(vec![Error::profile("the profile must be a JSON object: {\"name\": ..., \"items\": [...]}")]);
        };
        let mut errors = Vec::new();
        for key in obj.keys() {
            if !matches!(key.as_str(), "id" | "name" | "description" | "items") && !key.starts_with('$') {
                errors.push(Error::profile(format!(
                    "unknown profile field \"{key}\" (expected id, name, description, items)"
                )));
            }
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push(Error::profile("the profile's \"id\" must be a string (a GUID)"));
                None
            }
        };
        let name = match obj.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                errors.push(Error::profile("the profile needs a \"name\" (a non-empty string)"));
                String::new()
            }
        };
        let mut items = Vec::new();
        match obj.get("items") {
            Some(Value::Array(list)) => {
                for (i, v) in list.iter().enumerate() {
                    match read_item(i, v) {
                        Ok(item) => items.push(item),
                        Err(mut e) => errors.append(&mut e),
                    }
                }
            }
            _ => errors.push(Error::profile("the profile needs \"items\": an array of items, one per table")),
        }
        if errors.is_empty() {
            Ok(Profile { id, name, items })
        } else {
            Err(errors)
        }
    }

    /// Writes the plain JSON form ([`Profile::from_json_value`] reads it back).
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        if let Some(id) = &self.id {
            doc.insert("id".into(), json!(id));
        }
        doc.insert("name".into(), json!(self.name));
        doc.insert("items".into(), Value::Array(self.items.iter().map(item_to_json).collect()));
        Value::Object(doc)
    }
}

fn item_to_json(item: &ProfileItem) -> Value {
    let mut o = Map::new();
    if let Some(id) = &item.id {
        o.insert("id".into(), json!(id));
    }
    o.insert("table".into(), json!(item.table));
    let filter = match &item.filter {
        ItemFilter::All => json!("all"),
        ItemFilter::Related => json!("related"),
        ItemFilter::Ownership(own) => {
            let mut list = Vec::new();
            if own.me {
                list.push("me");
            }
            if own.teams {
                list.push("teams");
            }
            if own.business_unit {
                list.push("businessunit");
            }
            json!({ "ownership": list })
        }
        ItemFilter::Custom(c) => json!({ "custom": c.fetchxml }),
    };
    o.insert("filter".into(), filter);
    if !item.relationships.is_empty() {
        o.insert("relationships".into(), json!(item.relationships));
    }
    o.insert("syncIntervalMinutes".into(), json!(item.sync_interval_minutes));
    if let Some(cols) = &item.columns {
        o.insert("columns".into(), json!(cols));
    }
    Value::Object(o)
}

fn read_item(index: usize, v: &Value) -> Result<ProfileItem, Vec<Error>> {
    let Value::Object(obj) = v else {
        return Err(vec![Error::profile(format!(
            "{}: each item must be an object with a \"table\"",
            item_label(index, "")
        ))]);
    };
    let table = match obj.get("table") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    let label = item_label(index, &table);
    let mut errors = Vec::new();
    let mut err = |msg: String| errors.push(Error::profile(format!("{label}: {msg}")));
    if table.is_empty() {
        err("\"table\" must be a table logical name".into());
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "id" | "table" | "filter" | "relationships" | "syncIntervalMinutes" | "columns")
            && !key.starts_with('$')
        {
            err(format!(
                "unknown item field \"{key}\" (expected table, filter, relationships, syncIntervalMinutes, columns, id)"
            ));
        }
    }
    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            err("\"id\" must be a string (a GUID)".into());
            None
        }
    };
    let filter = match obj.get("filter") {
        None | Some(Value::Null) => Some(ItemFilter::Related),
        Some(f) => match read_filter(f) {
            Ok(f) => Some(f),
            Err(msg) => {
                err(msg);
                None
            }
        },
    };
    let relationships = match obj.get("relationships") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_list(v).unwrap_or_else(|| {
            err("\"relationships\" must be an array of relationship schema names".into());
            Vec::new()
        }),
    };
    let sync_interval_minutes = match obj.get("syncIntervalMinutes") {
        None | Some(Value::Null) => DEFAULT_SYNC_INTERVAL_MINUTES,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => {
                err(format!("\"syncIntervalMinutes\" must be a whole number of minutes (5..1440), not {v}"));
                DEFAULT_SYNC_INTERVAL_MINUTES
            }
        },
    };
    let columns = match obj.get("columns") {
        None | Some(Value::Null) => None,
        Some(v) => match string_list(v) {
            Some(cols) => Some(cols.into_iter().map(|c| c.to_ascii_lowercase()).collect()),
            None => {
                err("\"columns\" must be an array of column logical names".into());
                None
            }
        },
    };
    match filter {
        Some(filter) if errors.is_empty() => {
            Ok(ProfileItem { id, table, filter, relationships, sync_interval_minutes, columns })
        }
        _ => Err(errors),
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|s| s.as_str().map(|s| s.trim().to_string())).collect()
}

const FILTER_FORMS: &str = "\"all\", \"related\", {\"ownership\": [\"me\", \"teams\", \"businessunit\"]} or \
     {\"custom\": \"<filter>...</filter>\"}";

fn read_filter(f: &Value) -> Result<ItemFilter, String> {
    match f {
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "all" => Ok(ItemFilter::All),
            "related" => Ok(ItemFilter::Related),
            other => Err(format!("unknown filter \"{other}\": use {FILTER_FORMS}")),
        },
        Value::Object(o) if o.len() == 1 => {
            let (key, value) = o.iter().next().ok_or_else(|| format!("the filter must be {FILTER_FORMS}"))?;
            match key.as_str() {
                "ownership" => {
                    let list = string_list(value).ok_or_else(|| {
                        "\"ownership\" must be an array of \"me\", \"teams\", \"businessunit\"".to_string()
                    })?;
                    let mut own = Ownership::default();
                    for s in list {
                        match s.to_ascii_lowercase().as_str() {
                            "me" | "user" => own.me = true,
                            "teams" | "team" | "myteams" => own.teams = true,
                            "businessunit" | "business_unit" | "mybusinessunit" => own.business_unit = true,
                            other => {
                                return Err(format!(
                                "unknown owner \"{other}\" in \"ownership\": use \"me\", \"teams\", \"businessunit\""
                            ))
                            }
                        }
                    }
                    Ok(ItemFilter::Ownership(own))
                }
                "custom" => match value {
                    Value::String(x) if !x.trim().is_empty() => Ok(ItemFilter::Custom(CustomFilter::new(x.clone()))),
                    _ => Err("\"custom\" must be a FetchXML <filter> as a string".to_string()),
                },
                other => Err(format!("unknown filter \"{other}\": use {FILTER_FORMS}")),
            }
        }
        _ => Err(format!("the filter must be {FILTER_FORMS}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_filter_form_and_defaults() {
        let p = Profile::from_json(
            r#"{"name":"p","items":[{"table":"Account","filter":{"ownership":["me","businessunit"]}},
            {"table":"contact"},{"table":"product","filter":"all","syncIntervalMinutes":60},
            {"table":"msdyn_workorder","filter":{"custom":"<filter/>"},"columns":["msdyn_Name"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.items[0].table, "account");
        assert_eq!(p.items[0].filter, ItemFilter::Ownership(Ownership { me: true, teams: false, business_unit: true }));
        assert_eq!(p.items[1].filter, ItemFilter::Related);
        assert_eq!(p.items[1].sync_interval_minutes, 5);
        assert_eq!(p.items[2].sync_interval_minutes, 60);
        assert_eq!(p.items[3].columns, Some(vec!["msdyn_name".to_string()]));
        assert_eq!(Profile::from_json_value(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn collects_every_error_with_the_item() {
        let e = Profile::from_json(
            r#"{"items":[{"table":"account","filter":"mine"},{"filter":"all"},{"table":"x","syncIntervalMinutes":-1,"colour":1}]}"#,
        )
        .unwrap_err();
        let text: Vec<String> = e.iter().map(|e| e.message.clone()).collect();
        assert_eq!(e.len(), 5, "{text:?}");
        assert!(text[0].contains("\"name\""));
        assert!(text[1].starts_with("items[0] (account): unknown filter \"mine\""));
        assert!(text[2].starts_with("items[1]: \"table\""));
        assert!(text.iter().any(|t| t.starts_with("items[2] (x): unknown item field \"colour\"")));
        assert!(text.iter().any(|t| t.starts_with("items[2] (x): \"syncIntervalMinutes\"")));
    }
}
