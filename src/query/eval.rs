//! PLACEHOLDER (being written): the filter evaluator.
use super::plan::Filter;
use super::{EvalContext, Row, RowSource};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Whether `row` of `table` satisfies `filter`.
pub fn matches(
    _schema: &Schema,
    _table: &str,
    _filter: &Filter,
    _row: &Row,
    _source: &dyn RowSource,
    _ctx: &EvalContext,
) -> Result<bool> {
    Err(Error::query("evaluator not written yet"))
}
