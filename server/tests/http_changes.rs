//! Change tracking: `Prefer: odata.track-changes`, delta links after creates, updates and deletes, paging of
//! delta results, read access in deltas, and the errors for unsupported options.

mod common;

use common::*;
use serde_json::{json, Value};

/// The path part of an absolute link.
fn path_of(link: &str) -> String {
    let after_scheme = link.split_once("://").map(|(_, r)| r).unwrap_or(link);
    format!("/{}", after_scheme.split_once('/').map(|(_, p)| p).unwrap_or(""))
}

fn fetch(port: u16, token: &str, path: &str, prefer: &str) -> Value {
    let auth = format!("Bearer {token}");
    let r = send(port, "GET", path, &[("Authorization", &auth), ("Prefer", prefer)], None);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// Follows next links; returns all entries and the final delta link.
fn drain(port: u16, token: &str, first: &str, prefer: &str) -> (Vec<Value>, String) {
    let mut out = Vec::new();
    let mut path = first.to_string();
    for _ in 0..1000 {
        let j = fetch(port, token, &path, prefer);
        out.extend(j["value"].as_array().cloned().unwrap_or_default());
        if let Some(next) = j["@odata.nextLink"].as_str() {
            path = path_of(next);
            continue;
        }
        let delta = j["@odata.deltaLink"].as_str().expect("a delta link on the last page").to_string();
        assert!(delta.contains("$deltatoken="), "{delta}");
        return (out, path_of(&delta));
    }
    panic!("too many pages");
}

#[test]
fn delta_links_return_creates_updates_and_deletes() {
    let s = server(Some(1), false);
    let port = s.port;
    let r = send(
        port,
        "GET",
        &format!("{API}contacts?$select=fullname"),
        &[("Authorization", "Bearer tech1-token"), ("Prefer", "odata.track-changes")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Preference-Applied"), Some("odata.track-changes"));
    let (initial, delta) =
        drain(port, "tech1-token", &format!("{API}contacts?$select=fullname"), "odata.track-changes");
    assert!(!initial.is_empty());
    assert!(delta.contains("$select=fullname"), "{delta}");
    // No changes yet.
    let j = fetch(port, "tech1-token", &delta, "");
    assert_eq!(j["value"].as_array().unwrap().len(), 0);
    assert!(j["@odata.context"].as_str().unwrap().ends_with("$metadata#contacts(fullname)/$delta"));
    // Create, update, delete.
    let created = entity_id(&call(
        port,
        "tech1-token",
        "POST",
        "contacts",
        Some(&json!({"firstname": "New", "lastname": "Person"})),
        &[],
    ));
    let existing = initial[0]["contactid"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            port,
            "tech1-token",
            "PATCH",
            &format!("contacts({existing})"),
            Some(&json!({"lastname": "Renamed"})),
            &[]
        )
        .status,
        204
    );
    let doomed = initial[1]["contactid"].as_str().unwrap().to_string();
    assert_eq!(call(port, "tech1-token", "DELETE", &format!("contacts({doomed})"), None, &[]).status, 204);
    let j = fetch(port, "tech1-token", &delta, "");
    let v = j["value"].as_array().unwrap();
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!(v[0]["contactid"], created.as_str());
    assert_eq!(v[0]["fullname"], "New Person");
    assert!(v[0].get("lastname").is_none(), "$select still applies");
    assert!(v[1]["fullname"].as_str().unwrap().ends_with("Renamed"));
    assert_eq!(v[2]["id"], doomed.as_str());
    assert_eq!(v[2]["reason"], "deleted");
    assert!(v[2]["@odata.context"].as_str().unwrap().ends_with("$metadata#contacts/$deletedEntity"));
    // The new delta link starts after these changes.
    let next = path_of(j["@odata.deltaLink"].as_str().unwrap());
    assert_eq!(fetch(port, "tech1-token", &next, "")["value"].as_array().unwrap().len(), 0);
    // An update after a create in the same window shows the row once, in its current state.
    let id2 = entity_id(&call(port, "tech1-token", "POST", "contacts", Some(&json!({"lastname": "Twice"})), &[]));
    call(port, "tech1-token", "PATCH", &format!("contacts({id2})"), Some(&json!({"firstname": "Now"})), &[]);
    let v = fetch(port, "tech1-token", &next, "")["value"].as_array().unwrap().clone();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["fullname"], "Now Twice");
}

#[test]
fn delta_results_page_and_respect_read_access() {
    let s = server(Some(1), false);
    let port = s.port;
    let (_, delta_north) =
        drain(port, "tech1-token", &format!("{API}accounts?$select=name"), "odata.track-changes,odata.maxpagesize=200");
    let (_, delta_south) = drain(port, "tech3-token", &format!("{API}accounts?$select=name"), "odata.track-changes");
    for i in 0..25 {
        let r = call(port, "tech1-token", "POST", "accounts", Some(&json!({"name": format!("Delta {i}")})), &[]);
        assert_eq!(r.status, 204);
    }
    let (rows, _) = drain(port, "tech1-token", &delta_north, "odata.maxpagesize=10");
    assert_eq!(rows.len(), 25);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "Delta 0");
    assert_eq!(names[24], "Delta 24");
    // The south technician does not see the north business unit's changes.
    let (rows, _) = drain(port, "tech3-token", &delta_south, "");
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn unsupported_options_with_change_tracking_are_refused() {
    let port = shared();
    for q in ["$filter=name eq 'x'", "$orderby=name", "$top=5", "$expand=primarycontactid"] {
        let path = format!("{API}accounts?{q}");
        let r = send(
            port,
            "GET",
            &path,
            &[("Authorization", "Bearer admin-token"), ("Prefer", "odata.track-changes")],
            None,
        );
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.code(), "0x80060888");
        assert!(r.text().contains("not supported with change tracking"), "{}", r.text());
    }
    assert_eq!(get(port, "admin-token", "accounts?$deltatoken=nonsense").status, 400);
}
