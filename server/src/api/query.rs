//! Collection reads: OData query options and `?fetchXml=` evaluated by the engine, paging with
//! `Prefer: odata.maxpagesize`, and change tracking (`Prefer: odata.track-changes`, `$deltatoken`).
//!
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api
//! - https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems
//!
//! Unordered OData queries stream the table in primary-key order and stop one match after the page, so a page
//! costs what it reads, and the skip token holds the last key. Unordered FetchXML pages do the same from the
//! paging cookie's last key (the first page, and every page whose request carries the previous page's cookie).
//! Ordered, counted, distinct and joined queries, and FetchXML pages asked by number alone, are evaluated whole
//! and paged by position.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use xrm_offline::query::plan::{Columns, Query};
use xrm_offline::query::{execute, matches, parse_fetchxml, parse_odata, MemorySource, Row};
use xrm_offline::schema::{Schema, TableDef};

use super::crud::{context_url, into_etag, with_etag};
use super::error::{ApiError, ApiResult};
use super::paging::{self, Cookie};
use super::rowplan::RowPlan;
use super::shape::{Cols, Shaper};
use super::stored::RawRow;
use super::{source, Ctx};
use crate::http::{Request, Response};
use crate::store::{Db, StoredText};

/// Dataverse's default and largest page.
pub const MAX_PAGE: usize = 5000;
const CHUNK: usize = 1000;

/// A page of results before shaping.
struct Page {
    rows: PageRows,
    count: Option<usize>,
    more: bool,
    cookie: Cookie,
}

/// The rows of a page, in result order.
enum PageRows {
    /// Stored rows (with etag), each with the engine's extra keys (expands, link-entities).
    Maps(Vec<Row>),
    /// Stored rows as stored (pages of whole rows without filter or expand): written from their text.
    Stored(Vec<StoredText>),
}

/// `GET <set>?...`.
pub fn collection(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, req: &Request) -> ApiResult<Response> {
    let params = req.params();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("$skip").is_some() {
        return Err(ApiError::bad_request(
            "The query parameter $skip is not supported: page with Prefer: odata.maxpagesize and @odata.nextLink.",
        ));
    }
    let cookie = match get("$skiptoken") {
        Some(t) => Some(Cookie::parse(&t)?),
        None => None,
    };
    let tracking =
        ctx.prefer.track_changes || cookie.as_ref().is_some_and(|c| c.tracking) || get("$deltatoken").is_some();
    if tracking {
        for k in ["$filter", "$orderby", "$expand", "$top", "fetchXml"] {
            if get(k).is_some() {
                return Err(ApiError::bad_request(format!(
                    "The query parameter {k} is not supported with change tracking."
                )));
            }
        }
        if !table.change_tracking_enabled {
            return Err(ApiError::bad_request(format!(
                "Change tracking is not enabled for entity '{}'.",
                table.logical_name
            )));
        }
    }
    if let Some(dt) = get("$deltatoken") {
        return delta(ctx, db, table, req, &dt, cookie);
    }
    let fetch = get("fetchXml");
    let query = match &fetch {
        Some(xml) => {
            let q = parse_fetchxml(ctx.schema(), xml)?;
            if q.table != table.logical_name {
                return Err(ApiError::bad_request(format!(
                    "The FetchXML queries '{}' but the request is for '{}'.",
                    q.table, table.entity_set_name
                )));
            }
            q
        }
        None if params.iter().all(|(k, _)| matches!(k.as_str(), "$select" | "$top" | "$skiptoken" | "$deltatoken")) => {
            // Plain reads (the first page of change tracking, a select) need no parser.
            let columns = match super::crud::select_list(table, get("$select").as_deref())? {
                Some(list) => Columns::Some(list),
                None => Columns::All,
            };
            let top = match get("$top") {
                Some(t) => Some(t.trim().parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!("Invalid value '{t}' for $top: expected a non-negative integer."))
                })?),
                None => None,
            };
            Query { table: table.logical_name.clone(), columns, top, ..Default::default() }
        }
        None => {
            let options: Vec<String> = params
                .iter()
                .filter(|(k, _)| k.starts_with('$') && k != "$skiptoken")
                .map(|(k, v)| format!("{k}={}", rewrite_lookup_keys(ctx.schema(), v)))
                .collect();
            parse_odata(ctx.schema(), &table.logical_name, &options.join("&"))?
        }
    };
    let mut page_size = ctx.prefer.max_page_size.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let mut cookie = cookie.unwrap_or(Cookie { page: 1, ..Default::default() });
    let mut query = query;
    // Where a FetchXML page starts: after the paging cookie's last key when the query reads in key order, else by
    // position (page `p` of `count` rows starts at row `(p - 1) × count`).
    let mut keyset = fetch.is_none();
    if let Some(xml) = &fetch {
        // FetchXML pages as Dataverse does: `count` and `page` attributes, answered with morerecords and a paging
        // cookie instead of a next link. With the cookie of the previous page the rows after its last key are read
        // (the table is streamed, not evaluated whole for each page), so the page size may change between pages.
        if let Some(count) = query.page_size.take() {
            page_size = (count as usize).clamp(1, MAX_PAGE);
        }
        cookie.page = query.page.take().unwrap_or(1).max(1);
        cookie.last = if cookie.page > 1 { paging::fetch_cookie_last(xml) } else { None };
        keyset = query.top.is_none() && (cookie.page == 1 || cookie.last.is_some());
    }
    if tracking && cookie.snapshot.is_none() {
        cookie.snapshot = Some(db.current_version());
        cookie.tracking = true;
    }
    let streaming = query.orders.is_empty() && !query.count && query.joins.is_empty() && keyset && !query.distinct;
    let page = if streaming {
        stream_page(ctx, db, table, &query, page_size, cookie)?
    } else {
        whole_page(ctx, db, table, &query, page_size, cookie)?
    };
    let select = match &query.columns {
        Columns::Some(list) => Some(list.clone()),
        Columns::All => None,
    };
    let shaper = Shaper::new(ctx, db);
    let cols = match &select {
        Some(l) => Cols::Some(l),
        None => Cols::All,
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::from(context_url(ctx, table, select.as_deref(), "")));
    match (page.count, fetch.is_some()) {
        (Some(n), false) => {
            body.insert("@odata.count".into(), Value::from(n.min(MAX_PAGE)));
        }
        (Some(n), true) => {
            body.insert("@Microsoft.Dynamics.CRM.totalrecordcount".into(), Value::from(n.min(MAX_PAGE)));
            body.insert("@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded".into(), Value::from(n > MAX_PAGE));
        }
        _ => {}
    }
    // The members after `value`.
    let mut tail = Map::new();
    if fetch.is_some() {
        tail.insert("@Microsoft.Dynamics.CRM.morerecords".into(), Value::from(page.more));
        if page.more {
            let cookie = page.cookie.fetch_cookie(&table.primary_id_attribute);
            tail.insert("@Microsoft.Dynamics.CRM.fetchxmlpagingcookie".into(), Value::from(cookie));
        }
    } else if page.more {
        let token = page.cookie.next_token(&table.primary_id_attribute);
        tail.insert("@odata.nextLink".into(), Value::from(paging::next_link(ctx, req, &table.entity_set_name, &token)));
    } else if tracking {
        let version = page.cookie.snapshot.unwrap_or_else(|| db.current_version());
        tail.insert(
            "@odata.deltaLink".into(),
            Value::from(paging::delta_link(ctx, &table.entity_set_name, get("$select").as_deref(), version)),
        );
    }
    // Written straight into the response body, row by row, in the member order a `Map` would serialize: no tree of
    // the whole page is built (a 5,000-row page with annotations is several MB of small allocations).
    let mut out = match &page.rows {
        PageRows::Maps(rows) => Vec::with_capacity(rows.len().saturating_mul(1024) + 1024),
        // Annotations make a row up to about 4 times its stored JSON.
        PageRows::Stored(texts) => {
            let stored: usize = texts.iter().map(|t| t.text.len() + 16).sum();
            Vec::with_capacity(if shaper.wants().any { stored * 4 } else { stored + stored / 4 } + 1024)
        }
    };
    out.push(b'{');
    write_members(&mut out, &body);
    if !body.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"value\":[");
    match page.rows {
        PageRows::Maps(rows) => {
            shaper.prefetch_names(table, &rows, cols.clone());
            for (i, r) in rows.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                shaper.write_row(table, &r, cols.clone(), &mut out);
            }
        }
        PageRows::Stored(texts) => {
            let plan = RowPlan::new(table, cols.clone(), shaper.wants());
            let rows: Vec<RawRow> = texts.iter().map(|t| RawRow::parse(&t.text)).collect();
            let filled = plan.fill(&rows);
            shaper.fetch_names(plan.wanted_names(&filled, rows.len(), &shaper));
            let mut scratch = String::new();
            for (i, t) in texts.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                plan.write(&shaper, &rows, &filled, i, t.version, &mut out, &mut scratch);
            }
        }
    }
    out.push(b']');
    if !tail.is_empty() {
        out.push(b',');
        write_members(&mut out, &tail);
    }
    out.push(b'}');
    let mut r = Response::json_bytes(200, out);
    applied(ctx, &mut r, tracking);
    Ok(r)
}

/// `"k":v,...` of `map` as serde_json writes them (compact).
fn write_members(out: &mut Vec<u8>, map: &Map<String, Value>) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail, and string keys and JSON values always serialize.
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    }
}

fn applied(ctx: &Ctx<'_>, r: &mut Response, tracking: bool) {
    let mut applied = Vec::new();
    if let Some(n) = ctx.prefer.max_page_size {
        applied.push(format!("odata.maxpagesize={}", n.min(MAX_PAGE)));
    }
    if let Some(a) = &ctx.prefer.annotations {
        applied.push(format!("odata.include-annotations=\"{a}\""));
    }
    if tracking && ctx.prefer.track_changes {
        applied.push("odata.track-changes".into());
    }
    if !applied.is_empty() {
        r.set("Preference-Applied", &applied.join(","));
    }
}

/// `_x_value` (the Web API's name of a lookup value) -> `x` (the engine names lookups by logical name).
fn rewrite_lookup_keys(schema: &Schema, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_quote = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_quote = !in_quote;
        }
        let boundary = out.chars().last().is_none_or(|p| !(p.is_ascii_alphanumeric() || p == '_'));
        if !in_quote && c == '_' && boundary {
            let end = rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(rest.len());
            let word = &rest[..end];
            if let Some(inner) = word.strip_prefix('_').and_then(|w| w.strip_suffix("_value")) {
                let is_lookup =
                    schema.tables().iter().any(|t| t.attribute(inner).is_some_and(|a| a.attribute_type.is_lookup()));
                if is_lookup {
                    out.push_str(inner);
                    rest = &rest[end..];
                    continue;
                }
            }
            out.push_str(word);
            rest = &rest[end..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The projection part of a query (select, expand, joins) without filter, order or limits.
fn projection(q: &Query) -> Query {
    let mut p = q.clone();
    p.filter = None;
    p.orders.clear();
    p.top = None;
    p.count = false;
    p.page = None;
    p.page_size = None;
    p
}

/// Adds the engine's extra keys (expanded navigation properties, link-entity columns) to the stored rows.
fn merge_projection(ctx: &Ctx<'_>, db: &Db, table: &TableDef, q: &Query, rows: Vec<Row>) -> ApiResult<Vec<Row>> {
    if q.expands.is_empty() && q.joins.is_empty() {
        return Ok(rows);
    }
    let projected = source::run_over(ctx, db, table, projection(q), rows.clone())?;
    let pid = &table.primary_id_attribute;
    let mut extra: HashMap<String, Row> = HashMap::new();
    for r in projected {
        if let Some(id) = r.get(pid).and_then(Value::as_str).map(str::to_string) {
            extra.entry(id).or_insert(r);
        }
    }
    Ok(rows
        .into_iter()
        .map(|mut r| {
            let id = r.get(pid).and_then(Value::as_str).unwrap_or_default().to_string();
            if let Some(e) = extra.remove(&id) {
                for (k, v) in e {
                    if !r.contains_key(&k) && table.attribute_by_row_key(&k).is_none() && !k.starts_with('@') {
                        r.insert(k, v);
                    }
                }
            }
            r
        })
        .collect())
}

fn stream_page(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    q: &Query,
    page_size: usize,
    mut cookie: Cookie,
) -> ApiResult<Page> {
    let access = ctx.user.read_access(table);
    let served_before = (cookie.page.saturating_sub(1) as usize).saturating_mul(page_size);
    let mut want = page_size;
    let mut top_bound = false;
    if let Some(top) = q.top {
        let remaining = (top as usize).saturating_sub(served_before);
        if remaining <= page_size {
            want = remaining;
            top_bound = true;
        }
    }
    let aux = match &q.filter {
        Some(_) => {
            let filter_only = Query { table: q.table.clone(), filter: q.filter.clone(), ..Default::default() };
            source::related_source(ctx, db, &filter_only)?.0
        }
        None => MemorySource::new(),
    };
    let ectx = ctx.eval_context();
    let mut after = cookie.last.clone();
    let mut matched: Vec<Row> = Vec::new();
    let mut more = false;
    let pid = &table.primary_id_attribute;
    // A filter on the primary id reads those rows by key (in id order, after the page's last id) in one chunk.
    let keys = source::key_candidates(q, table);
    // A listing of ids (change tracking's first read) needs no stored column.
    let keys_only = q.filter.is_none()
        && q.expands.is_empty()
        && matches!(&q.columns, Columns::Some(c) if c.iter().all(|c| c == pid));
    if q.filter.is_none() && q.expands.is_empty() && q.joins.is_empty() {
        // Every row in key order: the page and one more (to know whether more follow), written from the stored
        // text without decoding it into maps.
        let limit = want.saturating_add(1);
        let mut texts = if keys_only {
            db.scan_keys(&table.logical_name, pid, &access, after.as_deref(), limit)?
        } else {
            db.scan_text(&table.logical_name, &access, after.as_deref(), limit)?
        };
        let mut more = false;
        if texts.len() > want {
            texts.truncate(want);
            more = !top_bound;
        }
        let id_of = |t: Option<&StoredText>| {
            t.and_then(|t| match RawRow::parse(&t.text).get(pid).map(super::stored::Scalar::of) {
                Some(super::stored::Scalar::Str(s)) => Some(s.into_owned()),
                _ => None,
            })
        };
        cookie.first = id_of(texts.first());
        cookie.last = id_of(texts.last());
        return Ok(Page { rows: PageRows::Stored(texts), count: None, more, cookie });
    }
    // Without `$expand` the matches are written from their stored text (decoded only for the filter).
    let plain = q.expands.is_empty();
    let mut texts: Vec<StoredText> = Vec::new();
    let (mut first, mut last): (Option<String>, Option<String>) = (None, None);
    'scan: loop {
        let chunk = match &keys {
            Some(ids) => {
                let start = after.as_deref().map_or(0, |a| ids.partition_point(|id| id.as_str() <= a));
                let mut rows = db.get_many_text(&table.logical_name, &access, &ids[start..])?;
                rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                rows
            }
            None => db.scan_text(&table.logical_name, &access, after.as_deref(), CHUNK)?,
        };
        let n = if keys.is_some() { 0 } else { chunk.len() };
        for t in chunk {
            let row = with_etag_text(&t);
            let ok = match &q.filter {
                Some(f) => matches(ctx.schema(), &table.logical_name, f, &row, &aux, &ectx)?,
                None => true,
            };
            after = Some(t.id.clone());
            if ok {
                if matched.len() + texts.len() >= want {
                    more = !top_bound;
                    break 'scan;
                }
                let id = row.get(pid).and_then(Value::as_str).map(str::to_string);
                if first.is_none() && matched.is_empty() && texts.is_empty() {
                    first = id.clone();
                }
                last = id;
                if plain {
                    texts.push(t);
                } else {
                    matched.push(row);
                }
            }
        }
        if n < CHUNK {
            break;
        }
    }
    cookie.first = first;
    cookie.last = last;
    if plain {
        return Ok(Page { rows: PageRows::Stored(texts), count: None, more, cookie });
    }
    let rows = merge_projection(ctx, db, table, q, matched)?;
    Ok(Page { rows: PageRows::Maps(rows), count: None, more, cookie })
}

/// A stored row decoded (as the engine reads it), `@odata.etag` first, as [`into_etag`] builds it.
fn with_etag_text(t: &StoredText) -> Row {
    let data = match serde_json::from_str(&t.text) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    into_etag(crate::store::StoredRow { id: String::new(), data, version: t.version, owner: None, business_unit: None })
}

fn whole_page(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    q: &Query,
    page_size: usize,
    mut cookie: Cookie,
) -> ApiResult<Page> {
    let (mut src, has_self) = source::related_source(ctx, db, q)?;
    if !has_self {
        // A filter on the primary id (the rows a change-tracking delta named, fetched by id) reads those rows by
        // key instead of the whole table; the engine still runs the whole filter over them.
        let rows = match source::key_candidates(q, table) {
            Some(ids) => source::load_keys(ctx, db, table, &ids)?,
            None => source::load_table(ctx, db, &table.logical_name)?,
        };
        src.extend(&table.logical_name, rows);
    }
    let pid = table.primary_id_attribute.clone();
    // The page is answered from the stored rows; without joins, expands or distinct the engine only needs to say
    // which rows and in what order, so it projects the primary id alone instead of copying every column.
    let ids_only;
    let plan = if q.joins.is_empty() && q.expands.is_empty() && !q.distinct {
        ids_only = Query { columns: Columns::Some(vec![pid.clone()]), ..q.clone() };
        &ids_only
    } else {
        q
    };
    let result = execute(ctx.schema(), plan, &src, &ctx.eval_context())?;
    let offset = (cookie.page.saturating_sub(1) as usize).saturating_mul(page_size);
    let total = result.entities.len();
    let more = total > offset.saturating_add(page_size);
    let page: Vec<Row> = result.entities.into_iter().skip(offset).take(page_size).collect();
    let result_repeats = !q.joins.is_empty();
    // The engine's rows are projected; answer from the stored rows (annotations, etag) plus its extra keys. The
    // source already holds every stored row of the table the caller may read (with etag): no second read.
    let mut stored: HashMap<String, Row> = HashMap::new();
    for r in src.take(&table.logical_name) {
        if let Some(id) = r.get(&pid).and_then(Value::as_str).map(str::to_string) {
            stored.entry(id).or_insert(r);
        }
    }
    drop(src);
    let rows: Vec<Row> = page
        .into_iter()
        .map(|e| {
            let id = e.get(&pid).and_then(Value::as_str).unwrap_or_default();
            // A row appears once on a page unless link-entities repeat it: then a copy.
            let found = match stored.get(id) {
                Some(_) if result_repeats => stored.get(id).cloned(),
                Some(_) => stored.remove(id),
                None => None,
            };
            match found {
                Some(mut r) => {
                    for (k, v) in e {
                        if !r.contains_key(&k) && table.attribute_by_row_key(&k).is_none() && !k.starts_with('@') {
                            r.insert(k, v);
                        }
                    }
                    r
                }
                None => e,
            }
        })
        .collect();
    cookie.first = rows.first().and_then(|r| r.get(&pid)).and_then(Value::as_str).map(str::to_string);
    cookie.last = rows.last().and_then(|r| r.get(&pid)).and_then(Value::as_str).map(str::to_string);
    Ok(Page {
        rows: PageRows::Maps(rows),
        count: if q.count { Some(result.count.unwrap_or(total)) } else { None },
        more,
        cookie,
    })
}

/// `GET <set>?$deltatoken=...`: rows changed since the token (current state) and `$deletedEntity` entries.
fn delta(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    req: &Request,
    token: &str,
    cookie: Option<Cookie>,
) -> ApiResult<Response> {
    let since = paging::parse_delta_token(token)?;
    let until = cookie.as_ref().and_then(|c| c.snapshot).unwrap_or_else(|| db.current_version());
    let after = cookie.as_ref().and_then(|c| c.after).unwrap_or(since);
    let page_no = cookie.as_ref().map(|c| c.page).unwrap_or(1);
    let page_size = ctx.prefer.max_page_size.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let access = ctx.user.read_access(table);
    let changed = db.changed_since(&table.logical_name, &access, after, until, page_size + 1)?;
    let deleted = db.deleted_since(&table.logical_name, &access, after, until, page_size + 1)?;
    let select = super::crud::select_list(table, req.param("$select").as_deref())?;
    let cols = match &select {
        Some(l) => Cols::Some(l),
        None => Cols::All,
    };
    let shaper = Shaper::new(ctx, db);
    // Merge both lists by version; at most page_size entries.
    let (mut i, mut j) = (0, 0);
    let mut value = Vec::new();
    let mut last_version = after;
    while value.len() < page_size && (i < changed.len() || j < deleted.len()) {
        let take_changed = match (changed.get(i), deleted.get(j)) {
            (Some(c), Some(d)) => c.version < d.version,
            (Some(_), None) => true,
            _ => false,
        };
        if take_changed {
            let r = &changed[i];
            last_version = r.version;
            value.push(Value::Object(shaper.row(table, &with_etag(r), cols.clone())));
            i += 1;
        } else {
            let d = &deleted[j];
            last_version = d.version;
            value.push(json!({
                "@odata.context": format!("{}$metadata#{}/$deletedEntity", ctx.base, table.entity_set_name),
                "id": d.id,
                "reason": "deleted",
            }));
            j += 1;
        }
    }
    let more = i < changed.len() || j < deleted.len();
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::from(context_url(ctx, table, select.as_deref(), "/$delta")));
    body.insert("value".into(), Value::Array(value));
    if more {
        let next = Cookie {
            page: page_no,
            snapshot: Some(until),
            after: Some(last_version),
            tracking: true,
            ..Default::default()
        };
        let t = next.next_token(&table.primary_id_attribute);
        body.insert("@odata.nextLink".into(), Value::from(paging::next_link(ctx, req, &table.entity_set_name, &t)));
    } else {
        body.insert(
            "@odata.deltaLink".into(),
            Value::from(paging::delta_link(ctx, &table.entity_set_name, req.param("$select").as_deref(), until)),
        );
    }
    let mut r = Response::json(200, &Value::Object(body));
    applied(ctx, &mut r, true);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_lookup_value_names_outside_quotes() {
        let s = crate::meta::ServerSchema::load();
        assert_eq!(
            rewrite_lookup_keys(&s.schema, "_parentcustomerid_value eq 1 and name eq '_parentcustomerid_value'"),
            "parentcustomerid eq 1 and name eq '_parentcustomerid_value'"
        );
        assert_eq!(rewrite_lookup_keys(&s.schema, "_nope_value,name"), "_nope_value,name");
    }
}
