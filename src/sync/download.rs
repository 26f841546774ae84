//! The download queries: for each profile table, one FetchXML query selecting exactly the rows the profile wants
//! on the device, and the request that starts change tracking for the table.
//!
//! A table's selection is its item's own filter OR-ed with one `link-entity link-type="any"` per relationship,
//! whose inner filter is the other table's selection, recursively: work orders are those an in-scope booking
//! points at; work order products those whose work order is in scope (itself "an in-scope booking points at
//! it"). The server evaluates the whole chain, so the first sync needs no follow-up queries.
//!
//! Change tracking is started with `GET <set>?$select=<primary id>` and `Prefer: odata.track-changes`: Dataverse
//! refuses `$filter` (and `fetchXml`) with change tracking, so the filtered query gets the rows and the delta link
//! gets the changes later ([Use change tracking](https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems)).

use serde::Serialize;

use super::page::Cursor;
use super::request::{percent_encode, Method, Request};
use crate::error::{Error, Result};
use crate::profile::{ItemFilter, LinkKind, OwnRows, Profile};
use crate::query::plan::{Columns, Condition, Filter, Literal, Operator, Query, RelatedFilter, RelatedKind};
use crate::query::{parse_fetchxml_filter, render};
use crate::schema::{Schema, TableDef};

/// The default page size the host asks for (`Prefer: odata.maxpagesize`); Dataverse's largest is 5000.
pub const DEFAULT_PAGE_SIZE: u32 = 5000;

/// `Prefer` value asking for every annotation (formatted values, lookup tables and navigation properties), which
/// the local store keeps beside the values.
pub const ALL_ANNOTATIONS: &str = "odata.include-annotations=\"*\"";

/// Which rows of a table a profile selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// No row (a related-only item whose relationships select nothing).
    Nothing,
    /// Every row.
    All,
    /// The rows matching this filter.
    Matching(Filter),
}

/// A FetchXML query over one table, ready to be sent page by page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchQuery {
    /// Table logical name.
    pub table: String,
    /// Web API entity set (`accounts`).
    pub entity_set: String,
    /// The plan (not serialised).
    #[serde(skip)]
    pub query: Query,
    /// The `<fetch>` document.
    pub fetchxml: String,
}

impl FetchQuery {
    /// Renders `query` over `def`. Errors: a filter FetchXML cannot express (a negated date operator).
    pub fn new(def: &TableDef, query: Query) -> Result<FetchQuery> {
        let fetchxml = render::try_query_to_fetchxml(&query)?;
        Ok(FetchQuery { table: def.logical_name.clone(), entity_set: def.entity_set_name.clone(), query, fetchxml })
    }

    /// The request for the page at `cursor`: `GET <set>?fetchXml=<encoded>` with
    /// `Prefer: odata.include-annotations="*",odata.maxpagesize=<page_size>` for the first page, the server's
    /// `@odata.nextLink` as is, or the FetchXML with `page`, `count` and `paging-cookie` for Dataverse's
    /// paging-cookie form.
    pub fn request(&self, cursor: &Cursor, page_size: u32) -> Request {
        let url = match cursor {
            Cursor::Start => format!("{}?fetchXml={}", self.entity_set, percent_encode(&self.fetchxml)),
            Cursor::Link { url } => url.clone(),
            Cursor::FetchPage { page, cookie } => {
                let mut attrs = format!(" page=\"{page}\" count=\"{page_size}\"");
                if let Some(c) = cookie {
                    attrs.push_str(" paging-cookie=\"");
                    attrs.push_str(&xml_attr_escape(c));
                    attrs.push('"');
                }
                let xml = self.fetchxml.replacen("<fetch", &format!("<fetch{attrs}"), 1);
                format!("{}?fetchXml={}", self.entity_set, percent_encode(&xml))
            }
        };
        Request::new(Method::Get, url).with_header("Prefer", format!("{ALL_ANNOTATIONS},odata.maxpagesize={page_size}"))
    }
}

fn xml_attr_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The request that starts change tracking for a table (`cursor` [`Cursor::Start`]), continues it (a
/// `@odata.nextLink`), or reads the changes since a `@odata.deltaLink` (pass it as [`Cursor::Link`]):
/// `GET <set>?$select=<primary id>` with `Prefer: odata.track-changes,odata.maxpagesize=<page_size>`. Only the
/// primary id is selected, so the first read (every row of the table) is cheap and the delta link returns the
/// ids of changed rows, which the core then fetches by id with the profile's columns.
pub fn track_changes_request(def: &TableDef, cursor: &Cursor, page_size: u32) -> Request {
    let url = match cursor {
        Cursor::Link { url } => url.clone(),
        _ => format!("{}?$select={}", def.entity_set_name, def.primary_id_attribute),
    };
    Request::new(Method::Get, url).with_header("Prefer", format!("odata.track-changes,odata.maxpagesize={page_size}"))
}

/// The own filter of item `index` (custom filters not yet parsed are parsed here).
pub(crate) fn own_rows(profile: &Profile, schema: &Schema, index: usize) -> Result<OwnRows> {
    let item = &profile.items[index];
    Ok(match &item.filter {
        ItemFilter::Custom(c) if c.plan.is_none() => match parse_fetchxml_filter(schema, &item.table, &c.fetchxml)? {
            Some(f) => OwnRows::Matching(f),
            None => OwnRows::All,
        },
        f => f.own_rows(),
    })
}

/// The selection of every item (indexed like `profile.items`): its own filter OR one `link-entity any` per
/// relationship whose inner filter is the other table's selection. Items are computed in sync order, so the
/// other table's selection is known; in an invalid (circular) profile the unknown ones select nothing.
pub fn selections(profile: &Profile, schema: &Schema) -> Result<Vec<Selection>> {
    let mut out: Vec<Option<Selection>> = vec![None; profile.items.len()];
    for index in profile.sync_order(schema) {
        let item = &profile.items[index];
        let def = schema.require_table(&item.table)?;
        let mut parts = Vec::new();
        match own_rows(profile, schema, index)? {
            OwnRows::All => {
                out[index] = Some(Selection::All);
                continue;
            }
            OwnRows::Matching(Filter::And(v)) if v.is_empty() => {
                out[index] = Some(Selection::All);
                continue;
            }
            OwnRows::None => {}
            OwnRows::Matching(f) => parts.push(f),
        }
        for link in profile.links(schema, index) {
            let Some(j) = profile.items.iter().position(|i| i.table.eq_ignore_ascii_case(&link.other_table)) else {
                continue;
            };
            let other = schema.require_table(&link.other_table)?;
            let inner = match &out[j] {
                None | Some(Selection::Nothing) => continue,
                Some(Selection::All) => None,
                Some(Selection::Matching(f)) => Some(f.clone()),
            };
            let (from, to) = match &link.kind {
                LinkKind::References { column } => (other.primary_id_attribute.clone(), column.clone()),
                LinkKind::ReferencedBy { column } => (column.clone(), def.primary_id_attribute.clone()),
            };
            parts.push(Filter::Related(Box::new(RelatedFilter {
                kind: RelatedKind::Any,
                table: other.logical_name.clone(),
                from,
                to,
                filter: inner,
            })));
        }
        out[index] = Some(match parts.len() {
            0 => Selection::Nothing,
            1 => Selection::Matching(parts.remove(0)),
            _ => Selection::Matching(Filter::Or(parts)),
        });
    }
    Ok(out.into_iter().map(|s| s.unwrap_or(Selection::Nothing)).collect())
}

/// The columns to download for item `index`: all when the item lists none; otherwise the listed ones plus the
/// columns the sync engine needs to re-evaluate the profile locally (the lookups of this item's relationships,
/// the lookups other items' relationships follow from this table, the columns its own filter compares).
pub fn download_columns(profile: &Profile, schema: &Schema, index: usize) -> Result<Columns> {
    let item = &profile.items[index];
    let Some(listed) = &item.columns else { return Ok(Columns::All) };
    let def = schema.require_table(&item.table)?;
    let mut cols: Vec<String> = Vec::new();
    let mut add = |c: &str| {
        let c = c.to_ascii_lowercase();
        if c != def.primary_id_attribute && !cols.contains(&c) {
            cols.push(c);
        }
    };
    for c in listed {
        add(c);
    }
    for link in profile.links(schema, index) {
        if let LinkKind::References { column } = &link.kind {
            add(column);
        }
    }
    for j in 0..profile.items.len() {
        for link in profile.links(schema, j) {
            if let LinkKind::ReferencedBy { column } = &link.kind {
                if link.other_table.eq_ignore_ascii_case(&item.table) {
                    add(column);
                }
            }
        }
    }
    if let OwnRows::Matching(f) = own_rows(profile, schema, index)? {
        let mut names = Vec::new();
        filter_columns(&f, &mut names);
        for n in names {
            add(&n);
        }
    }
    Ok(Columns::Some(cols))
}

/// Columns of the filtered table a filter compares (not those inside related-row filters).
fn filter_columns(f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().for_each(|i| filter_columns(i, out)),
        Filter::Not(inner) => filter_columns(inner, out),
        Filter::Condition(c) if c.entity.is_none() => out.push(c.attribute.clone()),
        Filter::Condition(_) => {}
        Filter::Related(r) => out.push(r.to.clone()),
    }
}

/// The query downloading `selection` of `def` with `columns`; `None` when the selection is empty.
pub fn download_query(def: &TableDef, selection: &Selection, columns: &Columns) -> Result<Option<FetchQuery>> {
    let filter = match selection {
        Selection::Nothing => return Ok(None),
        Selection::All => None,
        Selection::Matching(f) => Some(f.clone()),
    };
    if let Some(n) = filter.as_ref().map(link_entity_count).filter(|n| *n > MAX_LINK_ENTITIES) {
        return Err(Error::profile(format!(
            "the download query of '{}' needs {n} link-entity elements (each relationship nests the related table's \
             own relationships), more than the {MAX_LINK_ENTITIES} Dataverse allows in one query: shorten the \
             relationship chains that lead to this table",
            def.logical_name
        )));
    }
    let query = Query { table: def.logical_name.clone(), columns: columns.clone(), filter, ..Default::default() };
    FetchQuery::new(def, query).map(Some)
}

/// A query for the rows of `def` whose `column` is one of `ids` (FetchXML `in`), with `columns`.
pub fn ids_query(def: &TableDef, column: &str, ids: &[String], columns: &Columns) -> Result<FetchQuery> {
    if ids.is_empty() {
        return Err(Error::argument("an 'in' query needs at least one id"));
    }
    let filter = Filter::Condition(Condition {
        entity: None,
        attribute: column.to_string(),
        operator: Operator::In,
        values: ids.iter().map(|i| Literal::Text(i.clone())).collect(),
    });
    let query =
        Query { table: def.logical_name.clone(), columns: columns.clone(), filter: Some(filter), ..Default::default() };
    FetchQuery::new(def, query)
}

/// Dataverse's limit on `link-entity` elements in one query.
pub const MAX_LINK_ENTITIES: usize = 15;

/// How many `link-entity` elements a filter renders to (related-row filters, nested ones included).
pub fn link_entity_count(f: &Filter) -> usize {
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().map(link_entity_count).sum(),
        Filter::Not(inner) => link_entity_count(inner),
        Filter::Condition(_) => 0,
        Filter::Related(r) => 1 + r.filter.as_ref().map_or(0, link_entity_count),
    }
}

/// Whether a filter's result can change without the row changing: it uses a relative-date operator (the window
/// moves with the clock), a user operator (team membership changes) or a related-row filter (the related row
/// changes).
pub fn is_moving(f: &Filter) -> bool {
    use Operator::*;
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().any(is_moving),
        Filter::Not(inner) => is_moving(inner),
        Filter::Related(_) => true,
        Filter::Condition(c) => {
            matches!(
                c.operator,
                EqUserId
                    | NeUserId
                    | EqUserTeams
                    | EqUserOrUserTeams
                    | EqBusinessId
                    | NeBusinessId
                    | Today
                    | Tomorrow
                    | Yesterday
                    | NextSevenDays
                    | LastSevenDays
                    | ThisWeek
                    | LastWeek
                    | NextWeek
                    | ThisMonth
                    | LastMonth
                    | NextMonth
                    | ThisYear
                    | LastYear
                    | NextYear
            ) || c.operator.counts_units() // last-x-days, older-than-x-days...: relative to today too
        }
    }
}

/// The window-refresh query of a table whose own filter [`is_moving`]: the own filter, selecting only the primary
/// id. Run each sync; the ids it returns that are missing locally are fetched ([`SyncPlan::refresh_missing`]).
///
/// [`SyncPlan::refresh_missing`]: super::SyncPlan::refresh_missing
pub fn refresh_query(def: &TableDef, own: &OwnRows) -> Result<Option<FetchQuery>> {
    let OwnRows::Matching(f) = own else { return Ok(None) };
    if !is_moving(f) {
        return Ok(None);
    }
    let query = Query {
        table: def.logical_name.clone(),
        columns: Columns::Some(vec![def.primary_id_attribute.clone()]),
        filter: Some(f.clone()),
        ..Default::default()
    };
    FetchQuery::new(def, query).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn related(inner: Option<Filter>) -> Filter {
        Filter::Related(Box::new(RelatedFilter {
            kind: RelatedKind::Any,
            table: "t".into(),
            from: "a".into(),
            to: "b".into(),
            filter: inner,
        }))
    }

    #[test]
    fn link_entities_are_counted_through_nesting() {
        let chain = related(Some(Filter::And(vec![related(None), related(Some(related(None)))])));
        assert_eq!(link_entity_count(&chain), 4);
        assert_eq!(link_entity_count(&Filter::Or(vec![chain.clone(), chain])), 8);
        assert!(is_moving(&related(None)));
        let plain = Filter::Condition(Condition {
            entity: None,
            attribute: "name".into(),
            operator: Operator::Eq,
            values: vec![Literal::Text("x".into())],
        });
        assert!(!is_moving(&plain));
    }
}
