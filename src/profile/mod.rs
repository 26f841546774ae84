//! Mobile offline profiles: which rows of which tables a device downloads, and how often.
//!
//! - [`Profile`], [`ProfileItem`], [`ItemFilter`]: the model (see docs/PROFILES.md for the semantics).
//! - [`Profile::from_json`] / [`Profile::to_json`]: the plain JSON form; [`Profile::from_dataverse_json`] /
//!   [`to_dataverse_json`]: the `mobileofflineprofile` rows as the Web API returns them; [`Profile::load`] detects
//!   the form, validates and prepares.
//! - [`Profile::validate`]: every rule violation, each naming its item; [`Profile::prepare`] also parses the
//!   custom filters; [`Profile::lint`]: best-practice warnings.
//! - [`Profile::links`], [`Profile::sync_order`]: the relationships resolved, and the order tables sync in;
//!   [`Profile::scope`]: which stored rows the profile keeps.
//! - [`field_service_default`]: the Field Service default profile the product ships.

mod dataverse;
mod json;
mod lint;
mod model;
mod scope;
mod validate;

use serde_json::Value;

pub use dataverse::{to_dataverse_json, DataverseProfile, ASSOCIATIONS_NAVIGATION, ITEMS_NAVIGATION};
pub use lint::{codes, Warning};
pub use model::{
    CustomFilter, ItemFilter, OwnRows, Ownership, Profile, ProfileItem, DEFAULT_SYNC_INTERVAL_MINUTES,
    MAX_FILTER_CONDITIONS, MAX_RELATED_TABLES, MAX_SYNC_INTERVAL_MINUTES, MIN_SYNC_INTERVAL_MINUTES,
};
pub use scope::Scope;
pub use validate::{Link, LinkKind};

use crate::error::{Error, ErrorCode};
use crate::schema::Schema;

/// The Field Service default profile (`profiles/fieldservice.json`), in the plain JSON form.
pub const FIELD_SERVICE_PROFILE_JSON: &str = include_str!("../../profiles/fieldservice.json");

/// The Field Service default profile, as shipped (not prepared: call [`Profile::prepare`] with the schema to parse
/// its custom filters).
pub fn field_service_default() -> Profile {
    Profile::from_json(FIELD_SERVICE_PROFILE_JSON).unwrap_or_else(|e| {
        // The file is checked by the tests; an error here is a packaging mistake, not an input problem.
        panic!("the shipped Field Service profile does not load: {e:?}")
    })
}

impl Profile {
    /// Reads a profile in either form (the plain JSON form has `"items"`; anything else is read as the Dataverse
    /// representation), validates it against `schema` and parses its custom filters. All errors are returned.
    pub fn load(text: &str, schema: &Schema) -> Result<Profile, Vec<Error>> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| vec![Error::new(ErrorCode::InvalidJson, format!("the profile is not valid JSON: {e}"))])?;
        let mut profile = Profile::from_any_value(&doc, schema)?;
        profile.prepare(schema)?;
        Ok(profile)
    }

    /// Reads a profile in either form without validating it.
    pub fn from_any_value(doc: &Value, schema: &Schema) -> Result<Profile, Vec<Error>> {
        if dataverse::looks_like_dataverse(doc) {
            Profile::from_dataverse_value(doc, schema)
        } else {
            Profile::from_json_value(doc)
        }
    }
}
