//! Reading a page of results: rows, `$deletedEntity` entries, and where the next page is.
//!
//! Two paging forms exist. The reference server (and Dataverse for OData queries and change tracking) answers
//! with `@odata.nextLink`, which the host follows as is. Dataverse answers a `?fetchXml=` query with
//! `@Microsoft.Dynamics.CRM.morerecords` and `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` instead; the next
//! page is the same FetchXML with `page`, `count` and `paging-cookie` attributes
//! ([Page results using FetchXml](https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results)).
//! A [`Cursor`] holds either form, so a checkpoint can resume from it.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::query::Row;
use crate::read::{self, Fields, Read};
use crate::store::guid;

/// Annotation saying a FetchXML query has more rows.
pub const MORE_RECORDS: &str = "@Microsoft.Dynamics.CRM.morerecords";
/// Annotation holding a FetchXML query's paging cookie.
pub const PAGING_COOKIE: &str = "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie";

/// Where a paged read is: at the start, at a link the server returned, or at a FetchXML page.
///
/// Stored in checkpoints as `{"kind": "start"}`, `{"kind": "link", "url": ...}` or
/// `{"kind": "fetchPage", "page": 2, "cookie": ...}`. `Deserialize` is written out (through `Value`): serde's
/// derive for an internally tagged enum buffers the input in its own content type, 9 KB of wasm for this one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Cursor {
    /// The first page (the query's own request).
    Start,
    /// An absolute `@odata.nextLink` (or a `@odata.deltaLink` to read changes from).
    Link {
        /// The URL, as the server wrote it.
        url: String,
    },
    /// A FetchXML page after the first (Dataverse's paging-cookie form).
    FetchPage {
        /// The 1-based page number to ask for.
        page: u32,
        /// The paging cookie of the previous page, as the server returned it (unescaped XML).
        cookie: Option<String>,
    },
}

impl Cursor {
    /// Reads a cursor as [`Serialize`] writes it ([`crate::read`] says why by hand).
    pub(crate) fn read(v: &Value) -> Read<Cursor> {
        let Some(obj) = v.as_object() else {
            return Err(read::invalid(v, "internally tagged enum Cursor"));
        };
        let f = Fields(obj);
        let kind = f.req("kind")?.as_str().ok_or("invalid type: expected variant identifier")?;
        match kind {
            "start" => Ok(Cursor::Start),
            "link" => Ok(Cursor::Link { url: f.with("url", read::string)? }),
            "fetchPage" => {
                Ok(Cursor::FetchPage { page: f.with("page", read::u32)?, cookie: f.opt("cookie", read::string)? })
            }
            other => Err(format!("unknown variant `{other}`, expected one of `start`, `link`, `fetchPage`")),
        }
    }
}

crate::deserialize_by_hand!(Cursor);

/// One page of a response, read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Rows in the Web API shape (change-tracking pages: the changed rows).
    pub rows: Vec<Row>,
    /// Ids (lower case) of `$deletedEntity` entries (change-tracking pages only).
    pub deleted: Vec<String>,
    /// The next page, when there is one.
    pub next: Option<Cursor>,
    /// `@odata.deltaLink`: on the last page of a change-tracking read, where the next changes will be read from.
    pub delta_link: Option<String>,
}

impl Page {
    /// The primary ids (lower case) of the rows, skipping rows without a GUID under `primary_id`.
    pub fn ids(&self, primary_id: &str) -> Vec<String> {
        self.rows.iter().filter_map(|r| row_id(r, primary_id)).collect()
    }
}

/// The primary id of a row, normalised (lower case, no braces), or `None` when it holds no GUID.
pub fn row_id(row: &Row, primary_id: &str) -> Option<String> {
    row.get(primary_id).and_then(Value::as_str).and_then(guid::normalize)
}

fn is_deleted_entry(o: &Row) -> bool {
    o.get("@odata.context").and_then(Value::as_str).is_some_and(|c| c.ends_with("$deletedEntity"))
        || o.get("reason").and_then(Value::as_str) == Some("deleted")
}

/// Reads a collection response body. `requested` is the cursor the request was built from (a FetchXML
/// paging-cookie page is numbered from it). Errors: the body is not an object with a `value` array.
pub fn read_page(body: &Value, requested: &Cursor) -> Result<Page> {
    let bad = |what: &str| Error::new(ErrorCode::InvalidJson, format!("the collection response {what}"));
    let obj = body.as_object().ok_or_else(|| bad("is not a JSON object"))?;
    let values = obj.get("value").and_then(Value::as_array).ok_or_else(|| bad("has no \"value\" array"))?;
    let mut page = Page::default();
    for v in values {
        let Some(o) = v.as_object() else { return Err(bad("holds an entry that is not an object")) };
        if is_deleted_entry(o) {
            if let Some(id) = o.get("id").and_then(Value::as_str).and_then(guid::normalize) {
                page.deleted.push(id);
            }
        } else {
            page.rows.push(o.clone());
        }
    }
    page.delta_link = obj.get("@odata.deltaLink").and_then(Value::as_str).map(str::to_string);
    page.next = if let Some(link) = obj.get("@odata.nextLink").and_then(Value::as_str) {
        Some(Cursor::Link { url: link.to_string() })
    } else if obj.get(MORE_RECORDS).and_then(Value::as_bool) == Some(true) {
        let current = match requested {
            Cursor::FetchPage { page, .. } => *page,
            _ => 1,
        };
        let cookie = obj.get(PAGING_COOKIE).and_then(Value::as_str).map(paging_cookie_of);
        let page = current.checked_add(1).ok_or_else(|| bad("has more rows after page 4294967295"))?;
        Some(Cursor::FetchPage { page, cookie })
    } else {
        None
    };
    Ok(page)
}

/// The `pagingcookie` attribute of Dataverse's `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` annotation
/// (`<cookie pagenumber="2" pagingcookie="%253ccookie..." istracking="False" />`), decoded twice as Dataverse
/// encodes it; the annotation itself when it has no such attribute.
fn paging_cookie_of(annotation: &str) -> String {
    let pat = "pagingcookie=\"";
    match annotation.find(pat) {
        Some(start) => {
            let rest = &annotation[start + pat.len()..];
            let inner = rest.split('"').next().unwrap_or_default();
            super::request::percent_decode(&super::request::percent_decode(inner))
        }
        None => annotation.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// The derive the written-out `Deserialize` replaces, for comparison.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    enum Derived {
        Start,
        Link { url: String },
        FetchPage { page: u32, cookie: Option<String> },
    }

    #[test]
    fn cursor_reads_what_the_derive_reads() {
        let samples = [
            json!({"kind": "start"}),
            json!({"kind": "start", "extra": 1}),
            json!({"kind": "link", "url": "https://o/api/data/v9.2/accounts?$skiptoken=1"}),
            json!({"kind": "link"}),
            json!({"kind": "link", "url": 5}),
            json!({"kind": "fetchPage", "page": 2, "cookie": "<cookie page=\"1\"></cookie>"}),
            json!({"kind": "fetchPage", "page": 2, "cookie": null}),
            json!({"kind": "fetchPage", "page": 2}),
            json!({"kind": "fetchPage", "cookie": "x"}),
            json!({"kind": "fetchPage", "page": -1}),
            json!({"kind": "fetchPage", "page": 4294967296u64}),
            json!({"kind": "fetchPage", "page": 1.5}),
            json!({"kind": "fetchPage", "page": "2"}),
            json!({"kind": "fetchPage", "page": 2, "cookie": 7}),
            json!({"kind": "other"}),
            json!({"url": "x"}),
            json!({}),
            json!("start"),
            json!(null),
            json!(7),
            json!([]),
        ];
        for v in samples {
            let ours = serde_json::from_value::<Cursor>(v.clone()).map_err(|e| e.to_string());
            let derived = serde_json::from_value::<Derived>(v.clone()).map_err(|e| e.to_string());
            let same = match (&ours, &derived) {
                (Ok(Cursor::Start), Ok(Derived::Start)) => true,
                (Ok(Cursor::Link { url: a }), Ok(Derived::Link { url: b })) => a == b,
                (Ok(Cursor::FetchPage { page: a, cookie: c }), Ok(Derived::FetchPage { page: b, cookie: d })) => {
                    a == b && c == d
                }
                // Same message, but for the type's name and a sequence (which the derive reads as a tuple).
                (Err(a), Err(b)) => a == b || a.replace("Cursor", "Derived") == *b || v.is_array(),
                _ => false,
            };
            assert!(same, "{v}: {ours:?} vs {derived:?}");
        }
    }

    #[test]
    fn reads_rows_deletions_and_links() {
        let body = json!({"value": [
            {"accountid": "AAAAAAAA-0000-4000-8000-000000000001", "name": "x"},
            {"@odata.context": "https://o/api/data/v9.2/$metadata#accounts/$deletedEntity",
             "id": "aaaaaaaa-0000-4000-8000-000000000002", "reason": "deleted"}],
            "@odata.deltaLink": "https://o/api/data/v9.2/accounts?$deltatoken=9"});
        let p = read_page(&body, &Cursor::Start).unwrap();
        assert_eq!(p.ids("accountid"), vec!["aaaaaaaa-0000-4000-8000-000000000001"]);
        assert_eq!(p.deleted, vec!["aaaaaaaa-0000-4000-8000-000000000002"]);
        assert!(p.next.is_none());
        assert!(p.delta_link.is_some());
    }

    #[test]
    fn reads_fetchxml_paging_cookies() {
        let body = json!({"value": [], MORE_RECORDS: true,
            PAGING_COOKIE: "<cookie pagenumber=\"2\" pagingcookie=\"%253ccookie%2520page%253d%25221%2522%253e%253c%252fcookie%253e\" istracking=\"False\" />"});
        let p = read_page(&body, &Cursor::Start).unwrap();
        assert_eq!(p.next, Some(Cursor::FetchPage { page: 2, cookie: Some("<cookie page=\"1\"></cookie>".into()) }));
        let p = read_page(&body, &Cursor::FetchPage { page: 2, cookie: None }).unwrap();
        assert!(matches!(p.next, Some(Cursor::FetchPage { page: 3, .. })));
        assert!(read_page(&json!([]), &Cursor::Start).is_err());
    }
}
