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

use serde::Serialize;

use super::apply::{Changes, PutRow};
use super::download::track_changes_request;
use super::page::{row_id, Cursor, Page};
use super::plan::SyncPlan;
use super::request::Request;
use crate::error::{Error, ErrorCode, Result};
use crate::read::{self, Fields, Read};

/// Where a table's first sync is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
///
/// Stored as `{"table", "phase", ...the phase's fields, "rows", "pages"}` (and `"pageSize"` once the host chose
/// the download's page size). `Deserialize` is written out (through
/// `Value`): serde's derive for a flattened, internally tagged enum buffers the input in its own content type,
/// about 8 KB of wasm used by nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Rows per download page, when the host chose it ([`Checkpoint::with_page_size`]); else the host's default.
    #[serde(default, rename = "pageSize", skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

impl Checkpoint {
    /// Reads a checkpoint as [`Serialize`] writes it ([`crate::read`] says why by hand).
    pub(crate) fn read(v: &serde_json::Value) -> Read<Checkpoint> {
        let Some(obj) = v.as_object() else {
            return Err("invalid type: expected struct Checkpoint".into());
        };
        let f = Fields(obj);
        let text = |name: &str| f.with(name, read::string);
        let cursor = || f.with("cursor", Cursor::read);
        let table = text("table")?;
        let kind = f.req("phase")?.as_str().ok_or("invalid type: expected variant identifier")?;
        let phase = match kind {
            "notStarted" => Phase::NotStarted,
            "tracking" => Phase::Tracking { cursor: cursor()? },
            "downloading" => Phase::Downloading { delta_link: text("deltaLink")?, cursor: cursor()? },
            "done" => Phase::Done { delta_link: text("deltaLink")? },
            other => {
                return Err(format!(
                    "unknown variant `{other}`, expected one of `notStarted`, `tracking`, `downloading`, `done`"
                ))
            }
        };
        let page_size = f.opt("pageSize", read::u32)?;
        Ok(Checkpoint { table, phase, rows: f.with("rows", read::u64)?, pages: f.with("pages", read::u64)?, page_size })
    }
}

crate::deserialize_by_hand!(Checkpoint);

impl Checkpoint {
    /// A table whose first sync has not started.
    pub fn new(table: &str) -> Checkpoint {
        Checkpoint { table: table.to_ascii_lowercase(), phase: Phase::NotStarted, rows: 0, pages: 0, page_size: None }
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

    /// The next request of the first sync; `None` when it is complete. `page_size`: rows per page, unless the
    /// checkpoint holds the download's own ([`Checkpoint::with_page_size`]).
    pub fn next_request(&self, plan: &SyncPlan, page_size: u32) -> Result<Option<Request>> {
        let tp = plan.require_table(&self.table)?;
        let def = plan.schema().require_table(&tp.table)?;
        Ok(match &self.phase {
            Phase::NotStarted => Some(track_changes_request(def, &Cursor::Start, page_size)),
            Phase::Tracking { cursor } => Some(track_changes_request(def, cursor, page_size)),
            Phase::Downloading { cursor, .. } => {
                tp.download.as_ref().map(|q| q.request(cursor, self.page_size.unwrap_or(page_size)))
            }
            Phase::Done { .. } => None,
        })
    }

    /// The checkpoint reading the rest of the download with pages of about `wanted` rows (`default`: the size the
    /// pages were read with so far when the checkpoint holds none), so a host can bound a page's bytes once it has
    /// seen how large the rows are. The next page must still start at the next row: Dataverse (without a paging
    /// cookie) and the reference server number FetchXML pages by position, page `p` of `count` rows starting at
    /// row `(p - 1) × count`. So the size becomes the largest one at most `wanted` that divides the rows read so
    /// far, and the page number is recomputed from it: a page can shrink at any boundary, and double once the rows
    /// read are a multiple of twice the size. At the start of the download any size goes; a `@odata.nextLink`
    /// carries its own paging and keeps the size.
    pub fn with_page_size(&self, wanted: u32, default: u32) -> Checkpoint {
        let wanted = wanted.max(1);
        let current = self.page_size.unwrap_or(default).max(1);
        let mut next = self.clone();
        match &self.phase {
            Phase::Downloading { delta_link, cursor: Cursor::Start } => {
                next.page_size = Some(wanted);
                next.phase = Phase::Downloading { delta_link: delta_link.clone(), cursor: Cursor::Start };
            }
            Phase::Downloading { delta_link, cursor: Cursor::FetchPage { page, cookie } } => {
                let offset = u64::from(page.saturating_sub(1)) * u64::from(current);
                let Some(size) = (1..=wanted).rev().find(|s| offset % u64::from(*s) == 0) else { return next };
                let Ok(page) = u32::try_from(offset / u64::from(size) + 1) else { return next };
                next.page_size = Some(size);
                let cursor = Cursor::FetchPage { page, cookie: cookie.clone() };
                next.phase = Phase::Downloading { delta_link: delta_link.clone(), cursor };
            }
            _ => {}
        }
        next
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
        let bad = |e: String| Error::new(ErrorCode::InvalidJson, format!("the sync checkpoint is not valid: {e}"));
        Checkpoint::read(&serde_json::from_str(text).map_err(|e| bad(e.to_string()))?).map_err(bad)
    }
}

/// Whether every table finished its first sync: the client state becomes `Offline` only then (until it does,
/// `Xrm.WebApi` answers from the server). Tables of `plan` without a checkpoint have not started.
pub fn first_sync_complete(plan: &SyncPlan, checkpoints: &[Checkpoint]) -> bool {
    plan.tables().iter().all(|t| checkpoints.iter().any(|c| c.table == t.table && c.is_done()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// The derives the written-out `Deserialize` replaces, for comparison.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "phase", rename_all = "camelCase")]
    enum DerivedPhase {
        NotStarted,
        Tracking {
            cursor: Cursor,
        },
        Downloading {
            #[serde(rename = "deltaLink")]
            delta_link: String,
            cursor: Cursor,
        },
        Done {
            #[serde(rename = "deltaLink")]
            delta_link: String,
        },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Derived {
        table: String,
        #[serde(flatten)]
        phase: DerivedPhase,
        rows: u64,
        pages: u64,
        #[serde(default, rename = "pageSize")]
        page_size: Option<u32>,
    }

    #[test]
    fn checkpoint_reads_what_the_derive_reads() {
        let link = json!({"kind": "link", "url": "https://o/next"});
        let samples = [
            json!({"table": "account", "phase": "notStarted", "rows": 0, "pages": 0}),
            json!({"table": "account", "phase": "tracking", "cursor": {"kind": "start"}, "rows": 1, "pages": 2}),
            json!({"table": "account", "phase": "downloading", "deltaLink": "d", "cursor": link, "rows": 5, "pages": 1}),
            json!({"table": "account", "phase": "done", "deltaLink": "d", "rows": 5, "pages": 1, "extra": true}),
            json!({"table": "account", "phase": "downloading", "deltaLink": "d", "cursor": link, "rows": 5, "pages": 1,
                "pageSize": 500}),
            json!({"table": "account", "phase": "notStarted", "rows": 0, "pages": 0, "pageSize": null}),
            json!({"table": "account", "phase": "done", "rows": 5, "pages": 1}),
            json!({"table": "account", "phase": "tracking", "rows": 5, "pages": 1}),
            json!({"table": "account", "phase": "tracking", "cursor": {"kind": "nope"}, "rows": 5, "pages": 1}),
            json!({"table": "account", "phase": "later", "rows": 5, "pages": 1}),
            json!({"table": "account", "rows": 5, "pages": 1}),
            json!({"phase": "notStarted", "rows": 0, "pages": 0}),
            json!({"table": "account", "phase": "notStarted", "pages": 0}),
            json!({"table": "account", "phase": "notStarted", "rows": -1, "pages": 0}),
            json!({"table": "account", "phase": "notStarted", "rows": 0, "pages": "0"}),
            json!({"table": 7, "phase": "notStarted", "rows": 0, "pages": 0}),
            json!({"table": "account", "phase": "done", "deltaLink": 3, "rows": 0, "pages": 0}),
        ];
        for v in samples {
            let ours = serde_json::from_value::<Checkpoint>(v.clone()).map_err(|e| e.to_string());
            let derived = serde_json::from_value::<Derived>(v.clone()).map_err(|e| e.to_string());
            match (&ours, &derived) {
                (Ok(a), Ok(b)) => {
                    let phase = match &b.phase {
                        DerivedPhase::NotStarted => Phase::NotStarted,
                        DerivedPhase::Tracking { cursor } => Phase::Tracking { cursor: cursor.clone() },
                        DerivedPhase::Downloading { delta_link, cursor } => {
                            Phase::Downloading { delta_link: delta_link.clone(), cursor: cursor.clone() }
                        }
                        DerivedPhase::Done { delta_link } => Phase::Done { delta_link: delta_link.clone() },
                    };
                    let expected = Checkpoint {
                        table: b.table.clone(),
                        phase,
                        rows: b.rows,
                        pages: b.pages,
                        page_size: b.page_size,
                    };
                    assert_eq!(*a, expected, "{v}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{v}"),
                _ => panic!("{v}: {ours:?} vs {derived:?}"),
            }
        }
    }
}
