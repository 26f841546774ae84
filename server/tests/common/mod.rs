//! A tiny HTTP/1.1 client on `std::net` and helpers to start the server in-process on port 0.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use xrm_offline_server::{start, Config, Running};

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The Dataverse error code of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// Why a request failed at the transport level.
#[derive(Debug)]
pub enum NetError {
    /// The connection closed before a complete response.
    Closed,
    /// Another I/O error.
    Io(std::io::Error),
}

/// Sends one request on a new connection (`Connection: close`).
pub fn try_send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, NetError> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(NetError::Io)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(NetError::Io)?;
    // Clients percent-encode what a request line cannot hold.
    let path = path.replace(' ', "%20").replace('"', "%22").replace('<', "%3C").replace('>', "%3E");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || matches!(method, "POST" | "PATCH" | "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(NetError::Io)?;
    s.write_all(body).map_err(NetError::Io)?;
    read_response(&mut BufReader::new(s))
}

/// Reads one response from a stream.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Resp, NetError> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => return Err(NetError::Closed),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Err(NetError::Closed),
        Err(e) => return Err(NetError::Io(e)),
    }
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(NetError::Closed)?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(NetError::Io)? == 0 {
            return Err(NetError::Closed);
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(|_| NetError::Closed)?;
    Ok(Resp { status, headers, body })
}

pub fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    try_send(port, method, path, headers, body.map(str::as_bytes)).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"))
}

pub const API: &str = "/api/data/v9.2/";

/// GET with a token.
pub fn get(port: u16, token: &str, path: &str) -> Resp {
    let auth = format!("Bearer {token}");
    send(port, "GET", &format!("{API}{path}"), &[("Authorization", &auth), ("Accept", "application/json")], None)
}

/// GET with a token and a Prefer header.
pub fn get_prefer(port: u16, token: &str, path: &str, prefer: &str) -> Resp {
    let auth = format!("Bearer {token}");
    send(port, "GET", &format!("{API}{path}"), &[("Authorization", &auth), ("Prefer", prefer)], None)
}

/// A request with a JSON body and extra headers.
pub fn call(port: u16, token: &str, method: &str, path: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers: Vec<(&str, &str)> = vec![("Authorization", &auth), ("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let text = body.map(|b| b.to_string());
    let path = if path.starts_with('/') { path.to_string() } else { format!("{API}{path}") };
    send(port, method, &path, &headers, text.as_deref())
}

/// A fresh server.
pub fn server(seed: Option<u32>, faults: bool) -> Running {
    start(Config { seed, enable_faults: faults, ..Config::default() }).expect("server starts")
}

/// One seeded (scale 1) server shared by the read-mostly tests of a test binary.
pub fn shared() -> u16 {
    static S: OnceLock<Running> = OnceLock::new();
    S.get_or_init(|| server(Some(1), true)).port
}

/// The id in an `OData-EntityId` header.
pub fn entity_id(r: &Resp) -> String {
    let h = r.header("OData-EntityId").unwrap_or_else(|| panic!("no OData-EntityId: {} {}", r.status, r.text()));
    h.rsplit_once('(').and_then(|(_, id)| id.strip_suffix(')')).unwrap_or_default().to_string()
}

/// Ids of the seeded principals.
pub fn user_id(key: &str) -> String {
    xrm_offline_server::seed::users::user_id(key)
}
