//! Fault injection and the admin endpoints.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn admin(port: u16, method: &str, path: &str, body: Option<serde_json::Value>) -> Resp {
    let text = body.map(|b| b.to_string());
    send(port, method, path, &[("Content-Type", "application/json")], text.as_deref())
}

#[test]
fn error_rate_answers_with_the_chosen_statuses_in_turn() {
    let s = server(None, true);
    let r = admin(
        s.port,
        "POST",
        "/_admin/faults",
        Some(json!({"errorRate": 1.0, "statuses": [500, 503], "retryAfterSeconds": 2})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let a = get(s.port, "tech1-token", "WhoAmI");
    let b = get(s.port, "tech1-token", "WhoAmI");
    assert_eq!((a.status, b.status), (500, 503));
    assert!(a.code().starts_with("0x"));
    assert_eq!(b.header("Retry-After"), Some("2"));
    // Admin requests and static files are never faulted.
    assert_eq!(admin(s.port, "GET", "/_admin/faults", None).status, 200);
    assert_eq!(admin(s.port, "DELETE", "/_admin/faults", None).status, 204);
    assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 200);
    // Bad settings are refused.
    assert_eq!(admin(s.port, "POST", "/_admin/faults", Some(json!({"errorRate": 2}))).status, 400);
    assert_eq!(admin(s.port, "POST", "/_admin/faults", Some(json!({"eror": 1}))).status, 400);
}

#[test]
fn throttling_sends_429_with_retry_after_and_max_faults_limits_it() {
    let s = server(None, true);
    admin(
        s.port,
        "POST",
        "/_admin/faults",
        Some(json!({"errorRate": 1, "statuses": [429], "retryAfterSeconds": 3, "maxFaults": 2})),
    );
    let r = get(s.port, "tech1-token", "WhoAmI");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("3"));
    assert_eq!(r.code(), "0x80072322");
    assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 429);
    assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 200, "after maxFaults the server answers again");
}

#[test]
fn dropped_connections_close_without_a_response() {
    let s = server(None, true);
    admin(s.port, "POST", "/_admin/faults", Some(json!({"dropRate": 1.0, "paths": ["/api/data/v9.2/WhoAmI"]})));
    let r = try_send(s.port, "GET", &format!("{API}WhoAmI"), &[("Authorization", "Bearer tech1-token")], None);
    assert!(matches!(r, Err(NetError::Closed)), "{r:?}");
    // Other paths are not affected.
    assert_eq!(get(s.port, "tech1-token", "accounts?$top=1").status, 200);
    let stats = admin(s.port, "GET", "/_admin/stats", None).json();
    assert_eq!(stats["faults"]["dropped"], 1);
    assert!(stats["requests"].as_u64().unwrap() >= 2);
    assert!(stats["byPath"]["WhoAmI"].as_u64().unwrap() >= 1);
}

#[test]
fn latency_delays_matching_requests() {
    let s = server(None, true);
    admin(s.port, "POST", "/_admin/faults", Some(json!({"latencyMs": 300, "methods": ["GET"]})));
    let t = Instant::now();
    assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    let r = call(s.port, "admin-token", "POST", "accounts", Some(&json!({"name": "fast"})), &[]);
    assert_eq!(r.status, 204);
    assert!(t.elapsed() < Duration::from_millis(300), "POST is not delayed");
    admin(s.port, "DELETE", "/_admin/faults", None);
    assert_eq!(admin(s.port, "DELETE", "/_admin/stats", None).status, 204);
    assert_eq!(admin(s.port, "GET", "/_admin/stats", None).json()["requests"], 0);
}

#[test]
fn the_clock_can_be_moved_for_date_windows() {
    let s = server(None, true);
    let r = admin(s.port, "POST", "/_admin/clock", Some(json!({"now": "2031-05-06T07:08:09Z"})));
    assert_eq!(r.status, 200);
    assert!(r.json()["now"].as_str().unwrap().starts_with("2031-05-06T07:08"));
    let r = call(
        s.port,
        "admin-token",
        "POST",
        "accounts",
        Some(&json!({"name": "future"})),
        &[("Prefer", "return=representation")],
    );
    assert!(r.json()["createdon"].as_str().unwrap().starts_with("2031-05-06"));
    assert_eq!(admin(s.port, "POST", "/_admin/clock", Some(json!({"now": "bad"}))).status, 400);
    let r = admin(s.port, "DELETE", "/_admin/clock", None);
    assert_eq!(r.json()["offsetMs"], 0);
}

#[test]
fn lost_answers_store_the_change_but_close_without_a_response() {
    let s = server(None, true);
    let r =
        admin(s.port, "POST", "/_admin/faults", Some(json!({"lostRate": 1.0, "methods": ["POST"], "maxFaults": 1})));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["faults"]["lostRate"], 1.0);
    let body = json!({"name": "lost answer"}).to_string();
    let r = try_send(
        s.port,
        "POST",
        &format!("{API}accounts"),
        &[("Authorization", "Bearer admin-token"), ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert!(matches!(r, Err(NetError::Closed)), "{r:?}");
    // The row was created although the client never heard about it.
    let found = get(s.port, "admin-token", "accounts?$select=name&$filter=name eq 'lost answer'");
    assert_eq!(found.json()["value"].as_array().unwrap().len(), 1);
    assert_eq!(admin(s.port, "GET", "/_admin/stats", None).json()["faults"]["lost"], 1);
}

#[test]
fn slow_rate_delays_some_requests_by_slow_ms() {
    let s = server(None, true);
    admin(s.port, "POST", "/_admin/faults", Some(json!({"slowRate": 0.5, "slowMs": 250, "seed": 3})));
    let mut slow = 0;
    for _ in 0..12 {
        let t = Instant::now();
        assert_eq!(get(s.port, "tech1-token", "WhoAmI").status, 200);
        if t.elapsed() >= Duration::from_millis(250) {
            slow += 1;
        }
    }
    assert!((1..12).contains(&slow), "some but not all requests are slow: {slow}");
    assert_eq!(admin(s.port, "GET", "/_admin/stats", None).json()["faults"]["slowed"], slow);
    assert_eq!(admin(s.port, "POST", "/_admin/faults", Some(json!({"slowMs": 999_999}))).status, 400);
}
