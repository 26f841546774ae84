//! Where the evaluator reads rows from.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};

/// A row in the Web API shape: columns by logical name, lookups as `_name_value` with their annotations,
/// `@odata.etag`.
pub type Row = Map<String, Value>;

/// A set of tables of rows that queries read (joins, `$expand` and related-row filters read other tables).
pub trait RowSource {
    /// Every row of `table` (logical name); an unknown or empty table yields nothing.
    fn rows<'a>(&'a self, table: &str) -> Box<dyn Iterator<Item = &'a Row> + 'a>;
}

/// Rows held in memory, by table logical name.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    tables: HashMap<String, Vec<Row>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns the rows of a table (a host answering from the rows it loaded, after the query ran).
    pub fn take(&mut self, table: &str) -> Vec<Row> {
        self.tables.remove(&table.to_ascii_lowercase()).unwrap_or_default()
    }

    /// Adds rows to a table.
    pub fn extend(&mut self, table: &str, rows: impl IntoIterator<Item = Row>) {
        self.tables.entry(table.to_ascii_lowercase()).or_default().extend(rows);
    }

    /// Reads `{"account": [{...}, ...], "contact": [...]}`.
    pub fn from_json(text: &str) -> Result<Self> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorCode::InvalidJson, format!("the rows file is not valid JSON: {e}")))?;
        Self::from_value(doc)
    }

    /// As [`MemorySource::from_json`], from parsed JSON.
    pub fn from_value(doc: Value) -> Result<Self> {
        let Value::Object(tables) = doc else {
            return Err(Error::new(
                ErrorCode::InvalidJson,
                "the rows file must be an object mapping table logical names to arrays of rows",
            ));
        };
        let mut src = MemorySource::new();
        for (table, rows) in tables {
            let Value::Array(rows) = rows else {
                return Err(Error::new(ErrorCode::InvalidJson, format!("rows of '{table}' must be an array")));
            };
            let mut out = Vec::with_capacity(rows.len());
            for (i, row) in rows.into_iter().enumerate() {
                match row {
                    Value::Object(o) => out.push(o),
                    _ => {
                        return Err(Error::new(
                            ErrorCode::InvalidJson,
                            format!("row {i} of '{table}' must be an object"),
                        ))
                    }
                }
            }
            src.extend(&table, out);
        }
        Ok(src)
    }
}

impl RowSource for MemorySource {
    fn rows<'a>(&'a self, table: &str) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
        match self.tables.get(table) {
            Some(rows) => Box::new(rows.iter()),
            None => Box::new(std::iter::empty()),
        }
    }
}
