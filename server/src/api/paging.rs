//! `@odata.nextLink` skip tokens and `@odata.deltaLink` delta tokens, in the shapes Dataverse uses.
//!
//! A skip token is Dataverse's paging cookie, `<cookie pagenumber="2" pagingcookie="..." istracking="False" />`,
//! whose inner cookie names the last primary key of the page. The server adds `xrmsnapshot` / `xrmafter`
//! attributes for change-tracking pages (clients treat the link as opaque). A delta token is
//! `<version>!<MM/dd/yyyy HH:mm:ss>` as Dataverse writes it.

use super::error::{ApiError, ApiResult};
use super::Ctx;
use crate::clock;
use crate::http::request::{percent_decode, percent_encode};
use crate::http::Request;

/// The state a skip token carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cookie {
    /// The page this token asks for (1-based).
    pub page: u32,
    /// Last primary key of the previous page.
    pub last: Option<String>,
    /// First primary key of the previous page.
    pub first: Option<String>,
    /// Change tracking: the version the delta link will carry.
    pub snapshot: Option<i64>,
    /// Delta pages: last change version served.
    pub after: Option<i64>,
    /// The request tracks changes.
    pub tracking: bool,
}

fn attr<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!("{name}=\"");
    let start = text.find(&pat)? + pat.len();
    let end = text[start..].find('"')? + start;
    Some(&text[start..end])
}

impl Cookie {
    /// Reads a decoded `$skiptoken` value.
    pub fn parse(token: &str) -> ApiResult<Cookie> {
        let bad = || ApiError::bad_request("The $skiptoken is not valid: use the @odata.nextLink the server returned.");
        if !token.trim_start().starts_with("<cookie") {
            return Err(bad());
        }
        let page: u32 = attr(token, "pagenumber").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).ok_or_else(bad)?;
        // Dataverse percent-encodes the inner cookie once inside the token; decoding twice also reads older forms.
        let inner = attr(token, "pagingcookie").map(|c| percent_decode(&percent_decode(c))).unwrap_or_default();
        let guid = |name: &str| attr(&inner, name).map(|g| g.trim_matches(['{', '}']).to_ascii_lowercase());
        Ok(Cookie {
            page,
            last: guid("last"),
            first: guid("first"),
            snapshot: attr(token, "xrmsnapshot").and_then(|v| v.parse().ok()),
            after: attr(token, "xrmafter").and_then(|v| v.parse().ok()),
            tracking: attr(token, "istracking").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// The decoded `$skiptoken` value for the page after this one (`self.page` is the page just served).
    pub fn next_token(&self, primary_id: &str) -> String {
        let inner = match (&self.last, &self.first) {
            (Some(l), Some(f)) => format!(
                "<cookie page=\"{}\"><{primary_id} last=\"{{{}}}\" first=\"{{{}}}\" /></cookie>",
                self.page,
                l.to_ascii_uppercase(),
                f.to_ascii_uppercase()
            ),
            _ => format!("<cookie page=\"{}\" />", self.page),
        };
        let mut t = format!(
            "<cookie pagenumber=\"{}\" pagingcookie=\"{}\" istracking=\"{}\"",
            self.page + 1,
            encode_lower(&inner),
            if self.tracking { "True" } else { "False" }
        );
        if let Some(s) = self.snapshot {
            t.push_str(&format!(" xrmsnapshot=\"{s}\""));
        }
        if let Some(a) = self.after {
            t.push_str(&format!(" xrmafter=\"{a}\""));
        }
        t.push_str(" />");
        t
    }
}

impl Cookie {
    /// The `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` annotation for the page after this one: the same cookie
    /// with the inner one percent-encoded twice, as Dataverse writes it in FetchXML results.
    pub fn fetch_cookie(&self, primary_id: &str) -> String {
        let plain = Cookie { snapshot: None, after: None, tracking: false, ..self.clone() }.next_token(primary_id);
        match (plain.find("pagingcookie=\""), plain.find("\" istracking")) {
            (Some(a), Some(b)) if b > a + 14 => {
                let inner = &plain[a + 14..b];
                format!("{}{}{}", &plain[..a + 14], encode_lower(inner), &plain[b..])
            }
            _ => plain,
        }
    }
}

/// The last primary key a FetchXML `paging-cookie` attribute names (`<cookie page="1"><accountid last="{...}"
/// first="{...}" /></cookie>`, XML-escaped in the attribute), lower case without braces; `None` without a cookie
/// or a key in it.
pub fn fetch_cookie_last(fetchxml: &str) -> Option<String> {
    let at = fetchxml.find("paging-cookie=")? + "paging-cookie=".len();
    let rest = &fetchxml[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let value = &value[..value.find(quote)?];
    let cookie = value.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">");
    let cookie = cookie.replace("&amp;", "&");
    let key = attr(&cookie, "last")?.trim_matches(['{', '}']).to_ascii_lowercase();
    let is_guid = key.len() == 36 && key.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    is_guid.then_some(key)
}

/// Percent-encoding with lower-case hex digits, as in Dataverse's inner paging cookie (`%3ccookie%20page%3d...`).
fn encode_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The request's own query string with `$skiptoken` replaced.
pub fn next_link(ctx: &Ctx<'_>, req: &Request, set: &str, token: &str) -> String {
    let mut parts: Vec<String> = req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| percent_decode(p.split('=').next().unwrap_or("")) != "$skiptoken")
        .map(str::to_string)
        .collect();
    // Dataverse leaves '=' unencoded in the skip token of its links.
    parts.push(format!("$skiptoken={}", percent_encode(token).replace("%3D", "=")));
    format!("{}{set}?{}", ctx.base, parts.join("&"))
}

/// `<base><set>?$select=...&$deltatoken=<version>!<date>`.
pub fn delta_link(ctx: &Ctx<'_>, set: &str, select: Option<&str>, version: i64) -> String {
    let ms = ctx.app.clock.now_ms();
    let secs = ms.div_euclid(1000);
    let (y, m, d) = clock::civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    let stamp = format!("{m:02}/{d:02}/{y:04} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let token = percent_encode(&format!("{version}!{stamp}"));
    match select {
        Some(s) => format!("{}{set}?$select={}&$deltatoken={token}", ctx.base, percent_encode(s)),
        None => format!("{}{set}?$deltatoken={token}", ctx.base),
    }
}

/// The version in a decoded delta token.
pub fn parse_delta_token(token: &str) -> ApiResult<i64> {
    token.split('!').next().and_then(|v| v.trim().parse::<i64>().ok()).filter(|v| *v >= 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The delta token '{token}' is not valid: use the @odata.deltaLink the server returned."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip() {
        let c = Cookie {
            page: 1,
            last: Some("a-b".into()),
            first: Some("0-1".into()),
            snapshot: Some(9),
            after: None,
            tracking: true,
        };
        let t = c.next_token("accountid");
        let back = Cookie::parse(&t).unwrap();
        assert_eq!(back.page, 2);
        assert_eq!(back.last.as_deref(), Some("a-b"));
        assert_eq!(back.snapshot, Some(9));
        assert!(back.tracking);
        assert!(Cookie::parse("junk").is_err());
        assert_eq!(parse_delta_token("12!08/22/2017 08:10:44").unwrap(), 12);
        assert!(parse_delta_token("x").is_err());
        let f = c.fetch_cookie("accountid");
        assert!(f.starts_with("<cookie pagenumber=\"2\" pagingcookie=\"%253ccookie%2520page%253d%25221%2522"), "{f}");
        assert_eq!(Cookie::parse(&f).unwrap().last.as_deref(), Some("a-b"));
    }
}
