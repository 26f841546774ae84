//! WhoAmI, CRUD with etags and conditional requests, validation, restart, CORS and static files,
//! over real HTTP on loopback. Auth and row-level access are proven in reliability_security.rs.

mod common;

use common::*;
use serde_json::json;
use xrm_offline_server::seed::users::bu_id;

#[test]
fn whoami_names_the_user_business_unit_and_organisation() {
    let r = get(shared(), "tech1-token", "WhoAmI");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["UserId"], user_id("tech1"));
    assert_eq!(j["BusinessUnitId"], bu_id("north"));
    assert!(j["OrganizationId"].as_str().unwrap().len() == 36);
    assert!(j["@odata.context"].as_str().unwrap().ends_with("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"));
}

#[test]
fn create_read_update_delete_with_etags() {
    let port = shared();
    let r = call(port, "tech1-token", "POST", "accounts", Some(&json!({"name": "Crud Co", "revenue": 1234.5})), &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    let id = entity_id(&r);
    assert!(r.header("OData-EntityId").unwrap().contains(&format!("/api/data/v9.2/accounts({id})")));
    let got = get(port, "tech1-token", &format!("accounts({id})"));
    assert_eq!(got.status, 200);
    let row = got.json();
    assert!(row["@odata.context"].as_str().unwrap().ends_with("$metadata#accounts/$entity"));
    let etag = row["@odata.etag"].as_str().unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(row["name"], "Crud Co");
    assert_eq!(row["_ownerid_value"], user_id("tech1"));
    assert_eq!(row["_owningbusinessunit_value"], bu_id("north"));
    assert_eq!(row["_createdby_value"], user_id("tech1"));
    assert!(row["createdon"].as_str().unwrap().ends_with('Z'));
    assert_eq!(row["statecode"], 0);
    assert!(row.as_object().unwrap().contains_key("telephone1"), "every column comes back, null when empty");
    assert_eq!(format!("W/\"{}\"", row["versionnumber"]), etag);

    // If-None-Match with the current etag: 304.
    let auth = "Bearer tech1-token";
    let r =
        send(port, "GET", &format!("{API}accounts({id})"), &[("Authorization", auth), ("If-None-Match", &etag)], None);
    assert_eq!(r.status, 304);

    // Stale If-Match: 412 with Dataverse's concurrency error; current one: 204.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})"),
        Some(&json!({"name": "Crud Co 2"})),
        &[("If-Match", &etag)],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})"),
        Some(&json!({"name": "Crud Co 3"})),
        &[("If-Match", &etag)],
    );
    assert_eq!(r.status, 412);
    assert_eq!(r.code(), "0x80060882");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("RowVersion"));
    // If-None-Match: * on an existing row: 412.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})"),
        Some(&json!({"name": "x"})),
        &[("If-None-Match", "*")],
    );
    assert_eq!(r.status, 412);
    assert_eq!(r.code(), "0x80040237");
    // return=representation on update: 200 with the row.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})?$select=name"),
        Some(&json!({"name": "Crud Co 4"})),
        &[("Prefer", "return=representation")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "Crud Co 4");
    assert_eq!(r.header("Preference-Applied"), Some("return=representation"));
    assert!(r.json()["@odata.context"].as_str().unwrap().contains("accounts(name)/$entity"));

    let r = call(port, "tech1-token", "DELETE", &format!("accounts({id})"), None, &[]);
    assert_eq!(r.status, 204);
    let r = call(port, "tech1-token", "DELETE", &format!("accounts({id})"), None, &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "0x80040217");
    assert_eq!(get(port, "tech1-token", &format!("accounts({id})")).status, 404);
}

#[test]
fn create_honours_client_ids_and_refuses_duplicates() {
    let port = shared();
    let id = "0f0f0f0f-1111-4222-8333-444455556666";
    let body = json!({"accountid": id, "name": "Client id"});
    let r = call(port, "tech1-token", "POST", "accounts", Some(&body), &[("Prefer", "return=representation")]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["accountid"], id);
    assert!(r.json()["@odata.etag"].is_string());
    let r = call(port, "tech1-token", "POST", "accounts", Some(&body), &[]);
    assert_eq!(r.status, 412);
    assert_eq!(r.code(), "0x80040237");
}

#[test]
fn patch_upserts_unless_if_match_is_set() {
    let port = shared();
    let id = "1a1a1a1a-2222-4333-8444-555566667777";
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})"),
        Some(&json!({"name": "Upserted"})),
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 404, "If-Match: * blocks the create");
    let r = call(port, "tech1-token", "PATCH", &format!("accounts({id})"), Some(&json!({"name": "Upserted"})), &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(port, "tech1-token", &format!("accounts({id})")).json()["name"], "Upserted");
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("accounts({id})"),
        Some(&json!({"name": "Again"})),
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 204);
}

#[test]
fn lookups_bind_by_navigation_property_and_read_back_with_annotations() {
    let port = shared();
    let r = call(port, "tech1-token", "POST", "accounts", Some(&json!({"name": "Parent Inc"})), &[]);
    let account = entity_id(&r);
    let r = call(
        port,
        "tech1-token",
        "POST",
        "contacts",
        Some(
            &json!({"firstname": "Ada", "lastname": "Lovelace", "parentcustomerid_account@odata.bind": format!("/accounts({account})")}),
        ),
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let contact = entity_id(&r);
    let r = get_prefer(
        port,
        "tech1-token",
        &format!("contacts({contact})?$select=fullname,_parentcustomerid_value"),
        "odata.include-annotations=\"*\"",
    );
    let j = r.json();
    assert_eq!(j["fullname"], "Ada Lovelace");
    assert_eq!(j["_parentcustomerid_value"], account);
    assert_eq!(j["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"], "account");
    assert_eq!(
        j["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"],
        "parentcustomerid_account"
    );
    assert_eq!(j["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"], "Parent Inc");
    // Only the formatted values when only they are asked for.
    let r = get_prefer(
        port,
        "tech1-token",
        &format!("contacts({contact})?$select=_parentcustomerid_value"),
        "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"",
    );
    let j = r.json();
    assert!(j.get("_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname").is_none());
    assert_eq!(j["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"], "Parent Inc");
    // No annotations without the preference.
    let j = get(port, "tech1-token", &format!("contacts({contact})")).json();
    assert!(!j.as_object().unwrap().keys().any(|k| k.contains("@OData") || k.contains("@Microsoft")));
    // Clearing with null.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("contacts({contact})"),
        Some(&json!({"parentcustomerid_account@odata.bind": null})),
        &[],
    );
    assert_eq!(r.status, 204);
    assert!(get(port, "tech1-token", &format!("contacts({contact})")).json()["_parentcustomerid_value"].is_null());
    // A missing target: 404 as Dataverse.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("contacts({contact})"),
        Some(&json!({"parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"})),
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "0x80040217");
    // An unknown navigation property.
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("contacts({contact})"),
        Some(&json!({"nope@odata.bind": "/accounts(x)"})),
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "0x80060888");
}

#[test]
fn formatted_values_for_option_sets_money_and_dates() {
    let port = shared();
    let r = get_prefer(
        port,
        "admin-token",
        "msdyn_workorders?$select=msdyn_systemstatus,msdyn_totalamount,createdon&$filter=msdyn_totalamount ne null&$top=1",
        "odata.include-annotations=\"*\"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let row = &r.json()["value"][0];
    let fv = "@OData.Community.Display.V1.FormattedValue";
    assert!(row[format!("msdyn_systemstatus{fv}")].is_string(), "{row}");
    assert!(row[format!("msdyn_totalamount{fv}")].as_str().unwrap().starts_with('$'));
    assert!(row[format!("createdon{fv}")].as_str().unwrap().contains('/'));
}

#[test]
fn validation_errors_are_dataverse_shaped() {
    let port = shared();
    let check = |body: serde_json::Value, table: &str, status: u16, code: &str, needle: &str| {
        let r = call(port, "admin-token", "POST", table, Some(&body), &[]);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.code(), code, "{body}: {}", r.text());
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{msg}");
    };
    check(
        json!({"name": "x", "nope": 1}),
        "accounts",
        400,
        "0x80060888",
        "Invalid property 'nope' was found in entity 'Microsoft.Dynamics.CRM.account'",
    );
    check(json!({"name": "x".repeat(161)}), "accounts", 400, "0x80044331", "maximum allowed length of '160'");
    check(json!({"name": "x", "statuscode": 99}), "accounts", 400, "0x8004431a", "outside the valid range");
    check(json!({"accountnumber": "1"}), "accounts", 400, "0x80040203", "'name'");
    check(json!({"name": "x", "revenue": "lots"}), "accounts", 400, "0x80060888", "Edm.Decimal");
    check(json!({"name": "x", "_primarycontactid_value": "x"}), "accounts", 400, "0x80060888", "Invalid property");
    let r =
        send(port, "POST", &format!("{API}accounts"), &[("Authorization", "Bearer admin-token")], Some("{not json"));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "0x80060888");
    let r = get(port, "admin-token", "accounts(not-a-guid)");
    assert_eq!(r.status, 400);
    let r = get(port, "admin-token", "nosuchset");
    assert_eq!(r.status, 404);
}

#[test]
fn a_completed_work_order_needs_a_completion_note() {
    let port = shared();
    let account = get(port, "tech1-token", "accounts?$select=name&$top=1").json()["value"][0]["accountid"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "msdyn_name": "WO-RULE", "msdyn_systemstatus": 690970001, "msdyn_serviceaccount@odata.bind": format!("/accounts({account})"),
    });
    let r = call(port, "tech1-token", "POST", "msdyn_workorders", Some(&body), &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    let wo = entity_id(&r);
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("msdyn_workorders({wo})"),
        Some(&json!({"msdyn_systemstatus": 690970003})),
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "0x80040265");
    assert!(r.text().contains("msdyn_workordersummary"));
    let r = call(
        port,
        "tech1-token",
        "PATCH",
        &format!("msdyn_workorders({wo})"),
        Some(&json!({"msdyn_systemstatus": 690970003, "msdyn_workordersummary": "Fixed."})),
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let j = get(port, "tech1-token", &format!("msdyn_workorders({wo})")).json();
    assert!(j["msdyn_completedon"].is_string());
}

#[test]
fn rows_survive_a_restart_with_a_file_database() {
    let dir = std::env::temp_dir().join(format!("xrm-offline-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("org.db").to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&db);
    let cfg = xrm_offline_server::Config { db: db.clone(), ..Default::default() };
    let s = xrm_offline_server::start(cfg.clone()).unwrap();
    let r = call(s.port, "admin-token", "POST", "accounts", Some(&json!({"name": "Durable"})), &[]);
    let id = entity_id(&r);
    let etag = get(s.port, "admin-token", &format!("accounts({id})")).json()["@odata.etag"].clone();
    s.stop();
    let s = xrm_offline_server::start(cfg).unwrap();
    let j = get(s.port, "admin-token", &format!("accounts({id})")).json();
    assert_eq!(j["name"], "Durable");
    assert_eq!(j["@odata.etag"], etag);
    // Versions keep increasing after the restart.
    let r = call(s.port, "admin-token", "PATCH", &format!("accounts({id})"), Some(&json!({"name": "Durable 2"})), &[]);
    assert_eq!(r.status, 204);
    let v2 = get(s.port, "admin-token", &format!("accounts({id})")).json()["versionnumber"].as_i64().unwrap();
    assert!(v2 > etag.as_str().unwrap().trim_matches(|c: char| !c.is_ascii_digit()).parse::<i64>().unwrap());
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cors_preflight_and_headers() {
    let port = shared();
    let r = send(
        port,
        "OPTIONS",
        &format!("{API}accounts"),
        &[("Origin", "http://localhost:9000"), ("Access-Control-Request-Headers", "authorization,prefer,if-match")],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("http://localhost:9000"));
    assert!(r.header("Access-Control-Allow-Headers").unwrap().contains("prefer"));
    assert!(r.header("Access-Control-Allow-Methods").unwrap().contains("PATCH"));
    let r = send(
        port,
        "GET",
        &format!("{API}WhoAmI"),
        &[("Origin", "http://localhost:9000"), ("Authorization", "Bearer tech1-token")],
        None,
    );
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("http://localhost:9000"));
    assert!(r.header("Access-Control-Expose-Headers").unwrap().contains("OData-EntityId"));
}

#[test]
fn static_files_have_the_right_content_types() {
    let dir = std::env::temp_dir().join(format!("xrm-offline-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.join("app.mjs"), "export {}").unwrap();
    std::fs::write(dir.join("pkg/x.wasm"), [0u8, 97, 115, 109]).unwrap();
    let s = xrm_offline_server::start(xrm_offline_server::Config {
        static_dir: Some(dir.clone()),
        pkg_dir: Some(dir.join("pkg")),
        ..Default::default()
    })
    .unwrap();
    let r = send(s.port, "GET", "/", &[], None);
    assert_eq!((r.status, r.header("Content-Type")), (200, Some("text/html; charset=utf-8")));
    assert_eq!(
        send(s.port, "GET", "/app.mjs", &[], None).header("Content-Type"),
        Some("text/javascript; charset=utf-8")
    );
    let r = send(s.port, "GET", "/pkg/x.wasm", &[], None);
    assert_eq!((r.status, r.header("Content-Type")), (200, Some("application/wasm")));
    assert_eq!(send(s.port, "GET", "/../secret", &[], None).status, 404);
    assert_eq!(send(s.port, "GET", "/nope.js", &[], None).status, 404);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    use std::io::{BufReader, Write};
    let port = shared();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for _ in 0..3 {
        s.write_all(b"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tech1-token\r\n\r\n")
            .unwrap();
        let r = read_response(&mut reader).unwrap();
        assert_eq!(r.status, 200);
    }
    // A chunked request body.
    s.write_all(
        b"POST /api/data/v9.2/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tech1-token\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"name\":\"\r\n8\r\nChunked\"\r\n1\r\n}\r\n0\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut reader).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn extra_tokens_map_to_users() {
    let s = xrm_offline_server::start(xrm_offline_server::Config {
        tokens: vec![("tech2@contoso.example".into(), "s3cret".into()), (user_id("tech4"), "other".into())],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get(s.port, "s3cret", "WhoAmI").json()["UserId"], user_id("tech2"));
    assert_eq!(get(s.port, "other", "WhoAmI").json()["UserId"], user_id("tech4"));
    s.stop();
    let bad = xrm_offline_server::start(xrm_offline_server::Config {
        tokens: vec![("nobody".into(), "x".into())],
        ..Default::default()
    });
    assert!(bad.is_err());
}
