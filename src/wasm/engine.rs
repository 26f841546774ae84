//! `Engine`: the query engine over a schema, for JavaScript callers.

use wasm_bindgen::prelude::*;

use super::{context, error};
use crate::query::{self, MemorySource};
use crate::schema::Schema;

/// The xrm-offline query engine bound to a schema (table metadata in the `EntityDefinitions` shape).
///
/// ```js
/// const engine = await createEngine(schemaJson);
/// const { entities } = engine.retrieveMultiple("account", "?$filter=contains(name,'contoso')&$top=5", rows, {});
/// ```
#[wasm_bindgen]
pub struct Engine {
    schema: Schema,
}

#[wasm_bindgen]
impl Engine {
    /// An engine over `schema`: the JSON text or the parsed object that
    /// `GET EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships` returns.
    #[wasm_bindgen(js_name = fromSchema)]
    pub fn from_schema(schema: JsValue) -> Result<Engine, JsValue> {
        let parsed = if let Some(text) = schema.as_string() {
            Schema::from_json(&text)
        } else {
            let value = crate::wasm::convert::from_js("schema", schema)?;
            Schema::from_value(&value)
        };
        parsed.map(|schema| Engine { schema }).map_err(|e| error::to_js(&e))
    }

    /// The logical names of the tables in the schema.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn tables(&self) -> JsValue {
        super::convert::js_texts(self.schema.tables().iter().map(|t| t.logical_name.as_str()))
    }

    /// Runs OData query options (`?$select=...&$filter=...`, or `?fetchXml=<fetch ...>`) for `table` over `rows`
    /// (`{ account: [...], contact: [...] }` in the Web API shape) and returns `{ entities, "@odata.count"? }`, as
    /// `Xrm.WebApi.retrieveMultipleRecords` would. `context` is `{ now, utcOffsetMinutes, userId, teamIds,
    /// businessUnitId }` (all optional). Errors are `Error`s with `errorCode`.
    #[wasm_bindgen(js_name = retrieveMultiple)]
    pub fn retrieve_multiple(
        &self,
        table: &str,
        options: &str,
        rows: JsValue,
        context: JsValue,
    ) -> Result<JsValue, JsValue> {
        let ctx = context::read(&context)?;
        let data = crate::wasm::convert::from_js("rows", rows)?;
        let source = MemorySource::from_value(data).map_err(|e| error::to_js(&e))?;
        let plan = query::parse_odata(&self.schema, table, options).map_err(|e| error::to_js(&e))?;
        let result = query::execute(&self.schema, &plan, &source, &ctx).map_err(|e| error::to_js(&e))?;
        let mut out = serde_json::Map::new();
        if let Some(count) = result.count {
            out.insert("@odata.count".into(), count.into());
        }
        out.insert(
            "entities".into(),
            serde_json::Value::Array(result.entities.into_iter().map(serde_json::Value::Object).collect()),
        );
        super::convert::to_js(&out)
    }
}
