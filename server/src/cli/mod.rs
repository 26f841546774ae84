//! Subcommands that run without a server: `lint` (check a mobile offline profile) and `query` (run an OData or
//! FetchXML query over rows in a file).

pub mod lint;
pub mod query;
