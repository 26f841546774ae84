//! `POST $batch` (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
//! multipart/mixed requests; change sets run in one transaction that rolls back entirely when one request fails
//! (the response then holds only the failing request's response); requests outside change sets run on their own,
//! and the batch stops at the first failure unless `Prefer: odata.continue-on-error`.

use super::error::{ApiError, ApiResult};
use super::prefer::Prefer;
use super::{dispatch, new_guid, run_one, Ctx};
use crate::http::{Request, Response};
use crate::store::Db;

/// Dataverse's limit of requests in one batch.
const MAX_REQUESTS: usize = 1000;

/// One request of a batch.
struct Part {
    content_id: Option<String>,
    req: Request,
}

enum Item {
    Single(Part),
    ChangeSet(Vec<Part>),
}

fn boundary_of(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary=").or_else(|| p.strip_prefix("Boundary=")))
        .map(|b| b.trim_matches('"').to_string())
}

/// Splits a multipart body into its parts' text.
fn split_parts(body: &str, boundary: &str) -> Vec<String> {
    let (open, close) = (format!("--{boundary}"), format!("--{boundary}--"));
    let mut parts = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in body.split('\n') {
        let l = line.strip_suffix('\r').unwrap_or(line);
        if l.trim_end() == close {
            if let Some(c) = cur.take() {
                parts.push(c.join("\n"));
            }
            break;
        }
        if l.trim_end() == open {
            if let Some(c) = cur.take() {
                parts.push(c.join("\n"));
            }
            cur = Some(Vec::new());
            continue;
        }
        if let Some(c) = cur.as_mut() {
            c.push(l);
        }
    }
    if let Some(c) = cur.take() {
        parts.push(c.join("\n"));
    }
    parts
}

/// Headers up to the first blank line, and the rest.
fn split_head(text: &str) -> (Vec<(String, String)>, String) {
    let mut headers = Vec::new();
    let mut lines = text.split('\n');
    let mut consumed = 0usize;
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        let l = line.trim_end_matches('\r');
        if l.is_empty() {
            if headers.is_empty() && consumed == 1 {
                continue; // a leading blank line
            }
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let rest = text.get(consumed.min(text.len())..).unwrap_or("").to_string();
    (headers, rest)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn parse_http_part(text: &str) -> ApiResult<Part> {
    let (part_headers, rest) = split_head(text);
    let content_id = header(&part_headers, "content-id").map(str::to_string);
    let rest = rest.trim_start_matches(['\r', '\n']);
    let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
    let mut words = line.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Err(ApiError::bad_request(format!("A $batch part has no request line: '{}'.", line.trim())));
    };
    let (headers, body) = split_head(after);
    let body = body.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
    Ok(Part { content_id, req: Request::new(method, target, headers, body) })
}

fn parse(req: &Request) -> ApiResult<Vec<Item>> {
    let ct = req.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/mixed") {
        return Err(ApiError::bad_request(
            "A $batch request must have Content-Type: multipart/mixed; boundary=batch_<id>.",
        ));
    }
    let boundary = boundary_of(ct).ok_or_else(|| ApiError::bad_request("The $batch Content-Type has no boundary."))?;
    let body = String::from_utf8_lossy(&req.body);
    let mut items = Vec::new();
    let mut count = 0;
    for part in split_parts(&body, &boundary) {
        let (h, rest) = split_head(&part);
        let pct = header(&h, "content-type").unwrap_or("");
        if pct.to_ascii_lowercase().starts_with("multipart/mixed") {
            let cs_boundary = boundary_of(pct).ok_or_else(|| ApiError::bad_request("A change set has no boundary."))?;
            let mut reqs = Vec::new();
            for p in split_parts(&rest, &cs_boundary) {
                let part = parse_http_part(&p)?;
                if part.req.method == "GET" {
                    return Err(ApiError::bad_request("GET requests are not allowed inside a change set."));
                }
                reqs.push(part);
            }
            count += reqs.len();
            items.push(Item::ChangeSet(reqs));
        } else {
            items.push(Item::Single(parse_http_part(&part)?));
            count += 1;
        }
    }
    if count > MAX_REQUESTS {
        return Err(ApiError::bad_request(format!(
            "The number of requests in a batch ({count}) exceeds the limit of {MAX_REQUESTS}."
        )));
    }
    Ok(items)
}

/// Replaces `$<content-id>` references with the URLs of rows created earlier in the change set.
fn resolve_refs(req: &mut Request, refs: &[(String, String)]) {
    for (id, url) in refs {
        let token = format!("${id}");
        let path_url = url
            .split_once("/api/data/v9.2/")
            .map(|(_, p)| format!("/api/data/v9.2/{p}"))
            .unwrap_or_else(|| url.clone());
        if req.path == format!("/{token}")
            || req.path == token
            || req.path.starts_with(&format!("/{token}/"))
            || req.path.starts_with(&format!("{token}/"))
        {
            let tail = req.path.trim_start_matches('/').strip_prefix(&token).unwrap_or("").to_string();
            req.path = format!("{path_url}{tail}");
        }
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if body.contains(&token) {
            let rel = path_url.strip_prefix("/api/data/v9.2").unwrap_or(&path_url).to_string();
            req.body = body.replace(&format!("\"{token}\""), &format!("\"{rel}\"")).into_bytes();
        }
    }
}

fn sub_ctx<'a>(ctx: &'a Ctx<'_>, req: &Request) -> Ctx<'a> {
    let mut prefer =
        Prefer::parse(req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("prefer")).map(|(_, v)| v.as_str()));
    if prefer.annotations.is_none() {
        prefer.annotations = ctx.prefer.annotations.clone();
    }
    ctx.with_prefer(prefer)
}

fn write_part(out: &mut String, content_id: Option<&str>, r: &Response) {
    out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        out.push_str(&format!("Content-ID: {id}\r\n"));
    }
    out.push_str(&format!("\r\nHTTP/1.1 {} {}\r\n", r.status, crate::http::response::reason(r.status)));
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(loc) = r.header("OData-EntityId") {
        if r.status == 204 {
            out.push_str(&format!("Location: {loc}\r\n"));
        }
    }
    out.push_str("\r\n");
    out.push_str(&String::from_utf8_lossy(&r.body));
    out.push_str("\r\n");
}

/// Runs a `$batch`.
pub fn handle(ctx: &Ctx<'_>, db: &mut Db, req: &Request) -> ApiResult<Response> {
    let items = parse(req)?;
    let batch_id = format!("batchresponse_{}", new_guid());
    let mut out = String::new();
    for item in items {
        match item {
            Item::Single(part) => {
                let sub = sub_ctx(ctx, &part.req);
                let r = run_one(&sub, db, &part.req);
                out.push_str(&format!("--{batch_id}\r\n"));
                write_part(&mut out, part.content_id.as_deref(), &r);
                if r.status >= 400 && !ctx.prefer.continue_on_error {
                    break;
                }
            }
            Item::ChangeSet(parts) => {
                db.begin()?;
                let mut refs: Vec<(String, String)> = Vec::new();
                let mut responses = Vec::new();
                let mut failed: Option<(Option<String>, Response)> = None;
                for mut part in parts {
                    resolve_refs(&mut part.req, &refs);
                    let sub = sub_ctx(ctx, &part.req);
                    let r = dispatch(&sub, db, &part.req).unwrap_or_else(|e| e.response());
                    if r.status >= 400 {
                        failed = Some((part.content_id.clone(), r));
                        break;
                    }
                    if let (Some(id), Some(url)) = (&part.content_id, r.header("OData-EntityId")) {
                        refs.push((id.clone(), url.to_string()));
                    }
                    responses.push((part.content_id, r));
                }
                out.push_str(&format!("--{batch_id}\r\n"));
                if let Some((cid, r)) = failed {
                    db.rollback();
                    write_part(&mut out, cid.as_deref(), &r);
                    if !ctx.prefer.continue_on_error {
                        break;
                    }
                    continue;
                }
                if let Err(e) = db.commit() {
                    db.rollback();
                    write_part(&mut out, None, &ApiError::internal(e).response());
                    break;
                }
                let cs = format!("changesetresponse_{}", new_guid());
                out.push_str(&format!("Content-Type: multipart/mixed; boundary={cs}\r\n\r\n"));
                for (cid, r) in &responses {
                    out.push_str(&format!("--{cs}\r\n"));
                    write_part(&mut out, cid.as_deref(), r);
                }
                out.push_str(&format!("--{cs}--\r\n"));
            }
        }
    }
    out.push_str(&format!("--{batch_id}--\r\n"));
    let mut r = Response::bytes(200, &format!("multipart/mixed; boundary={batch_id}"), out.into_bytes());
    r.set("OData-Version", "4.0");
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_change_sets_and_single_requests() {
        let body = "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_2\r\n\r\n--changeset_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"a\"}\r\n--changeset_2--\r\n\r\n--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/accounts?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n--batch_1--\r\n";
        let req = Request::new(
            "POST",
            "/api/data/v9.2/$batch",
            vec![("Content-Type".into(), "multipart/mixed; boundary=batch_1".into())],
            body.as_bytes().to_vec(),
        );
        let items = parse(&req).unwrap();
        assert_eq!(items.len(), 2);
        match &items[0] {
            Item::ChangeSet(p) => {
                assert_eq!(p[0].content_id.as_deref(), Some("1"));
                assert_eq!(p[0].req.body, b"{\"name\":\"a\"}");
                assert_eq!(p[0].req.path, "/api/data/v9.2/accounts");
            }
            Item::Single(_) => panic!("expected a change set"),
        }
        match &items[1] {
            Item::Single(p) => assert_eq!((p.req.method.as_str(), p.req.query.as_str()), ("GET", "$top=1")),
            Item::ChangeSet(_) => panic!("expected a single request"),
        }
    }
}
