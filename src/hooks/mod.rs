//! Offline workflow hooks (SPEC section 5, docs/HOOKS.md): the rules that need no browser.
//!
//! Handlers are user JavaScript and run in `js/hooks.js`; this module decides everything around them: what a queue
//! entry holds ([`HookEntry`]), which entry runs next ([`next_post`], [`next_online`]), what a failure means (retry
//! with backoff or dead letter, [`after_failure`]), how deep hook-triggered writes may nest ([`check_depth`]), and
//! the counts the status shows ([`status`]). The `hookqueue` store keeps both kinds of entries, keyed by an
//! auto-incremented `seq` (queue order).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::read::{self, Fields, Read};

/// How deep writes made by hooks may nest: a user's write is depth 0, a write a post hook of it makes is depth 1,
/// and so on. A write deeper than this is refused (Dataverse stops plug-in chains at depth 8 too).
pub const MAX_DEPTH: u32 = 8;
/// Runs of an entry before it goes to the dead-letter list.
pub const MAX_ATTEMPTS: u32 = 5;
/// First retry delay (the default; `XrmOffline.open({ hookRetryBaseMs })` changes it); doubles per attempt.
pub const BASE_DELAY_MS: u64 = 1000;
/// Longest retry delay.
pub const MAX_DELAY_MS: u64 = 5 * 60 * 1000;

/// The kind of a queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// A post-hook invocation, queued with the write that triggered it.
    Post,
    /// Online-only work (an action or function request) waiting for the network and for earlier uploads.
    Online,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryState {
    /// Waiting to run (maybe after a retry delay).
    Pending,
    /// Out of attempts, or failed in a way a retry can't fix: in the dead-letter list until retried or discarded.
    Dead,
}

/// The error of a failed run, as stored with the entry and reported.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The error message.
    #[serde(default)]
    pub message: String,
    /// The error's `errorCode` when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<f64>,
    /// The error's `errorName` when it has one (`NetworkUnavailable`, `HookDepthExceeded`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// The HTTP status of an online request the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// One entry of the `hookqueue` store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookEntry {
    /// Queue position (IndexedDB assigns it on insert; absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Post hook or online work.
    pub kind: EntryKind,
    /// Pending or dead.
    pub state: EntryState,
    /// Post: the registered hook name. Online: the request's operation name.
    pub name: String,
    /// Post: the table written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Post: `Create`, `Update` or `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Post: the id of the row written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Post: the row as committed (null after a delete).
    #[serde(default)]
    pub record: Value,
    /// Post: the row before the write (null after a create).
    #[serde(default)]
    pub previous: Value,
    /// Post: the depth of the write that queued it (its handler's writes are one deeper).
    #[serde(default)]
    pub depth: u32,
    /// Online: the request as sent (`{method, path, body?, headers?}`).
    #[serde(default)]
    pub request: Value,
    /// Online: the last outbox `seq` queued before this entry; it runs once no outbox entry up to it is left.
    #[serde(default)]
    pub after_outbox_seq: u64,
    /// Runs so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time (ms since the epoch).
    #[serde(default)]
    pub next_attempt_at: f64,
    /// When it was queued (ms since the epoch).
    #[serde(default)]
    pub queued_on: f64,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<Failure>,
}

// `Deserialize` is written out (crate::read says why); the tests compare it with the derive.
impl EntryKind {
    pub(crate) fn read(v: &Value) -> Read<EntryKind> {
        Ok([EntryKind::Post, EntryKind::Online][read::variant(v, &["post", "online"])?])
    }
}

impl EntryState {
    pub(crate) fn read(v: &Value) -> Read<EntryState> {
        Ok([EntryState::Pending, EntryState::Dead][read::variant(v, &["pending", "dead"])?])
    }
}

impl Failure {
    pub(crate) fn read(v: &Value) -> Read<Failure> {
        let f = Fields::of(v, "Failure")?;
        Ok(Failure {
            message: f.or_default("message", read::string)?,
            error_code: f.opt("errorCode", read::f64)?,
            error_name: f.opt("errorName", read::string)?,
            status: f.opt("status", read::u16)?,
        })
    }
}

impl HookEntry {
    pub(crate) fn read(v: &Value) -> Read<HookEntry> {
        let f = Fields::of(v, "HookEntry")?;
        Ok(HookEntry {
            seq: f.opt("seq", read::u64)?,
            kind: f.with("kind", EntryKind::read)?,
            state: f.with("state", EntryState::read)?,
            name: f.with("name", read::string)?,
            table: f.opt("table", read::string)?,
            message: f.opt("message", read::string)?,
            id: f.opt("id", read::string)?,
            record: f.value("record"),
            previous: f.value("previous"),
            depth: f.or_default("depth", read::u32)?,
            request: f.value("request"),
            after_outbox_seq: f.or_default("afterOutboxSeq", read::u64)?,
            attempts: f.or_default("attempts", read::u32)?,
            next_attempt_at: f.or_default("nextAttemptAt", read::f64)?,
            queued_on: f.or_default("queuedOn", read::f64)?,
            last_error: f.opt("lastError", Failure::read)?,
        })
    }
}

crate::deserialize_by_hand!(EntryKind);
crate::deserialize_by_hand!(EntryState);
crate::deserialize_by_hand!(Failure);
crate::deserialize_by_hand!(HookEntry);

/// The messages a hook can be registered for.
pub const MESSAGES: [&str; 3] = ["Create", "Update", "Delete"];

/// Checks a registration's message and stage (`pre` / `post`).
pub fn check_registration(name: &str, message: &str, stage: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::argument("a hook needs a non-empty name (entries queued for it are found by that name)"));
    }
    if !MESSAGES.contains(&message) {
        return Err(Error::argument(format!(
            "hook '{name}': message must be \"Create\", \"Update\" or \"Delete\", not \"{message}\""
        )));
    }
    if stage != "pre" && stage != "post" {
        return Err(Error::argument(format!("hook '{name}': stage must be \"pre\" or \"post\", not \"{stage}\"")));
    }
    Ok(())
}

/// A post-hook entry for a committed write.
#[allow(clippy::too_many_arguments)]
pub fn post_entry(
    name: &str,
    table: &str,
    message: &str,
    id: &str,
    record: Value,
    previous: Value,
    depth: u32,
    now_ms: f64,
) -> HookEntry {
    HookEntry {
        seq: None,
        kind: EntryKind::Post,
        state: EntryState::Pending,
        name: name.to_string(),
        table: Some(table.to_string()),
        message: Some(message.to_string()),
        id: Some(id.to_string()),
        record,
        previous,
        depth,
        request: Value::Null,
        after_outbox_seq: 0,
        attempts: 0,
        next_attempt_at: 0.0,
        queued_on: now_ms,
        last_error: None,
    }
}

/// An online-work entry that waits for the outbox entries up to `after_outbox_seq` (0: none).
pub fn online_entry(name: &str, request: Value, after_outbox_seq: u64, now_ms: f64) -> HookEntry {
    HookEntry {
        seq: None,
        kind: EntryKind::Online,
        state: EntryState::Pending,
        name: name.to_string(),
        table: None,
        message: None,
        id: None,
        record: Value::Null,
        previous: Value::Null,
        depth: 0,
        request,
        after_outbox_seq,
        attempts: 0,
        next_attempt_at: 0.0,
        queued_on: now_ms,
        last_error: None,
    }
}

/// Refuses a write deeper than [`MAX_DEPTH`]: a chain of post hooks that keeps writing (a loop) stops here with an
/// error that names the chain's depth.
pub fn check_depth(depth: u32, what: &str) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::new(
            ErrorCode::HookDepthExceeded,
            format!(
                "{what}: hooks nested deeper than {MAX_DEPTH} writes (a post hook whose writes trigger hooks that write again, \
                 probably a loop): the write was refused; make the hook skip the records it wrote itself"
            ),
        ));
    }
    Ok(())
}

/// The wait before run `attempts + 1` (after `attempts` failed runs): `base`, twice `base`, four times... at most 5
/// minutes (1 s, 2 s, 4 s... with the default base).
pub fn retry_delay_ms(attempts: u32, base_ms: u64) -> u64 {
    let exp = attempts.saturating_sub(1).min(20);
    base_ms.saturating_mul(1u64 << exp).min(MAX_DELAY_MS)
}

/// Whether running the entry again could succeed. Post hooks: any failure but a depth-limit refusal (a loop fails
/// the same way every time). Online work: the network or the server being unavailable (no answer, 408, 429, 5xx);
/// any other answer is the server's verdict on the request.
pub fn is_retryable(kind: EntryKind, failure: &Failure) -> bool {
    if failure.error_name.as_deref() == Some(ErrorCode::HookDepthExceeded.name()) {
        return false;
    }
    match kind {
        EntryKind::Post => true,
        EntryKind::Online => match failure.status {
            None => true,
            Some(s) => s == 408 || s == 429 || s >= 500,
        },
    }
}

/// What a failure did to an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AfterFailure {
    /// The entry to store back.
    pub entry: HookEntry,
    /// Whether it went to the dead-letter list.
    pub dead: bool,
    /// When it will run again (absent when dead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
}

/// Records a failed run: retried after [`retry_delay_ms`] until [`MAX_ATTEMPTS`] runs, then dead; a failure
/// [`is_retryable`] says can't be fixed by retrying is dead at once. `retry_after_ms` (a server's Retry-After) is a
/// floor for the delay; `base_ms` is the first delay.
pub fn after_failure(
    entry: &HookEntry,
    failure: Failure,
    retry_after_ms: Option<u64>,
    base_ms: u64,
    now_ms: f64,
) -> AfterFailure {
    let mut e = entry.clone();
    e.attempts = e.attempts.saturating_add(1);
    let retryable = is_retryable(e.kind, &failure);
    e.last_error = Some(failure);
    if !retryable || e.attempts >= MAX_ATTEMPTS {
        e.state = EntryState::Dead;
        return AfterFailure { entry: e, dead: true, retry_in_ms: None };
    }
    let delay = retry_delay_ms(e.attempts, base_ms).max(retry_after_ms.unwrap_or(0));
    e.next_attempt_at = now_ms + delay as f64;
    AfterFailure { entry: e, dead: false, retry_in_ms: Some(delay) }
}

/// A dead (or waiting) entry put back at the head of its retries: pending, no attempts, due now.
pub fn revive(entry: &HookEntry) -> HookEntry {
    let mut e = entry.clone();
    e.state = EntryState::Pending;
    e.attempts = 0;
    e.next_attempt_at = 0.0;
    e
}

/// Which post entry runs next, or why none does.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextPost {
    /// The entry to run now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
    /// When nothing is due yet: the wait until the earliest retry of an entry whose handler is registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_in_ms: Option<u64>,
}

/// The row of an entry as one text (table, NUL, id: a set of `String` is compiled anyway, a set of pairs would add
/// its own code).
fn record_key(e: &HookEntry) -> String {
    format!("{}\0{}", e.table.as_deref().unwrap_or_default(), e.id.as_deref().unwrap_or_default())
}

/// The next post entry to run: pending entries in queue order; one runs when its handler is registered and it is
/// due, unless an earlier pending entry of the same row is still waiting (for its retry or for its handler), so the
/// hooks of one row always run in the order of its writes. Entries of other rows don't wait for a failing one.
pub fn next_post(entries: &[HookEntry], registered: &BTreeSet<String>, now_ms: f64) -> NextPost {
    let mut sorted: Vec<&HookEntry> =
        entries.iter().filter(|e| e.kind == EntryKind::Post && e.state == EntryState::Pending).collect();
    crate::sort::sort_by_key(&mut sorted, |e| e.seq.unwrap_or(u64::MAX));
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut wake: Option<f64> = None;
    for e in sorted {
        let key = record_key(e);
        if blocked.contains(&key) {
            continue;
        }
        let has_handler = registered.contains(&e.name);
        if has_handler && e.next_attempt_at <= now_ms {
            return NextPost { run: e.seq, wake_in_ms: None };
        }
        if has_handler {
            let w = e.next_attempt_at - now_ms;
            wake = Some(wake.map_or(w, |x: f64| x.min(w)));
        }
        blocked.insert(key);
    }
    NextPost { run: None, wake_in_ms: wake.map(|w| w.ceil().max(0.0) as u64) }
}

/// Which online entry runs next, or why none does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum NextOnline {
    /// Nothing is queued.
    Idle,
    /// Run this entry now.
    Run {
        /// Its `seq`.
        seq: u64,
    },
    /// The head waits for uploads queued before it.
    WaitingForUploads {
        /// Its `seq`.
        seq: u64,
    },
    /// The head waits for its retry.
    WaitingForRetry {
        /// Its `seq`.
        seq: u64,
        /// Time left.
        #[serde(rename = "wakeInMs")]
        wake_in_ms: u64,
    },
}

/// The next online entry: strictly first in, first out (later work may depend on earlier work), and only once
/// every outbox entry queued before it has left the outbox (uploaded, or settled as a sync error).
/// `min_outbox_seq` is the smallest `seq` still in the outbox.
pub fn next_online(entries: &[HookEntry], min_outbox_seq: Option<u64>, now_ms: f64) -> NextOnline {
    let head = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Online && e.state == EntryState::Pending)
        .min_by_key(|e| e.seq.unwrap_or(u64::MAX));
    let Some(head) = head else { return NextOnline::Idle };
    let seq = head.seq.unwrap_or(0);
    if min_outbox_seq.is_some_and(|m| m <= head.after_outbox_seq) {
        return NextOnline::WaitingForUploads { seq };
    }
    if head.next_attempt_at > now_ms {
        return NextOnline::WaitingForRetry { seq, wake_in_ms: (head.next_attempt_at - now_ms).ceil() as u64 };
    }
    NextOnline::Run { seq }
}

/// Queue lengths and failures, for `hooks.status()` and `sync.status()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    /// Post-hook entries waiting to run.
    pub post_queued: u64,
    /// Online work waiting to run.
    pub online_queued: u64,
    /// Entries in the dead-letter list.
    pub failed: u64,
    /// Pending entries that failed at least once and wait for a retry.
    pub retrying: u64,
    /// Hook names with pending entries but no registered handler (they run once it is registered again).
    pub waiting_for_handler: Vec<String>,
}

/// Counts the queue.
pub fn status(entries: &[HookEntry], registered: &BTreeSet<String>) -> QueueStatus {
    let mut s = QueueStatus::default();
    let mut waiting = BTreeSet::new();
    for e in entries {
        match (e.state, e.kind) {
            (EntryState::Dead, _) => s.failed += 1,
            (EntryState::Pending, kind) => {
                if kind == EntryKind::Post {
                    s.post_queued += 1;
                    if !registered.contains(&e.name) {
                        waiting.insert(e.name.clone());
                    }
                } else {
                    s.online_queued += 1;
                }
                if e.attempts > 0 {
                    s.retrying += 1;
                }
            }
        }
    }
    s.waiting_for_handler = waiting.into_iter().collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(seq: u64, name: &str, id: &str) -> HookEntry {
        let mut e = post_entry(name, "msdyn_workorder", "Update", id, json!({"a": 1}), json!({"a": 0}), 0, 0.0);
        e.seq = Some(seq);
        e
    }

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entries_round_trip_without_a_seq_until_stored() {
        let e = post_entry("h", "account", "Create", "x", json!({"name": "n"}), Value::Null, 2, 5.0);
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("seq").is_none(), "IndexedDB assigns seq: a null key would be refused");
        assert_eq!(v["kind"], "post");
        assert_eq!(v["state"], "pending");
        assert_eq!(v["depth"], 2);
        let back: HookEntry =
            serde_json::from_value(json!({"seq": 3, "kind": "online", "state": "dead", "name": "A"})).unwrap();
        assert_eq!(back.seq, Some(3));
        assert_eq!(back.kind, EntryKind::Online);
        assert_eq!(serde_json::from_value::<HookEntry>(v).unwrap(), e);
    }

    #[test]
    fn registrations_are_checked() {
        assert!(check_registration("h", "Update", "post").is_ok());
        assert_eq!(check_registration("h", "update", "post").unwrap_err().code, ErrorCode::InvalidArgument);
        assert!(check_registration("h", "Create", "after").unwrap_err().message.contains("stage"));
        assert!(check_registration(" ", "Create", "pre").is_err());
    }

    #[test]
    fn depth_limit_refuses_the_ninth_nested_write() {
        assert!(check_depth(0, "createRecord").is_ok());
        assert!(check_depth(MAX_DEPTH, "createRecord").is_ok());
        let e = check_depth(MAX_DEPTH + 1, "createRecord").unwrap_err();
        assert_eq!(e.code, ErrorCode::HookDepthExceeded);
        assert_eq!(e.code.hex(), 0x8004_4182);
        assert!(e.message.contains("loop"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(retry_delay_ms(1, BASE_DELAY_MS), 1000);
        assert_eq!(retry_delay_ms(2, BASE_DELAY_MS), 2000);
        assert_eq!(retry_delay_ms(4, BASE_DELAY_MS), 8000);
        assert_eq!(retry_delay_ms(30, BASE_DELAY_MS), MAX_DELAY_MS);
        assert_eq!(retry_delay_ms(3, 10), 40);
    }

    #[test]
    fn failures_retry_then_go_to_the_dead_letter_list() {
        let mut e = post(1, "h", "a");
        let fail = || Failure { message: "boom".into(), ..Failure::default() };
        for attempt in 1..MAX_ATTEMPTS {
            let r = after_failure(&e, fail(), None, BASE_DELAY_MS, 100.0);
            assert!(!r.dead, "attempt {attempt}");
            assert_eq!(r.retry_in_ms, Some(retry_delay_ms(attempt, BASE_DELAY_MS)));
            assert_eq!(r.entry.next_attempt_at, 100.0 + retry_delay_ms(attempt, BASE_DELAY_MS) as f64);
            assert_eq!(r.entry.attempts, attempt);
            e = r.entry;
        }
        let r = after_failure(&e, fail(), None, BASE_DELAY_MS, 100.0);
        assert!(r.dead);
        assert_eq!(r.entry.state, EntryState::Dead);
        assert_eq!(r.entry.last_error.as_ref().unwrap().message, "boom");
        let back = revive(&r.entry);
        assert_eq!((back.state, back.attempts, back.next_attempt_at), (EntryState::Pending, 0, 0.0));
    }

    #[test]
    fn a_loop_is_dead_at_once_and_retry_after_is_a_floor() {
        let e = post(1, "h", "a");
        let depth = Failure { error_name: Some("HookDepthExceeded".into()), ..Failure::default() };
        assert!(after_failure(&e, depth, None, BASE_DELAY_MS, 0.0).dead);
        let online = online_entry("msdyn_CompleteWorkOrder", json!({}), 0, 0.0);
        let bad_request = Failure { status: Some(400), ..Failure::default() };
        assert!(after_failure(&online, bad_request, None, BASE_DELAY_MS, 0.0).dead, "the server's 400 won't change");
        let busy = Failure { status: Some(503), ..Failure::default() };
        let r = after_failure(&online, busy, Some(30_000), BASE_DELAY_MS, 0.0);
        assert_eq!(r.retry_in_ms, Some(30_000));
        assert!(is_retryable(EntryKind::Online, &Failure { status: Some(429), ..Failure::default() }));
        assert!(is_retryable(EntryKind::Online, &Failure::default()), "no answer: retry");
    }

    #[test]
    fn post_entries_run_in_order_and_a_rows_hooks_keep_their_order() {
        let reg = names(&["h", "g"]);
        let entries = vec![post(2, "h", "a"), post(1, "h", "a"), post(3, "g", "b")];
        assert_eq!(next_post(&entries, &reg, 0.0).run, Some(1));
        // Entry 1 failed and waits: entry 2 (same row) waits behind it, entry 3 (another row) runs.
        let mut waiting = entries.clone();
        waiting[1].next_attempt_at = 5000.0;
        waiting[1].attempts = 1;
        assert_eq!(next_post(&waiting, &reg, 1000.0).run, Some(3));
        waiting.retain(|e| e.seq != Some(3));
        assert_eq!(next_post(&waiting, &reg, 1000.0), NextPost { run: None, wake_in_ms: Some(4000) });
        assert_eq!(next_post(&waiting, &reg, 5000.0).run, Some(1));
    }

    #[test]
    fn entries_without_a_handler_wait_for_it() {
        let entries = vec![post(1, "gone", "a"), post(2, "h", "a"), post(3, "h", "b")];
        let reg = names(&["h"]);
        assert_eq!(next_post(&entries, &reg, 0.0).run, Some(3), "row a waits for 'gone' to be registered");
        assert_eq!(next_post(&entries[..2], &reg, 0.0), NextPost::default());
        assert_eq!(next_post(&entries, &names(&["h", "gone"]), 0.0).run, Some(1));
        let s = status(&entries, &reg);
        assert_eq!(s.post_queued, 3);
        assert_eq!(s.waiting_for_handler, vec!["gone".to_string()]);
        let mut dead = entries.clone();
        dead[0].state = EntryState::Dead;
        assert_eq!(next_post(&dead, &reg, 0.0).run, Some(2), "dead entries don't block");
        assert_eq!(status(&dead, &reg).failed, 1);
    }

    #[test]
    fn online_work_waits_for_the_uploads_queued_before_it() {
        let mut a = online_entry("A", json!({}), 7, 0.0);
        a.seq = Some(10);
        let mut b = online_entry("B", json!({}), 9, 0.0);
        b.seq = Some(11);
        let q = vec![b.clone(), a.clone()];
        assert_eq!(next_online(&q, Some(7), 0.0), NextOnline::WaitingForUploads { seq: 10 });
        assert_eq!(next_online(&q, Some(8), 0.0), NextOnline::Run { seq: 10 }, "outbox entry 8 came after A");
        assert_eq!(next_online(&q, None, 0.0), NextOnline::Run { seq: 10 });
        assert_eq!(next_online(&q[..1], Some(8), 0.0), NextOnline::WaitingForUploads { seq: 11 });
        let mut retry = q.clone();
        retry[1].next_attempt_at = 500.0;
        assert_eq!(next_online(&retry, None, 100.0), NextOnline::WaitingForRetry { seq: 10, wake_in_ms: 400 });
        retry[1].state = EntryState::Dead;
        assert_eq!(next_online(&retry, None, 100.0), NextOnline::Run { seq: 11 }, "a dead head no longer blocks");
        assert_eq!(next_online(&[], None, 0.0), NextOnline::Idle);
        assert_eq!(status(&q, &BTreeSet::new()).online_queued, 2);
    }
}
