//! Shared by the sync tests: a Web API server played in memory with the query engine, a Field Service data set,
//! and a host that drives the sync core the way the browser binding does.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use xrm_offline::profile::{field_service_default, Profile};
use xrm_offline::query::{execute, parse_fetchxml, EvalContext, MemorySource, Row};
use xrm_offline::schema::{field_service, Schema};
use xrm_offline::sync::request::percent_decode;
use xrm_offline::sync::{
    read_page, track_changes_request, Changes, Checkpoint, Cursor, FetchQuery, LocalRows, MemoryRows, Method, Request,
    RowRef, SyncPlan,
};

pub const BASE: &str = "https://test.crm.dynamics.com/api/data/v9.2/";
pub const ME: &str = "00000001-0000-4000-8000-000000000001";
pub const OTHER_USER: &str = "00000001-0000-4000-8000-000000000002";
/// 2026-11-27T09:00:00Z, a Friday.
pub const NOW_MS: i64 = 1_795_770_000_000;
pub const DAY_MS: i64 = 86_400_000;

/// A GUID for row `n` of table number `t`.
pub fn gid(t: u32, n: u32) -> String {
    format!("{t:08x}-0000-4000-8000-{n:012x}")
}

pub fn ctx_at(now_ms: i64) -> EvalContext {
    EvalContext {
        now_ms,
        utc_offset_minutes: 0,
        user_id: Some(ME.into()),
        team_ids: Vec::new(),
        business_unit_id: None,
    }
}

pub fn iso(ms: i64) -> String {
    xrm_offline::dates::format_datetime(ms)
}

/// A change-log entry: the version, the table, the id, and whether the row was deleted.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    table: String,
    id: String,
    deleted: bool,
}

/// The server: rows by table and id, a version counter, a change log; every request it answers is logged.
pub struct TestServer {
    pub schema: Schema,
    pub tables: BTreeMap<String, BTreeMap<String, Row>>,
    pub version: u64,
    log: Vec<Change>,
    pub now_ms: i64,
    pub requests: Vec<Request>,
    /// The next write is performed but its response is lost (the host sees a network error).
    pub lose_next_response: bool,
    /// Page `?fetchXml=` reads as Dataverse does (`page`/`count`, `morerecords`, `fetchxmlpagingcookie`, no
    /// `@odata.nextLink`); `false` pages them with `@odata.nextLink` like OData queries.
    pub fetch_paging_cookies: bool,
}

fn lookup(target: &str, id: &str) -> (String, Value) {
    (target.to_string(), Value::String(id.to_string()))
}

impl TestServer {
    pub fn new() -> TestServer {
        TestServer {
            schema: field_service(),
            tables: BTreeMap::new(),
            version: 0,
            log: Vec::new(),
            now_ms: NOW_MS,
            requests: Vec::new(),
            lose_next_response: false,
            fetch_paging_cookies: true,
        }
    }

    fn primary_id(&self, table: &str) -> String {
        self.schema.table(table).map(|t| t.primary_id_attribute.clone()).unwrap_or_default()
    }

    /// Creates or replaces a row (values in the stored shape; lookups given as `("_x_value", (table, id))`).
    pub fn upsert(&mut self, table: &str, id: &str, values: Value) {
        self.version += 1;
        let pid = self.primary_id(table);
        let mut row: Row = Map::new();
        row.insert(pid, Value::String(id.to_string()));
        if let Value::Object(o) = values {
            for (k, v) in o {
                // A lookup written as [table, id] gets its annotation.
                if let (Some(inner), Value::Array(pair)) =
                    (k.strip_prefix('_').and_then(|x| x.strip_suffix("_value")), &v)
                {
                    let target = pair[0].as_str().unwrap_or_default().to_string();
                    row.insert(k.clone(), pair[1].clone());
                    row.insert(format!("{k}@Microsoft.Dynamics.CRM.lookuplogicalname"), Value::String(target));
                    let _ = inner;
                } else {
                    row.insert(k, v);
                }
            }
        }
        row.insert("@odata.etag".into(), Value::String(format!("W/\"{}\"", self.version)));
        self.tables.entry(table.to_string()).or_default().insert(id.to_string(), row);
        self.log.push(Change { version: self.version, table: table.into(), id: id.into(), deleted: false });
    }

    /// Changes columns of an existing row.
    pub fn modify(&mut self, table: &str, id: &str, values: Value) {
        let mut row = self.tables.get(table).and_then(|t| t.get(id)).cloned().expect("row exists");
        let pid = self.primary_id(table);
        row.remove(&pid);
        row.remove("@odata.etag");
        let mut merged = Value::Object(row);
        if let (Value::Object(m), Value::Object(o)) = (&mut merged, values) {
            for (k, v) in o {
                m.insert(k, v);
            }
        }
        self.upsert(table, id, merged);
    }

    pub fn delete(&mut self, table: &str, id: &str) {
        self.version += 1;
        if let Some(t) = self.tables.get_mut(table) {
            t.remove(id);
        }
        self.log.push(Change { version: self.version, table: table.into(), id: id.into(), deleted: true });
    }

    pub fn row(&self, table: &str, id: &str) -> Option<&Row> {
        self.tables.get(table).and_then(|t| t.get(id))
    }

    pub fn source(&self) -> MemorySource {
        let mut s = MemorySource::new();
        for (t, rows) in &self.tables {
            s.extend(t, rows.values().cloned());
        }
        s
    }

    /// Answers a request: (status, body).
    pub fn handle(&mut self, req: &Request) -> (u16, Value) {
        self.requests.push(req.clone());
        let url = req.url.strip_prefix(BASE).unwrap_or(&req.url).to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let params: BTreeMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let prefer = req.header("Prefer").unwrap_or("").to_string();
        let page_size: usize = prefer
            .split(',')
            .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(5000);
        if let Some((set, id)) = path.strip_suffix(')').and_then(|p| p.split_once('(')) {
            return self.handle_row(req, set, id);
        }
        let Some(def) = self.schema.table_by_set(path).cloned() else {
            return (404, json!({"error": {"code": "0x80060888", "message": format!("no entity set {path}")}}));
        };
        assert_eq!(req.method, Method::Get, "only reads here");
        let skip: usize = params.get("$skiptoken").and_then(|s| s.parse().ok()).unwrap_or(0);
        let tracking = prefer.contains("odata.track-changes") || params.contains_key("$deltatoken");
        if tracking {
            assert!(!params.contains_key("$filter") && !params.contains_key("fetchXml"), "no filter with tracking");
        }
        let next_url = |skip: usize, snapshot: Option<u64>| {
            let mut p = params.clone();
            p.insert("$skiptoken".into(), skip.to_string());
            if let Some(s) = snapshot {
                p.insert("$snapshot".into(), s.to_string());
            }
            let q: Vec<String> =
                p.iter().map(|(k, v)| format!("{k}={}", xrm_offline::sync::request::percent_encode(v))).collect();
            format!("{BASE}{path}?{}", q.join("&"))
        };
        let delta_link = |v: u64| format!("{BASE}{path}?$select={}&$deltatoken={v}", def.primary_id_attribute);
        // (rows or deleted entries, snapshot version)
        let (entries, snapshot): (Vec<Value>, u64) = if let Some(dt) = params.get("$deltatoken") {
            let since: u64 = dt.parse().expect("delta token");
            let snapshot: u64 = params.get("$snapshot").and_then(|s| s.parse().ok()).unwrap_or(self.version);
            let mut last: BTreeMap<String, bool> = BTreeMap::new();
            for c in
                self.log.iter().filter(|c| c.table == def.logical_name && c.version > since && c.version <= snapshot)
            {
                last.insert(c.id.clone(), c.deleted);
            }
            let entries = last
                .into_iter()
                .map(|(id, deleted)| {
                    if deleted {
                        json!({"@odata.context": format!("{BASE}$metadata#{path}/$deletedEntity"), "id": id, "reason": "deleted"})
                    } else {
                        json!({ def.primary_id_attribute.clone(): id })
                    }
                })
                .collect();
            (entries, snapshot)
        } else if tracking {
            let snapshot: u64 = params.get("$snapshot").and_then(|s| s.parse().ok()).unwrap_or(self.version);
            let ids: Vec<Value> = self
                .tables
                .get(&def.logical_name)
                .map(|t| t.keys().map(|id| json!({ def.primary_id_attribute.clone(): id })).collect())
                .unwrap_or_default();
            (ids, snapshot)
        } else if let Some(xml) = params.get("fetchXml") {
            let mut q = match parse_fetchxml(&self.schema, xml) {
                Ok(q) => q,
                Err(e) => return (400, e.to_dataverse_json()),
            };
            let ctx = ctx_at(self.now_ms);
            if self.fetch_paging_cookies {
                let page = q.page.unwrap_or(1);
                q.page_size = Some(q.page_size.unwrap_or(page_size as u32));
                q.page = Some(page);
                let r = match execute(&self.schema, &q, &self.source(), &ctx) {
                    Ok(r) => r,
                    Err(e) => return (400, e.to_dataverse_json()),
                };
                let mut body = json!({"@odata.context": format!("{BASE}$metadata#{path}"), "value": r.entities,
                    "@Microsoft.Dynamics.CRM.morerecords": r.more_records});
                if r.more_records {
                    let inner = format!("<cookie page=\"{page}\"></cookie>");
                    let enc =
                        xrm_offline::sync::request::percent_encode(&xrm_offline::sync::request::percent_encode(&inner));
                    body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = Value::String(format!(
                        "<cookie pagenumber=\"{}\" pagingcookie=\"{enc}\" istracking=\"False\" />",
                        page + 1
                    ));
                }
                return (200, body);
            }
            match execute(&self.schema, &q, &self.source(), &ctx) {
                Ok(r) => (r.entities.into_iter().map(Value::Object).collect(), self.version),
                Err(e) => return (400, e.to_dataverse_json()),
            }
        } else {
            panic!("unexpected read {url}");
        };
        let page: Vec<Value> = entries.iter().skip(skip).take(page_size).cloned().collect();
        let mut body = json!({"@odata.context": format!("{BASE}$metadata#{path}"), "value": page});
        if skip + page_size < entries.len() {
            let link = next_url(skip + page_size, tracking.then_some(snapshot));
            body["@odata.nextLink"] = Value::String(link);
        } else if tracking {
            body["@odata.deltaLink"] = Value::String(delta_link(snapshot));
        }
        (200, body)
    }
}

impl TestServer {
    /// `GET`, `PATCH` and `DELETE` of `<set>(<id>)`, with `If-Match` / `If-None-Match` as Dataverse applies them.
    fn handle_row(&mut self, req: &Request, set: &str, id: &str) -> (u16, Value) {
        let def = self.schema.table_by_set(set).cloned().expect("entity set");
        let table = def.logical_name.clone();
        let existing = self.row(&table, id).cloned();
        let etag = existing.as_ref().and_then(|r| r.get("@odata.etag")).and_then(Value::as_str).map(str::to_string);
        let err = |status: u16, code: &str, msg: &str| (status, json!({"error": {"code": code, "message": msg}}));
        if let Some(m) = req.header("If-Match") {
            match &etag {
                None => return err(404, "0x80040217", "Record Not Found"),
                Some(t) if m != "*" && m != t => {
                    return err(412, "0x80060882", "The version of the existing record doesn't match")
                }
                _ => {}
            }
        }
        if req.header("If-None-Match") == Some("*") && existing.is_some() {
            return err(412, "0x80040237", "A record with matching key values already exists.");
        }
        let (status, body) = match req.method {
            Method::Get => match existing {
                Some(r) => (200, Value::Object(r)),
                None => return err(404, "0x80040217", "Record Not Found"),
            },
            Method::Delete => {
                if existing.is_none() {
                    return err(404, "0x80040217", "Record Not Found");
                }
                self.delete(&table, id);
                (204, Value::Null)
            }
            Method::Patch => {
                let mut values = Map::new();
                for (k, v) in req.body.as_ref().and_then(Value::as_object).cloned().unwrap_or_default() {
                    if let Some(nav) = k.strip_suffix("@odata.bind") {
                        let (attr, target) = match def.navigation(nav) {
                            Some((r, false)) => (r.referencing_attribute.clone(), Some(r.referenced_entity.clone())),
                            _ => (nav.to_string(), None),
                        };
                        let key = format!("_{attr}_value");
                        match v.as_str() {
                            Some(path) => {
                                let inner = path.trim_start_matches('/');
                                let (tset, tid) =
                                    inner.strip_suffix(')').and_then(|p| p.split_once('(')).expect("bind path");
                                let t = target.unwrap_or_else(|| {
                                    self.schema.table_by_set(tset).expect("set").logical_name.clone()
                                });
                                values.insert(key, json!([t, tid]));
                            }
                            None => {
                                values.insert(key, Value::Null);
                            }
                        }
                    } else if k == "name" && v == "REJECT ME" {
                        return err(400, "0x80040203", "Business rule: that name is not allowed");
                    } else {
                        values.insert(k, v);
                    }
                }
                match existing {
                    Some(_) => self.modify(&table, id, Value::Object(values)),
                    None => self.upsert(&table, id, Value::Object(values)),
                }
                let etag = self.row(&table, id).and_then(|r| r.get("@odata.etag")).cloned().unwrap_or(Value::Null);
                (200, json!({ def.primary_id_attribute.clone(): id, "@odata.etag": etag }))
            }
            Method::Post => panic!("creates are PATCH with If-None-Match"),
        };
        if self.lose_next_response && req.method != Method::Get {
            self.lose_next_response = false;
            return (0, Value::Null);
        }
        (status, body)
    }
}

/// The default profile, prepared against the shipped schema.
pub fn default_profile(schema: &Schema) -> Profile {
    let mut p = field_service_default();
    p.prepare(schema).expect("the default profile prepares");
    p
}

/// A deterministic Field Service data set around [`NOW_MS`].
pub fn seed(server: &mut TestServer) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u32| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % u64::from(n)) as u32
    };
    server.upsert("systemuser", ME, json!({"fullname": "Tech"}));
    server.upsert("systemuser", OTHER_USER, json!({"fullname": "Other"}));
    let resources = [gid(2, 1), gid(2, 2)];
    server.upsert("bookableresource", &resources[0], json!({"name": "Tech", "_userid_value": ["systemuser", ME]}));
    server.upsert(
        "bookableresource",
        &resources[1],
        json!({"name": "Other", "_userid_value": ["systemuser", OTHER_USER]}),
    );
    for s in 1..=3 {
        server.upsert("bookingstatus", &gid(3, s), json!({"name": format!("Status {s}")}));
    }
    for p in 1..=20 {
        server.upsert("product", &gid(4, p), json!({"name": format!("Product {p}")}));
    }
    for i in 1..=5 {
        server.upsert("msdyn_incidenttype", &gid(5, i), json!({"msdyn_name": format!("Incident {i}")}));
    }
    for a in 1..=15 {
        server.upsert("account", &gid(6, a), json!({"name": format!("Account {a}")}));
    }
    for c in 1..=25 {
        let a = gid(6, 1 + next(15));
        server.upsert(
            "contact",
            &gid(7, c),
            json!({"lastname": format!("Contact {c}"), "_parentcustomerid_value": ["account", a]}),
        );
    }
    for c in 1..=10 {
        let p = gid(4, 1 + next(20));
        let a = gid(6, 1 + next(15));
        server.upsert(
            "msdyn_customerasset",
            &gid(8, c),
            json!({"msdyn_name": format!("Asset {c}"),
            "_msdyn_product_value": ["product", p], "_msdyn_account_value": ["account", a]}),
        );
    }
    for w in 1..=30 {
        let mut v = json!({"msdyn_name": format!("WO {w}"),
            "_msdyn_serviceaccount_value": ["account", gid(6, 1 + next(15))],
            "_msdyn_primaryincidenttype_value": ["msdyn_incidenttype", gid(5, 1 + next(5))]});
        if w % 2 == 0 {
            v["_msdyn_billingaccount_value"] = json!(["account", gid(6, 1 + next(15))]);
        }
        if w % 3 == 0 {
            v["_msdyn_customerasset_value"] = json!(["msdyn_customerasset", gid(8, 1 + next(10))]);
        }
        if w % 4 == 0 {
            v["_msdyn_reportedbycontact_value"] = json!(["contact", gid(7, 1 + next(25))]);
        }
        server.upsert("msdyn_workorder", &gid(9, w), v);
        for k in 1..=2 {
            server.upsert("msdyn_workorderproduct", &gid(10, w * 10 + k), json!({"msdyn_name": "line",
                "_msdyn_workorder_value": ["msdyn_workorder", gid(9, w)], "_msdyn_product_value": ["product", gid(4, 1 + next(20))]}));
        }
        server.upsert("msdyn_workorderservice", &gid(11, w), json!({"msdyn_name": "service",
            "_msdyn_workorder_value": ["msdyn_workorder", gid(9, w)], "_msdyn_service_value": ["product", gid(4, 1 + next(20))]}));
        server.upsert(
            "msdyn_workorderservicetask",
            &gid(12, w),
            json!({"msdyn_name": "task",
            "_msdyn_workorder_value": ["msdyn_workorder", gid(9, w)]}),
        );
    }
    for b in 1..=60 {
        let day = i64::from(next(30)) - 10;
        let start = NOW_MS + day * DAY_MS + i64::from(next(8)) * 3_600_000 - 4 * 3_600_000;
        server.upsert(
            "bookableresourcebooking",
            &gid(13, b),
            json!({"name": format!("Booking {b}"),
            "starttime": iso(start), "endtime": iso(start + 2 * 3_600_000),
            "_resource_value": ["bookableresource", resources[(next(3) % 2) as usize].clone()],
            "_bookingstatus_value": ["bookingstatus", gid(3, 1 + next(3))],
            "_msdyn_workorder_value": ["msdyn_workorder", gid(9, 1 + next(30))]}),
        );
    }
}

/// The device side: the core's plan, the local rows, checkpoints, and a log of what it did.
pub struct Host {
    pub plan: SyncPlan,
    pub local: MemoryRows,
    pub checkpoints: BTreeMap<String, Checkpoint>,
    pub page_size: u32,
    /// Tables in the order their first-sync download pages were stored.
    pub download_order: Vec<String>,
    /// Every row put, in order (table, id).
    pub puts: Vec<(String, String)>,
    pub evicted: Vec<(String, String)>,
    /// Rows changed since the last eviction (and the rows their old values brought in), as the browser host
    /// collects them for `SyncPlan::evictions_among`.
    pub seeds: Vec<RowRef>,
    /// How many evictions were checked against `evictions_among` (static profiles).
    pub targeted_checks: usize,
    /// When not empty, the rows per page wanted before each download request, in turn (`with_page_size`, as the
    /// browser host bounds a page's bytes).
    pub page_sizes: Vec<u32>,
    requests_sent: usize,
}

impl Host {
    pub fn new(profile: &Profile, schema: &Schema, page_size: u32) -> Host {
        let plan = SyncPlan::new(profile, schema).expect("plan");
        let checkpoints = plan.tables().iter().map(|t| (t.table.clone(), Checkpoint::new(&t.table))).collect();
        Host {
            plan,
            local: MemoryRows::new(),
            checkpoints,
            page_size,
            download_order: Vec::new(),
            puts: Vec::new(),
            evicted: Vec::new(),
            seeds: Vec::new(),
            targeted_checks: 0,
            page_sizes: Vec::new(),
            requests_sent: 0,
        }
    }

    fn store(&mut self, changes: &Changes) {
        for p in &changes.puts {
            self.puts.push((p.table.clone(), p.id.clone()));
        }
        let touched =
            changes.puts.iter().map(|p| (&p.table, &p.id)).chain(changes.deletes.iter().map(|d| (&d.table, &d.id)));
        for (t, id) in touched {
            if let Some(old) = self.local.get(t, id) {
                self.seeds.extend(self.plan.scope_dependents(t, old));
            }
            self.seeds.push(RowRef { table: t.clone(), id: id.clone() });
        }
        self.local.apply(changes);
    }

    /// Runs the first sync; `budget` pages at most (then stops, as an interrupted tab would). Returns whether
    /// it completed.
    pub fn first_sync(&mut self, server: &mut TestServer, mut budget: usize) -> bool {
        let tables: Vec<String> = self.plan.tables().iter().map(|t| t.table.clone()).collect();
        for t in tables {
            loop {
                let mut cp = self.checkpoints[&t].clone();
                if !self.page_sizes.is_empty() && cp.is_downloading() {
                    cp = cp.with_page_size(self.page_sizes[self.requests_sent % self.page_sizes.len()], self.page_size);
                }
                self.requests_sent += 1;
                let Some(req) = cp.next_request(&self.plan, self.page_size).expect("request") else { break };
                if budget == 0 {
                    return false;
                }
                budget -= 1;
                let (status, body) = server.handle(&req);
                assert_eq!(status, 200, "{body}");
                let page = read_page(&body, &cp.cursor().expect("cursor")).expect("page");
                let (changes, next) = cp.step(&self.plan, &page).expect("step");
                if !changes.puts.is_empty() {
                    self.download_order.push(t.clone());
                }
                // One transaction: rows and checkpoint, serialised as the browser stores it.
                self.store(&changes);
                let next = Checkpoint::from_json(&next.to_json()).expect("checkpoint round trip");
                self.checkpoints.insert(t.clone(), next);
            }
        }
        // The first sync stores the server's selection: the scope (the browser host seeds nothing for it).
        self.seeds.clear();
        true
    }

    /// Reads every page of a query.
    pub fn read_all(&mut self, server: &mut TestServer, q: &FetchQuery) -> Vec<Row> {
        let mut cursor = Cursor::Start;
        let mut rows = Vec::new();
        loop {
            let (status, body) = server.handle(&q.request(&cursor, self.page_size));
            assert_eq!(status, 200, "{body}");
            let page = read_page(&body, &cursor).expect("page");
            rows.extend(page.rows);
            match page.next {
                Some(c) => cursor = c,
                None => return rows,
            }
        }
    }

    /// Stores `changes` then runs their follow-ups (and theirs) until none is left; returns how many queries ran.
    pub fn settle(&mut self, server: &mut TestServer, ctx: &EvalContext, changes: Changes) -> usize {
        let mut queue = vec![changes];
        let mut queries = 0;
        while let Some(c) = queue.pop() {
            self.store(&c);
            for f in c.follow_ups {
                queries += 1;
                let rows = self.read_all(server, &f.query);
                let more = self.plan.apply(&self.local, ctx, &f.query.table, &rows, &[]).expect("apply");
                queue.push(more);
            }
        }
        queries
    }

    /// One incremental sync at `ctx`'s clock: deltas of every table in sync order, window refreshes, evictions.
    pub fn incremental_sync(&mut self, server: &mut TestServer, ctx: &EvalContext) {
        let tables: Vec<String> = self.plan.tables().iter().map(|t| t.table.clone()).collect();
        for t in &tables {
            let link = self.checkpoints[t].delta_link().expect("first sync done").to_string();
            let def = self.plan.schema().table(t).expect("table").clone();
            let mut cursor = Cursor::Link { url: link };
            loop {
                let (status, body) = server.handle(&track_changes_request(&def, &cursor, self.page_size));
                assert_eq!(status, 200, "{body}");
                let page = read_page(&body, &cursor).expect("page");
                let changes = self.plan.apply_delta(&self.local, ctx, t, &page).expect("delta");
                self.settle(server, ctx, changes);
                match (&page.next, &page.delta_link) {
                    (Some(c), _) => cursor = c.clone(),
                    (None, Some(new_link)) => {
                        let cp = self.checkpoints[t].with_delta_link(new_link);
                        self.checkpoints.insert(t.clone(), cp);
                        break;
                    }
                    (None, None) => panic!("delta without a link"),
                }
            }
        }
        for t in &tables {
            let Some(q) = self.plan.table(t).and_then(|p| p.refresh.clone()) else { continue };
            let rows = self.read_all(server, &q);
            let pid = self.plan.table(t).expect("table").primary_id.clone();
            let ids: Vec<String> = rows.iter().filter_map(|r| xrm_offline::sync::row_id(r, &pid)).collect();
            let follow = self.plan.refresh_missing(&self.local, t, &ids).expect("refresh");
            self.settle(server, ctx, Changes { follow_ups: follow, ..Default::default() });
        }
        self.evict(ctx);
    }

    pub fn evict(&mut self, ctx: &EvalContext) {
        let ev = self.plan.evictions(&self.local, ctx).expect("evictions");
        if self.plan.is_static() {
            // The incremental form gives the same rows from the changes alone.
            let mut targeted = self.plan.evictions_among(&self.local, ctx, &self.seeds).expect("evictions_among");
            let mut full = ev.clone();
            targeted.sort();
            full.sort();
            assert_eq!(targeted, full, "evictions_among differs from evictions (seeds: {:?})", self.seeds);
            self.targeted_checks += 1;
        }
        self.seeds.clear();
        for r in &ev {
            self.evicted.push((r.table.clone(), r.id.clone()));
        }
        self.local.apply(&Changes { deletes: ev, ..Default::default() });
    }

    /// The local ids of every table.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        self.plan.tables().iter().map(|t| (t.table.clone(), self.local.ids(&t.table))).collect()
    }

    pub fn has(&self, table: &str, id: &str) -> bool {
        self.local.get(table, id).is_some()
    }
}

/// What `Profile::scope` keeps over the server's rows, per table (sorted ids).
pub fn expected_scope(server: &TestServer, profile: &Profile, now_ms: i64) -> BTreeMap<String, Vec<String>> {
    let scope = profile.scope(&server.schema, &server.source(), &ctx_at(now_ms)).expect("scope");
    profile
        .items
        .iter()
        .map(|i| {
            let mut ids: Vec<String> = scope.ids(&i.table).map(|s| s.iter().cloned().collect()).unwrap_or_default();
            ids.sort();
            (i.table.clone(), ids)
        })
        .collect()
}

impl TestServer {
    /// Sends a request and returns the response as the core reads it (status 0, a lost response, becomes `None`).
    pub fn send(&mut self, req: &Request) -> xrm_offline::sync::Response {
        let (status, body) = self.handle(req);
        xrm_offline::sync::Response {
            status: (status != 0).then_some(status),
            headers: Vec::new(),
            body: (!body.is_null()).then_some(body),
        }
    }
}
