//! The Field Service default mobile offline profile (`profiles/fieldservice.json`, shipped by the engine) as
//! Dataverse stores it: one `mobileofflineprofile`, its `mobileofflineprofileitem` rows and the
//! `mobileofflineprofileitemassociation` rows, written by `xrm_offline::profile::to_dataverse_json`.

use serde_json::Value;
use xrm_offline::profile::{field_service_default, to_dataverse_json, ITEMS_NAVIGATION};
use xrm_offline::schema::Schema;

use super::data::SeedRow;

fn seed_row(table: &'static str, v: &Value) -> Option<SeedRow> {
    let data = v.as_object()?.clone();
    let id = data.get(&format!("{table}id"))?.as_str()?.to_string();
    let mut data = data;
    for (k, lookup_table) in [
        ("_regardingobjectid_value", "mobileofflineprofile"),
        ("_mobileofflineprofileitemid_value", "mobileofflineprofileitem"),
    ] {
        if data.contains_key(k) {
            data.insert(format!("{k}@Microsoft.Dynamics.CRM.lookuplogicalname"), Value::from(lookup_table));
        }
    }
    Some(SeedRow { table, id, data, owner: None })
}

/// The profile rows (none if the shipped profile cannot be written for this schema; the error is printed).
pub fn rows(schema: &Schema) -> Vec<SeedRow> {
    let dv = match to_dataverse_json(&field_service_default(), schema) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("xrm-offline seed: the default profile was not seeded: {e}");
            return Vec::new();
        }
    };
    let mut profile = dv.profile.clone();
    let items = profile.as_object_mut().and_then(|o| o.remove(ITEMS_NAVIGATION)).unwrap_or(Value::Null);
    let mut out: Vec<SeedRow> = seed_row("mobileofflineprofile", &profile).into_iter().collect();
    out.extend(items.as_array().into_iter().flatten().filter_map(|i| seed_row("mobileofflineprofileitem", i)));
    out.extend(dv.associations.iter().filter_map(|a| seed_row("mobileofflineprofileitemassociation", a)));
    out
}

/// The id of the seeded profile.
pub fn profile_id() -> String {
    field_service_default().id.unwrap_or_default()
}
