//! `xrm-offline query`: the command's function compiled into this test (to capture its output), and the built
//! binary.

#[allow(dead_code)]
#[path = "../src/cli/query.rs"]
mod query;

use serde_json::Value;

const USER: &str = "11111111-1111-4111-8111-111111111111";
const OTHER: &str = "22222222-2222-4222-8222-222222222222";
const TEAM: &str = "33333333-3333-4333-8333-333333333333";

/// Each call gets its own file: tests run in parallel threads of one process.
fn temp(name: &str, text: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "xrm-offline-cli-query-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn rows() -> String {
    let data = serde_json::json!({
        "account": [
            {"accountid": "a0000000-0000-4000-8000-000000000001", "name": "Alpine Ski House", "_ownerid_value": USER,
             "address1_city": "Denver", "numberofemployees": 40},
            {"accountid": "a0000000-0000-4000-8000-000000000002", "name": "Adventure Works", "_ownerid_value": OTHER,
             "address1_city": "Seattle", "numberofemployees": 300},
            {"accountid": "a0000000-0000-4000-8000-000000000003", "name": "Contoso", "_ownerid_value": TEAM,
             "address1_city": "Denver", "numberofemployees": 12}
        ],
        "bookableresourcebooking": [
            {"bookableresourcebookingid": "b0000000-0000-4000-8000-000000000001", "name": "early",
             "starttime": "2026-11-27T12:00:00Z", "endtime": "2026-11-27T13:00:00Z"},
            {"bookableresourcebookingid": "b0000000-0000-4000-8000-000000000002", "name": "late",
             "starttime": "2026-11-28T03:00:00Z", "endtime": "2026-11-28T04:00:00Z"}
        ]
    });
    temp("rows.json", &data.to_string())
}

/// Runs the command: exit code and printed JSON.
fn run(args: &[&str]) -> (i32, Value) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let code = query::run_to(&args, &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

fn names(v: &Value) -> Vec<String> {
    v["entities"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn odata_filter_select_orderby_in_result_order() {
    let data = rows();
    let (code, v) = run(&[
        "--data",
        &data,
        "--table",
        "account",
        "--options",
        "?$select=name&$filter=address1_city eq 'Denver'&$orderby=name desc",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&v), vec!["Contoso", "Alpine Ski House"]);
    assert!(v.get("@odata.count").is_none());
}

#[test]
fn count_when_asked() {
    let data = rows();
    let (code, v) =
        run(&["--data", &data, "--table", "account", "--options", "?$filter=numberofemployees gt 20&$count=true"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["@odata.count"], 2);
}

#[test]
fn fetchxml_with_the_user_and_teams() {
    let data = rows();
    let fetch = temp(
        "mine.xml",
        r#"<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="ownerid" operator="eq-useroruserteams"/></filter><order attribute="name"/></entity></fetch>"#,
    );
    let (code, v) = run(&["--data", &data, "--fetchxml", &fetch, "--user", USER, "--teams", TEAM]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&v), vec!["Alpine Ski House", "Contoso"]);
    let (code, v) = run(&["--data", &data, "--fetchxml", &fetch, "--user", USER]);
    assert_eq!(code, 0);
    assert_eq!(names(&v), vec!["Alpine Ski House"]);
}

#[test]
fn now_with_an_offset_sets_the_users_day() {
    let data = rows();
    let today = "?$filter=Microsoft.Dynamics.CRM.Today(PropertyName='starttime')";
    // 23:30 at UTC-2 is 01:30Z on the 28th: the user's today is the 27th.
    let (code, v) = run(&[
        "--data",
        &data,
        "--table",
        "bookableresourcebooking",
        "--options",
        today,
        "--now",
        "2026-11-27T23:30:00-02:00",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(names(&v), vec!["early"]);
    // --utc-offset wins over the offset written in --now.
    let (_, v) = run(&[
        "--data",
        &data,
        "--table",
        "bookableresourcebooking",
        "--options",
        today,
        "--now",
        "2026-11-27T23:30:00-02:00",
        "--utc-offset",
        "0",
    ]);
    assert_eq!(names(&v), vec!["late"]);
}

#[test]
fn errors_are_json_and_exit_2() {
    let data = rows();
    let (code, v) = run(&["--data", &data, "--table", "nosuchtable", "--options", "?$top=1"]);
    assert_eq!(code, 2);
    assert_eq!(v["name"], "TableNotFound");
    let (code, v) = run(&["--data", &data, "--table", "account", "--options", "?$filter=colour eq 'red'"]);
    assert_eq!(code, 2);
    assert!(v["message"].as_str().unwrap_or_default().contains("colour"), "{v}");
}

#[test]
fn argument_errors_are_json_too() {
    let mut out = Vec::new();
    let code = query::run_to(&["--table".to_string(), "account".to_string()], &mut out);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["name"], "InvalidArgument");
    assert!(v["message"].as_str().unwrap_or_default().contains("--data"));
    let mut out = Vec::new();
    let args: Vec<String> = ["--data", "x", "--now", "yesterday"].iter().map(|s| s.to_string()).collect();
    assert_eq!(query::run_to(&args, &mut out), 2);
    let mut out = Vec::new();
    let args: Vec<String> = ["--utc-offset", "abc"].iter().map(|s| s.to_string()).collect();
    assert_eq!(query::run_to(&args, &mut out), 2);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(v["message"].as_str().unwrap_or_default().contains("--utc-offset"));
}

#[test]
fn the_binary_dispatches_query() {
    let data = rows();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xrm-offline"))
        .args(["query", "--data", &data, "--table", "account", "--options", "?$select=name&$orderby=name"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&v), vec!["Adventure Works", "Alpine Ski House", "Contoso"]);
}
