//! Storage: SQLite rows with versions, tombstones and read-access filters.

pub mod sqlite;

pub use sqlite::{Access, BulkRow, Db, DbResult, Store, StoredRow, StoredText, Tombstone};
