//! Reliability, SECURITY suite (issue #8), the server's half: over real HTTP on loopback, the reference server
//! refuses tokens it does not know (401, Dataverse-shaped), never returns a row beyond the caller's read depth
//! (user / team, business unit, organisation) whichever way it is asked for (by id, by `$filter`, by FetchXML, by
//! change tracking, inside a `$batch`), refuses writes beyond it (an upsert does not overwrite another business
//! unit's row), and has no admin endpoints unless started with `--enable-faults`. The browser half (one device,
//! several users and organisations, sign-out, the token never stored) is tests/js/reliability-security.test.mjs.

mod common;

use common::*;
use serde_json::{json, Value};
use xrm_offline_server::seed::users::{bu_id, team_id};

fn rows(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["value"].as_array().cloned().unwrap_or_default()
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter().map(|r| r[key].as_str().unwrap_or_default().to_string()).collect()
}

/// One work order of each business unit, as the organisation-depth dispatcher reads them.
fn work_orders(port: u16) -> (String, String) {
    let all = rows(&get_prefer(
        port,
        "dispatcher-token",
        "msdyn_workorders?$select=msdyn_workorderid,_owningbusinessunit_value",
        "odata.maxpagesize=5000",
    ));
    let of = |bu: &str| {
        all.iter()
            .find(|r| r["_owningbusinessunit_value"] == bu_id(bu).as_str())
            .map(|r| r["msdyn_workorderid"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("the seed has a work order in {bu}"))
    };
    (of("north"), of("south"))
}

#[test]
fn requests_without_a_valid_token_get_401_in_dataverse_shape() {
    let port = shared();
    let r = send(port, "GET", &format!("{API}WhoAmI"), &[], None);
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "0x80072560");
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
    for token in ["not-a-token", "", "TECH1-TOKEN", "tech1-token-x", "tech1"] {
        let r = get(port, token, "WhoAmI");
        assert_eq!(r.status, 401, "token {token:?}");
        assert_eq!(r.code(), "0x80072560", "token {token:?}");
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let r = send(port, "GET", &format!("{API}accounts"), &[("Authorization", "Basic abc")], None);
    assert_eq!(r.status, 401);
    // Writes and batches are refused before anything is read or written.
    let r = call(port, "not-a-token", "POST", "accounts", Some(&json!({"name": "intruder"})), &[]);
    assert_eq!(r.status, 401);
    let r = get(port, "admin-token", "accounts?$select=name&$filter=name eq 'intruder'");
    assert!(rows(&r).is_empty(), "the refused create wrote nothing");
    let r = send(
        port,
        "POST",
        &format!("{API}$batch"),
        &[("Authorization", "Bearer nope"), ("Content-Type", "multipart/mixed; boundary=b")],
        Some("--b\r\nContent-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\n\r\n--b--\r\n"),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn a_technician_cannot_read_another_business_units_work_order_by_id_or_by_query() {
    let port = shared();
    let (north, south) = work_orders(port);
    // tech3 is in the south, tech1 in the north (business-unit depth).
    for (token, mine, theirs) in [("tech3-token", &south, &north), ("tech1-token", &north, &south)] {
        assert_eq!(get(port, token, &format!("msdyn_workorders({mine})")).status, 200);
        let r = get(port, token, &format!("msdyn_workorders({theirs})?$select=msdyn_name"));
        assert_eq!(r.status, 403, "{token} reads {theirs} by id: {}", r.text());
        assert_eq!(r.code(), "0x80040220");
        assert!(!r.text().contains("msdyn_name\""), "no column of the row in the refusal");
        // By $filter on the id, and by the whole collection.
        let r = get(
            port,
            token,
            &format!("msdyn_workorders?$select=msdyn_workorderid&$filter=msdyn_workorderid eq {theirs}"),
        );
        assert!(rows(&r).is_empty(), "{token}: $filter on another unit's id");
        let all = rows(&get_prefer(
            port,
            token,
            "msdyn_workorders?$select=msdyn_workorderid,_owningbusinessunit_value",
            "odata.maxpagesize=5000",
        ));
        assert!(!all.is_empty());
        let own_bu = if token == "tech3-token" { bu_id("south") } else { bu_id("north") };
        assert!(all.iter().all(|r| r["_owningbusinessunit_value"] == own_bu.as_str()), "{token}: only its unit");
        // By FetchXML.
        let fx = format!(
            "<fetch><entity name=\"msdyn_workorder\"><attribute name=\"msdyn_workorderid\"/><filter><condition attribute=\"msdyn_workorderid\" operator=\"eq\" value=\"{theirs}\"/></filter></entity></fetch>"
        );
        let r = get(port, token, &format!("msdyn_workorders?fetchXml={}", urlencode(&fx)));
        assert!(rows(&r).is_empty(), "{token}: FetchXML on another unit's id");
        // By change tracking: the tracking read and its delta name no row of the other unit.
        let r = get_prefer(
            port,
            token,
            "msdyn_workorders?$select=msdyn_workorderid",
            "odata.track-changes,odata.maxpagesize=5000",
        );
        let tracked = rows(&r);
        assert!(!ids(&tracked, "msdyn_workorderid").contains(theirs), "{token}: change tracking lists {theirs}");
        assert!(ids(&tracked, "msdyn_workorderid").contains(mine));
        // By $expand from a row the caller reads: a booking of the other unit's work order is not readable either.
        let r = get(
            port,
            token,
            &format!(
                "bookableresourcebookings?$select=bookableresourcebookingid&$filter=_msdyn_workorder_value eq {theirs}"
            ),
        );
        assert!(rows(&r).is_empty(), "{token}: bookings of another unit's work order");
        // Writes: update, delete, and an upsert (PATCH without If-Match) do not touch the row.
        for (method, body) in [("PATCH", Some(json!({"msdyn_instructions": "overwritten"}))), ("DELETE", None)] {
            let r = call(port, token, method, &format!("msdyn_workorders({theirs})"), body.as_ref(), &[]);
            assert_eq!(r.status, 403, "{token} {method} {theirs}: {}", r.text());
        }
        let r = call(
            port,
            token,
            "PATCH",
            &format!("msdyn_workorders({theirs})"),
            Some(&json!({"msdyn_instructions": "upserted"})),
            &[("If-Match", "*")],
        );
        assert_eq!(r.status, 403, "{}", r.text());
        let still =
            get(port, "dispatcher-token", &format!("msdyn_workorders({theirs})?$select=msdyn_instructions")).json();
        assert_ne!(still["msdyn_instructions"], "overwritten");
        assert_ne!(still["msdyn_instructions"], "upserted");
    }
    // Organisation depth reads both.
    assert_eq!(get(port, "dispatcher-token", &format!("msdyn_workorders({north})")).status, 200);
    assert_eq!(get(port, "dispatcher-token", &format!("msdyn_workorders({south})")).status, 200);
}

#[test]
fn technicians_cannot_read_or_write_another_business_units_rows() {
    let port = shared();
    let r = call(port, "tech1-token", "POST", "accounts", Some(&json!({"name": "North only"})), &[]);
    let id = entity_id(&r);
    assert_eq!(get(port, "tech2-token", &format!("accounts({id})")).status, 200, "same business unit");
    let r = get(port, "tech3-token", &format!("accounts({id})"));
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "0x80040220");
    let r = call(port, "tech3-token", "PATCH", &format!("accounts({id})"), Some(&json!({"name": "mine"})), &[]);
    assert_eq!(r.status, 403);
    let r = call(port, "tech3-token", "DELETE", &format!("accounts({id})"), None, &[]);
    assert_eq!(r.status, 403);
    // Collections only hold the caller's business unit.
    let south = get_prefer(port, "tech3-token", "accounts?$select=name", "odata.maxpagesize=5000").json();
    let rows = south["value"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["accountid"] != id.as_str()));
    let all =
        get_prefer(port, "tech3-token", "accounts?$select=_owningbusinessunit_value", "odata.maxpagesize=5000").json();
    assert!(all["value"].as_array().unwrap().iter().all(|r| r["_owningbusinessunit_value"] == bu_id("south").as_str()));
    // The dispatcher (organisation depth) sees it; reference data is readable by everyone.
    assert_eq!(get(port, "dispatcher-token", &format!("accounts({id})")).status, 200);
    assert!(!get(port, "tech3-token", "bookingstatuses?$select=name").json()["value"].as_array().unwrap().is_empty());
    // Technicians cannot create organisation-owned rows.
    let r = call(
        port,
        "tech1-token",
        "POST",
        "products",
        Some(&json!({"name": "p", "productnumber": "p1", "quantitydecimal": 2})),
        &[],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn a_batch_does_not_widen_read_access() {
    let port = shared();
    let (north, _) = work_orders(port);
    let body = format!(
        "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET {API}msdyn_workorders({north})?$select=msdyn_name HTTP/1.1\r\nAccept: application/json\r\n\r\n--b--\r\n"
    );
    let r = send(
        port,
        "POST",
        &format!("{API}$batch"),
        &[("Authorization", "Bearer tech3-token"), ("Content-Type", "multipart/mixed; boundary=b")],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("403"), "the inner request is refused: {text}");
    assert!(!text.contains("\"msdyn_name\""), "no column of the row: {text}");
}

#[test]
fn user_depth_sees_only_own_and_team_rows() {
    let port = shared();
    let r = call(port, "sales1-token", "POST", "accounts", Some(&json!({"name": "Sales own"})), &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    let mine = entity_id(&r);
    let all = rows(&get_prefer(port, "sales1-token", "accounts?$select=name,_ownerid_value", "odata.maxpagesize=5000"));
    assert!(all.iter().any(|r| r["accountid"] == mine.as_str()));
    let team = team_id("north");
    assert!(all
        .iter()
        .all(|r| r["_ownerid_value"] == user_id("sales1").as_str() || r["_ownerid_value"] == team.as_str()));
    // A row of a colleague in the same business unit is beyond user depth.
    let colleague = rows(&get_prefer(
        port,
        "dispatcher-token",
        &format!("accounts?$select=accountid&$filter=_ownerid_value eq {}", user_id("tech1")),
        "odata.maxpagesize=1",
    ));
    let other = colleague[0]["accountid"].as_str().unwrap();
    assert_eq!(get(port, "sales1-token", &format!("accounts({other})")).status, 403);
}

#[test]
fn team_owned_rows_are_visible_to_team_members_at_user_depth() {
    let port = shared();
    let team = team_id("north");
    let r = call(
        port,
        "admin-token",
        "POST",
        "accounts",
        Some(&json!({"name": "Team owned", "ownerid@odata.bind": format!("/teams({team})")})),
        &[("Prefer", "return=representation")],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    assert_eq!(j["_ownerid_value"], team.as_str());
    assert_eq!(j["_owningteam_value"], team.as_str());
    assert!(j["_owninguser_value"].is_null());
    assert_eq!(j["_owningbusinessunit_value"], bu_id("north").as_str());
    let id = j["accountid"].as_str().unwrap();
    assert_eq!(get(port, "sales1-token", &format!("accounts({id})")).status, 200, "sales1 is in the North team");
    assert_eq!(get(port, "tech3-token", &format!("accounts({id})")).status, 403);
}

#[test]
fn admin_endpoints_do_not_exist_without_the_flag() {
    let s = server(None, false);
    let admin = |method: &str, path: &str, body: Option<Value>, token: Option<&str>| {
        let text = body.map(|b| b.to_string());
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("Authorization", a));
        }
        send(s.port, method, path, &headers, text.as_deref())
    };
    for token in [None, Some("admin-token")] {
        assert_eq!(admin("POST", "/_admin/faults", Some(json!({"errorRate": 1})), token).status, 404);
        assert_eq!(admin("GET", "/_admin/faults", None, token).status, 404);
        assert_eq!(admin("GET", "/_admin/stats", None, token).status, 404);
        assert_eq!(admin("POST", "/_admin/clock", Some(json!({"now": "2030-01-01T00:00:00Z"})), token).status, 404);
    }
    // Nothing was injected: requests go through.
    for _ in 0..20 {
        assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 200);
    }
    s.stop();
    // With the flag, they exist.
    let s = server(None, true);
    assert_eq!(send(s.port, "GET", "/_admin/faults", &[], None).status, 200);
    s.stop();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
