//! The sans-IO sync core: every sync decision as plain functions that take inputs (the profile, the local rows,
//! server responses, the clock, a random source) and return instructions (requests to send, rows to put or
//! delete, follow-up queries, sync errors, delays). The host (the browser binding: IndexedDB and `fetch`) does the
//! I/O; see docs/SYNC.md for the step list.
//!
//! - [`SyncPlan`] ([`plan`]): per profile table, in sync order, the download query ([`download`]), columns,
//!   window-refresh query and relationships.
//! - [`page`]: reading response pages ([`Page`], [`Cursor`]); [`request`]: the [`Request`]s the host sends.
//! - [`apply`]: what to put, delete and fetch next after a page or a delta; [`scope`]: what to evict.
//! - [`checkpoint`]: resumable first-sync state per table.
//! - [`upload`]: coalescing the outbox, upload requests, classifying responses; [`conflict`]: conflict
//!   policies and reverts; [`errors`]: `syncerror` records.
//! - [`backoff`]: retry delays; [`schedule`]: effective intervals, due tables.
//! - [`local`]: the [`LocalRows`] trait the host implements, and [`MemoryRows`].

pub mod apply;
pub mod backoff;
pub mod checkpoint;
pub mod conflict;
pub mod download;
pub mod errors;
pub mod local;
pub mod page;
pub mod plan;
pub mod request;
pub mod schedule;
pub mod scope;
pub mod upload;

pub use apply::{Changes, FollowUp, FollowUpReason, PutRow, RowRef, IDS_PER_QUERY};
pub use backoff::Backoff;
pub use checkpoint::{first_sync_complete, Checkpoint, Phase};
pub use conflict::{on_conflict, resolve, revert, ConflictPolicy, ConflictStep, Resolution, Revert};
pub use download::{track_changes_request, FetchQuery, Selection, DEFAULT_PAGE_SIZE};
pub use errors::SyncError;
pub use local::{LocalRows, MemoryRows};
pub use page::{read_page, row_id, Cursor, Page};
pub use plan::{Reference, SyncPlan, TablePlan};
pub use request::{Method, Request};
pub use schedule::{due_tables, effective_intervals, next_due_ms};
pub use scope::LocalScope;
pub use upload::{
    build_request, classify, coalesce, Action, Coalesced, Guard, OutboxEntry, Outcome, PendingChange, Response,
};
