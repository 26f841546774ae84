//! First-sync checkpoints: the resumable state of each table's first sync, serialisable to JSON.
//!
//! A table's first sync has two reads. First change tracking is started (`GET <set>?$select=<id>` with
//! `Prefer: odata.track-changes`, every page until the `@odata.deltaLink`), then the filtered download query is
//! read page by page. Tracking starts *first* so that a row changed while the download runs is reported by the
//! first delta: nothing is missed, and a change seen twice is harmless (puts are idempotent).
//!
//! The host stores each page's rows and the checkpoint [`Checkpoint::step`] returns in **one** IndexedDB
//! transaction. After an interruption it reloads the checkpoint and asks [`Checkpoint::next_request`] again: the
//! read resumes at the page after the last one stored, so no row is lost and none is fetched twice.
//!
//! Incremental syncs are not checkpointed page by page: the host keeps the old delta link until the whole delta
//! (and its follow-ups) is stored, then saves [`Phase::Done`] with the new link. An interrupted delta is read
//! again from the old link, which only re-puts fresh rows.

use serde::{Deserialize, Serialize};

use super::apply::{Changes, PutRow};
use super::download::track_changes_request;
use super::page::{row_id, Cursor, Page};
use super::plan::SyncPlan;
use super::request::Request;
use crate::error::{Error, ErrorCode, Result};

/// Where a table's first sync is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// Nothing done yet.
    NotStarted,
    /// Starting change tracking: the next page of the listing to read.
    Tracking {
        /// The page to read next.
        cursor: Cursor,
    },
    /// Tracking started; the filtered download is under way.
    Downloading {
        /// The delta link the first incremental sync will read.
        #[serde(rename = "deltaLink")]
        delta_link: String,
        /// The download page to read next.
        cursor: Cursor,
    },
    /// First sync complete.
    Done {
        /// Where the next changes are read from (replaced after each incremental sync).
        #[serde(rename = "deltaLink")]
        delta_link: String,
    },
}

/// The first-sync state of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Table logical name.
    pub table: String,
    /// The phase.
    #[serde(flatten)]
    pub phase: Phase,
    /// Rows downloaded so far (for progress events).
    pub rows: u64,
    /// Pages stored so far (tracking and download).
    pub pages: u64,
}

impl Checkpoint {
    /// A table whose first sync has not started.
    pub fn new(table: &str) -> Checkpoint {
        Checkpoint { table: table.to_ascii_lowercase(), phase: Phase::NotStarted, rows: 0, pages: 0 }
    }

    /// Whether the first sync of the table is complete.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }

    /// The delta link, once change tracking has started.
    pub fn delta_link(&self) -> Option<&str> {
        match &self.phase {
            Phase::Downloading { delta_link, .. } | Phase::Done { delta_link } => Some(delta_link),
            _ => None,
        }
    }

    /// The cursor the next request is built from (`Start` before anything was read; `None` when done). Pass it to
    /// [`read_page`](super::read_page) with the response.
    pub fn cursor(&self) -> Option<Cursor> {
        match &self.phase {
            Phase::NotStarted => Some(Cursor::Start),
            Phase::Tracking { cursor } | Phase::Downloading { cursor, .. } => Some(cursor.clone()),
            Phase::Done { .. } => None,
        }
    }

    /// The next request of the first sync; `None` when it is complete.
    pub fn next_request(&self, plan: &SyncPlan, page_size: u32) -> Result<Option<Request>> {
        let tp = plan.require_table(&self.table)?;
        let def = plan.schema().require_table(&tp.table)?;
        Ok(match &self.phase {
            Phase::NotStarted => Some(track_changes_request(def, &Cursor::Start, page_size)),
            Phase::Tracking { cursor } => Some(track_changes_request(def, cursor, page_size)),
            Phase::Downloading { cursor, .. } => tp.download.as_ref().map(|q| q.request(cursor, page_size)),
            Phase::Done { .. } => None,
        })
    }

    /// The rows to store for `page` (the response to [`Checkpoint::next_request`], read with
    /// [`read_page`](super::read_page)) and the checkpoint to store with them, in one transaction. Tracking pages
    /// store nothing (they only list ids); download pages store their rows as the server selected them.
    pub fn step(&self, plan: &SyncPlan, page: &Page) -> Result<(Changes, Checkpoint)> {
        let tp = plan.require_table(&self.table)?;
        let mut changes = Changes::default();
        if let Phase::Downloading { .. } = &self.phase {
            for row in &page.rows {
                let Some(id) = row_id(row, &tp.primary_id) else { continue };
                let mut row = row.clone();
                row.insert(tp.primary_id.clone(), serde_json::Value::String(id.clone()));
                changes.puts.push(PutRow { table: tp.table.clone(), id, row });
            }
        }
        let next = self.advance(plan, page, changes.puts.len() as u64)?;
        Ok((changes, next))
    }

    /// The checkpoint to store after `page`, when the host stores a download page's rows itself (`stored`: how many;
    /// the same rows [`Checkpoint::step`] returns: those with a GUID under the primary id, the id lower case).
    /// `page` needs only its paging fields (`next`, `delta_link`), so a host may keep the rows out of it.
    pub fn advance(&self, plan: &SyncPlan, page: &Page, stored: u64) -> Result<Checkpoint> {
        let tp = plan.require_table(&self.table)?;
        let mut next = self.clone();
        // Counters only feed progress events: a stored checkpoint holding a huge count must not overflow.
        next.pages = next.pages.saturating_add(1);
        next.phase = match &self.phase {
            Phase::NotStarted | Phase::Tracking { .. } => match (&page.next, &page.delta_link) {
                (Some(cursor), _) => Phase::Tracking { cursor: cursor.clone() },
                (None, Some(link)) if tp.download.is_some() => {
                    Phase::Downloading { delta_link: link.clone(), cursor: Cursor::Start }
                }
                (None, Some(link)) => Phase::Done { delta_link: link.clone() },
                (None, None) => {
                    return Err(Error::new(
                        ErrorCode::ServerError,
                        format!(
                            "the change-tracking read of '{}' ended without an @odata.deltaLink: is change \
                             tracking enabled for the table?",
                            tp.table
                        ),
                    ))
                }
            },
            Phase::Downloading { delta_link, .. } => {
                next.rows = next.rows.saturating_add(stored);
                match &page.next {
                    Some(cursor) => Phase::Downloading { delta_link: delta_link.clone(), cursor: cursor.clone() },
                    None => Phase::Done { delta_link: delta_link.clone() },
                }
            }
            Phase::Done { .. } => return Ok(self.clone()),
        };
        Ok(next)
    }

    /// Whether the next page is a download page (its rows are stored), not a change-tracking page.
    pub fn is_downloading(&self) -> bool {
        matches!(self.phase, Phase::Downloading { .. })
    }

    /// After an incremental sync read the whole delta (and its follow-ups were stored): the checkpoint holding the
    /// new delta link.
    pub fn with_delta_link(&self, delta_link: &str) -> Checkpoint {
        Checkpoint { phase: Phase::Done { delta_link: delta_link.to_string() }, ..self.clone() }
    }

    /// The checkpoint as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a checkpoint written by [`Checkpoint::to_json`].
    pub fn from_json(text: &str) -> Result<Checkpoint> {
        serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorCode::InvalidJson, format!("the sync checkpoint is not valid: {e}")))
    }
}

/// Whether every table finished its first sync: the client state becomes `Offline` only then (until it does,
/// `Xrm.WebApi` answers from the server). Tables of `plan` without a checkpoint have not started.
pub fn first_sync_complete(plan: &SyncPlan, checkpoints: &[Checkpoint]) -> bool {
    plan.tables().iter().all(|t| checkpoints.iter().any(|c| c.table == t.table && c.is_done()))
}
