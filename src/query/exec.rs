//! PLACEHOLDER (being written): query execution.
use super::plan::Query;
use super::{EvalContext, Row, RowSource};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// The rows a query returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Result rows in order, in the Web API shape.
    pub entities: Vec<Row>,
    /// The total number of matching rows, when the query asked for a count.
    pub count: Option<usize>,
    /// More rows match than were returned (top or page size cut the result).
    pub more_records: bool,
}

/// Runs `query` over `source`.
pub fn execute(_schema: &Schema, _query: &Query, _source: &dyn RowSource, _ctx: &EvalContext) -> Result<QueryResult> {
    Err(Error::query("executor not written yet"))
}
