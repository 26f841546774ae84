//! HTTP/1.1 requests: read from a stream (Content-Length or chunked bodies) or built in memory (`$batch` parts).

use std::io::BufRead;

/// The largest request head (request line plus headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted (Dataverse's own limit is far lower for most requests).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// One HTTP request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, percent-encoded as received, without the query (`/api/data/v9.2/accounts(...)`).
    pub path: String,
    /// The raw query string without `?` (still percent-encoded).
    pub query: String,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before a request started (normal end of keep-alive).
    Closed,
    /// Socket error or timeout.
    Io,
    /// Not HTTP, or too large: answer 400 / 413 and close.
    Bad(u16, String),
}

impl Request {
    /// Builds a request from a target such as `/api/data/v9.2/accounts?$top=1` or an absolute URL.
    pub fn new(method: &str, target: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Request {
        let target = strip_origin(target);
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.to_string(), String::new()),
        };
        Request { method: method.to_ascii_uppercase(), path, query, headers, body }
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Query parameters, decoded, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }

    /// The decoded value of one query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether the client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// Reads a request line and headers.
    pub fn read_head<R: BufRead>(r: &mut R) -> Result<Request, ReadError> {
        let mut head_len = 0usize;
        let mut line = String::new();
        // Skip blank lines between keep-alive requests (RFC 9112 allows one).
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => head_len += n,
                Err(_) => return Err(ReadError::Io),
            }
            if !line.trim().is_empty() {
                break;
            }
            if head_len > MAX_HEAD {
                return Err(ReadError::Bad(400, "request head too large".into()));
            }
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ReadError::Bad(400, "malformed request line".into()));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(ReadError::Bad(505, "only HTTP/1.x is supported".into()));
        }
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = Vec::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => return Err(ReadError::Io),
                Ok(n) => head_len += n,
                Err(_) => return Err(ReadError::Io),
            }
            if head_len > MAX_HEAD {
                return Err(ReadError::Bad(431, "request headers too large".into()));
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            match l.split_once(':') {
                Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
                None => return Err(ReadError::Bad(400, format!("malformed header line '{l}'"))),
            }
        }
        Ok(Request::new(&method, &target, headers, Vec::new()))
    }

    /// Whether the client waits for `100 Continue` before sending the body (curl does for large bodies).
    pub fn expects_continue(&self) -> bool {
        self.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }

    /// Reads one request: head and body.
    pub fn read_from<R: BufRead>(r: &mut R) -> Result<Request, ReadError> {
        let mut req = Request::read_head(r)?;
        req.read_body(r)?;
        Ok(req)
    }

    /// Reads the body announced by the head (Content-Length or chunked).
    pub fn read_body<R: BufRead>(&mut self, r: &mut R) -> Result<(), ReadError> {
        let req = self;
        let chunked = req.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            req.body = read_chunked(r)?;
        } else if let Some(len) = req.header("content-length") {
            let len: usize = len.trim().parse().map_err(|_| ReadError::Bad(400, "bad Content-Length".into()))?;
            if len > MAX_BODY {
                return Err(ReadError::Bad(413, "request body too large".into()));
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).map_err(|_| ReadError::Io)?;
            req.body = body;
        }
        Ok(())
    }
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|_| ReadError::Io)? == 0 {
            return Err(ReadError::Io);
        }
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Bad(400, "bad chunk size".into()))?;
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large".into()));
        }
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                line.clear();
                if r.read_line(&mut line).map_err(|_| ReadError::Io)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).map_err(|_| ReadError::Io)?;
        line.clear();
        r.read_line(&mut line).map_err(|_| ReadError::Io)?;
    }
}

/// `https://host/api/...` -> `/api/...`; relative targets unchanged.
fn strip_origin(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            return match rest.find('/') {
                Some(i) => &rest[i..],
                None => "/",
            };
        }
    }
    target
}

/// Splits and decodes `a=1&b=2` (`+` is a space, as browsers encode forms; OData clients send `%20`).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but unreserved characters (for links the server writes).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'$' | b'\'' | b'(' | b')' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunked_and_content_length_bodies() {
        let raw = b"POST /a?x=1%202 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut r = std::io::BufReader::new(&raw[..]);
        let req = Request::read_from(&mut r).unwrap();
        assert_eq!(req.body, b"abcde");
        assert_eq!(req.param("x").unwrap(), "1 2");
        let raw = b"GET http://h:1/p HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
        let req = Request::read_from(&mut std::io::BufReader::new(&raw[..])).unwrap();
        assert_eq!((req.path.as_str(), req.body.as_slice()), ("/p", &b"hi"[..]));
    }

    #[test]
    fn decodes_bad_escapes_without_panicking() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
