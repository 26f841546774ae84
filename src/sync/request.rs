//! The HTTP requests the core asks the host to send, in the Dataverse Web API (v9.2) form.
//!
//! A [`Request`] is plain data: the host prefixes a relative `url` with the Web API root
//! (`https://org.crm.dynamics.com/api/data/v9.2/`), adds its `Authorization` header and sends it with `fetch`.
//! URLs the server returned (`@odata.nextLink`, `@odata.deltaLink`) are absolute and are sent as they are.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as sent: `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One request for the host to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Relative to the Web API root (`accounts?fetchXml=...`), or absolute when it is a link the server returned.
    pub url: String,
    /// Headers, in order (`[name, value]` pairs, as `fetch` accepts them). No `Authorization`: the host adds it.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Request {
    /// A request with the OData headers every Web API call carries (`Accept`, `OData-MaxVersion`,
    /// `OData-Version`).
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("OData-MaxVersion".into(), "4.0".into()),
                ("OData-Version".into(), "4.0".into()),
            ],
            body: None,
        }
    }

    /// Builder: adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Builder: sets a JSON body (and `Content-Type: application/json`).
    pub fn with_body(mut self, body: Value) -> Request {
        self.headers.push(("Content-Type".into(), "application/json".into()));
        self.body = Some(body);
        self
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters), as `encodeURIComponent`
/// does except that it also encodes `!'()*`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space), the inverse of [`percent_encode`]. Invalid escapes are kept as
/// written; invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let s = "<fetch><entity name=\"a b\"/>&é%</fetch>";
        let e = percent_encode(s);
        assert!(!e.contains('<') && !e.contains(' ') && !e.contains('&'));
        assert_eq!(percent_decode(&e), s);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
