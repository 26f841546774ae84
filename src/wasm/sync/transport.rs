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
        let backoff = crate::sync::Backoff { base_ms: 100, cap_ms: 2_000 };
        let mut attempt = 0;
        loop {
            let res = self.send_once(req).await;
            attempt += 1;
            if !is_transient(&res) || attempt >= ATTEMPTS {
                return res;
            }
            let retry_after = res.header("retry-after").and_then(crate::sync::upload::retry_after_secs);
            let wait = backoff.delay_ms(attempt - 1, js_sys::Math::random(), retry_after);
            if wait > MAX_IN_PASS_WAIT_MS {
                return res;
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

    /// One attempt. A rejected transport promise (no answer) is `Response { status: None }`: the core classifies it
    /// as transient.
    async fn send_once(&self, req: &Request) -> Response {
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
        let promise = match self.send.call1(&JsValue::NULL, &js_req) {
            Ok(p) => Promise::from(p),
            Err(_) => return Response { status: None, headers: Vec::new(), body: None },
        };
        let Ok(res) = JsFuture::from(promise).await else {
            return Response { status: None, headers: Vec::new(), body: None };
        };
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
        let mut t = self.traffic.get();
        t.bytes += text.len() as u64;
        self.traffic.set(t);
        let body = if text.is_empty() { None } else { serde_json::from_str::<Value>(&text).ok() };
        Response { status, headers, body }
    }

    /// Sends a read and returns its page; anything but a 2xx JSON answer is an error that says what came back.
    pub async fn page(&self, req: &Request, cursor: &Cursor) -> Result<Page, SendError> {
        let res = self.send(req).await;
        match (res.status, &res.body) {
            (Some(s), Some(body)) if (200..300).contains(&s) => {
                read_page(body, cursor).map_err(|e| SendError::Failed { status: s, error: e })
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
