//! The server: routes `/api/data/v9.2/` to the Web API, `/_admin/` to the test endpoints (only with
//! `--enable-faults`), and everything else to static files; adds CORS headers for other origins.

use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api;
use crate::auth::Auth;
use crate::clock::{self, Clock};
use crate::faults::{FaultAction, FaultConfig, Faults};
use crate::http::{Handler, Outcome, Request, Response};
use crate::meta::ServerSchema;
use crate::store::Store;

/// Shared server state.
pub struct App {
    /// Table metadata.
    pub schema: ServerSchema,
    /// Rows.
    pub store: Store,
    /// Server clock.
    pub clock: Clock,
    /// Tokens.
    pub auth: Auth,
    /// Fault injection and counters.
    pub faults: Faults,
    /// `--enable-faults`: the `/_admin/` endpoints exist.
    pub admin_enabled: bool,
    /// Served at `/`.
    pub static_dir: Option<PathBuf>,
    /// Served at `/pkg/`.
    pub pkg_dir: Option<PathBuf>,
}

impl Handler for App {
    fn handle(&self, req: &Request) -> Outcome {
        let origin = req.header("origin").map(str::to_string);
        let outcome = self.route(req);
        match (outcome, origin) {
            (Outcome::Respond(mut r), Some(o)) => {
                cors(&mut r, &o);
                Outcome::Respond(r)
            }
            (o, _) => o,
        }
    }
}

fn cors(r: &mut Response, origin: &str) {
    r.set("Access-Control-Allow-Origin", origin);
    r.set("Vary", "Origin");
    r.set("Access-Control-Allow-Credentials", "true");
    r.set(
        "Access-Control-Expose-Headers",
        "OData-EntityId, OData-Version, Preference-Applied, ETag, Retry-After, Location, WWW-Authenticate",
    );
}

impl App {
    fn route(&self, req: &Request) -> Outcome {
        if req.method == "OPTIONS" {
            let mut r = Response::new(204);
            r.set("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
            r.set(
                "Access-Control-Allow-Headers",
                req.header("access-control-request-headers").unwrap_or(
                    "Authorization, Prefer, If-Match, If-None-Match, OData-MaxVersion, OData-Version, Content-Type, Accept",
                ),
            );
            r.set("Access-Control-Max-Age", "600");
            return Outcome::Respond(r);
        }
        if req.path.starts_with("/_admin/") || req.path == "/_admin" {
            return Outcome::Respond(if self.admin_enabled { self.admin(req) } else { not_found() });
        }
        if req.path.starts_with("/api/") {
            let action = self.faults.on_request(&req.method, &req.path);
            let sleep = |ms: u64| {
                if ms > 0 {
                    thread::sleep(Duration::from_millis(ms));
                }
            };
            return match action {
                FaultAction::Pass { delay_ms } => {
                    sleep(delay_ms);
                    if req.path.starts_with(api::PREFIX) {
                        Outcome::Respond(api::handle(self, req))
                    } else {
                        Outcome::Respond(not_found())
                    }
                }
                FaultAction::Fail { delay_ms, response } => {
                    sleep(delay_ms);
                    Outcome::Respond(response)
                }
                FaultAction::Drop { delay_ms } => {
                    sleep(delay_ms);
                    Outcome::Drop
                }
                FaultAction::Lose { delay_ms } => {
                    sleep(delay_ms);
                    if req.path.starts_with(api::PREFIX) {
                        // The change is stored; only its answer is lost on the way back.
                        let _ = api::handle(self, req);
                    }
                    Outcome::Drop
                }
            };
        }
        Outcome::Respond(self.static_file(req))
    }

    fn admin(&self, req: &Request) -> Response {
        let body: Value = if req.body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return Response::error(400, "0x80060888", &format!("The body is not valid JSON: {e}")),
            }
        };
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/_admin/faults") => Response::json(200, &json!({ "faults": self.faults.config_json() })),
            ("POST", "/_admin/faults") | ("PUT", "/_admin/faults") => match FaultConfig::from_json(&body) {
                Ok(c) => {
                    self.faults.set(c);
                    Response::json(200, &json!({ "faults": self.faults.config_json() }))
                }
                Err(e) => Response::error(400, "0x80040203", &e),
            },
            ("DELETE", "/_admin/faults") => {
                self.faults.clear();
                Response::no_content()
            }
            ("GET", "/_admin/stats") => {
                let counts = self.store.lock().counts().unwrap_or_default();
                let mut s = self.faults.stats_json();
                s["rows"] = Value::Object(counts.into_iter().map(|(k, v)| (k, Value::from(v))).collect());
                Response::json(200, &s)
            }
            ("DELETE", "/_admin/stats") => {
                self.faults.reset_stats();
                Response::no_content()
            }
            ("GET", "/_admin/clock") => self.clock_json(),
            ("POST", "/_admin/clock") | ("PUT", "/_admin/clock") => {
                if let Some(now) = body.get("now").and_then(Value::as_str) {
                    match clock::parse_rfc3339(now) {
                        Some(ms) => self.clock.set_now(ms),
                        None => return Response::error(400, "0x80040203", "now must be an RFC 3339 date-time"),
                    }
                } else if let Some(off) = body.get("offsetMs").and_then(Value::as_i64) {
                    self.clock.set_now(self.clock.now_ms().saturating_sub(self.clock.offset_ms()).saturating_add(off));
                } else {
                    return Response::error(400, "0x80040203", "send {\"now\": \"<RFC 3339>\"} or {\"offsetMs\": n}");
                }
                self.clock_json()
            }
            ("DELETE", "/_admin/clock") => {
                self.clock.reset();
                self.clock_json()
            }
            _ => not_found(),
        }
    }

    fn clock_json(&self) -> Response {
        Response::json(
            200,
            &json!({ "now": clock::format_rfc3339(self.clock.now_ms()), "offsetMs": self.clock.offset_ms() }),
        )
    }

    fn static_file(&self, req: &Request) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::error(405, "0x80060888", "Static files are read-only.");
        }
        let path = crate::http::request::percent_decode(&req.path);
        let (dir, rel) = match path.strip_prefix("/pkg/") {
            Some(rest) => (self.pkg_dir.as_deref(), rest.to_string()),
            None => (self.static_dir.as_deref(), path.trim_start_matches('/').to_string()),
        };
        let Some(dir) = dir else { return not_found() };
        let rel_path = Path::new(&rel);
        if rel_path.components().any(|c| !matches!(c, Component::Normal(_))) {
            return not_found();
        }
        let mut file = dir.join(rel_path);
        if file.is_dir() {
            file = file.join("index.html");
        }
        match std::fs::read(&file) {
            Ok(bytes) => {
                let mut r =
                    Response::bytes(200, content_type(&file), if req.method == "HEAD" { Vec::new() } else { bytes });
                r.set("Cache-Control", "no-cache");
                r
            }
            Err(_) => not_found(),
        }
    }
}

fn not_found() -> Response {
    Response::error(404, "0x80060888", "Not found.")
}

/// The content type of a static file by extension.
pub fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "ts" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
impl App {
    /// An app over an in-memory database with the Field Service organisation seeded at scale 1 (unit tests).
    pub fn seeded_for_tests() -> App {
        let schema = crate::meta::ServerSchema::load();
        let store = crate::store::Store::open(":memory:").expect("store");
        let clock = crate::clock::Clock::default();
        crate::seed::seed(&store, &schema.schema, 1, clock.now_ms()).expect("seed");
        App {
            schema,
            store,
            clock,
            auth: crate::auth::Auth::new(),
            faults: crate::faults::Faults::default(),
            admin_enabled: false,
            static_dir: None,
            pkg_dir: None,
        }
    }
}
