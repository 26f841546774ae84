//! Fault injection for tests, switched at run time through `/_admin/faults`, and request statistics.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::http::Response;

/// What `POST /_admin/faults` sets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Share of requests answered with one of `statuses` (0..1).
    pub error_rate: f64,
    /// Statuses to answer with (chosen in turn); default `[503]`.
    pub statuses: Vec<u16>,
    /// `Retry-After` seconds on 429 and 503 answers.
    pub retry_after_seconds: Option<u64>,
    /// Share of requests whose connection is closed without an answer (0..1).
    pub drop_rate: f64,
    /// Latency added before every matching request is handled.
    pub latency_ms: u64,
    /// Share of requests that are slow: `slow_ms` more latency (a congested network, a long server stall).
    pub slow_rate: f64,
    /// The extra latency of a slow request.
    pub slow_ms: u64,
    /// Share of requests that are handled (the change is stored) but whose answer is lost: the connection closes
    /// without a response, as when the network drops while the answer travels back.
    pub lost_rate: f64,
    /// Only requests whose path starts with one of these (default: every `/api/` request).
    pub paths: Option<Vec<String>>,
    /// Methods the faults apply to (default: all).
    pub methods: Option<Vec<String>>,
    /// Stop injecting errors and drops after this many.
    pub max_faults: Option<u64>,
    /// PRNG seed (deterministic fault sequences).
    pub seed: u64,
}

impl FaultConfig {
    /// Reads the admin JSON; unknown keys are refused so a typo does not silently disable a test.
    pub fn from_json(v: &Value) -> Result<FaultConfig, String> {
        let Some(o) = v.as_object() else { return Err("the fault configuration must be a JSON object".into()) };
        let mut c = FaultConfig { statuses: vec![503], seed: 1, ..Default::default() };
        for (k, val) in o {
            match k.as_str() {
                "errorRate" => c.error_rate = rate(val, k)?,
                "dropRate" => c.drop_rate = rate(val, k)?,
                "slowRate" => c.slow_rate = rate(val, k)?,
                "lostRate" => c.lost_rate = rate(val, k)?,
                "slowMs" => c.slow_ms = val.as_u64().filter(|n| *n <= 120_000).ok_or("slowMs must be 0..120000")?,
                "statuses" => {
                    let list = val.as_array().ok_or("statuses must be an array of status codes")?;
                    c.statuses = list
                        .iter()
                        .map(|s| s.as_u64().filter(|n| (100..600).contains(n)).map(|n| n as u16))
                        .collect::<Option<Vec<_>>>()
                        .ok_or("statuses must be HTTP status codes (100..599)")?;
                    if c.statuses.is_empty() {
                        return Err("statuses must not be empty".into());
                    }
                }
                "retryAfterSeconds" => {
                    c.retry_after_seconds = Some(val.as_u64().ok_or("retryAfterSeconds must be a number")?)
                }
                "latencyMs" => {
                    c.latency_ms = val.as_u64().filter(|n| *n <= 120_000).ok_or("latencyMs must be 0..120000")?
                }
                "paths" => c.paths = Some(strings(val, k)?),
                "methods" => c.methods = Some(strings(val, k)?.into_iter().map(|m| m.to_ascii_uppercase()).collect()),
                "maxFaults" => c.max_faults = Some(val.as_u64().ok_or("maxFaults must be a number")?),
                "seed" => c.seed = val.as_u64().ok_or("seed must be a number")?,
                other => return Err(format!("unknown fault setting '{other}'")),
            }
        }
        Ok(c)
    }

    fn to_json(&self) -> Value {
        json!({
            "errorRate": self.error_rate, "statuses": self.statuses, "retryAfterSeconds": self.retry_after_seconds,
            "dropRate": self.drop_rate, "latencyMs": self.latency_ms, "slowRate": self.slow_rate, "slowMs": self.slow_ms,
            "lostRate": self.lost_rate, "paths": self.paths, "methods": self.methods,
            "maxFaults": self.max_faults, "seed": self.seed,
        })
    }
}

fn rate(v: &Value, k: &str) -> Result<f64, String> {
    v.as_f64().filter(|r| (0.0..=1.0).contains(r)).ok_or_else(|| format!("{k} must be a number from 0 to 1"))
}

fn strings(v: &Value, k: &str) -> Result<Vec<String>, String> {
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| format!("{k} must be an array of strings"))
}

/// What to do with a request.
pub enum FaultAction {
    /// Handle it normally (after `delay_ms`).
    Pass {
        /// Latency to add first.
        delay_ms: u64,
    },
    /// Answer with this error (after `delay_ms`).
    Fail {
        /// Latency to add first.
        delay_ms: u64,
        /// The error response.
        response: Response,
    },
    /// Close the connection without an answer (after `delay_ms`).
    Drop {
        /// Latency to add first.
        delay_ms: u64,
    },
    /// Handle it (after `delay_ms`), then close the connection without sending the answer.
    Lose {
        /// Latency to add first.
        delay_ms: u64,
    },
}

#[derive(Default)]
struct State {
    config: Option<FaultConfig>,
    rng: u64,
    injected: u64,
    next_status: usize,
    requests: u64,
    by_method: BTreeMap<String, u64>,
    by_path: BTreeMap<String, u64>,
    errors: u64,
    dropped: u64,
    lost: u64,
    delayed: u64,
    slowed: u64,
}

/// Fault settings and counters.
#[derive(Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Replaces the fault configuration.
    pub fn set(&self, c: FaultConfig) {
        self.with(|s| {
            s.rng = c.seed.max(1);
            s.injected = 0;
            s.next_status = 0;
            s.config = Some(c);
        });
    }

    /// Clears every fault.
    pub fn clear(&self) {
        self.with(|s| s.config = None);
    }

    /// The configuration, as JSON (`null` when none).
    pub fn config_json(&self) -> Value {
        self.with(|s| s.config.as_ref().map(FaultConfig::to_json).unwrap_or(Value::Null))
    }

    /// Counts a request and decides its fate.
    pub fn on_request(&self, method: &str, path: &str) -> FaultAction {
        self.with(|s| {
            s.requests += 1;
            *s.by_method.entry(method.to_string()).or_default() += 1;
            *s.by_path.entry(path_key(path)).or_default() += 1;
            let Some(c) = s.config.clone() else { return FaultAction::Pass { delay_ms: 0 } };
            let path_ok = match &c.paths {
                Some(ps) => ps.iter().any(|p| path.starts_with(p.as_str())),
                None => path.starts_with("/api/"),
            };
            let method_ok = c.methods.as_ref().is_none_or(|ms| ms.iter().any(|m| m == method));
            if !path_ok || !method_ok {
                return FaultAction::Pass { delay_ms: 0 };
            }
            let mut delay_ms = c.latency_ms;
            if delay_ms > 0 {
                s.delayed += 1;
            }
            if c.max_faults.is_some_and(|m| s.injected >= m) {
                return FaultAction::Pass { delay_ms };
            }
            if c.slow_rate > 0.0 && next_f64(&mut s.rng) < c.slow_rate {
                s.slowed += 1;
                delay_ms += c.slow_ms;
            }
            if c.drop_rate > 0.0 && next_f64(&mut s.rng) < c.drop_rate {
                s.injected += 1;
                s.dropped += 1;
                return FaultAction::Drop { delay_ms };
            }
            if c.error_rate > 0.0 && next_f64(&mut s.rng) < c.error_rate {
                s.injected += 1;
                s.errors += 1;
                let status = c.statuses[s.next_status % c.statuses.len()];
                s.next_status += 1;
                return FaultAction::Fail { delay_ms, response: fault_response(status, c.retry_after_seconds) };
            }
            if c.lost_rate > 0.0 && next_f64(&mut s.rng) < c.lost_rate {
                s.injected += 1;
                s.lost += 1;
                return FaultAction::Lose { delay_ms };
            }
            FaultAction::Pass { delay_ms }
        })
    }

    /// `GET /_admin/stats`.
    pub fn stats_json(&self) -> Value {
        self.with(|s| {
            json!({
                "requests": s.requests, "byMethod": s.by_method, "byPath": s.by_path,
                "faults": {
                    "errors": s.errors, "dropped": s.dropped, "lost": s.lost, "delayed": s.delayed, "slowed": s.slowed,
                },
            })
        })
    }

    /// `DELETE /_admin/stats`.
    pub fn reset_stats(&self) {
        self.with(|s| {
            s.requests = 0;
            s.by_method.clear();
            s.by_path.clear();
            s.errors = 0;
            s.dropped = 0;
            s.lost = 0;
            s.delayed = 0;
            s.slowed = 0;
        });
    }
}

/// `/api/data/v9.2/accounts(...)` -> `accounts`: the entity set or function, for the per-path counters.
fn path_key(path: &str) -> String {
    let rest = path.strip_prefix("/api/data/v9.2/").unwrap_or(path);
    let seg = rest.split(['/', '(']).next().unwrap_or(rest);
    if seg.is_empty() {
        "/".into()
    } else {
        seg.to_string()
    }
}

fn next_f64(state: &mut u64) -> f64 {
    // xorshift64*: deterministic per seed.
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

/// The error Dataverse sends for that status.
fn fault_response(status: u16, retry_after: Option<u64>) -> Response {
    let (code, message) = match status {
        429 => ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
        503 => ("0x80040216", "The service is temporarily unavailable. Retry the request later."),
        500 => ("0x80040216", "An unexpected error occurred."),
        _ => ("0x80040216", "Injected fault."),
    };
    let mut r = Response::error(status, code, message);
    match (status, retry_after) {
        (429, r_after) => r.set("Retry-After", &r_after.unwrap_or(1).to_string()),
        (_, Some(secs)) => r.set("Retry-After", &secs.to_string()),
        _ => {}
    }
    r
}
