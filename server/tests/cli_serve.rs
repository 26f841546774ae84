//! The binary: `serve --port 0` prints its URL and the seeded users; `seed` writes a database file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;

#[test]
fn serve_prints_its_url_and_users_and_answers() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xrm-offline"))
        .args(["serve", "--port", "0", "--db", ":memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut port = None;
    let mut printed = Vec::new();
    for _ in 0..40 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("xrm-offline reference server: http://127.0.0.1:") {
            port = rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
        }
        let done = line.contains("sales1-token");
        printed.push(line);
        if done {
            break;
        }
    }
    let port = port.unwrap_or_else(|| panic!("no URL printed: {printed:?}"));
    assert!(printed.iter().any(|l| l.contains("tech1-token")), "{printed:?}");
    let r = common::get(port, "tech1-token", "WhoAmI");
    assert_eq!(r.status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn seed_writes_a_database_once_and_usage_errors_exit_2() {
    let dir = std::env::temp_dir().join(format!("xrm-offline-cli-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("seed.db");
    let bin = env!("CARGO_BIN_EXE_xrm-offline");
    let out = Command::new(bin).args(["seed", "--db", db.to_str().unwrap(), "--scale", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seeded"));
    let again = Command::new(bin).args(["seed", "--db", db.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already seeded"));
    assert_eq!(Command::new(bin).args(["seed"]).output().unwrap().status.code(), Some(2));
    assert_eq!(Command::new(bin).args(["serve", "--bogus"]).output().unwrap().status.code(), Some(2));
    assert_eq!(Command::new(bin).args(["frobnicate"]).output().unwrap().status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
