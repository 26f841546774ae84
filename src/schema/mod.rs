//! Table metadata in the shape Dataverse returns from
//! `GET EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships`.
//!
//! [`Schema::from_json`] reads that response (the `value` envelope or a bare array, `@odata.type` and every field the
//! engine does not use ignored) so a profile author can point the tools at a real organisation's metadata.

mod load;
mod model;

pub use model::{AttributeDef, AttributeType, OwnershipType, Relationship, Schema, TableDef};

/// The Field Service schema the product ships (`schema/fieldservice.json`), as EntityDefinitions JSON.
///
/// Native builds only: the file is 470 KB of metadata, so the wasm module does not carry it; the npm package ships
/// it as `pkg/fieldservice-schema.json` and the JS side passes it in when it is wanted.
#[cfg(not(target_arch = "wasm32"))]
pub const FIELD_SERVICE_SCHEMA_JSON: &str = include_str!("../../schema/fieldservice.json");

/// The shipped Field Service schema, parsed (native builds only, see [`FIELD_SERVICE_SCHEMA_JSON`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn field_service() -> Schema {
    Schema::from_json(FIELD_SERVICE_SCHEMA_JSON).expect("the shipped Field Service schema is valid")
}
