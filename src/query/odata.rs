//! PLACEHOLDER (being written): OData query-option parser.
use super::plan::Query;
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Parses OData query options (`?$select=...&$filter=...`) for `table`.
pub fn parse_odata(_schema: &Schema, _table: &str, _options: &str) -> Result<Query> {
    Err(Error::query("OData parser not written yet"))
}
