//! Subcommands written by other parts of the project: `xrm-offline lint` and `xrm-offline query`.

pub mod lint;
pub mod query;
