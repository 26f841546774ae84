//! The hook rules of [`crate::hooks`] for `js/hooks.js`: plain functions over queue entries (no store, no user
//! code). The handlers are user JavaScript and run in JS between these calls, never while Rust holds a borrow.

use std::collections::BTreeSet;

use wasm_bindgen::prelude::*;

use super::convert;
use super::error::{bad_argument, to_js as err_js};
use crate::hooks::{self, Failure, HookEntry};

fn entries(v: JsValue) -> Result<Vec<HookEntry>, JsValue> {
    crate::wasm::convert::from_value(v).map_err(|e| bad_argument("hook queue entries", e))
}

fn entry(v: JsValue) -> Result<HookEntry, JsValue> {
    crate::wasm::convert::from_value(v).map_err(|e| bad_argument("hook queue entry", e))
}

fn names(v: &JsValue) -> Result<BTreeSet<String>, JsValue> {
    // Inserted one by one: `collect()` into a BTreeSet would instantiate another copy of the standard sort.
    let mut set = BTreeSet::new();
    for name in convert::texts("registered hook names", v)? {
        set.insert(name);
    }
    Ok(set)
}

/// Checks a registration (`name`, `message` Create/Update/Delete, `stage` pre/post); throws an `InvalidArgument`
/// error that says what to fix.
#[wasm_bindgen(js_name = hooksCheckRegistration)]
pub fn check_registration(name: &str, message: &str, stage: &str) -> Result<(), JsValue> {
    hooks::check_registration(name, message, stage).map_err(|e| err_js(&e))
}

/// Throws `HookDepthExceeded` when a write at `depth` nests too deep.
#[wasm_bindgen(js_name = hooksCheckDepth)]
pub fn check_depth(depth: u32, what: &str) -> Result<(), JsValue> {
    hooks::check_depth(depth, what).map_err(|e| err_js(&e))
}

/// `{ run?: seq, wakeInMs?: ms }`: the post entry to run next among `queue`, given the registered hook names.
#[wasm_bindgen(js_name = hooksNextPost)]
pub fn next_post(
    queue: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[]")] registered: JsValue,
    now_ms: f64,
) -> Result<JsValue, JsValue> {
    convert::to_js(&hooks::next_post(&entries(queue)?, &names(&registered)?, now_ms))
}

/// `{ state: "idle" | "run" | "waitingForUploads" | "waitingForRetry", seq?, wakeInMs? }`: the online entry to run
/// next, given the smallest outbox `seq` left (undefined: the outbox is empty).
#[wasm_bindgen(js_name = hooksNextOnline)]
pub fn next_online(queue: JsValue, min_outbox_seq: Option<f64>, now_ms: f64) -> Result<JsValue, JsValue> {
    let min = min_outbox_seq.map(|m| m as u64);
    convert::to_js(&hooks::next_online(&entries(queue)?, min, now_ms))
}

/// `{ entry, dead, retryInMs? }`: what a failed run (`failure`: `{message, errorCode?, errorName?, status?}`) does
/// to `entry`; `retryAfterMs` is a floor for the wait (a server's Retry-After), `baseMs` the first wait (default
/// 1 s).
#[wasm_bindgen(js_name = hooksAfterFailure)]
pub fn after_failure(
    queued: JsValue,
    failure: JsValue,
    retry_after_ms: Option<f64>,
    base_ms: Option<f64>,
    now_ms: f64,
) -> Result<JsValue, JsValue> {
    let failure: Failure = crate::wasm::convert::from_value(failure).map_err(|e| bad_argument("failure", e))?;
    let base = base_ms.map_or(hooks::BASE_DELAY_MS, |b| b.max(0.0) as u64);
    let retry_after = retry_after_ms.map(|m| m.max(0.0) as u64);
    let r = hooks::after_failure(&entry(queued)?, failure, retry_after, base, now_ms);
    convert::to_js(&r)
}

/// The entry made pending again with no attempts (`hooks.retry(id)`).
#[wasm_bindgen(js_name = hooksRevive)]
pub fn revive(queued: JsValue) -> Result<JsValue, JsValue> {
    convert::to_js(&hooks::revive(&entry(queued)?))
}

/// Queue lengths and failures: `{ postQueued, onlineQueued, failed, retrying, waitingForHandler }`.
#[wasm_bindgen(js_name = hooksStatus)]
pub fn status(
    queue: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[]")] registered: JsValue,
) -> Result<JsValue, JsValue> {
    convert::to_js(&hooks::status(&entries(queue)?, &names(&registered)?))
}

/// The limits the rules use: `{ maxDepth, maxAttempts }`.
#[wasm_bindgen(js_name = hooksLimits)]
pub fn limits() -> JsValue {
    convert::object(&[
        ("maxDepth", JsValue::from_f64(hooks::MAX_DEPTH as f64)),
        ("maxAttempts", JsValue::from_f64(hooks::MAX_ATTEMPTS as f64)),
    ])
}
