//! The server's table metadata: the shipped Field Service schema, completed with the tables and the
//! server-maintained columns the reference server needs, kept both parsed ([`Schema`]) and as the EntityDefinitions
//! JSON the `EntityDefinitions` endpoint returns.

pub mod build;
pub mod tables;

use serde_json::{json, Value};
use xrm_offline::schema::{Schema, FIELD_SERVICE_SCHEMA_JSON};

/// The schema the server serves and validates against.
pub struct ServerSchema {
    /// Parsed, for validation and queries.
    pub schema: Schema,
    /// EntityDefinitions JSON, one object per table, in the order served.
    pub definitions: Vec<Value>,
}

impl ServerSchema {
    /// The shipped schema plus the server's supplement.
    pub fn load() -> ServerSchema {
        let shipped: Value = serde_json::from_str(FIELD_SERVICE_SCHEMA_JSON).unwrap_or(json!({ "value": [] }));
        let mut defs: Vec<Value> = match shipped {
            Value::Object(mut o) => match o.remove("value") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        for t in tables::supplement() {
            let name = t["LogicalName"].as_str().unwrap_or_default().to_string();
            let present = defs.iter().any(|d| d["LogicalName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&name)));
            if !present {
                defs.push(t);
            }
        }
        for d in &mut defs {
            for key in ["Attributes", "ManyToOneRelationships", "OneToManyRelationships"] {
                if !d.get(key).is_some_and(Value::is_array) {
                    d[key] = json!([]);
                }
            }
            build::add_system_columns(d);
        }
        build::link_relationships(&mut defs, tables::FIXED_RELATIONSHIP_NAMES);
        let schema = match Schema::from_value(&json!({ "value": defs })) {
            Ok(s) => s,
            Err(e) => {
                // The shipped schema is tested by the engine; if it ever fails here, serve the supplement alone.
                eprintln!("xrm-offline: the schema could not be read ({e}); serving the server's own tables only");
                defs = tables::supplement();
                for d in &mut defs {
                    build::add_system_columns(d);
                }
                build::link_relationships(&mut defs, tables::FIXED_RELATIONSHIP_NAMES);
                Schema::from_value(&json!({ "value": defs })).unwrap_or_default()
            }
        };
        ServerSchema { schema, definitions: defs }
    }

    /// The EntityDefinition JSON of a table.
    pub fn definition(&self, logical_name: &str) -> Option<&Value> {
        self.definitions
            .iter()
            .find(|d| d["LogicalName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(logical_name)))
    }
}
