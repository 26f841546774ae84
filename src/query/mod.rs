//! Queries: OData query options and FetchXML parsed into one [`plan::Query`], evaluated over Web API rows.
//!
//! - [`parse_odata`] reads `?$select=...&$filter=...&$orderby=...&$top=...&$expand=...&$count=true`.
//! - [`parse_fetchxml`] reads a `<fetch>` document; [`parse_fetchxml_filter`] a profile's custom `<filter>`.
//! - [`execute`] runs a plan over a [`RowSource`] with an [`EvalContext`] (clock, time zone, user, teams, business
//!   unit) and returns rows in the Web API shape; [`matches`] tests one row against a filter.
//! - [`render`] turns plans back into FetchXML and OData text (the sync engine sends profile filters to the server).

mod context;
mod eval;
mod exec;
mod fetchxml;
mod odata;
pub mod plan;
pub mod render;
mod source;
mod xml;

pub use context::EvalContext;
pub use eval::{matches, Predicate};
pub use exec::{execute, QueryResult};
pub use fetchxml::{parse_fetchxml, parse_fetchxml_filter};
pub use odata::parse_odata;
pub use source::{MemorySource, Row, RowSource};
