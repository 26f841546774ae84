//! Reliability suite, hostile input (issue #8): property tests that play the part of a fuzz target over
//! everything the engine reads from outside: FetchXML, OData query options, profiles (plain JSON and the Dataverse
//! form), schema JSON (EntityDefinitions), and the server responses the sync core parses (collection pages with
//! nextLink / deltaLink / `$deletedEntity` / paging cookies, single rows, error bodies, stored checkpoints).
//!
//! Inputs are mutations of real documents (the shipped profile and schema, the FetchXML the sync engine sends,
//! pages recorded from a sync against the in-memory Web API server) and random bytes. For every input:
//! - no panic (the proptest runner catches panics and shrinks to a minimal input);
//! - no hang: each input is timed (limit `XRM_INPUT_LIMIT_MS`, default 1000 ms, timed twice before failing) and
//!   a watchdog aborts with the input printed if one runs for a minute;
//! - no stack overflow: inputs run on a 1 MiB stack (wasm32's default), with nesting up to 50 000 levels;
//! - every error is typed: an `ErrorCode` of the family the function documents and a non-empty message;
//! - what parses is usable: plans execute over the seeded rows and render to FetchXML / OData that parse again,
//!   profiles plan, checkpoints round-trip.
//!
//! Bounded by default (part of `npm test`); `XRM_SOAK=1` runs a million inputs in total (`XRM_TRIALS=<n>` sets
//! the total), `XRM_SEED=<n>` reproduces a run (the seed is printed). Run alone:
//! `cargo test --test reliability_input -- --nocapture`; soak: see docs/RELIABILITY.md.
#![cfg(not(target_arch = "wasm32"))]

#[path = "sync_support/mod.rs"]
mod sync_support;

#[path = "reliability_input/corpus.rs"]
mod corpus;
#[path = "reliability_input/harness.rs"]
mod harness;
#[path = "reliability_input/mutate.rs"]
mod mutate;

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use xrm_offline::profile::{to_dataverse_json, Profile, FIELD_SERVICE_PROFILE_JSON};
use xrm_offline::query::render::{filter_to_odata, query_to_odata, try_filter_to_fetchxml, try_query_to_fetchxml};
use xrm_offline::query::{execute, parse_fetchxml, parse_fetchxml_filter, parse_odata, MemorySource, Predicate};
use xrm_offline::schema::Schema;
use xrm_offline::sync::conflict::refetched;
use xrm_offline::sync::upload::retry_after_secs;
use xrm_offline::sync::{
    classify, read_page, Action, Backoff, Checkpoint, Cursor, MemoryRows, Outcome, Response, RowRef, SyncPlan,
};
use xrm_offline::ErrorCode::{self, *};

use corpus::schema;
use harness::{run, typed};
use sync_support::{ctx_at, NOW_MS};

/// Errors a query parser, renderer or the executor may give.
const QUERY: &[ErrorCode] = &[InvalidQuery, InvalidFetchXml, InvalidArgument, AttributeNotFound, TableNotFound];
/// Errors reading, validating and planning a profile may give.
const PROFILE: &[ErrorCode] = &[
    InvalidJson,
    InvalidProfile,
    TableNotFound,
    AttributeNotFound,
    TableNotAvailableOffline,
    InvalidFetchXml,
    InvalidQuery,
    InvalidArgument,
];
/// Errors reading a server response may give (a page that is not a page; a tracking read without a delta link).
const RESPONSE: &[ErrorCode] = &[InvalidJson, ServerError];

const XML_NEST: &[(&str, &str)] = &[
    ("<filter>", "</filter>"),
    ("<filter type='or'>", "</filter>"),
    (
        "<link-entity name='account' from='accountid' to='msdyn_serviceaccount' link-type='any'><filter>",
        "</filter></link-entity>",
    ),
    ("<link-entity name='contact' from='contactid' to='primarycontactid'>", "</link-entity>"),
    ("<a>", "</a>"),
    ("<!--", "-->"),
    ("<![CDATA[", "]]>"),
    ("&amp;", ""),
];
const XML_ALPHABET: &str = "<>/='\"abcdefilmnorstuy &;#x019!?[]-_:%\n";

const ODATA_NEST: &[(&str, &str)] = &[
    ("(", ")"),
    ("not ", ""),
    ("not (", ")"),
    ("msdyn_ServiceAccount/", ""),
    ("msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder/any(b:b/msdyn_workorder/", ")"),
    ("msdyn_ServiceAccount($expand=", ")"),
    ("msdyn_ServiceAccount($select=name;$expand=", ")"),
    ("contact_customer_accounts($filter=", ")"),
    ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[", "])"),
    ("'", "'"),
    ("%25", ""),
];
const ODATA_ALPHABET: &str = "?$&=,;()/' abcdefilmnorstuxyz0123456789-:.TZ%+[]_";

/// The seeded Field Service rows of the in-memory server (the rows queries run over).
fn rows() -> &'static MemorySource {
    static R: OnceLock<MemorySource> = OnceLock::new();
    R.get_or_init(|| {
        let mut server = sync_support::TestServer::new();
        sync_support::seed(&mut server);
        server.source()
    })
}

fn ctx() -> xrm_offline::query::EvalContext {
    let mut c = ctx_at(NOW_MS);
    c.utc_offset_minutes = 120;
    c.team_ids = vec!["00000003-0000-4000-8000-000000000001".into()];
    c.business_unit_id = Some("00000002-0000-4000-8000-000000000001".into());
    c
}

fn show_err(e: &xrm_offline::Error) -> String {
    e.to_string()
}

/// Checks a parsed query: it runs over the seeded rows, and renders to FetchXML and OData that parse again.
fn check_query(s: &Schema, q: &xrm_offline::query::plan::Query) -> Result<(), String> {
    if let Err(e) = execute(s, q, rows(), &ctx()) {
        typed("execute", &e, QUERY)?;
    }
    match try_query_to_fetchxml(q) {
        Ok(x) => {
            parse_fetchxml(s, &x)
                .map_err(|e| format!("the rendered FetchXML does not parse again: {}\n{x}", show_err(&e)))?;
        }
        Err(e) => typed("try_query_to_fetchxml", &e, QUERY)?,
    }
    match query_to_odata(s, q) {
        Ok(o) => {
            parse_odata(s, &q.table, &o)
                .map_err(|e| format!("the rendered OData does not parse again: {}\n{o}", show_err(&e)))?;
        }
        Err(e) => typed("query_to_odata", &e, QUERY)?,
    }
    Ok(())
}

fn check_fetchxml(text: &str) -> Result<(), String> {
    let s = schema();
    match parse_fetchxml(s, text) {
        Ok(q) => check_query(s, &q),
        Err(e) => typed("parse_fetchxml", &e, QUERY),
    }
}

fn check_filter(table: &str, text: &str) -> Result<(), String> {
    let s = schema();
    match parse_fetchxml_filter(s, table, text) {
        Ok(None) => Ok(()),
        Ok(Some(f)) => {
            match Predicate::compile(s, table, &f, rows(), &ctx()) {
                Ok(p) => {
                    for r in xrm_offline::query::RowSource::rows(rows(), table).take(50) {
                        p.test(r);
                    }
                }
                Err(e) => typed("Predicate::compile", &e, QUERY)?,
            }
            match try_filter_to_fetchxml(&f) {
                Ok(x) => {
                    parse_fetchxml_filter(s, table, &x)
                        .map_err(|e| format!("the rendered filter does not parse again: {}\n{x}", show_err(&e)))?;
                }
                Err(e) => typed("try_filter_to_fetchxml", &e, QUERY)?,
            }
            if let Err(e) = filter_to_odata(s, table, &f) {
                typed("filter_to_odata", &e, QUERY)?;
            }
            Ok(())
        }
        Err(e) => typed("parse_fetchxml_filter", &e, QUERY),
    }
}

fn check_odata(table: &str, text: &str) -> Result<(), String> {
    let s = schema();
    match parse_odata(s, table, text) {
        Ok(q) => check_query(s, &q),
        Err(e) => typed("parse_odata", &e, QUERY),
    }
}

fn typed_all(what: &str, errors: &[xrm_offline::Error], allowed: &[ErrorCode]) -> Result<(), String> {
    if errors.is_empty() {
        return Err(format!("{what}: failed without saying why (no error)"));
    }
    errors.iter().try_for_each(|e| typed(what, e, allowed))
}

/// Checks a profile that loaded: it lints, plans, its download queries parse (the server will parse them), it
/// evaluates over local rows, and it survives both JSON forms.
fn check_profile(p: &Profile, s: &Schema) -> Result<(), String> {
    p.lint(s);
    let back = Profile::from_json_value(&p.to_json()).map_err(|e| format!("to_json does not read back: {e:?}"))?;
    if back.items.len() != p.items.len() {
        return Err("to_json lost items".into());
    }
    match to_dataverse_json(p, s) {
        Ok(d) => {
            Profile::from_dataverse_value(&d.to_value(), s)
                .map_err(|e| format!("the Dataverse form does not read back: {e:?}"))?;
        }
        Err(e) => typed("to_dataverse_json", &e, PROFILE)?,
    }
    match SyncPlan::new(p, s) {
        Ok(plan) => {
            for t in plan.tables() {
                for q in [&t.download, &t.refresh].into_iter().flatten() {
                    parse_fetchxml(s, &q.fetchxml)
                        .map_err(|e| format!("a download query does not parse: {}\n{}", show_err(&e), q.fetchxml))?;
                }
            }
            let (_, local) = corpus::recorded();
            if let Err(e) = plan.evictions(local, &ctx()) {
                typed("evictions", &e, PROFILE)?;
            }
        }
        Err(e) => typed("SyncPlan::new", &e, PROFILE)?,
    }
    Ok(())
}

fn check_profile_text(text: &str) -> Result<(), String> {
    let s = schema();
    if let Err(e) = Profile::from_json(text) {
        typed_all("Profile::from_json", &e, PROFILE)?;
    }
    if let Err(e) = Profile::from_dataverse_json(text, s) {
        typed_all("Profile::from_dataverse_json", &e, PROFILE)?;
    }
    match Profile::load(text, s) {
        Ok(p) => check_profile(&p, s),
        Err(e) => typed_all("Profile::load", &e, PROFILE),
    }
}

fn check_schema(text: &str) -> Result<(), String> {
    let s = match Schema::from_json(text) {
        Ok(s) => s,
        Err(e) => return typed("Schema::from_json", &e, &[InvalidSchema]),
    };
    for t in s.tables() {
        let pid = &t.primary_id_attribute;
        let options = format!("$select={pid}&$filter={pid} ne null&$orderby={pid}&$top=1");
        match parse_odata(&s, &t.logical_name, &options) {
            Ok(q) => {
                if let Err(e) = execute(&s, &q, rows(), &ctx()) {
                    typed("execute", &e, QUERY)?;
                }
            }
            Err(e) => typed("parse_odata", &e, QUERY)?,
        }
        let fetch = format!(
            "<fetch><entity name='{}'><all-attributes/></entity></fetch>",
            t.logical_name.replace(['\'', '<', '&'], "_")
        );
        match parse_fetchxml(&s, &fetch) {
            Ok(q) => {
                if let Err(e) = execute(&s, &q, rows(), &ctx()) {
                    typed("execute", &e, QUERY)?;
                }
            }
            Err(e) => typed("parse_fetchxml", &e, QUERY)?,
        }
    }
    match Profile::load(FIELD_SERVICE_PROFILE_JSON, &s) {
        Ok(p) => check_profile(&p, &s)?,
        Err(e) => typed_all("Profile::load against the schema", &e, PROFILE)?,
    }
    if let Err(e) = Profile::from_dataverse_value(&corpus::profile_dataverse()[0], &s) {
        typed_all("Profile::from_dataverse_value against the schema", &e, PROFILE)?;
    }
    Ok(())
}

/// A cursor variant: 0 the recorded one, 1 start, 2 a paging-cookie page (`page` as given), 3 a link.
fn cursor_variant(recorded: &Cursor, kind: u8, page: u32) -> Cursor {
    match kind % 4 {
        0 => recorded.clone(),
        1 => Cursor::Start,
        2 => Cursor::FetchPage { page, cookie: None },
        _ => Cursor::Link { url: "https://test.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=1".into() },
    }
}

fn check_page(index: usize, text: &str, kind: u8, page_no: u32) -> Result<(), String> {
    let (pages, local) = corpus::recorded();
    let rec = &pages[index % pages.len()];
    let (_, plan) = corpus::plan();
    // As the browser transport: a body that is not JSON is no body.
    let Ok(body) = serde_json::from_str::<Value>(text) else { return Ok(()) };
    let cursor = cursor_variant(&rec.cursor, kind, page_no);
    let page = match read_page(&body, &cursor) {
        Ok(p) => p,
        Err(e) => return typed("read_page", &e, RESPONSE),
    };
    if let Some(cp) = &rec.checkpoint {
        match cp.step(plan, &page) {
            Ok((_, next)) => {
                let back = Checkpoint::from_json(&next.to_json()).map_err(|e| format!("checkpoint round trip: {e}"))?;
                if back != next {
                    return Err(format!("the checkpoint does not round-trip: {next:?} != {back:?}"));
                }
                if let Err(e) = next.next_request(plan, 4) {
                    typed("next_request", &e, RESPONSE)?;
                }
            }
            Err(e) => typed("Checkpoint::step", &e, RESPONSE)?,
        }
    }
    let ctx = ctx();
    match plan.apply_delta(local, &ctx, &rec.table, &page) {
        Ok(changes) => {
            if !changes.is_empty() {
                let mut after: MemoryRows = local.clone();
                after.apply(&changes);
                if let Err(e) = plan.evictions(&after, &ctx) {
                    typed("evictions", &e, RESPONSE)?;
                }
            }
        }
        Err(e) => typed("apply_delta", &e, RESPONSE)?,
    }
    if let Err(e) = plan.apply(local, &ctx, &rec.table, &page.rows, &page.deleted) {
        typed("apply", &e, RESPONSE)?;
    }
    Ok(())
}

/// An upload or refetch answer: action, status, headers, body text.
type Answer = (u8, Option<u16>, Vec<(String, String)>, String);

fn check_answer((action, status, headers, text): &Answer) -> Result<(), String> {
    let action = [Action::Create, Action::Update, Action::Delete][*action as usize % 3];
    let res = Response { status: *status, headers: headers.clone(), body: serde_json::from_str(text).ok() };
    let outcome = classify(action, &res);
    match (&outcome, status) {
        (Outcome::Transient { .. }, None | Some(401 | 408 | 429 | 500..=599)) => {}
        (Outcome::Transient { .. }, _) => return Err(format!("{status:?} classified as transient")),
        (_, None) => return Err("no answer not classified as transient".into()),
        (Outcome::Done { .. }, Some(200..=299)) => {}
        (_, Some(200..=299)) => return Err(format!("{status:?} not classified as done: {outcome:?}")),
        (Outcome::Rejected { code, message, errortype }, _)
            if code.trim().is_empty() || message.trim().is_empty() || !(1..=3).contains(errortype) =>
        {
            return Err(format!("an untyped rejection: {outcome:?}"));
        }
        _ => {}
    }
    if let Some(v) = res.header("Retry-After") {
        let secs = retry_after_secs(v);
        Backoff::default().delay_ms(3, 0.5, secs);
    }
    let (_, plan) = corpus::plan();
    for t in plan.tables().iter().take(3) {
        let row = RowRef { table: t.table.clone(), id: "aaaaaaaa-0000-4000-8000-000000000001".into() };
        if let Err(e) = refetched(schema(), &row, &res) {
            typed("refetched", &e, RESPONSE)?;
        }
    }
    Ok(())
}

fn check_checkpoint(text: &str, page_size: u32, body: usize) -> Result<(), String> {
    let (_, plan) = corpus::plan();
    let cp = match Checkpoint::from_json(text) {
        Ok(c) => c,
        Err(e) => return typed("Checkpoint::from_json", &e, &[InvalidJson]),
    };
    let back = Checkpoint::from_json(&cp.to_json()).map_err(|e| format!("round trip: {e}"))?;
    if back != cp {
        return Err(format!("the checkpoint does not round-trip: {cp:?}"));
    }
    if let Err(e) = cp.next_request(plan, page_size) {
        typed("next_request", &e, &[TableNotFound, TableNotAvailableOffline, InvalidArgument])?;
    }
    let (pages, _) = corpus::recorded();
    if let Some(cursor) = cp.cursor() {
        let rec = &pages[body % pages.len()];
        match read_page(&rec.body, &cursor) {
            Ok(page) => {
                if let Err(e) = cp.step(plan, &page) {
                    typed("Checkpoint::step", &e, &[ServerError, TableNotFound, TableNotAvailableOffline])?;
                }
            }
            Err(e) => typed("read_page", &e, RESPONSE)?,
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// The targets

#[test]
fn fetchxml() {
    let strategy = mutate::text_input(corpus::fetchxml_seeds(), XML_NEST, XML_ALPHABET);
    run("fetchxml", strategy, |t| t.clone(), |t| check_fetchxml(t));
}

#[test]
fn fetchxml_filter() {
    let seeds = corpus::filter_seeds();
    let tables: Vec<String> = seeds.iter().map(|(t, _)| t.clone()).collect();
    let texts: Vec<String> = seeds.iter().map(|(_, x)| x.clone()).collect();
    let strategy = (prop::sample::select(tables), mutate::text_input(texts, XML_NEST, XML_ALPHABET));
    run("fetchxml_filter", strategy, |(t, x)| format!("{t}: {x}"), |(t, x)| check_filter(t, x));
}

#[test]
fn odata() {
    let seeds = corpus::odata_seeds();
    let tables: Vec<String> = seeds.iter().map(|(t, _)| t.clone()).collect();
    let texts: Vec<String> = seeds.iter().map(|(_, o)| o.clone()).collect();
    let strategy = (prop::sample::select(tables), mutate::text_input(texts, ODATA_NEST, ODATA_ALPHABET));
    run("odata", strategy, |(t, o)| format!("{t}: {o}"), |(t, o)| check_odata(t, o));
}

#[test]
fn profile_json() {
    let strategy = mutate::json_input(vec![corpus::profile_json()]);
    run("profile_json", strategy, |t| t.clone(), |t| check_profile_text(t));
}

#[test]
fn profile_dataverse() {
    let strategy = mutate::json_input(corpus::profile_dataverse());
    run("profile_dataverse", strategy, |t| t.clone(), |t| check_profile_text(t));
}

#[test]
fn schema_json() {
    let strategy = mutate::json_input(corpus::schema_docs());
    run("schema", strategy, |t| t.clone(), |t| check_schema(t));
}

#[test]
fn server_pages() {
    let (pages, _) = corpus::recorded();
    let bodies: Vec<Value> = pages.iter().map(|p| p.body.clone()).collect();
    let strategy = (
        mutate::json_input_indexed(bodies),
        any::<u8>(),
        prop_oneof![Just(1u32), Just(2), Just(u32::MAX - 1), Just(u32::MAX), any::<u32>()],
    );
    run(
        "server_pages",
        strategy,
        |((i, t), k, p)| format!("page {i}, cursor {k}/{p}: {t}"),
        |((i, t), k, p)| check_page(*i, t, *k, *p),
    );
}

#[test]
fn server_answers() {
    let header_value = prop_oneof![
        prop::sample::select(mutate::HUGE_NUMBERS.to_vec()).prop_map(str::to_string),
        prop::sample::select(mutate::UNICODE.to_vec()).prop_map(str::to_string),
        Just("W/\"12345\"".to_string()),
        Just("Fri, 27 Nov 2026 09:00:00 GMT".to_string()),
        any::<String>(),
    ];
    let header = (
        prop::sample::select(vec!["Retry-After", "retry-after", "ETag", "OData-EntityId", "Content-Type"]),
        header_value,
    )
        .prop_map(|(n, v)| (n.to_string(), v));
    let status = prop_oneof![
        prop::sample::select(vec![
            None,
            Some(200),
            Some(201),
            Some(204),
            Some(304),
            Some(400),
            Some(401),
            Some(403),
            Some(404),
            Some(408),
            Some(409),
            Some(412),
            Some(413),
            Some(429),
            Some(500),
            Some(502),
            Some(503),
            Some(504)
        ]),
        any::<u16>().prop_map(Some),
    ];
    let strategy = (any::<u8>(), status, prop::collection::vec(header, 0..3), mutate::json_input(corpus::answers()));
    run("server_answers", strategy, |a| format!("{a:?}"), check_answer);
}

#[test]
fn checkpoints() {
    let (pages, _) = corpus::recorded();
    let mut seeds: Vec<Value> = pages
        .iter()
        .filter_map(|p| p.checkpoint.as_ref())
        .map(|c| serde_json::from_str(&c.to_json()).expect("checkpoint JSON"))
        .collect();
    seeds.dedup();
    let done = Checkpoint::new("msdyn_workorder").with_delta_link(
        "https://test.crm.dynamics.com/api/data/v9.2/msdyn_workorders?$select=msdyn_workorderid&$deltatoken=919",
    );
    seeds.push(serde_json::from_str(&done.to_json()).expect("checkpoint JSON"));
    let page_size = prop_oneof![Just(0u32), Just(1), Just(5000), Just(u32::MAX), any::<u32>()];
    let strategy = (mutate::json_input(seeds), page_size, any::<usize>());
    run(
        "checkpoints",
        strategy,
        |(t, n, b)| format!("page size {n}, body {b}: {t}"),
        |(t, n, b)| check_checkpoint(t, *n, *b),
    );
}

/// The parsed seed queries (FetchXML and OData), which `stored_rows` runs over hostile rows.
fn seed_queries() -> &'static Vec<xrm_offline::query::plan::Query> {
    static Q: OnceLock<Vec<xrm_offline::query::plan::Query>> = OnceLock::new();
    Q.get_or_init(|| {
        let s = schema();
        let mut out: Vec<_> = corpus::fetchxml_seeds().iter().filter_map(|x| parse_fetchxml(s, x).ok()).collect();
        out.extend(corpus::odata_seeds().iter().filter_map(|(t, o)| parse_odata(s, t, o).ok()));
        out
    })
}

/// Rows as the store holds them (the server wrote them; a bug or another client may have written anything):
/// every seed query and the profile's scope run over mutated rows.
#[test]
fn stored_rows() {
    let tables = ["msdyn_workorder", "account", "contact", "bookableresourcebooking", "bookableresource", "systemuser"];
    let mut doc = serde_json::Map::new();
    for t in tables {
        let list: Vec<Value> =
            xrm_offline::query::RowSource::rows(rows(), t).take(4).map(|r| Value::Object(r.clone())).collect();
        doc.insert(t.to_string(), Value::Array(list));
    }
    let strategy = mutate::json_input(vec![Value::Object(doc)]);
    run(
        "stored_rows",
        strategy,
        |t| t.clone(),
        |text| {
            let s = schema();
            let src = match MemorySource::from_json(text) {
                Ok(src) => src,
                Err(e) => return typed("MemorySource::from_json", &e, &[InvalidJson]),
            };
            for q in seed_queries() {
                if let Err(e) = execute(s, q, &src, &ctx()) {
                    typed("execute", &e, QUERY)?;
                }
            }
            if let Err(e) = corpus::plan().0.scope(s, &src, &ctx()) {
                typed("Profile::scope", &e, PROFILE)?;
            }
            Ok(())
        },
    );
}

/// Stored sync times (the host reads them back from storage: any number, including the saturated conversions of
/// NaN and infinities) and the device clock.
#[test]
fn schedule() {
    let time = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(NOW_MS),
        (-1_000_000_000i64..1_000_000_000).prop_map(|d| NOW_MS + d),
        any::<i64>()
    ];
    let strategy = (time.clone(), prop::collection::vec(time, 0..16));
    run(
        "schedule",
        strategy,
        |v| format!("{v:?}"),
        |(now, lasts)| {
            let (_, plan) = corpus::plan();
            let last: std::collections::HashMap<String, i64> =
                plan.tables().iter().zip(lasts).map(|(t, l)| (t.table.clone(), *l)).collect();
            let due = xrm_offline::sync::due_tables(plan, *now, &last);
            let next = xrm_offline::sync::next_due_ms(plan, *now, &last);
            if !due.is_empty() && next != *now {
                return Err(format!("tables {due:?} are due but the next due time is {next}, not now ({now})"));
            }
            Ok(())
        },
    );
}

// ------------------------------------------------------------------------------------------------------------
// The seeds themselves are valid (so the mutations start from real, accepted documents).

#[test]
fn seeds_are_accepted() {
    let s = schema();
    for x in corpus::fetchxml_seeds() {
        let q = parse_fetchxml(s, &x).unwrap_or_else(|e| panic!("{e}\n{x}"));
        check_query(s, &q).unwrap_or_else(|e| panic!("{e}\n{x}"));
    }
    for (t, x) in corpus::filter_seeds() {
        assert!(parse_fetchxml_filter(s, &t, &x).unwrap_or_else(|e| panic!("{e}\n{x}")).is_some());
    }
    for (t, o) in corpus::odata_seeds() {
        // One seed carries an unknown option on purpose; every other one parses.
        if o.contains("$filter2") {
            continue;
        }
        let q = parse_odata(s, &t, &o).unwrap_or_else(|e| panic!("{e}\n{t}: {o}"));
        check_query(s, &q).unwrap_or_else(|e| panic!("{e}\n{o}"));
    }
    let p = Profile::load(&corpus::profile_json().to_string(), s).expect("the shipped profile loads");
    check_profile(&p, s).expect("the shipped profile checks");
    for d in corpus::profile_dataverse() {
        let p = Profile::load(&d.to_string(), s).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.items.len(), corpus::plan().0.items.len());
    }
    for d in corpus::schema_docs() {
        Schema::from_json(&d.to_string()).expect("schema subset");
    }
    check_schema(&corpus::schema_whole().to_string()).expect("the whole schema checks");
    let (pages, _) = corpus::recorded();
    assert!(pages.len() > 50, "{} pages recorded", pages.len());
    let text = |p: &corpus::RecordedPage| p.body.to_string();
    assert!(pages.iter().any(|p| text(p).contains("$deletedEntity")), "a delta page with deletions");
    assert!(pages.iter().any(|p| text(p).contains("@odata.deltaLink")));
    assert!(pages.iter().any(|p| text(p).contains("@odata.nextLink")));
    assert!(pages.iter().any(|p| text(p).contains("fetchxmlpagingcookie")));
    for (i, p) in pages.iter().enumerate() {
        check_page(i, &text(p), 0, 1).unwrap_or_else(|e| panic!("page {i}: {e}"));
    }
}

// ------------------------------------------------------------------------------------------------------------
// Regressions: the minimised inputs of the bugs the suite found (docs/RELIABILITY.md, "Bugs found").

/// An upload answered with a Dataverse error body whose message (or code) is empty was recorded as a sync error
/// with an empty message (seed 820261127, target server_answers).
#[test]
fn regression_rejection_with_an_empty_message_still_says_why() {
    let res = Response {
        status: Some(304),
        headers: Vec::new(),
        body: serde_json::from_str(r#"{"error":{"code":"0x80060888","message":""}}"#).ok(),
    };
    let Outcome::Rejected { code, message, errortype } = classify(Action::Create, &res) else { panic!("rejected") };
    assert_eq!(code, "0x80060888");
    assert_eq!(message, "the server answered 304 without saying why");
    assert_eq!(errortype, 3);
    let res = Response { body: serde_json::from_str(r#"{"error":{"code":" ","message":" "}}"#).ok(), ..res };
    let Outcome::Rejected { code, message, .. } = classify(Action::Update, &res) else { panic!("rejected") };
    assert_eq!(code, ErrorCode::ServerError.hex_string());
    assert!(!message.trim().is_empty());
}

/// `$top=0` rendered as `<fetch top="0">`, which the FetchXML parser (rightly, as Dataverse) refuses: the strict
/// renderer now says FetchXML has no form for it (found by `seeds_are_accepted`'s render/parse round trip).
#[test]
fn regression_top_zero_has_no_fetchxml_form() {
    harness::once((), 0, |_| {
        let q = parse_odata(schema(), "account", "$select=name&$top=0").map_err(|e| e.to_string())?;
        let e = try_query_to_fetchxml(&q).expect_err("no FetchXML form");
        typed("try_query_to_fetchxml", &e, &[InvalidArgument])?;
        let q = parse_odata(schema(), "account", "$select=name&$top=1").map_err(|e| e.to_string())?;
        let x = try_query_to_fetchxml(&q).map_err(|e| e.to_string())?;
        parse_fetchxml(schema(), &x).map(|_| ()).map_err(|e| e.to_string())
    });
}

/// A stored checkpoint whose page count is at its maximum overflowed when the next page was stored (seed 1,
/// target checkpoints); a paging-cookie cursor at page 4294967295 overflowed when the server said there was more.
#[test]
fn regression_checkpoint_counters_and_page_numbers_do_not_overflow() {
    let (_, plan) = corpus::plan();
    let text = r#"{"cursor":{"kind":"link","url":"https://test.crm.dynamics.com/api/data/v9.2/msdyn_workorderservicetasks?$select=msdyn_workorderservicetaskid&$skiptoken=12&$snapshot=292"},"pages":18446744073709551615,"phase":"tracking","rows":0,"table":"msdyn_workorderservicetask"}"#;
    let cp = Checkpoint::from_json(text).expect("reads");
    let (pages, _) = corpus::recorded();
    let page = read_page(&pages[0].body, &cp.cursor().expect("cursor")).expect("page");
    let (_, next) = cp.step(plan, &page).expect("steps");
    assert_eq!(next.pages, u64::MAX);
    let more = serde_json::json!({"value": [], "@Microsoft.Dynamics.CRM.morerecords": true});
    let e = read_page(&more, &Cursor::FetchPage { page: u32::MAX, cookie: None }).expect_err("no page after the last");
    typed("read_page", &e, &[InvalidJson]).unwrap();
    let p = read_page(&more, &Cursor::FetchPage { page: u32::MAX - 1, cookie: None }).expect("page");
    assert_eq!(p.next, Some(Cursor::FetchPage { page: u32::MAX, cookie: None }));
}

/// A last-sync time stored as the far past (NaN or -Infinity read back as i64::MIN) overflowed `now - last`.
#[test]
fn regression_far_past_sync_time_is_due_without_overflow() {
    let (_, plan) = corpus::plan();
    let last: std::collections::HashMap<String, i64> =
        plan.tables().iter().map(|t| (t.table.clone(), i64::MIN)).collect();
    let due = xrm_offline::sync::due_tables(plan, NOW_MS, &last);
    assert_eq!(due.len(), plan.tables().len());
    assert_eq!(xrm_offline::sync::next_due_ms(plan, NOW_MS, &last), NOW_MS);
}

// ------------------------------------------------------------------------------------------------------------
// Structured extremes the mutations rarely reach: thousands of items and tables, long relationship chains.

/// A schema of `n` tables chained by lookups (`t0.next -> t1`, `t1.next -> t2`...), and a profile that follows the
/// chain: every item related to the next one.
fn chain(n: usize) -> (String, String) {
    let tables: Vec<Value> = (0..n)
        .map(|i| {
            let next = (i + 1) % n;
            let prev = (i + n - 1) % n;
            serde_json::json!({
                "LogicalName": format!("t{i}"), "EntitySetName": format!("t{i}s"), "PrimaryIdAttribute": format!("t{i}id"),
                "PrimaryNameAttribute": "name", "OwnershipType": "UserOwned",
                "Attributes": [
                    {"LogicalName": format!("t{i}id"), "AttributeType": "Uniqueidentifier"},
                    {"LogicalName": "name", "AttributeType": "String"},
                    {"LogicalName": "next", "AttributeType": "Lookup", "Targets": [format!("t{next}")]}],
                "ManyToOneRelationships": [{"SchemaName": format!("t{i}_next"), "ReferencedEntity": format!("t{next}"),
                    "ReferencedAttribute": format!("t{next}id"), "ReferencingEntity": format!("t{i}"),
                    "ReferencingAttribute": "next", "ReferencedEntityNavigationPropertyName": format!("t{i}_next_of"),
                    "ReferencingEntityNavigationPropertyName": "next"}],
                "OneToManyRelationships": [{"SchemaName": format!("t{prev}_next"), "ReferencedEntity": format!("t{i}"),
                    "ReferencedAttribute": format!("t{i}id"), "ReferencingEntity": format!("t{prev}"),
                    "ReferencingAttribute": "next", "ReferencedEntityNavigationPropertyName": format!("t{prev}_next_of"),
                    "ReferencingEntityNavigationPropertyName": "next"}]
            })
        })
        .collect();
    let items: Vec<Value> = (0..n)
        .map(|i| {
            if i + 1 == n {
                serde_json::json!({"table": format!("t{i}"), "filter": "all"})
            } else {
                serde_json::json!({"table": format!("t{i}"), "filter": "related", "relationships": [format!("t{i}_next")]})
            }
        })
        .collect();
    let schema = serde_json::json!({ "value": tables }).to_string();
    let profile = serde_json::json!({"name": "chain", "items": items}).to_string();
    (schema, profile)
}

fn chain_sizes() -> Vec<usize> {
    match std::env::var("XRM_CHAIN") {
        Ok(n) => vec![n.parse().expect("XRM_CHAIN")],
        Err(_) => vec![3, 16, 17, 10_000],
    }
}

/// Long relationship chains and cycles are refused with typed errors, without deep recursion (the check runs on
/// the 1 MiB stack) and in bounded time: a short chain plans, a long one breaks the related-tables rule.
#[test]
fn long_relationship_chains_are_refused_cleanly() {
    for n in chain_sizes() {
        // About 700 bytes of schema and profile per table.
        harness::once(n, n * 700, |&n| {
            let (schema_text, profile_text) = chain(n);
            let s = Schema::from_json(&schema_text).map_err(|e| e.to_string())?;
            match Profile::load(&profile_text, &s) {
                Ok(p) if n <= 16 => check_profile(&p, &s),
                Ok(_) => Err(format!("a chain of {n} tables was accepted")),
                Err(e) if n > 16 => typed_all("Profile::load", &e, PROFILE),
                Err(e) => Err(format!("a chain of {n} tables was refused: {e:?}")),
            }
        });
    }
}

/// A profile with tens of thousands of items (duplicates of the shipped ones) is refused quickly.
#[test]
fn huge_profiles_are_refused_quickly() {
    harness::once((), 20_000 * 300, |_| {
        let mut doc = corpus::profile_json();
        let items = doc["items"].as_array().cloned().unwrap_or_default();
        let many: Vec<Value> = items.iter().cycle().take(20_000).cloned().collect();
        doc["items"] = Value::Array(many);
        match Profile::load(&doc.to_string(), schema()) {
            Ok(_) => Err("20 000 duplicate items were accepted".into()),
            Err(e) => typed_all("Profile::load", &e, PROFILE),
        }
    });
}

/// TableNotFound listed every table of the schema: a schema of thousands of tables made each such error hundreds of
/// KB. It names the first 50 and how many more.
#[test]
fn regression_table_not_found_message_is_bounded() {
    let (schema_text, _) = chain(3_000);
    let s = Schema::from_json(&schema_text).expect("schema");
    let e = s.require_table("nosuchtable").expect_err("not found");
    typed("require_table", &e, &[TableNotFound]).unwrap();
    assert!(e.message.len() < 1_000, "{} bytes", e.message.len());
    assert!(e.message.contains("t0, t1") && e.message.ends_with("and 2950 more)"), "{}", e.message);
}
