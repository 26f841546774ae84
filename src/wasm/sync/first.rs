//! The first sync in the browser host: every table's change-tracking read and download, pages read ahead of the
//! writes across tables, written in sync order (docs/SYNC.md "First-sync checkpoints").
//!
//! The loops run together in one task: two *readers* (each takes the next table not started, and sends its requests:
//! change tracking, then the download pages, each page needing the paging cookie of the page before) queue what
//! each page brings with the checkpoint to store after it; the *writer* stores the queued pages in the order they
//! arrived, each with its checkpoint in one transaction. A reader starts a download page only while fewer than
//! [`AHEAD`] pages are in flight or wait to be written, so memory holds at most the page being written, `AHEAD`
//! pages, and small change-tracking pages: it does not grow with the tables. With two tables read at once, a page
//! arrives while another is written instead of the writer waiting for each request's round trip.
//!
//! Crash safety is that of the sequential loop: a table's pages are stored in the order they were read, each page's
//! rows with that table's checkpoint that says they are stored (tables' checkpoints are independent, so two tables'
//! pages may interleave). A change-tracking page stores nothing, so its checkpoint is kept
//! in memory and written with the table's next page (which supersedes it), or alone when it ends the table or when
//! the pass stops; a pass interrupted before reads the change tracking again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Poll, Waker};

use js_sys::Array;
use serde_json::Value;

use super::mirror::{self, Local};
use super::transport::SendError;
use super::{failed, store_failed, Pass, Report, SyncInner};
use crate::store::layout::{table_store, META};
use crate::sync::{first_sync_complete, Changes, Checkpoint, Cursor};
use crate::wasm::store::{idb, idb_err, rowcache, stores};

/// Tables downloaded at once. A table's pages come one after the other (each FetchXML page needs the paging cookie
/// of the page before), so with one reader the writer sat idle while each request made its round trip; a second
/// reader on another table keeps a page arriving while one is written.
const READERS: usize = 2;
/// Download pages in flight or read and not yet written, across the readers (the page being written not counted).
const AHEAD: usize = 2;
/// The JSON a download page should hold at most: a page is in memory as text, then as objects, while the next one
/// arrives, so this bounds the first sync's memory whatever the size of the tables.
const PAGE_BYTES: f64 = 2.0 * 1024.0 * 1024.0;
/// Rows of the pass's first download page (how large rows are is not known yet; a small page also starts the
/// writes sooner). A table's first page is sized from the rows of the table before, at most [`FIRST_ROWS_MAX`].
const FIRST_ROWS: u32 = 250;
const FIRST_ROWS_MAX: u32 = 1000;

/// A page read, with the checkpoint to store after it.
enum Fetched {
    /// A change-tracking page (ids only: nothing to store but the checkpoint).
    Checkpoint { table: usize, cp: Checkpoint },
    /// A download page's rows as JS objects (the split transport), written as they are.
    Rows { table: usize, cp: Checkpoint, rows: Array, n: u32 },
    /// A download page the core read (a transport that answers with the whole body).
    Changes { table: usize, cp: Checkpoint, changes: Changes },
}

impl Fetched {
    fn holds_rows(&self) -> bool {
        !matches!(self, Fetched::Checkpoint { .. })
    }
}

/// What the reader and the writer share.
#[derive(Default)]
struct Pipe {
    queue: VecDeque<Fetched>,
    /// Download pages in the queue.
    pages: usize,
    /// Download requests in flight.
    reading: usize,
    /// Set when the reader is finished: `Err` when a read failed.
    finished: Option<Result<(), SendError>>,
    /// Set when the writer stopped (a write failed): the reader stops too.
    stopped: bool,
    /// The task to wake when the other loop changed something.
    waker: Option<Waker>,
}

impl Pipe {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// Waits until `ready` returns a value (checked again each time the task is woken).
fn until<'a, T>(
    pipe: &'a RefCell<Pipe>,
    mut ready: impl FnMut(&mut Pipe) -> Option<T> + 'a,
) -> impl Future<Output = T> + 'a {
    poll_fn(move |cx| {
        let mut p = pipe.borrow_mut();
        match ready(&mut p) {
            Some(v) => Poll::Ready(v),
            None => {
                p.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}

/// Runs `side` alongside `main` in the same task until `main` completes (`side` is dropped then, finished or not).
async fn alongside<T>(main: impl Future<Output = T>, side: impl Future<Output = ()>) -> T {
    let mut main = pin!(main);
    let mut side = pin!(side);
    let mut side_done = false;
    poll_fn(|cx| {
        if !side_done && side.as_mut().poll(cx).is_ready() {
            side_done = true;
        }
        main.as_mut().poll(cx)
    })
    .await
}

/// Runs every future of `all` in the same task until all are `Ok` or one is `Err` (the others are dropped then).
async fn all_ok<E, F: Future<Output = Result<(), E>>>(all: impl Iterator<Item = F>) -> Result<(), E> {
    let mut all: Vec<Option<Pin<Box<F>>>> = all.map(|f| Some(Box::pin(f))).collect();
    poll_fn(|cx| {
        for slot in all.iter_mut() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => *slot = None,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
        }
        match all.iter().all(Option::is_none) {
            true => Poll::Ready(Ok(())),
            false => Poll::Pending,
        }
    })
    .await
}

impl SyncInner {
    /// First sync (or its resumption) of every table not done yet. Returns whether all are done.
    ///
    /// Download pages take the short path: the transport parses the body in JS (`JSON.parse`) and hands back the
    /// rows as JS objects, which are written as they are (ids lower-cased) with the page's checkpoint in one
    /// transaction; only the paging fields cross into wasm. The rows are the server's selection (the scope), so
    /// they are not remembered for the eviction.
    pub(super) async fn first_sync(&self, pass: &mut Pass, report: &mut Report) -> Result<bool, SendError> {
        let mut cps = Vec::with_capacity(self.plan.tables().len());
        for tp in self.plan.tables() {
            cps.push(self.checkpoint(&tp.table).await.map_err(store_failed)?);
        }
        let pipe = RefCell::new(Pipe::default());
        let starts = cps.clone();
        let reader = async {
            let r = self.read_pages(&starts, &pipe).await;
            let mut p = pipe.borrow_mut();
            p.finished = Some(r);
            p.wake();
        };
        let writer = self.write_pages(pass, report, &mut cps, &pipe);
        let outcome = alongside(writer, reader).await;
        let wrote_directly = match outcome {
            Ok(w) => w,
            Err((w, e)) => {
                self.forget_direct_writes(pass, w).await?;
                return Err(e);
            }
        };
        self.forget_direct_writes(pass, wrote_directly).await?;
        Ok(first_sync_complete(&self.plan, &cps))
    }

    /// Rows were written without the pass's local rows knowing: the lean form forgets what it cached, the full
    /// form is loaded again.
    async fn forget_direct_writes(&self, pass: &mut Pass, wrote: bool) -> Result<(), SendError> {
        if !wrote {
            return Ok(());
        }
        match pass.local {
            Local::Lean(_) => pass.local.forget_rows(),
            Local::Full(_) => {
                pass.local =
                    Local::Full(mirror::load(&self.store, &self.plan, &self.projection).await.map_err(store_failed)?)
            }
        }
        Ok(())
    }

    /// The readers: every request of the first sync, [`READERS`] tables at a time (each reader takes the next table
    /// not started when it finishes one), each page queued with its checkpoint. Download pages are sized so a page
    /// holds about [`PAGE_BYTES`] of JSON, from the bytes per row of the page before (`Checkpoint::with_page_size`;
    /// `self.page_size` is the most rows a page may have).
    async fn read_pages(&self, cps: &[Checkpoint], pipe: &RefCell<Pipe>) -> Result<(), SendError> {
        let next_table = Cell::new(0usize);
        let row_bytes = Cell::new(None::<f64>);
        let reader = || async {
            loop {
                let i = next_table.get();
                if i >= cps.len() {
                    return Ok(());
                }
                next_table.set(i + 1);
                if !self.read_table(i, &cps[i], pipe, &row_bytes).await? {
                    return Ok(());
                }
            }
        };
        all_ok((0..READERS).map(|_| reader())).await
    }

    /// One table's requests (change tracking, then the download pages) from checkpoint `start`. Resolves with
    /// `false` when the writer stopped (nothing more to read).
    async fn read_table(
        &self,
        i: usize,
        start: &Checkpoint,
        pipe: &RefCell<Pipe>,
        row_bytes: &Cell<Option<f64>>,
    ) -> Result<bool, SendError> {
        let tp = &self.plan.tables()[i];
        let mut cp = start.clone();
        let mut table_started = false;
        loop {
            let downloading = cp.is_downloading();
            if downloading {
                let wanted = match row_bytes.get() {
                    None => FIRST_ROWS,
                    Some(b) if !table_started => ((PAGE_BYTES / b) as u32).min(FIRST_ROWS_MAX),
                    Some(b) => (PAGE_BYTES / b) as u32,
                };
                cp = cp.with_page_size(wanted.clamp(1, self.page_size), self.page_size);
            }
            let Some(req) = cp.next_request(&self.plan, self.page_size).map_err(failed)? else { return Ok(true) };
            if downloading {
                let go = until(pipe, |p| {
                    if p.stopped {
                        return Some(false);
                    }
                    (p.pages + p.reading < AHEAD).then(|| {
                        p.reading += 1;
                        true
                    })
                })
                .await;
                if !go {
                    return Ok(false);
                }
            }
            let cursor = cp.cursor().unwrap_or(Cursor::Start);
            let answer = self.transport.page_split(&req, &cursor, true, None).await;
            if downloading {
                pipe.borrow_mut().reading -= 1;
            }
            let (page, value) = answer?;
            // The answer's own bytes (the other reader's answers count in `traffic` too).
            let bytes = self.transport.last_bytes.get();
            let entry = match value {
                Some(rows) if downloading => {
                    if rows.length() > 0 {
                        row_bytes.set(Some(bytes as f64 / f64::from(rows.length())));
                        table_started = true;
                    }
                    let n = idb::keep_rows(&rows, &tp.primary_id);
                    let next = cp.advance(&self.plan, &page, u64::from(n)).map_err(failed)?;
                    Fetched::Rows { table: i, cp: next, rows, n }
                }
                Some(_) => Fetched::Checkpoint { table: i, cp: cp.advance(&self.plan, &page, 0).map_err(failed)? },
                None => {
                    // A transport that answers with the whole body: the rows come from the core.
                    if downloading && !page.rows.is_empty() {
                        row_bytes.set(Some(bytes as f64 / page.rows.len() as f64));
                        table_started = true;
                    }
                    let (changes, next) = cp.step(&self.plan, &page).map_err(failed)?;
                    match downloading {
                        true => Fetched::Changes { table: i, cp: next, changes },
                        false => Fetched::Checkpoint { table: i, cp: next },
                    }
                }
            };
            cp = match &entry {
                Fetched::Checkpoint { cp, .. } | Fetched::Rows { cp, .. } | Fetched::Changes { cp, .. } => cp.clone(),
            };
            let mut p = pipe.borrow_mut();
            p.pages += usize::from(entry.holds_rows());
            p.queue.push_back(entry);
            p.wake();
        }
    }

    /// The writer: stores the queued pages in order until the reader is finished and the queue is empty. Resolves
    /// with whether rows were written around the pass's local rows; on an error, with that and the error (after
    /// storing what was read before a failed read).
    async fn write_pages(
        &self,
        pass: &mut Pass,
        report: &mut Report,
        cps: &mut [Checkpoint],
        pipe: &RefCell<Pipe>,
    ) -> Result<bool, (bool, SendError)> {
        let total = cps.len();
        let mut wrote_directly = false;
        // Change-tracking checkpoints not stored yet (the table's next page stores its own).
        let mut unstored: Vec<Option<Checkpoint>> = vec![None; total];
        loop {
            let next = until(pipe, |p| {
                if let Some(e) = p.queue.pop_front() {
                    p.pages -= usize::from(e.holds_rows());
                    p.wake();
                    return Some(Some(e));
                }
                p.finished.is_some().then_some(None)
            })
            .await;
            let Some(entry) = next else { break };
            let written = self.write_page(pass, report, entry, &mut unstored, &mut wrote_directly).await;
            match written {
                Ok((i, cp)) => {
                    cps[i] = cp;
                    let done = cps.iter().filter(|c| c.is_done()).count();
                    self.progress_download(&self.plan.tables()[i].table, done, total, report);
                }
                Err(e) => {
                    pipe.borrow_mut().stopped = true;
                    return Err((wrote_directly, e));
                }
            }
        }
        let finished = pipe.borrow_mut().finished.take();
        match finished {
            Some(Err(e)) => {
                // The read failed: keep how far the change tracking got (best effort; it is read again otherwise).
                let ops: Array = unstored
                    .iter()
                    .flatten()
                    .filter_map(|cp| {
                        SyncInner::meta_op(&format!("checkpoint:{}", cp.table), &Value::String(cp.to_json())).ok()
                    })
                    .collect();
                if ops.length() > 0 {
                    let _ = idb::write(&self.store.db, stores(&[META]), ops).await;
                }
                Err((wrote_directly, e))
            }
            _ => Ok(wrote_directly),
        }
    }

    /// Stores one page read with its checkpoint; resolves with the table's index and the checkpoint now current.
    async fn write_page(
        &self,
        pass: &mut Pass,
        report: &mut Report,
        entry: Fetched,
        unstored: &mut [Option<Checkpoint>],
        wrote_directly: &mut bool,
    ) -> Result<(usize, Checkpoint), SendError> {
        let (i, cp) = match &entry {
            Fetched::Checkpoint { table, cp }
            | Fetched::Rows { table, cp, .. }
            | Fetched::Changes { table, cp, .. } => (*table, cp.clone()),
        };
        let key = format!("checkpoint:{}", self.plan.tables()[i].table);
        let meta = SyncInner::meta_op(&key, &Value::String(cp.to_json())).map_err(store_failed)?;
        unstored[i] = None;
        match entry {
            Fetched::Checkpoint { .. } if !cp.is_done() => unstored[i] = Some(cp.clone()),
            Fetched::Checkpoint { .. } => {
                self.write_changes(pass, &Changes::default(), vec![meta], &[META], false, None)
                    .await
                    .map_err(store_failed)?;
            }
            Fetched::Rows { rows, n, .. } => {
                // Placing the puts holds the thread for a while (each row is serialised then): first let the reader's
                // next request leave (the transport may await the access token before it calls fetch).
                idb::sleep(0.0).await;
                // The page's rows and the checkpoint that says they are stored: one transaction.
                let store = table_store(&cp.table);
                let extra: Array = [meta].into_iter().collect();
                rowcache::put_rows(&self.store, &[&store, META], &cp.table, &rows, extra)
                    .await
                    .map_err(|e| store_failed(idb_err("sync: storing rows", e)))?;
                report.downloaded += u64::from(n);
                *wrote_directly = true;
            }
            Fetched::Changes { changes, .. } => {
                report.downloaded += changes.puts.len() as u64;
                self.write_changes(pass, &changes, vec![meta], &[META], false, None).await.map_err(store_failed)?;
            }
        }
        Ok((i, cp))
    }
}
