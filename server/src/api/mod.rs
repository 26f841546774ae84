//! The Dataverse Web API v9.2 subset under `/api/data/v9.2/`: authentication, routing, one transaction per write.

pub mod actions;
pub mod batch;
pub mod crud;
pub mod error;
pub mod metadata;
pub mod paging;
pub mod prefer;
pub mod query;
pub mod rowplan;
pub mod shape;
pub mod source;
pub mod stored;
pub mod whoami;
pub mod write;

use xrm_offline::query::EvalContext;
use xrm_offline::schema::{Schema, TableDef};

use crate::app::App;
use crate::auth::Principal;
use crate::http::request::percent_decode;
use crate::http::{Request, Response};
use crate::store::Db;
use error::{ApiError, ApiResult};
use prefer::Prefer;

/// The path prefix of the Web API.
pub const PREFIX: &str = "/api/data/v9.2/";

/// Everything a handler needs besides the database.
pub struct Ctx<'a> {
    /// The server.
    pub app: &'a App,
    /// The signed-in user.
    pub user: Principal,
    /// `http://host/api/data/v9.2/`, for `@odata.context`, links and `OData-EntityId`.
    pub base: String,
    /// The request's preferences.
    pub prefer: Prefer,
}

impl Ctx<'_> {
    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.app.schema.schema
    }

    /// The table behind an entity set, or Dataverse's 404 for an unknown segment.
    pub fn table_by_set(&self, set: &str) -> ApiResult<&TableDef> {
        self.schema().table_by_set(set).ok_or_else(|| ApiError::no_resource(set))
    }

    /// The evaluation context of the engine: server clock (UTC) and the caller.
    pub fn eval_context(&self) -> EvalContext {
        EvalContext {
            now_ms: self.app.clock.now_ms(),
            utc_offset_minutes: 0,
            user_id: Some(self.user.id.clone()),
            team_ids: self.user.teams.clone(),
            business_unit_id: Some(self.user.business_unit.clone()),
        }
    }

    /// The same context for a sub-request with other preferences (`$batch` parts).
    pub fn with_prefer(&self, prefer: Prefer) -> Ctx<'_> {
        Ctx { app: self.app, user: self.user.clone(), base: self.base.clone(), prefer }
    }
}

/// Authenticates and answers one Web API request.
pub fn handle(app: &App, req: &Request) -> Response {
    let host = req.header("host").unwrap_or("localhost");
    let base = format!("http://{host}{PREFIX}");
    let mut db = app.store.lock();
    let user = match app.auth.authenticate(req, &db) {
        Ok(u) => u,
        Err(e) => {
            let mut r = e.response();
            r.set(
                "WWW-Authenticate",
                &format!("Bearer authorization_uri=http://{host}/_auth, resource_id=http://{host}/"),
            );
            return r;
        }
    };
    let prefer =
        Prefer::parse(req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("prefer")).map(|(_, v)| v.as_str()));
    let ctx = Ctx { app, user, base, prefer };
    let rest = req.path.strip_prefix(PREFIX).unwrap_or("");
    // A panic in a handler (a bug, never expected from input) becomes a 500 and leaves no open transaction.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if rest == "$batch" {
            return match req.method.as_str() {
                "POST" => batch::handle(&ctx, &mut db, req).unwrap_or_else(|e| e.response()),
                m => ApiError::method(m).response(),
            };
        }
        run_one(&ctx, &mut db, req)
    }));
    let mut r = match outcome {
        Ok(r) => r,
        Err(_) => {
            db.rollback();
            return ApiError::new(500, "0x80040216", "An unexpected error occurred.").response();
        }
    };
    if rest == "$batch" {
        return r;
    }
    if let Some(a) = &ctx.prefer.annotations {
        let applied = r.header("Preference-Applied").unwrap_or("").to_string();
        if matches!(r.status, 200 | 201) && !applied.contains("include-annotations") {
            let joined = if applied.is_empty() {
                format!("odata.include-annotations=\"{a}\"")
            } else {
                format!("{applied},odata.include-annotations=\"{a}\"")
            };
            r.set("Preference-Applied", &joined);
        }
    }
    r
}

/// Runs one request, writes in their own transaction.
pub fn run_one(ctx: &Ctx<'_>, db: &mut Db, req: &Request) -> Response {
    if req.method == "GET" {
        return dispatch(ctx, db, req).unwrap_or_else(|e| e.response());
    }
    if let Err(e) = db.begin() {
        return ApiError::internal(e).response();
    }
    match dispatch(ctx, db, req) {
        Ok(r) if r.status < 400 => match db.commit() {
            Ok(()) => r,
            Err(e) => {
                db.rollback();
                ApiError::internal(e).response()
            }
        },
        Ok(r) => {
            db.rollback();
            r
        }
        Err(e) => {
            db.rollback();
            e.response()
        }
    }
}

/// Routes a request (already authenticated, transaction handled by the caller).
pub fn dispatch(ctx: &Ctx<'_>, db: &mut Db, req: &Request) -> ApiResult<Response> {
    let Some(rest) = req.path.strip_prefix(PREFIX) else { return Err(ApiError::no_resource(&req.path)) };
    let rest = percent_decode(rest);
    let (head, tail) = match rest.split_once('/') {
        Some((h, t)) => (h.to_string(), Some(t.to_string())),
        None => (rest.clone(), None),
    };
    let (name, key) = match head.split_once('(') {
        Some((n, k)) => (n.to_string(), Some(k.strip_suffix(')').unwrap_or(k).to_string())),
        None => (head.clone(), None),
    };
    let m = req.method.as_str();
    match name.as_str() {
        "" if m == "GET" => return Ok(metadata::service_document(ctx)),
        "WhoAmI" => return if m == "GET" { Ok(whoami::handle(ctx)) } else { Err(ApiError::method(m)) },
        "EntityDefinitions" => {
            return if m == "GET" {
                metadata::handle(ctx, key.as_deref(), tail.as_deref(), req)
            } else {
                Err(ApiError::method(m))
            }
        }
        "$metadata" => return Ok(metadata::csdl(ctx)),
        _ => {}
    }
    if let Some(action) = actions::unbound(&name) {
        return if m == "POST" { action(ctx, db, req) } else { Err(ApiError::method(m)) };
    }
    let table = ctx.table_by_set(&name)?;
    match (key, tail) {
        (None, None) => match m {
            "GET" => query::collection(ctx, db, table, req),
            "POST" => crud::create(ctx, db, table, req),
            _ => Err(ApiError::method(m)),
        },
        (Some(key), None) => {
            let id = parse_key(&key, table)?;
            match m {
                "GET" => crud::retrieve(ctx, db, table, &id, req),
                "PATCH" => crud::update(ctx, db, table, &id, req),
                "DELETE" => crud::delete(ctx, db, table, &id, req),
                _ => Err(ApiError::method(m)),
            }
        }
        (Some(key), Some(tail)) => {
            let id = parse_key(&key, table)?;
            match tail.strip_prefix("Microsoft.Dynamics.CRM.") {
                Some(action) if m == "POST" => actions::bound(ctx, db, table, &id, action, req),
                _ => crud::property(ctx, db, table, &id, &tail, req),
            }
        }
        (None, Some(tail)) => Err(ApiError::no_resource(&tail)),
    }
}

/// A key segment: `<guid>`, `{<guid>}`, or `<primaryid>=<guid>`; alternate keys are refused.
pub fn parse_key(key: &str, table: &TableDef) -> ApiResult<String> {
    let k = key.trim();
    let k = match k.split_once('=') {
        Some((name, v)) if name.trim().eq_ignore_ascii_case(&table.primary_id_attribute) => v.trim(),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "Alternate keys are not defined for entity '{}': use the primary key ({})",
                table.logical_name, table.primary_id_attribute
            )))
        }
        None => k,
    };
    let k = k.trim_start_matches('{').trim_end_matches('}');
    normalize_guid(k)
        .ok_or_else(|| ApiError::bad_request(format!("Unrecognized 'Edm.Guid' literal '{key}' in the key.")))
}

/// Lower-case 8-4-4-4-12 GUID, or `None`.
pub fn normalize_guid(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches('{').trim_end_matches('}');
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

/// A new random-looking GUID (time and a counter mixed; ids only need to be unique).
pub fn new_guid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    crate::meta::build::guid_from(&format!("new:{t}:{n}:{}", std::process::id()))
}
