//! `xrm-offline lint`: the command's function compiled into this test (to capture its output), and the built
//! binary.

#[allow(dead_code)]
#[path = "../src/cli/lint.rs"]
mod lint;

use std::path::PathBuf;

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path).to_string_lossy().into_owned()
}

/// Each call gets its own file: tests run in parallel threads of one process.
fn temp(name: &str, text: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "xrm-offline-cli-lint-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lint::run_to(&args, &mut out, &mut err);
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[test]
fn the_default_profile_has_no_errors_and_one_warning() {
    let (code, out, _) = run(&["--schema", &repo("schema/fieldservice.json"), &repo("profiles/fieldservice.json")]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("warning[all-rows]: items[2] (bookingstatus): downloads every row"), "{out}");
    assert!(lines[1].ends_with("fieldservice.json: 0 errors, 1 warning"), "{out}");
}

#[test]
fn json_report() {
    let (code, out, _) = run(&["--json", &repo("profiles/fieldservice.json")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["warnings"][0]["code"], "all-rows");
    assert_eq!(v["warnings"][0]["table"], "bookingstatus");
    assert_eq!(v["warnings"][0]["item"], 2);
}

#[test]
fn errors_exit_1_and_name_the_item() {
    let f = temp(
        "bad.json",
        r#"{"name": "bad", "items": [{"table": "account", "filter": "all"}, {"table": "msdyn_rma", "filter": "all", "syncIntervalMinutes": 1}]}"#,
    );
    let (code, out, _) = run(&[&f]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[TableNotAvailableOffline]: items[1] (msdyn_rma): table 'msdyn_rma' is not offline-capable"),
        "{out}"
    );
    assert!(
        out.contains("error[InvalidProfile]: items[1] (msdyn_rma): sync interval 1 minutes is outside 5..1440"),
        "{out}"
    );
    assert!(out.contains("warning[all-rows]: items[0] (account)"), "{out}");
    assert!(out.contains(": 2 errors, 2 warnings"), "{out}");
    let (code, out, _) = run(&["--json", &f]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    let offline = v["errors"].as_array().unwrap().iter().find(|e| e["name"] == "TableNotAvailableOffline").unwrap();
    assert_eq!(offline["errorCode"], 0x80A0_0001u32);
}

#[test]
fn reads_the_dataverse_representation() {
    let schema = xrm_offline::schema::field_service();
    let dv = xrm_offline::profile::to_dataverse_json(&xrm_offline::profile::field_service_default(), &schema).unwrap();
    let f = temp("dataverse.json", &dv.to_value().to_string());
    let (code, out, _) = run(&[&f]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 1 warning"), "{out}");
}

#[test]
fn structural_errors_are_reported_as_errors() {
    let f = temp("structure.json", r#"{"name": "x", "items": [{"table": "account", "filter": "mine"}]}"#);
    let (code, out, _) = run(&[&f]);
    assert_eq!(code, 1);
    assert!(out.contains("error[InvalidProfile]: items[0] (account): unknown filter \"mine\""), "{out}");
    let f = temp("notjson.json", "{");
    let (code, out, _) = run(&[&f]);
    assert_eq!(code, 1);
    assert!(out.contains("error[InvalidJson]"), "{out}");
}

#[test]
fn usage_and_unreadable_files_exit_2() {
    assert_eq!(run(&[]).0, 2);
    assert_eq!(run(&["--frobnicate", "x"]).0, 2);
    assert_eq!(run(&["a.json", "b.json"]).0, 2);
    let (code, _, err) = run(&["/nonexistent/profile.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read '/nonexistent/profile.json'"), "{err}");
    let (code, _, _) = run(&["--schema", "/nonexistent/schema.json", &repo("profiles/fieldservice.json")]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("usage: xrm-offline lint"));
}

#[test]
fn the_binary_dispatches_lint() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xrm-offline"))
        .args(["lint", &repo("profiles/fieldservice.json")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 errors, 1 warning"));
}
