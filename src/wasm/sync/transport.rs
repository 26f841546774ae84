//! Sends the core's [`Request`]s through the JS transport (fetch with the bearer token, in `js/client.js`) and reads
//! the answers back as [`Response`]s and [`Page`]s.

use js_sys::{Array, Function, Promise};
use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Error, ErrorCode};
use crate::sync::{read_page, Cursor, Page, Request, Response};
use crate::wasm::convert::object;

/// What one exchange cost: for progress events.
#[derive(Default, Clone, Copy)]
pub struct Traffic {
    /// Requests sent.
    pub requests: u64,
    /// Response bytes received.
    pub bytes: u64,
}

/// The JS transport: `(request) => Promise<{status, headers: [[name, value]], body: string}>`, rejecting when no
/// answer came (network down, timeout, cut off).
pub struct Transport {
    pub send: Function,
    pub traffic: std::cell::Cell<Traffic>,
    /// The bytes of the last answer (read right after awaiting it: several reads may be in flight).
    pub last_bytes: std::cell::Cell<u64>,
    /// Told of every in-pass retry (the progress callback): `{phase: "retry", method, url, status, attempt,
    /// delayMs, retryAfterMs}`, so the backoff shows in the sync log.
    pub on_retry: Option<Function>,
}

/// Attempts per request before a pass gives up on it (the pass then stops and is retried with backoff).
const ATTEMPTS: u32 = 5;
/// The longest in-pass wait between attempts; a longer Retry-After ends the pass instead (the schedule honours it).
const MAX_IN_PASS_WAIT_MS: u64 = 4_000;

fn is_transient(res: &Response) -> bool {
    matches!(res.status, None | Some(408) | Some(429) | Some(500..=599))
}

impl Transport {
    /// Sends `req`, retrying transient failures (no answer, 408, 429, 5xx) a few times with exponential backoff and
    /// jitter, at least `Retry-After`. Every request the engine sends is safe to repeat: reads, create-only upserts,
    /// updates and deletes guarded by `If-Match` (an update whose first answer was lost comes back as a conflict
    /// with our own write, which the upload recognises).
    pub async fn send(&self, req: &Request) -> Response {
        self.send_split(req, false, None).await.0
    }

    /// Starts sending `req` (the first attempt of [`Transport::send_split`]): the download of the next page runs
    /// while the host stores the current one. `split`: see [`Transport::send_split`].
    pub fn start(&self, req: &Request, split: bool) -> Option<Promise> {
        let headers: Array = req
            .headers
            .iter()
            .map(|(k, v)| -> JsValue {
                [JsValue::from_str(k), JsValue::from_str(v)].into_iter().collect::<Array>().into()
            })
            .collect();
        let body = match &req.body {
            Some(v) => JsValue::from_str(&v.to_string()),
            None => JsValue::UNDEFINED,
        };
        let js_req = object(&[
            ("method", JsValue::from_str(req.method.as_str())),
            ("url", JsValue::from_str(&req.url)),
            ("headers", headers.into()),
            ("body", body),
        ]);
        let mut t = self.traffic.get();
        t.requests += 1;
        self.traffic.set(t);
        self.send.call2(&JsValue::NULL, &js_req, &JsValue::from_bool(split)).ok().map(Promise::from)
    }

    /// As [`Transport::send`]; with `split`, a JSON collection answer comes back with its `value` array parsed in
    /// JS (the rows stay JS objects, written to IndexedDB as they are) and the rest of the body (paging links) in
    /// the [`Response`]. A transport that does not split (tests' own transports) answers with the whole body, and
    /// the array is `None`. `first`: the first attempt, when already started with [`Transport::start`].
    pub async fn send_split(
        &self,
        req: &Request,
        split: bool,
        first: Option<Option<Promise>>,
    ) -> (Response, Option<Array>) {
        let backoff = crate::sync::Backoff { base_ms: 100, cap_ms: 2_000 };
        let mut attempt = 0;
        let mut started = first;
        loop {
            let promise = match started.take() {
                Some(p) => p,
                None => self.start(req, split),
            };
            let (res, value) = self.finish(promise).await;
            attempt += 1;
            if !is_transient(&res) || attempt >= ATTEMPTS {
                return (res, value);
            }
            let retry_after = res.header("retry-after").and_then(crate::sync::upload::retry_after_secs);
            let wait = backoff.delay_ms(attempt - 1, js_sys::Math::random(), retry_after);
            if wait > MAX_IN_PASS_WAIT_MS {
                return (res, value);
            }
            self.report_retry(req, &res, attempt, wait, retry_after);
            crate::wasm::store::idb::sleep(wait as f64).await;
        }
    }

    fn report_retry(&self, req: &Request, res: &Response, attempt: u32, wait_ms: u64, retry_after: Option<u64>) {
        let Some(f) = &self.on_retry else { return };
        let event = serde_json::json!({
            "phase": "retry", "method": req.method.as_str(), "url": req.url, "status": res.status,
            "attempt": attempt, "delayMs": wait_ms, "retryAfterMs": retry_after.map(|s| s * 1000),
        });
        if let Ok(v) = crate::wasm::convert::to_js(&event) {
            let _ = f.call1(&JsValue::NULL, &v);
        }
    }

    /// Waits for one attempt. A rejected transport promise (no answer) is `Response { status: None }`: the core
    /// classifies it as transient.
    async fn finish(&self, promise: Option<Promise>) -> (Response, Option<Array>) {
        let none = (Response { status: None, headers: Vec::new(), body: None }, None);
        let Some(promise) = promise else { return none };
        let Ok(res) = JsFuture::from(promise).await else { return none };
        let status = js_sys::Reflect::get(&res, &"status".into()).ok().and_then(|s| s.as_f64()).map(|s| s as u16);
        let mut headers = Vec::new();
        if let Ok(list) = js_sys::Reflect::get(&res, &"headers".into()) {
            for pair in Array::from(&list).iter() {
                let pair = Array::from(&pair);
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    headers.push((k, v));
                }
            }
        }
        let text = js_sys::Reflect::get(&res, &"body".into()).ok().and_then(|b| b.as_string()).unwrap_or_default();
        let value = js_sys::Reflect::get(&res, &"value".into()).ok().filter(Array::is_array).map(|v| Array::from(&v));
        let bytes = js_sys::Reflect::get(&res, &"bytes".into()).ok().and_then(|b| b.as_f64());
        let mut t = self.traffic.get();
        self.last_bytes.set(bytes.map_or(text.len() as u64, |b| b as u64));
        t.bytes += self.last_bytes.get();
        self.traffic.set(t);
        let body = if text.is_empty() { None } else { serde_json::from_str::<Value>(&text).ok() };
        (Response { status, headers, body }, value)
    }

    /// Sends a read and returns its page; anything but a 2xx JSON answer is an error that says what came back.
    pub async fn page(&self, req: &Request, cursor: &Cursor) -> Result<Page, SendError> {
        Ok(self.page_split(req, cursor, false, None).await?.0)
    }

    /// As [`Transport::page`], with the rows left in JS when `split` (see [`Transport::send_split`]): the page then
    /// holds only its paging fields, and the rows come as the array.
    pub async fn page_split(
        &self,
        req: &Request,
        cursor: &Cursor,
        split: bool,
        first: Option<Option<Promise>>,
    ) -> Result<(Page, Option<Array>), SendError> {
        let (res, value) = self.send_split(req, split, first).await;
        match (res.status, &res.body) {
            (Some(s), Some(body)) if (200..300).contains(&s) => {
                let page = read_page(body, cursor).map_err(|e| SendError::Failed { status: s, error: e })?;
                Ok((page, value))
            }
            (None, _) => Err(SendError::Unreachable),
            (Some(s), body) => {
                let code = body
                    .as_ref()
                    .and_then(|b| b.pointer("/error/code"))
                    .and_then(Value::as_str)
                    .unwrap_or("0x80a00008")
                    .to_string();
                let message = body
                    .as_ref()
                    .and_then(|b| b.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the server answered without a Dataverse error body")
                    .to_string();
                let retry_after = res.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
                if s == 401 || s == 408 || s == 429 || s >= 500 {
                    return Err(SendError::Transient { status: s, retry_after });
                }
                Err(SendError::Failed {
                    status: s,
                    error: Error::new(
                        ErrorCode::ServerError,
                        format!("{} {}: {code} {message}", req.method.as_str(), req.url),
                    ),
                })
            }
        }
    }
}

/// Why a read failed.
#[derive(Debug)]
pub enum SendError {
    /// No answer: the network is gone or the server is unreachable.
    Unreachable,
    /// An answer to retry later (401, 408, 429, 5xx), with `Retry-After` in seconds.
    Transient { status: u16, retry_after: Option<u64> },
    /// A definite failure (4xx, or a body that is not a Web API page).
    Failed { status: u16, error: Error },
}

impl SendError {
    /// As an engine error for the JS caller.
    pub fn to_error(&self) -> Error {
        match self {
            SendError::Unreachable => {
                Error::new(ErrorCode::NetworkUnavailable, "Network or Service Unavailable: the server did not answer")
            }
            SendError::Transient { status, retry_after } => Error::new(
                ErrorCode::ServerError,
                format!(
                    "the server answered {status}; retrying later{}",
                    retry_after.map(|s| format!(" (Retry-After {s} s)")).unwrap_or_default()
                ),
            ),
            SendError::Failed { error, .. } => error.clone(),
        }
    }
}
