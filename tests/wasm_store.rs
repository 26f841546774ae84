//! The IndexedDB offline store in headless Chromium (real IndexedDB): a write and its outbox entry commit together
//! or not at all, a layout upgrade keeps rows, and two users (or orgs) on one device never see each other's rows.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use xrm_offline::wasm::OfflineStore;

wasm_bindgen_test_configure!(run_in_browser);

const SCHEMA: &str = include_str!("../schema/fieldservice.json");
const ORG: &str = "https://org.example.test";
const USER_A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const USER_B: &str = "bbbbbbbb-0000-0000-0000-000000000002";

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON parses")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &key.into()).expect("object property")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Math::random().to_bits())
}

async fn open(org: &str, user: &str, profile: &str, tables: &[&str], indexes: &str) -> OfflineStore {
    let opts = js(&format!(
        r#"{{"orgUrl": "{org}", "userId": "{user}", "profileId": "{profile}", "tables": {}, "indexColumns": {indexes}}}"#,
        serde_json::to_string(tables).unwrap()
    ));
    OfflineStore::open(opts, SCHEMA.to_string()).await.expect("store opens")
}

async fn outbox_len(s: &OfflineStore) -> u32 {
    s.outbox().await.expect("outbox reads").unchecked_into::<js_sys::Array>().length()
}

async fn names(s: &OfflineStore, table: &str) -> Vec<String> {
    let r = s
        .retrieve_multiple_records(table.into(), Some("?$select=name&$orderby=name".into()), None)
        .await
        .expect("query");
    let rows: js_sys::Array = get(&r, "entities").dyn_into().unwrap();
    rows.iter().map(|r| get(&r, "name").as_string().unwrap_or_default()).collect()
}

fn code(e: &JsValue) -> f64 {
    get(e, "errorCode").as_f64().unwrap_or(0.0)
}

#[wasm_bindgen_test]
async fn a_write_and_its_outbox_entry_commit_together_or_not_at_all() {
    let s = open(ORG, USER_A, &unique("atomic"), &["account", "contact"], "{}").await;
    let id = "a0000000-0000-0000-0000-00000000000a";
    let r = s
        .create_record(
            "account".into(),
            js(&format!(r#"{{"accountid": "{id}", "name": "Contoso"}}"#)),
            JsValue::NULL,
            None,
        )
        .await
        .unwrap();
    assert_eq!(get(&r, "id").as_string().as_deref(), Some(id));
    assert_eq!(outbox_len(&s).await, 1);

    // A duplicate id aborts the whole transaction: no second row, no second outbox entry.
    let dup = s
        .create_record(
            "account".into(),
            js(&format!(r#"{{"accountid": "{id}", "name": "Other"}}"#)),
            JsValue::NULL,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code(&dup), 0x8004_0237u32 as f64, "DuplicateRecord");
    assert_eq!(outbox_len(&s).await, 1);
    assert_eq!(names(&s, "account").await, vec!["Contoso"]);

    // Updating a row that is not there, or with a bad value, writes nothing.
    let missing = s
        .update_record(
            "account".into(),
            "a0000000-0000-0000-0000-0000000000ff".into(),
            js(r#"{"name": "x"}"#),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code(&missing), 0x8004_0217u32 as f64, "RecordNotFound");
    let bad = s.update_record("account".into(), id.into(), js(r#"{"name": 42}"#), None, None).await.unwrap_err();
    assert_eq!(code(&bad), 0x8004_0203u32 as f64, "InvalidArgument");
    assert_eq!(outbox_len(&s).await, 1);
    assert_eq!(names(&s, "account").await, vec!["Contoso"]);

    // A real update and a delete each add exactly one entry, in order.
    s.update_record("account".into(), id.into(), js(r#"{"name": "Contoso Ltd", "telephone1": "555"}"#), None, None)
        .await
        .unwrap();
    s.delete_record("account".into(), id.into(), None, None).await.unwrap();
    let entries: js_sys::Array = s.outbox().await.unwrap().dyn_into().unwrap();
    let actions: Vec<String> = entries.iter().map(|e| get(&e, "action").as_string().unwrap()).collect();
    assert_eq!(actions, vec!["create", "update", "delete"]);
    let changes = get(&entries.get(1), "changes");
    assert_eq!(get(&changes, "telephone1").as_string().as_deref(), Some("555"));
    let gone = s.retrieve_record("account".into(), id.into(), None).await.unwrap_err();
    assert_eq!(code(&gone), 0x8004_0217u32 as f64);
    s.delete_database().await.unwrap();
}

#[wasm_bindgen_test]
async fn an_upgrade_adds_stores_and_indexes_and_keeps_rows() {
    let profile = unique("upgrade");
    let s = open(ORG, USER_A, &profile, &["account"], "{}").await;
    s.create_record("account".into(), js(r#"{"name": "Kept"}"#), JsValue::NULL, None).await.unwrap();
    let before = s.describe();
    assert!(get(&before, "t:contact").is_undefined());
    s.close();

    let s = open(ORG, USER_A, &profile, &["account", "contact"], r#"{"account": ["primarycontactid"]}"#).await;
    let after = s.describe();
    let account_indexes: js_sys::Array = get(&after, "t:account").dyn_into().unwrap();
    assert_eq!(
        account_indexes.iter().filter_map(|v| v.as_string()).collect::<Vec<_>>(),
        vec!["_primarycontactid_value"]
    );
    assert!(!get(&after, "t:contact").is_undefined(), "the new table's store exists");
    assert_eq!(names(&s, "account").await, vec!["Kept"]);
    assert_eq!(outbox_len(&s).await, 1, "the outbox survives the upgrade");
    s.delete_database().await.unwrap();
}

#[wasm_bindgen_test]
async fn two_users_and_two_orgs_never_share_rows() {
    let profile = unique("isolation");
    let a = open(ORG, USER_A, &profile, &["account"], "{}").await;
    let b = open(ORG, USER_B, &profile, &["account"], "{}").await;
    let other_org = open("https://other.example.test", USER_A, &profile, &["account"], "{}").await;
    assert_ne!(a.name(), b.name());
    a.create_record("account".into(), js(r#"{"name": "Only A"}"#), JsValue::NULL, None).await.unwrap();
    b.create_record("account".into(), js(r#"{"name": "Only B"}"#), JsValue::NULL, None).await.unwrap();
    assert_eq!(names(&a, "account").await, vec!["Only A"]);
    assert_eq!(names(&b, "account").await, vec!["Only B"]);
    assert!(names(&other_org, "account").await.is_empty());
    for s in [a, b, other_org] {
        s.delete_database().await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn tables_outside_the_profile_are_refused() {
    let s = open(ORG, USER_A, &unique("scope"), &["account"], "{}").await;
    assert!(s.is_available_offline("account"));
    assert!(!s.is_available_offline("contact"));
    let e = s.create_record("contact".into(), js(r#"{"fullname": "x"}"#), JsValue::NULL, None).await.unwrap_err();
    assert_eq!(code(&e), 0x80A0_0001u32 as f64, "TableNotAvailableOffline");
    let e = s.retrieve_multiple_records("contact".into(), None, None).await.unwrap_err();
    assert_eq!(code(&e), 0x80A0_0001u32 as f64);
    s.delete_database().await.unwrap();
}

fn keys(v: &JsValue) -> Vec<String> {
    js_sys::Object::keys(v.unchecked_ref::<js_sys::Object>()).iter().map(|k| k.as_string().unwrap()).collect()
}

fn text(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

/// What a create stores, field by field: the row (validated and converted: a lookup as `_x_value` and its
/// annotations, the id lower case, columns in sorted order), its outbox entry (`changes`: the row without its
/// primary id; keys in the same order as ever) and a post-hook entry per hook (`record`: the row). The create path
/// sends the row across once and builds `changes` and `record` from it in `js/idb.js` `writeCreate`: this guards
/// that the three still hold the same data.
#[wasm_bindgen_test]
async fn a_create_stores_its_row_outbox_entry_and_hook_entries_from_one_validated_row() {
    let s = open(ORG, USER_A, &unique("create-shape"), &["account", "contact"], "{}").await;
    let acc = "a0000000-0000-0000-0000-0000000000c1";
    s.create_record(
        "account".into(),
        js(&format!(r#"{{"accountid": "{acc}", "name": "Parent"}}"#)),
        JsValue::NULL,
        None,
    )
    .await
    .unwrap();
    let input = format!(
        r#"{{"telephone1": "555 \"x\" \u00e9 \ud83d\ude00", "fullname": "Ana", "birthdate": "1990-05-17T08:30:00.000+02:00",
            "parentcustomerid": {{"logicalname": "account", "id": "{}", "name": "Parent"}}, "jobtitle": null,
            "statecode": 0}}"#,
        acc.to_uppercase()
    );
    let r = s.create_record("contact".into(), js(&input), js(r#"["h1", "h2"]"#), Some(1)).await.unwrap();
    let id = get(&r, "id").as_string().unwrap();
    assert_eq!(get(&r, "entityType").as_string().as_deref(), Some("contact"));
    assert_eq!(keys(&r), vec!["entityType", "id"]);

    let entries: js_sys::Array = s.outbox().await.unwrap().dyn_into().unwrap();
    assert_eq!(entries.length(), 2);
    let entry = entries.get(1);
    assert_eq!(keys(&entry), vec!["action", "changes", "id", "queuedOn", "table", "seq"]);
    assert_eq!(get(&entry, "action").as_string().as_deref(), Some("create"));
    assert_eq!(get(&entry, "table").as_string().as_deref(), Some("contact"));
    assert_eq!(get(&entry, "id").as_string(), Some(id.clone()));
    let queued = get(&entry, "queuedOn").as_string().unwrap();
    assert!(queued.len() == 24 && queued.ends_with('Z'), "queuedOn as Date.toISOString writes it: {queued}");
    let changes = get(&entry, "changes");
    assert_eq!(
        keys(&changes),
        vec![
            "_parentcustomerid_value",
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty",
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
            "_parentcustomerid_value@OData.Community.Display.V1.FormattedValue",
            "birthdate",
            "fullname",
            "jobtitle",
            "statecode",
            "telephone1",
        ]
    );
    assert_eq!(get(&changes, "_parentcustomerid_value").as_string().as_deref(), Some(acc));
    assert_eq!(get(&changes, "birthdate").as_string().as_deref(), Some("1990-05-17T06:30:00Z"));
    assert_eq!(get(&changes, "telephone1").as_string().as_deref(), Some("555 \"x\" \u{e9} \u{1f600}"));
    assert!(get(&changes, "jobtitle").is_null());

    let queue: js_sys::Array = s.hook_queue().await.unwrap().dyn_into().unwrap();
    assert_eq!(queue.length(), 2);
    for (i, name) in ["h1", "h2"].iter().enumerate() {
        let e = queue.get(i as u32);
        assert_eq!(get(&e, "name").as_string().as_deref(), Some(*name));
        assert_eq!(get(&e, "id").as_string(), Some(id.clone()));
        assert_eq!(get(&e, "depth").as_f64(), Some(1.0));
        assert!(get(&e, "previous").is_null());
        let record = get(&e, "record");
        // The row: the changes plus the primary id, in sorted order.
        let mut expected = keys(&changes);
        expected.insert(expected.iter().position(|k| k.as_str() > "contactid").unwrap(), "contactid".into());
        assert_eq!(keys(&record), expected);
        assert_eq!(get(&record, "contactid").as_string(), Some(id.clone()));
        js_sys::Reflect::delete_property(record.unchecked_ref::<js_sys::Object>(), &"contactid".into()).unwrap();
        assert_eq!(text(&record), text(&changes));
    }
    let row =
        s.retrieve_record("contact".into(), id.clone(), Some("?$select=fullname,telephone1".into())).await.unwrap();
    assert_eq!(get(&row, "telephone1").as_string().as_deref(), Some("555 \"x\" \u{e9} \u{1f600}"));
    s.delete_database().await.unwrap();
}

/// Deterministic pseudo-random numbers for the differential test.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

#[wasm_bindgen_test]
async fn every_access_path_returns_what_the_evaluator_returns() {
    // Index columns: a date, an option set and a whole number; rows with nulls and many ties.
    let s = open(
        ORG,
        USER_A,
        &unique("access"),
        &["msdyn_workorder"],
        r#"{"msdyn_workorder": ["msdyn_timefrompromised", "msdyn_systemstatus", "msdyn_totalestimatedduration"]}"#,
    )
    .await;
    let mut seed = 42u64;
    let mut rows = Vec::new();
    for i in 0..400u64 {
        let day = lcg(&mut seed) % 20;
        let hour = lcg(&mut seed) % 3 * 4;
        let date = if lcg(&mut seed).is_multiple_of(7) {
            serde_json::Value::Null
        } else {
            serde_json::json!(format!("2026-11-{:02}T{:02}:00:00Z", 1 + day, hour))
        };
        let status = 690970000 + lcg(&mut seed) % 6;
        let duration = if lcg(&mut seed).is_multiple_of(5) {
            serde_json::Value::Null
        } else {
            serde_json::json!(lcg(&mut seed) % 10 * 30)
        };
        let city = ["Lyon", "Nantes", "Brest", "Oslo"][(lcg(&mut seed) % 4) as usize];
        rows.push(serde_json::json!({
            "msdyn_workorderid": format!("00000000-0000-4000-8000-{:012x}", i),
            "msdyn_name": format!("WO-{i:04}"),
            "msdyn_timefrompromised": date,
            "msdyn_systemstatus": status,
            "msdyn_totalestimatedduration": duration,
            "msdyn_city": city,
        }));
    }
    let array: js_sys::Array = rows.iter().map(|r| js(&r.to_string())).collect();
    s.put_server_rows("msdyn_workorder".into(), array).await.unwrap();
    let engine = xrm_offline::wasm::Engine::from_schema(JsValue::from_str(SCHEMA)).unwrap();
    let data = js(&serde_json::json!({ "msdyn_workorder": rows }).to_string());
    let queries = [
        // Ordered paths (ascending needs a non-null condition; descending does not).
        "$filter=msdyn_timefrompromised ge 2026-11-05 and msdyn_timefrompromised lt 2026-11-12&$orderby=msdyn_timefrompromised&$top=17",
        "$filter=msdyn_timefrompromised ge 2026-11-05 and msdyn_city eq 'Lyon'&$orderby=msdyn_timefrompromised,msdyn_name&$top=9",
        "$filter=msdyn_systemstatus eq 690970001&$orderby=msdyn_timefrompromised desc,msdyn_name&$top=11",
        "$orderby=msdyn_timefrompromised desc,msdyn_name&$top=500",
        "$orderby=msdyn_totalestimatedduration desc,msdyn_name&$top=25",
        "$filter=msdyn_totalestimatedduration gt 60&$orderby=msdyn_totalestimatedduration,msdyn_name&$top=30",
        "$filter=msdyn_timefrompromised le 2026-11-03T04:00:00Z&$orderby=msdyn_timefrompromised desc,msdyn_name",
        // More rows than one batch, with ties at the batch boundaries.
        "$filter=msdyn_timefrompromised ge 2026-11-01&$orderby=msdyn_timefrompromised,msdyn_name&$top=300",
        "$filter=msdyn_city ne 'Oslo'&$orderby=msdyn_timefrompromised desc,msdyn_name&$top=290",
        // A selective filter (batches sized from the match rate), with or/not and a non-indexed column.
        "$filter=msdyn_timefrompromised ge 2026-11-02 and (msdyn_city eq 'Oslo' or msdyn_city eq 'Brest') and not (msdyn_systemstatus eq 690970002)&$orderby=msdyn_timefrompromised,msdyn_name&$top=5",
        "$filter=msdyn_timefrompromised ge 2026-11-02 and msdyn_city eq 'Oslo' and msdyn_systemstatus eq 690970004&$orderby=msdyn_timefrompromised&$top=20",
        // Equality and ranges without an indexed order.
        "$filter=msdyn_systemstatus eq 690970003&$orderby=msdyn_name",
        "$filter=msdyn_totalestimatedduration ge 90 and msdyn_totalestimatedduration lt 180&$orderby=msdyn_name",
        "$filter=msdyn_timefrompromised gt 2026-11-18&$orderby=msdyn_name&$top=4",
        // Orders that cannot use the index (nulls first ascending without a condition).
        "$orderby=msdyn_timefrompromised,msdyn_name&$top=40",
        "$filter=msdyn_city eq 'Brest'&$orderby=msdyn_name&$top=12",
    ];
    // Every query through the IndexedDB paths, then through the query cache (rowcache.rs).
    for (cached, q) in queries.iter().map(|q| (false, *q)).chain(queries.iter().map(|q| (true, *q))) {
        s.set_query_cache(cached);
        let expected = engine.retrieve_multiple("msdyn_workorder", q, data.clone(), JsValue::UNDEFINED).unwrap();
        let got = s.retrieve_multiple_records("msdyn_workorder".into(), Some(q.into()), None).await.unwrap();
        let ids = |v: &JsValue| -> Vec<String> {
            let a: js_sys::Array = get(v, "entities").dyn_into().unwrap();
            a.iter().map(|r| get(&r, "msdyn_workorderid").as_string().unwrap()).collect()
        };
        assert_eq!(ids(&got), ids(&expected), "{q}");
        if q.starts_with("$filter=msdyn_timefrompromised ge 2026-11-05 and msdyn_timefrompromised lt 2026-11-12") {
            // The ordered path stops early: fewer rows read than the window holds.
            let window = rows
                .iter()
                .filter(|r| {
                    r["msdyn_timefrompromised"].as_str().is_some_and(|d| ("2026-11-05".."2026-11-12").contains(&d))
                })
                .count() as f64;
            if cached {
                // The first cached query built the cache (every row); a warm one reads only the rows of the answer
                // and those tying with its last on the date.
                s.retrieve_multiple_records("msdyn_workorder".into(), Some(q.into()), None).await.unwrap();
                assert_eq!(get(&s.query_stats(), "cachedRows").as_f64(), Some(400.0));
            }
            let read = get(&s.query_stats(), "rowsRead").as_f64().unwrap();
            assert!(read > 0.0 && read < window, "read {read} rows of a {window}-row window for {q}");
            if cached {
                assert!((17.0..27.0).contains(&read), "read {read} rows from the cache for {q}");
            }
        }
        // Paging through the same query gives the same rows.
        let mut paged = Vec::new();
        let mut options = Some(q.to_string());
        while let Some(o) = options {
            let page = s.retrieve_multiple_records("msdyn_workorder".into(), Some(o), Some(7)).await.unwrap();
            paged.extend(ids(&page));
            options = get(&page, "nextLink").as_string();
        }
        assert_eq!(paged, ids(&expected), "paged: {q}");
    }
    s.delete_database().await.unwrap();
}

fn work_order(i: u64, day: u64, status: u64) -> serde_json::Value {
    serde_json::json!({
        "msdyn_workorderid": format!("00000000-0000-4000-8000-{:012x}", i),
        "msdyn_name": format!("WO-{i:04}"),
        "msdyn_timefrompromised": format!("2026-11-{:02}T{:02}:00:00Z", 1 + day % 28, i / 28 % 24),
        "msdyn_systemstatus": 690970000 + status,
    })
}

async fn ids_of(s: &OfflineStore, q: &str) -> Vec<String> {
    let r = s.retrieve_multiple_records("msdyn_workorder".into(), Some(q.into()), None).await.unwrap();
    let a: js_sys::Array = get(&r, "entities").dyn_into().unwrap();
    a.iter().map(|r| get(&r, "msdyn_workorderid").as_string().unwrap()).collect()
}

fn rows_read(s: &OfflineStore) -> f64 {
    get(&s.query_stats(), "rowsRead").as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn the_query_cache_sees_what_other_connections_write_and_what_rolls_back() {
    let profile = unique("cache");
    let idx = r#"{"msdyn_workorder": ["msdyn_timefrompromised", "msdyn_systemstatus"]}"#;
    // Two connections to one database: two tabs of one user.
    let a = open(ORG, USER_A, &profile, &["msdyn_workorder"], idx).await;
    let b = open(ORG, USER_A, &profile, &["msdyn_workorder"], idx).await;
    let rows: js_sys::Array = (0..300u64).map(|i| js(&work_order(i, i % 28, i % 3).to_string())).collect();
    a.put_server_rows("msdyn_workorder".into(), rows).await.unwrap();
    let q = "$filter=msdyn_systemstatus eq 690970001 and msdyn_timefrompromised ge 2026-11-03&$orderby=msdyn_timefrompromised,msdyn_name&$top=5";
    let uncached = |s: &OfflineStore| {
        s.set_query_cache(false);
    };
    let first = ids_of(&a, q).await;
    assert_eq!(rows_read(&a), 300.0 + 5.0, "the first query builds the cache (every row) and reads its 5 rows");
    assert_eq!(get(&a.query_stats(), "cachedRows").as_f64(), Some(300.0));
    let again = ids_of(&a, q).await;
    assert_eq!((again.clone(), rows_read(&a)), (first.clone(), 5.0), "a warm query reads only its rows");

    // The other connection: a new first row, an update that takes the second row out, a delete of the third.
    let new_id = "00000000-0000-4000-8000-0000000009ff";
    b.create_record(
        "msdyn_workorder".into(),
        js(&format!(
            r#"{{"msdyn_workorderid": "{new_id}", "msdyn_name": "WO-new", "msdyn_timefrompromised": "2026-11-03T00:00:00Z", "msdyn_systemstatus": 690970001}}"#
        )),
        JsValue::NULL,
        None,
    )
    .await
    .unwrap();
    b.update_record("msdyn_workorder".into(), first[1].clone(), js(r#"{"msdyn_systemstatus": 690970002}"#), None, None)
        .await
        .unwrap();
    b.delete_record("msdyn_workorder".into(), first[2].clone(), None, None).await.unwrap();
    let seen = ids_of(&a, q).await;
    assert_eq!(seen[0], new_id);
    assert!(!seen.contains(&first[1]) && !seen.contains(&first[2]), "{seen:?}");
    assert_eq!(seen[1], first[0]);
    uncached(&a);
    assert_eq!(ids_of(&a, q).await, seen, "the cache answers as the IndexedDB path does");
    a.set_query_cache(true);

    // A write of this connection updates its cache in place: no rebuild.
    a.update_record("msdyn_workorder".into(), new_id.into(), js(r#"{"msdyn_systemstatus": 690970000}"#), None, None)
        .await
        .unwrap();
    let own = ids_of(&a, q).await;
    assert_eq!(rows_read(&a), 5.0, "no rebuild after this connection's own write");
    assert!(!own.contains(&new_id.to_string()));
    assert_eq!(own[0], first[0]);
    // So does a create of this connection (its promise resolves after the cache took the row).
    let mine = "00000000-0000-4000-8000-000000000aaa";
    a.create_record(
        "msdyn_workorder".into(),
        js(&format!(
            r#"{{"msdyn_workorderid": "{mine}", "msdyn_name": "WO-mine", "msdyn_timefrompromised": "2026-11-03T00:05:00Z", "msdyn_systemstatus": 690970001}}"#
        )),
        JsValue::NULL,
        None,
    )
    .await
    .unwrap();
    let with_mine = ids_of(&a, q).await;
    assert_eq!(rows_read(&a), 5.0, "no rebuild after this connection's own create");
    assert_eq!(with_mine[0], mine);
    a.delete_record("msdyn_workorder".into(), mine.into(), None, None).await.unwrap();
    assert_eq!(ids_of(&a, q).await, own);
    assert_eq!(rows_read(&a), 5.0, "no rebuild after this connection's own delete");

    // A write that rolls back (a duplicate id) leaves rows and stamp as they were: the cache stays valid.
    let dup = b
        .create_record(
            "msdyn_workorder".into(),
            js(&format!(r#"{{"msdyn_workorderid": "{}", "msdyn_name": "dup"}}"#, first[0])),
            JsValue::NULL,
            None,
        )
        .await;
    assert!(dup.is_err());
    assert_eq!(ids_of(&a, q).await, own);
    assert_eq!(rows_read(&a), 5.0, "an aborted write changes no stamp (it is in the write's transaction)");

    // Server rows written by the other connection (as a sync does) are seen too, and so are the ones it deletes.
    let mut moved = work_order(1000, 2, 1);
    moved["msdyn_timefrompromised"] = serde_json::json!("2026-11-03T00:30:00Z");
    let put: js_sys::Array = [js(&moved.to_string())].into_iter().collect();
    b.put_server_rows("msdyn_workorder".into(), put).await.unwrap();
    let with = ids_of(&a, q).await;
    assert_eq!(with[0], moved["msdyn_workorderid"].as_str().unwrap());
    b.delete_record("msdyn_workorder".into(), with[0].clone(), None, None).await.unwrap();
    assert_eq!(ids_of(&a, q).await, own);
    a.close();
    b.delete_database().await.unwrap();
}
