//! Profiles for JavaScript: load (either JSON form), validate, lint, and what the store needs from them.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use super::convert::{from_js, to_js};
use super::error::to_js as err_js;
use crate::error::{Error, ErrorCode};
use crate::profile::Profile;
use crate::schema::Schema;
use crate::store::layout::profile_index_columns;

fn read(profile: JsValue, schema: &Schema) -> Result<Profile, Vec<Error>> {
    let doc = match profile.as_string() {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| vec![Error::new(ErrorCode::InvalidJson, format!("the profile is not valid JSON: {e}"))])?,
        None => from_js("profile", profile)
            .map_err(|_| vec![Error::argument("the profile must be JSON text or an object")])?,
    };
    Profile::from_any_value(&doc, schema)
}

fn joined(errors: Vec<Error>) -> JsValue {
    let code = errors.first().map(|e| e.code).unwrap_or(ErrorCode::InvalidProfile);
    let msg = errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
    err_js(&Error::new(code, msg))
}

/// Loads a profile (plain JSON form or the Dataverse `mobileofflineprofile` representation, as text or object)
/// against `schema` (EntityDefinitions JSON text), validates it and returns what the client needs:
/// `{ id, name, profile (plain JSON form), tables, syncOrder, indexColumns, warnings }`. Throws an Error whose
/// message lists every rule the profile breaks.
#[wasm_bindgen(js_name = loadProfile)]
pub fn load_profile(profile: JsValue, schema: &str) -> Result<JsValue, JsValue> {
    let schema = Schema::from_json(schema).map_err(|e| err_js(&e))?;
    let mut p = read(profile, &schema).map_err(joined)?;
    p.prepare(&schema).map_err(joined)?;
    let order: Vec<&str> = p.sync_order(&schema).into_iter().map(|i| p.items[i].table.as_str()).collect();
    let warnings: Vec<Value> = p.lint(&schema).iter().map(|w| w.to_json()).collect();
    let out = json!({
        "id": p.id.clone().unwrap_or_else(|| p.name.clone()),
        "name": p.name,
        "profile": p.to_json(),
        "tables": p.items.iter().map(|i| i.table.clone()).collect::<Vec<_>>(),
        "syncOrder": order,
        "indexColumns": profile_index_columns(&schema, &p),
        "warnings": warnings,
    });
    to_js(&out)
}

/// Validates and lints a profile without throwing: `{ errors: [{errorCode, name, message}], warnings: [...] }`.
#[wasm_bindgen(js_name = lintProfile)]
pub fn lint_profile(profile: JsValue, schema: &str) -> Result<JsValue, JsValue> {
    let schema = Schema::from_json(schema).map_err(|e| err_js(&e))?;
    let (errors, warnings) = match read(profile, &schema) {
        Err(errors) => (errors, Vec::new()),
        Ok(p) => (p.validate(&schema), p.lint(&schema)),
    };
    to_js(&json!({
        "errors": errors.iter().map(Error::to_json).collect::<Vec<_>>(),
        "warnings": warnings.iter().map(|w| w.to_json()).collect::<Vec<_>>(),
    }))
}
