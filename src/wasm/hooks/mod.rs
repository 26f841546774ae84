//! The hook rules of [`crate::hooks`] for `js/hooks.js`: plain functions over queue entries (no store, no user
//! code). The handlers are user JavaScript and run in JS between these calls, never while Rust holds a borrow.

use std::collections::BTreeSet;

use wasm_bindgen::prelude::*;

use super::convert;
use super::error::{bad_argument, to_js as err_js};
use crate::hooks::{self, Failure, HookEntry};

fn entries(v: JsValue) -> Result<Vec<HookEntry>, JsValue> {
    crate::wasm::convert::read(v, |v| crate::read::list(v, HookEntry::read))
        .map_err(|e| bad_argument("hook queue entries", e))
}

fn entry(v: JsValue) -> Result<HookEntry, JsValue> {
    crate::wasm::convert::read(v, HookEntry::read).map_err(|e| bad_argument("hook queue entry", e))
}

fn names(v: &JsValue) -> Result<BTreeSet<String>, JsValue> {
    // Inserted one by one: `collect()` into a BTreeSet would instantiate another copy of the standard sort.
    let mut set = BTreeSet::new();
    for name in convert::texts("registered hook names", v)? {
        set.insert(name);
    }
    Ok(set)
}

/// The rule `js/hooks.js` asks for, by number, with its arguments (one export instead of one per rule: each export
/// costs a shim in the wasm and a wrapper in the bindings; docs/PERFORMANCE.md "Size"):
/// - 0 `(name, message, stage)`: checks a registration (`message` Create/Update/Delete, `stage` pre/post); throws an
///   `InvalidArgument` error that says what to fix.
/// - 1 `(depth, what)`: throws `HookDepthExceeded` when a write at `depth` nests too deep.
/// - 2 `(queue, registered, nowMs)`: `{ run?: seq, wakeInMs?: ms }`, the post entry to run next among `queue`, given
///   the registered hook names.
/// - 3 `(queue, minOutboxSeq, nowMs)`: `{ state: "idle" | "run" | "waitingForUploads" | "waitingForRetry", seq?,
///   wakeInMs? }`, the online entry to run next, given the smallest outbox `seq` left (undefined: the outbox is
///   empty).
/// - 4 `(entry, failure, retryAfterMs, baseMs, nowMs)`: `{ entry, dead, retryInMs? }`, what a failed run (`failure`:
///   `{message, errorCode?, errorName?, status?}`) does to `entry`; `retryAfterMs` is a floor for the wait (a
///   server's Retry-After), `baseMs` the first wait (default 1 s).
/// - 5 `(entry)`: the entry made pending again with no attempts (`hooks.retry(id)`).
/// - 6 `(queue, registered)`: queue lengths and failures, `{ postQueued, onlineQueued, failed, retrying,
///   waitingForHandler }`.
///
/// Numbers that are not numbers read as absent; `js/hooks.js` passes the texts as strings.
#[wasm_bindgen(js_name = hookRule)]
pub fn rule(op: u32, a: JsValue, b: JsValue, c: JsValue, d: JsValue, e: JsValue) -> Result<JsValue, JsValue> {
    let text = |v: &JsValue| v.as_string().unwrap_or_default();
    let now = |v: &JsValue| v.as_f64().unwrap_or_else(js_sys::Date::now);
    let done = |r: Result<(), crate::Error>| r.map(|()| JsValue::UNDEFINED).map_err(|e| err_js(&e));
    match op {
        0 => done(hooks::check_registration(&text(&a), &text(&b), &text(&c))),
        1 => done(hooks::check_depth(a.as_f64().unwrap_or(0.0) as u32, &text(&b))),
        2 => convert::to_js(&hooks::next_post(&entries(a)?, &names(&b)?, now(&c))),
        3 => convert::to_js(&hooks::next_online(&entries(a)?, b.as_f64().map(|m| m as u64), now(&c))),
        4 => {
            let failure = convert::read(b, Failure::read).map_err(|e| bad_argument("failure", e))?;
            let base = d.as_f64().map_or(hooks::BASE_DELAY_MS, |b| b.max(0.0) as u64);
            let retry_after = c.as_f64().map(|m| m.max(0.0) as u64);
            convert::to_js(&hooks::after_failure(&entry(a)?, failure, retry_after, base, now(&e)))
        }
        5 => convert::to_js(&hooks::revive(&entry(a)?)),
        6 => convert::to_js(&hooks::status(&entries(a)?, &names(&b)?)),
        _ => Err(bad_argument("hook rule", op)),
    }
}
