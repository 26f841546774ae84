//! When tables sync: per-table effective intervals and which tables are due.
//!
//! A table syncs no less often than the tables it depends on: `effective(T) = min(T's interval, effective(D) for
//! every table D that T depends on)`, computed in sync order (dependencies first), clamped to 5..1440 minutes.
//! In the default profile every table is 5 minutes except `bookingstatus` (1440), which depends on nothing.
//! The rule keeps a child from being fresher than the parents that decide its scope: work order products sync
//! whenever work orders do.

use std::collections::HashMap;

use super::plan::SyncPlan;
use crate::profile::{MAX_SYNC_INTERVAL_MINUTES, MIN_SYNC_INTERVAL_MINUTES};

/// Milliseconds in a minute.
const MINUTE_MS: i64 = 60_000;

/// The effective interval of each table, in minutes, in sync order.
pub fn effective_intervals(plan: &SyncPlan) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    // Values held as `usize`: a map of this key type with `usize` values is compiled anyway (sync::scope).
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for t in plan.tables() {
        let own = t.interval_minutes.clamp(MIN_SYNC_INTERVAL_MINUTES, MAX_SYNC_INTERVAL_MINUTES);
        let effective =
            t.depends_on.iter().filter_map(|d| by_name.get(d.as_str()).map(|&m| m as u32)).fold(own, u32::min);
        by_name.insert(&t.table, effective as usize);
        out.push((t.table.clone(), effective));
    }
    out
}

/// The tables due at `now_ms`, in sync order: never synced, or last synced (successfully) at least their
/// effective interval ago. `last_sync` maps table logical names to the time of their last successful sync (ms).
/// A clock that went backwards (last sync in the future) makes the table due.
pub fn due_tables(plan: &SyncPlan, now_ms: i64, last_sync: &HashMap<String, i64>) -> Vec<String> {
    effective_intervals(plan)
        .into_iter()
        .filter(|(table, minutes)| match last_sync.get(table) {
            None => true,
            // Saturating: a stored time read back as far past (a corrupted or infinite value) must not overflow.
            Some(&last) => last > now_ms || now_ms.saturating_sub(last) >= i64::from(*minutes) * MINUTE_MS,
        })
        .map(|(table, _)| table)
        .collect()
}

/// When the next table falls due (ms), given the last sync times; `now_ms` when one is due already.
pub fn next_due_ms(plan: &SyncPlan, now_ms: i64, last_sync: &HashMap<String, i64>) -> i64 {
    effective_intervals(plan)
        .into_iter()
        .map(|(table, minutes)| match last_sync.get(&table) {
            Some(&last) if last <= now_ms => last.saturating_add(i64::from(minutes) * MINUTE_MS).max(now_ms),
            _ => now_ms,
        })
        .min()
        .unwrap_or(now_ms)
}

pub use super::checkpoint::first_sync_complete;
