//! PLACEHOLDER (being written): FetchXML parser.
use super::plan::{Filter, Query};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Parses a `<fetch>` document.
pub fn parse_fetchxml(_schema: &Schema, _xml: &str) -> Result<Query> {
    Err(Error::fetchxml("FetchXML parser not written yet"))
}

/// Parses a profile's custom filter: a `<filter>` element or a `<fetch>` whose entity holds filters.
pub fn parse_fetchxml_filter(_schema: &Schema, _table: &str, _xml: &str) -> Result<Option<Filter>> {
    Err(Error::fetchxml("FetchXML parser not written yet"))
}
