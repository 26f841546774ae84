//! OData query-option parser: `?$select=...&$filter=...&$orderby=...&$top=...&$count=true&$expand=...`, or
//! `?fetchXml=<fetch ...>`.
//!
//! Accepted forms and decisions:
//! - The leading `?` is optional; options are `&`-separated and percent-decoded; `+` stays a literal `+` (OData does
//!   not read it as a space); a `%` that does not start a `%XX` escape is kept as a literal `%`.
//! - `$select=a,b` (logical names, `_x_value` for lookups); `$orderby=a desc,b asc`; `$top=n`; `$count=true|false`;
//!   `$filter` (see [`filter`]); `$expand=nav($select=..;$filter=..;$orderby=..;$top=..;$expand=..),nav2`, nested
//!   options separated by `;`. Single-valued navigation properties take only `$select` and `$expand`.
//! - `fetchXml=` (raw or percent-encoded) runs a FetchXML query, which must name the same table; raw XML may hold
//!   `&` entity references: the value runs to the last `</fetch>`. It can't be combined with `$` options.
//! - Unknown options fail with `InvalidQuery` naming the option; `$skip`, `$apply`, `$search`, `$skiptoken` fail with
//!   what to use instead. Positions in `$filter` errors are 0-based character offsets in the decoded text.

mod filter;
pub(crate) mod functions;
pub(crate) mod lexer;

pub(crate) use filter::resolve_column;

use std::collections::HashSet;

use super::plan::{Columns, Expand, Order, Query};
use crate::error::{Error, Result};
use crate::schema::{Schema, TableDef};

/// How deep `$expand` may nest.
pub const MAX_EXPAND_DEPTH: usize = 8;

/// Parses OData query options (`?$select=...&$filter=...`) for `table` (a logical name).
///
/// - The leading `?` is optional; options are `&`-separated and percent-decoded; `+` stays a literal `+`.
/// - `$select`, `$filter`, `$orderby` (`asc`/`desc`), `$top`, `$count=true|false`, `$expand=nav(...)` with nested
///   `$select;$filter;$orderby;$top;$expand` (only `$select` and `$expand` for single-valued navigation
///   properties), or `fetchXml=<fetch ...>` (raw or encoded; must query `table`).
/// - `$filter`: `not` > `and` > `or`, parentheses, `eq ne gt ge lt le`, `eq null` / `ne null`, `contains`,
///   `startswith`, `endswith`, the `Microsoft.Dynamics.CRM.*` query functions of the offline operators, `nav/col`
///   through single-valued navigation properties and `nav/any(o:...)` / `nav/all(o:...)` over collections.
///   Lookups can be named by logical name, navigation property or `_x_value`.
/// - `$skip`, `$apply`, `$search`, `$skiptoken` and unknown options are refused with what to use instead.
///
/// Errors: `InvalidQuery` (with the 0-based character position in `$filter`), `AttributeNotFound` ("Could not find
/// a property named 'x' on type 'Microsoft.Dynamics.CRM.account'"), `TableNotFound`, `InvalidArgument` for bad
/// `$top` / `$count` values or query-function units.
pub fn parse_odata(schema: &Schema, table: &str, options: &str) -> Result<Query> {
    let def = schema.require_table(table)?;
    let options = options.strip_prefix('?').unwrap_or(options);
    let params = split_params(options)?;
    if let Some((_, xml)) = params.iter().find(|(n, _)| n.eq_ignore_ascii_case("fetchXml")) {
        if let Some((other, _)) = params.iter().find(|(n, _)| !n.eq_ignore_ascii_case("fetchXml")) {
            return Err(Error::query(format!("fetchXml can't be combined with other query options ('{other}')")));
        }
        if params.len() > 1 {
            return Err(Error::query("fetchXml is given more than once"));
        }
        let q = super::parse_fetchxml(schema, xml)?;
        if !q.table.eq_ignore_ascii_case(&def.logical_name) {
            return Err(Error::query(format!(
                "the fetchXml queries '{}' but the request is for '{}'",
                q.table, def.logical_name
            )));
        }
        return Ok(q);
    }
    let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    options_to_query(schema, def, &params, 0, None)
}

/// Splits the query string into decoded `(name, value)` pairs. Linear in the length of the string.
fn split_params(s: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut rest = s;
    while !rest.is_empty() {
        let seg_end = rest.find('&').unwrap_or(rest.len());
        let seg = &rest[..seg_end];
        if seg.is_empty() {
            rest = rest.get(1..).unwrap_or("");
            continue;
        }
        let Some(eq) = seg.find('=') else {
            return Err(Error::query(format!("the query option '{}' needs a value ('name=value')", decode(seg)?)));
        };
        let name = decode(&seg[..eq])?;
        let after = &rest[eq + 1..];
        let (value, next) = if name.eq_ignore_ascii_case("fetchXml") && after.trim_start().starts_with('<') {
            // Raw XML may hold '&' in entity references: it runs to the last </fetch>.
            match after.rfind("</fetch>") {
                Some(end) => (after[..end + 8].to_string(), &after[end + 8..]),
                None => (after.to_string(), ""),
            }
        } else {
            (decode(&seg[eq + 1..])?, &rest[seg_end..])
        };
        if !seen.insert(name.clone()) {
            return Err(Error::query(format!("the query option '{name}' is given more than once")));
        }
        out.push((name, value));
        rest = match next.strip_prefix('&') {
            Some(r) => r,
            None if next.is_empty() => "",
            None => return Err(Error::query("unexpected text after the fetchXml value")),
        };
    }
    Ok(out)
}

/// Percent-decodes a query-string component; `+` is kept.
fn decode(s: &str) -> Result<String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            // Not an escape: kept as a literal '%' (as browsers do), so `contains(name,'50%')` works unencoded.
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Error::query("the query options are not valid UTF-8 once percent-decoded"))
}

/// What to use instead of an option that offline does not support.
fn refused(name: &str) -> Option<&'static str> {
    Some(match name {
        "$skip" => "$skip is not supported: page with the maxPageSize option and follow the returned nextLink",
        "$skiptoken" => "$skiptoken is not supported here: page with maxPageSize and follow the returned nextLink",
        "$apply" => "$apply is not available offline: no aggregation offline; retrieve the rows and aggregate in code",
        "$search" => "$search (full-text search) is not available offline: use contains() in $filter",
        "$compute" | "$levels" | "$index" | "$format" | "$schemaversion" | "$deltatoken" | "$id" => {
            "this option is not supported offline: use $select, $filter, $orderby, $top, $count and $expand"
        }
        _ => return None,
    })
}

/// Builds a query from options; `nav` is `Some((name, collection))` for the options of an `$expand`.
fn options_to_query(
    schema: &Schema,
    def: &TableDef,
    params: &[(&str, &str)],
    depth: usize,
    nav: Option<(&str, bool)>,
) -> Result<Query> {
    let mut q = Query { table: def.logical_name.clone(), ..Query::default() };
    let ctx = |opt: &str| match nav {
        Some((n, _)) => format!("{opt} of $expand={n}"),
        None => opt.to_string(),
    };
    for &(name, value) in params {
        if let Some(msg) = refused(name) {
            return Err(Error::query(msg));
        }
        if nav.is_some_and(|(_, collection)| !collection) && matches!(name, "$filter" | "$orderby" | "$top") {
            return Err(Error::query(format!(
                "{name} is not allowed inside the $expand of the single-valued navigation property '{}': only \
                 $select and $expand are",
                nav.map(|n| n.0).unwrap_or_default()
            )));
        }
        match name {
            "$select" => q.columns = select(def, value, &ctx("$select"))?,
            "$filter" => q.filter = Some(filter::parse_filter(schema, def, value, &ctx("$filter"))?),
            "$orderby" => q.orders = orderby(def, value, &ctx("$orderby"))?,
            "$top" => {
                q.top = Some(value.trim().parse::<u32>().map_err(|_| {
                    Error::argument(format!(
                        "{} must be a whole number from 0 to 4294967295, not '{value}'",
                        ctx("$top")
                    ))
                })?)
            }
            "$count" if nav.is_none() => {
                q.count = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::argument(format!("$count must be true or false, not '{value}'"))),
                }
            }
            "$expand" => q.expands = expand(schema, def, value, depth)?,
            _ => {
                return Err(Error::query(format!(
                    "the query option '{name}' is not supported{}: use $select, $filter, $orderby, $top, $count, \
                     $expand or fetchXml",
                    nav.map(|(n, _)| format!(" inside $expand={n}")).unwrap_or_default()
                )))
            }
        }
    }
    Ok(q)
}

fn select(def: &TableDef, value: &str, what: &str) -> Result<Columns> {
    if value.trim() == "*" {
        return Ok(Columns::All);
    }
    let mut cols = Vec::new();
    for name in value.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(Error::query(format!("{what} has an empty column name in '{value}'")));
        }
        if def.navigation(name).is_some() && def.attribute(name).is_none() {
            return Err(Error::query(format!(
                "'{name}' in {what} is a navigation property: use $expand={name} or select the lookup column"
            )));
        }
        let col = resolve_column(def, name)?;
        if !cols.contains(&col) {
            cols.push(col);
        }
    }
    Ok(Columns::Some(cols))
}

fn orderby(def: &TableDef, value: &str, what: &str) -> Result<Vec<Order>> {
    let mut orders = Vec::new();
    for item in value.split(',') {
        let mut words = item.split_whitespace();
        let Some(name) = words.next() else {
            return Err(Error::query(format!("{what} has an empty item in '{value}'")));
        };
        if name.contains('/') {
            return Err(Error::query(format!("{what} can't order by a related table's column ('{name}') offline")));
        }
        let descending = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(w) => return Err(Error::query(format!("expected asc or desc after '{name}' in {what}, found '{w}'"))),
        };
        if let Some(w) = words.next() {
            return Err(Error::query(format!("expected ',' after '{name}' in {what}, found '{w}'")));
        }
        orders.push(Order { entity: None, attribute: resolve_column(def, name)?, descending });
    }
    Ok(orders)
}

/// Splits at `sep` outside quotes and parentheses; fails on unbalanced parentheses.
fn split_outside(s: &str, sep: char, what: &str) -> Result<Vec<String>> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut cur = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth = depth.checked_sub(1).ok_or_else(|| Error::query(format!("unbalanced ')' at {i} in {what}")))?;
            }
            c if c == sep && !quoted && depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if depth > 0 {
        return Err(Error::query(format!("expected ')' at {} in {what}", s.chars().count())));
    }
    if quoted {
        return Err(Error::query(format!("unterminated string in {what}")));
    }
    parts.push(cur);
    Ok(parts)
}

fn expand(schema: &Schema, def: &TableDef, value: &str, depth: usize) -> Result<Vec<Expand>> {
    if depth >= MAX_EXPAND_DEPTH {
        return Err(Error::query(format!("$expand is nested more than {MAX_EXPAND_DEPTH} levels deep")));
    }
    let mut out = Vec::new();
    for item in split_outside(value, ',', "$expand")? {
        let item = item.trim();
        let (nav, inner) = match item.find('(') {
            Some(open) => {
                let Some(inner) = item[open + 1..].strip_suffix(')') else {
                    return Err(Error::query(format!("expected ')' at the end of '{item}' in $expand")));
                };
                (item[..open].trim(), Some(inner))
            }
            None => (item, None),
        };
        if nav.is_empty() {
            return Err(Error::query(format!("$expand has an empty navigation property in '{value}'")));
        }
        let (rel, collection) = def.navigation(nav).ok_or_else(|| {
            Error::query(format!(
                "Could not find a navigation property named '{nav}' on type 'Microsoft.Dynamics.CRM.{}' in $expand",
                def.logical_name
            ))
        })?;
        let (target, from, to) = if collection {
            (&rel.referencing_entity, &rel.referencing_attribute, &rel.referenced_attribute)
        } else {
            (&rel.referenced_entity, &rel.referenced_attribute, &rel.referencing_attribute)
        };
        let target = schema.require_table(target)?;
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(inner) = inner {
            for opt in split_outside(inner, ';', "$expand")? {
                let opt = opt.trim();
                if opt.is_empty() {
                    continue;
                }
                let Some((n, v)) = opt.split_once('=') else {
                    return Err(Error::query(format!("expected 'name=value' in $expand={nav}(...), found '{opt}'")));
                };
                let n = n.trim().to_string();
                if params.iter().any(|(p, _)| *p == n) {
                    return Err(Error::query(format!("{n} is given twice in $expand={nav}(...)")));
                }
                params.push((n, v.to_string()));
            }
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let query = options_to_query(schema, target, &params, depth + 1, Some((nav, collection)))?;
        out.push(Expand {
            navigation: nav.to_string(),
            collection,
            from: from.to_ascii_lowercase(),
            to: to.to_ascii_lowercase(),
            query,
        });
    }
    Ok(out)
}
