//! `$batch`: change sets commit or roll back as a whole, Content-ID references, independent requests.

mod common;

use common::*;

fn batch(port: u16, body: &str, prefer: Option<&str>) -> Resp {
    let mut headers =
        vec![("Authorization", "Bearer admin-token"), ("Content-Type", "multipart/mixed; boundary=batch_AAA")];
    if let Some(p) = prefer {
        headers.push(("Prefer", p));
    }
    let r = send(port, "POST", &format!("{API}$batch"), &headers, Some(body));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("Content-Type").unwrap().starts_with("multipart/mixed; boundary=batchresponse_"));
    r
}

fn part(content_id: u32, method: &str, url: &str, body: &str) -> String {
    format!(
        "--changeset_BBB\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {content_id}\r\n\r\n\
         {method} {url} HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{body}\r\n"
    )
}

fn change_set(parts: &[String]) -> String {
    format!(
        "--batch_AAA\r\nContent-Type: multipart/mixed; boundary=changeset_BBB\r\n\r\n{}--changeset_BBB--\r\n",
        parts.concat()
    )
}

fn count(port: u16, filter: &str) -> usize {
    let r = get(port, "admin-token", &format!("accounts?$select=name&$filter={filter}"));
    r.json()["value"].as_array().unwrap().len()
}

#[test]
fn a_change_set_commits_together_and_content_ids_resolve() {
    let port = shared();
    let body = format!(
        "{}--batch_AAA--\r\n",
        change_set(&[
            part(1, "POST", "/api/data/v9.2/accounts", r#"{"name":"Batch parent"}"#),
            part(
                2,
                "POST",
                "/api/data/v9.2/contacts",
                r#"{"lastname":"Batch child","parentcustomerid_account@odata.bind":"$1"}"#
            ),
            part(3, "PATCH", "$1", r#"{"telephone1":"555"}"#),
        ])
    );
    let r = batch(port, &body, None);
    let text = r.text();
    assert_eq!(text.matches("HTTP/1.1 204 No Content").count(), 3, "{text}");
    assert!(text.contains("Content-ID: 1") && text.contains("OData-EntityId:"), "{text}");
    assert!(text.contains("--changesetresponse_"));
    let j = get(port, "admin-token", "accounts?$select=telephone1&$filter=name eq 'Batch parent'").json();
    assert_eq!(j["value"][0]["telephone1"], "555");
    let account = j["value"][0]["accountid"].as_str().unwrap().to_string();
    let c =
        get(port, "admin-token", "contacts?$select=_parentcustomerid_value&$filter=lastname eq 'Batch child'").json();
    assert_eq!(c["value"][0]["_parentcustomerid_value"], account.as_str());
}

#[test]
fn a_failing_request_rolls_the_whole_change_set_back() {
    let port = shared();
    let body = format!(
        "{}--batch_AAA--\r\n",
        change_set(&[
            part(1, "POST", "/api/data/v9.2/accounts", r#"{"name":"Rollback A"}"#),
            part(2, "POST", "/api/data/v9.2/accounts", r#"{"name":"Rollback B","nope":1}"#),
        ])
    );
    let r = batch(port, &body, None);
    let text = r.text();
    assert!(text.contains("HTTP/1.1 400 Bad Request"), "{text}");
    assert!(text.contains("Content-ID: 2"), "{text}");
    assert!(!text.contains("204 No Content"), "only the failing response is returned: {text}");
    assert_eq!(count(port, "startswith(name,'Rollback')"), 0);
}

#[test]
fn requests_outside_change_sets_are_independent() {
    let port = shared();
    let single = |method: &str, url: &str, body: &str| {
        format!(
            "--batch_AAA\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{method} {url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
        )
    };
    let body = [
        single("POST", "/api/data/v9.2/accounts", r#"{"name":"Indep 1"}"#),
        single("POST", "/api/data/v9.2/accounts", r#"{"name":"Indep 2","bad":true}"#),
        single("POST", "/api/data/v9.2/accounts", r#"{"name":"Indep 3"}"#),
        single("GET", "/api/data/v9.2/accounts?$select=name&$top=1", ""),
        "--batch_AAA--\r\n".to_string(),
    ]
    .concat();
    // Without continue-on-error the batch stops at the first failure; the earlier write stays.
    let text = batch(port, &body, None).text();
    assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text}");
    assert_eq!(count(port, "name eq 'Indep 1'"), 1);
    assert_eq!(count(port, "name eq 'Indep 3'"), 0);
    let body = body.replace("Indep", "Cont");
    let text = batch(port, &body, Some("odata.continue-on-error")).text();
    assert_eq!(text.matches("HTTP/1.1 ").count(), 4, "{text}");
    assert!(text.contains("HTTP/1.1 200 OK") && text.contains("\"value\""), "{text}");
    assert_eq!(count(port, "name eq 'Cont 3'"), 1);
}

#[test]
fn malformed_batches_are_refused() {
    let port = shared();
    let r = send(
        port,
        "POST",
        &format!("{API}$batch"),
        &[("Authorization", "Bearer admin-token"), ("Content-Type", "application/json")],
        Some("{}"),
    );
    assert_eq!(r.status, 400);
    let body = "--batch_AAA\r\nContent-Type: multipart/mixed; boundary=changeset_BBB\r\n\r\n--changeset_BBB\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/accounts HTTP/1.1\r\n\r\n--changeset_BBB--\r\n--batch_AAA--\r\n";
    let r = send(
        port,
        "POST",
        &format!("{API}$batch"),
        &[("Authorization", "Bearer admin-token"), ("Content-Type", "multipart/mixed; boundary=batch_AAA")],
        Some(body),
    );
    assert_eq!(r.status, 400, "GET inside a change set");
}
