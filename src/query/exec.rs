//! Query execution: FetchXML joins, the filter, ordering, distinct, count, top and paging, the columns returned and
//! OData `$expand`, over rows read from a [`RowSource`]. Rules are in `docs/QUERY.md`.
//!
//! The plan is prepared once (columns resolved, filters compiled, join and expand indexes built), then rows flow
//! through: joined rows are kept as one slot per table (`Option<&Row>`, flat), sorted on precomputed keys, and only
//! the rows of the page asked for are projected into the Web API shape.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::eval::{join_key, kind_of, Kind, Num, Slot};
use super::plan::{Columns, Expand, Join, JoinKind, Order, Query};
use super::{EvalContext, Predicate, Row, RowSource};
use crate::dates;
use crate::error::{Error, Result};
use crate::schema::{AttributeDef, Schema, TableDef};

/// The rows a query returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Result rows in order, in the Web API shape.
    pub entities: Vec<Row>,
    /// The total number of matching rows (after `distinct`, before `top` and paging), when the query asked for a
    /// count.
    pub count: Option<usize>,
    /// More rows match than were returned (top or page size cut the result).
    pub more_records: bool,
}

/// Runs `query` over `source`.
///
/// Errors: unknown tables, columns or join aliases, literals that do not convert to their column's type (see
/// [`Predicate::compile`]). Stored rows never cause an error: values of the wrong type compare as null.
pub fn execute(schema: &Schema, query: &Query, source: &dyn RowSource, ctx: &EvalContext) -> Result<QueryResult> {
    let base = schema.require_table(&query.table)?;

    // Slots: 0 is the queried table, then every link-entity in document order (parents before children).
    let mut slots: Vec<Slot<'_>> = vec![Slot { alias: None, table: base }];
    let mut joins: Vec<JoinPlan<'_>> = Vec::new();
    prepare_joins(schema, source, ctx, &query.joins, 0, &mut slots, &mut joins)?;

    let filter = match &query.filter {
        Some(f) => Some(Predicate::compile_slots(schema, &slots, f, source, ctx)?),
        None => None,
    };
    let orders = prepare_orders(&slots, &query.orders)?;
    let columns = ColumnPlan::new(base, &query.columns, !query.distinct)?;
    let expands =
        query.expands.iter().map(|e| PreparedExpand::new(schema, source, ctx, base, e)).collect::<Result<Vec<_>>>()?;

    // Rows, joined: `stride` slots per combined row.
    let stride = slots.len();
    let mut flat: Vec<Option<&Row>> = Vec::new();
    for row in source.rows(&base.logical_name) {
        flat.push(Some(row));
        flat.extend(std::iter::repeat_n(None, stride - 1));
    }
    for j in &joins {
        flat = j.apply(&flat, stride);
    }
    let mut kept: Vec<usize> = (0..flat.len() / stride.max(1))
        .filter(|&i| filter.as_ref().is_none_or(|p| p.test_slots(&flat[i * stride..(i + 1) * stride])))
        .collect();

    sort_rows(&mut kept, &orders, &|i| &flat[i * stride..(i + 1) * stride], ctx.utc_offset_minutes);

    // Project (all rows when distinct must compare them, else only the page).
    let project = |i: usize| -> Row {
        let combined = &flat[i * stride..(i + 1) * stride];
        let mut out = match combined.first().copied().flatten() {
            Some(row) => columns.project(row),
            None => Row::new(),
        };
        for j in &joins {
            j.columns.project_aliased(&j.alias, combined.get(j.slot).copied().flatten(), &mut out);
        }
        if let Some(row) = combined.first().copied().flatten() {
            for e in &expands {
                out.insert(e.navigation.clone(), e.value(row, ctx.utc_offset_minutes));
            }
        }
        out
    };

    let (mut entities, total) = if query.distinct {
        let mut seen: HashSet<String> = HashSet::new();
        let mut rows = Vec::new();
        for &i in &kept {
            let r = project(i);
            if seen.insert(canonical(&r)) {
                rows.push(r);
            }
        }
        let n = rows.len();
        (rows, n)
    } else {
        (Vec::new(), kept.len())
    };

    // top, then page / page size.
    let mut start = 0usize;
    let mut end = total;
    if let Some(top) = query.top {
        end = end.min(top as usize);
    }
    if let Some(size) = query.page_size {
        let page = query.page.unwrap_or(1).max(1) as usize;
        start = (page - 1).saturating_mul(size as usize).min(end);
        end = end.min(start.saturating_add(size as usize));
    }
    let more_records = end < total;
    if query.distinct {
        entities.truncate(end);
        entities.drain(..start);
    } else {
        entities = kept[start..end].iter().map(|&i| project(i)).collect();
    }
    Ok(QueryResult { entities, count: query.count.then_some(total), more_records })
}

/// A key two equal rows share, whatever the order of their columns.
fn canonical(row: &Row) -> String {
    let mut pairs: Vec<(&String, &Value)> = row.iter().collect();
    crate::sort::sort_by(&mut pairs, |a, b| a.0.cmp(b.0));
    let mut s = String::new();
    for (k, v) in pairs {
        s.push_str(k);
        s.push('\u{1}');
        s.push_str(&v.to_string());
        s.push('\u{2}');
    }
    s
}

// ------------------------------------------------------------------------------------------------ columns

/// Which keys of a stored row a projection copies.
#[derive(Debug)]
struct ColumnPlan {
    /// `None`: every stored key.
    columns: Option<Vec<ColumnKeys>>,
    /// Keys always copied when stored: the primary id and `@odata.etag`.
    always: Vec<String>,
}

#[derive(Debug)]
struct ColumnKeys {
    /// The logical name (the aliased result key is `alias.logical_name`).
    name: String,
    /// The row key (`_x_value` for lookups).
    key: String,
    /// `(annotation suffix, full stored key)`, e.g. `("@OData.Community.Display.V1.FormattedValue", "_x_value@...")`.
    annotations: Vec<(String, String)>,
}

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";
const LOOKUP_TABLE: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";
const LOOKUP_NAV: &str = "@Microsoft.Dynamics.CRM.associatednavigationproperty";

impl ColumnKeys {
    fn new(attr: &AttributeDef) -> ColumnKeys {
        let key = attr.row_key();
        let suffixes: &[&str] =
            if attr.attribute_type.is_lookup() { &[FORMATTED, LOOKUP_TABLE, LOOKUP_NAV] } else { &[FORMATTED] };
        let annotations = suffixes.iter().map(|s| (s.to_string(), format!("{key}{s}"))).collect();
        ColumnKeys { name: attr.logical_name.clone(), key, annotations }
    }
}

impl ColumnPlan {
    fn new(table: &TableDef, columns: &Columns, with_ids: bool) -> Result<ColumnPlan> {
        let columns = match columns {
            Columns::All => None,
            Columns::Some(names) => Some(
                names.iter().map(|n| table.require_attribute(n).map(ColumnKeys::new)).collect::<Result<Vec<_>>>()?,
            ),
        };
        let always =
            if with_ids { vec![table.primary_id_attribute.clone(), "@odata.etag".to_string()] } else { vec![] };
        Ok(ColumnPlan { columns, always })
    }

    /// The row as the Web API returns it for this table's `$select`.
    fn project(&self, row: &Row) -> Row {
        let Some(cols) = &self.columns else { return row.clone() };
        let mut out = Row::new();
        for k in &self.always {
            if let Some(v) = row.get(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        for c in cols {
            out.insert(c.key.clone(), row.get(&c.key).cloned().unwrap_or(Value::Null));
            for (_, full) in &c.annotations {
                if let Some(v) = row.get(full) {
                    out.insert(full.clone(), v.clone());
                }
            }
        }
        out
    }

    /// Adds a joined row's columns as `alias.column` (lookups as `alias.column` holding the GUID, annotations as
    /// `alias.column@...`). A missing row (outer join) adds nulls for the listed columns.
    fn project_aliased(&self, alias: &str, row: Option<&Row>, out: &mut Row) {
        match (&self.columns, row) {
            (Some(cols), row) => {
                for c in cols {
                    let v = row.and_then(|r| r.get(&c.key)).cloned().unwrap_or(Value::Null);
                    out.insert(format!("{alias}.{}", c.name), v);
                    if let Some(r) = row {
                        for (suffix, full) in &c.annotations {
                            if let Some(v) = r.get(full) {
                                out.insert(format!("{alias}.{}{suffix}", c.name), v.clone());
                            }
                        }
                    }
                }
            }
            (None, Some(r)) => {
                for (k, v) in r {
                    if k.starts_with('@') {
                        continue;
                    }
                    out.insert(format!("{alias}.{}", unlookup(k)), v.clone());
                }
            }
            (None, None) => {}
        }
    }
}

/// `_x_value` -> `x`, `_x_value@ann` -> `x@ann`, anything else unchanged.
fn unlookup(key: &str) -> String {
    let (name, ann) = match key.find('@') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    match name.strip_prefix('_').and_then(|n| n.strip_suffix("_value")) {
        Some(inner) if !inner.is_empty() => format!("{inner}{ann}"),
        _ => key.to_string(),
    }
}

// ------------------------------------------------------------------------------------------------ joins

struct JoinPlan<'a> {
    slot: usize,
    parent_slot: usize,
    alias: String,
    kind: JoinKind,
    to_key: String,
    columns: ColumnPlan,
    /// Joined rows (after the join's own filter) by join key.
    index: HashMap<String, Vec<&'a Row>>,
}

fn prepare_joins<'a>(
    schema: &'a Schema,
    source: &'a dyn RowSource,
    ctx: &EvalContext,
    list: &'a [Join],
    parent_slot: usize,
    slots: &mut Vec<Slot<'a>>,
    out: &mut Vec<JoinPlan<'a>>,
) -> Result<()> {
    for j in list {
        let parent = slots.get(parent_slot).map(|s| s.table).ok_or_else(|| Error::query("join without a parent"))?;
        let table = schema.require_table(&j.table)?;
        let from_key = table.require_attribute(&j.from)?.row_key();
        let to_key = parent.require_attribute(&j.to)?.row_key();
        if slots.iter().any(|s| s.alias.is_some_and(|a| a.eq_ignore_ascii_case(&j.alias))) {
            return Err(Error::query(format!("the link-entity alias '{}' is used twice", j.alias)));
        }
        let own = [Slot { alias: Some(&j.alias), table }];
        let filter = match &j.filter {
            Some(f) => Some(Predicate::compile_slots(schema, &own, f, source, ctx)?),
            None => None,
        };
        let mut index: HashMap<String, Vec<&'a Row>> = HashMap::new();
        for row in source.rows(&table.logical_name) {
            if filter.as_ref().is_some_and(|p| !p.test(row)) {
                continue;
            }
            if let Some(k) = row.get(&from_key).and_then(join_key) {
                index.entry(k.into_owned()).or_default().push(row);
            }
        }
        let slot = slots.len();
        slots.push(Slot { alias: Some(&j.alias), table });
        out.push(JoinPlan {
            slot,
            parent_slot,
            alias: j.alias.clone(),
            kind: j.kind,
            to_key,
            columns: ColumnPlan::new(table, &j.columns, false)?,
            index,
        });
        prepare_joins(schema, source, ctx, &j.joins, slot, slots, out)?;
    }
    Ok(())
}

impl<'a> JoinPlan<'a> {
    /// Joins every combined row (slots before `self.slot` filled) with the matching rows: an inner join drops rows
    /// without a match, an outer join keeps them with an empty slot; several matches multiply the row.
    fn apply(&self, flat: &[Option<&'a Row>], stride: usize) -> Vec<Option<&'a Row>> {
        let width = stride.max(1);
        let mut out = Vec::with_capacity(flat.len());
        for combined in flat.chunks(width) {
            let matches = combined
                .get(self.parent_slot)
                .copied()
                .flatten()
                .and_then(|p| p.get(&self.to_key))
                .and_then(join_key)
                .and_then(|k| self.index.get(k.as_ref()));
            match matches {
                Some(rows) if !rows.is_empty() => {
                    for r in rows {
                        let at = out.len();
                        out.extend_from_slice(combined);
                        if let Some(s) = out.get_mut(at + self.slot) {
                            *s = Some(*r);
                        }
                    }
                }
                _ => {
                    if self.kind == JoinKind::Outer {
                        out.extend_from_slice(combined);
                    }
                }
            }
        }
        out
    }
}

// ------------------------------------------------------------------------------------------------ order

struct OrderKey<'a> {
    slot: usize,
    key: String,
    kind: Kind,
    attr: &'a AttributeDef,
    formatted_key: String,
    descending: bool,
}

fn prepare_orders<'a>(slots: &[Slot<'a>], orders: &[Order]) -> Result<Vec<OrderKey<'a>>> {
    orders
        .iter()
        .map(|o| {
            let slot = match &o.entity {
                None => 0,
                Some(alias) => slots
                    .iter()
                    .position(|s| s.alias.is_some_and(|a| a.eq_ignore_ascii_case(alias)))
                    .ok_or_else(|| {
                        Error::query(format!(
                            "the order names entity '{alias}', which is not a link-entity alias of this query"
                        ))
                    })?,
            };
            let table = slots.get(slot).map(|s| s.table).ok_or_else(|| Error::query("order without a table"))?;
            let attr = table.require_attribute(&o.attribute)?;
            let key = attr.row_key();
            Ok(OrderKey {
                slot,
                formatted_key: format!("{key}{FORMATTED}"),
                key,
                kind: kind_of(&attr.attribute_type),
                attr,
                descending: o.descending,
            })
        })
        .collect()
}

/// A sort key: nulls (and values of the wrong type) first.
#[derive(Debug, Clone, PartialEq)]
enum SortVal {
    Null,
    Bool(bool),
    Num(Num),
    Text(String),
}

impl SortVal {
    fn rank(&self) -> u8 {
        match self {
            SortVal::Null => 0,
            SortVal::Bool(_) => 1,
            SortVal::Num(_) => 2,
            SortVal::Text(_) => 3,
        }
    }

    fn cmp(&self, other: &SortVal) -> Ordering {
        match (self, other) {
            (SortVal::Bool(a), SortVal::Bool(b)) => a.cmp(b),
            (SortVal::Num(a), SortVal::Num(b)) => a.cmp(*b).unwrap_or(Ordering::Equal),
            (SortVal::Text(a), SortVal::Text(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

fn sort_value(o: &OrderKey<'_>, row: Option<&Row>, off: i32) -> SortVal {
    let Some(row) = row else { return SortVal::Null };
    let Some(v) = row.get(&o.key).filter(|v| !v.is_null()) else { return SortVal::Null };
    match o.kind {
        Kind::Text | Kind::Guid => v.as_str().map_or(SortVal::Null, |s| SortVal::Text(crate::lower::lowercase(s))),
        Kind::Bool => v.as_bool().map_or(SortVal::Null, SortVal::Bool),
        Kind::Date => {
            v.as_str().and_then(|s| dates::parse_datetime(s, off)).map_or(SortVal::Null, |t| SortVal::Num(Num::Int(t)))
        }
        Kind::Number => {
            let Some(n) = Num::from_json(v) else { return SortVal::Null };
            // Choice columns sort by their label, as Dataverse does.
            if o.attr.attribute_type.is_option_set() {
                let label = row.get(&o.formatted_key).and_then(Value::as_str).map(str::to_string).or_else(|| match n {
                    Num::Int(i) => o.attr.option_label(i).map(str::to_string),
                    Num::Float(_) => None,
                });
                if let Some(l) = label {
                    return SortVal::Text(crate::lower::lowercase(&l));
                }
            }
            SortVal::Num(n)
        }
    }
}

/// Stable sort of row indexes by the order keys: ascending puts nulls first, descending puts them last. `rows` is
/// `dyn` so the standard sort below is compiled once (its own copy, not [`crate::sort`]: this one sorts many rows).
fn sort_rows<'r>(
    kept: &mut Vec<usize>,
    orders: &[OrderKey<'_>],
    rows: &dyn Fn(usize) -> &'r [Option<&'r Row>],
    off: i32,
) {
    if orders.is_empty() {
        return;
    }
    let n = orders.len();
    let mut keyed: Vec<(Vec<SortVal>, usize)> = kept
        .iter()
        .map(|&i| {
            let combined = rows(i);
            let mut ks = Vec::with_capacity(n);
            for o in orders {
                ks.push(sort_value(o, combined.get(o.slot).copied().flatten(), off));
            }
            (ks, i)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (k, o) in orders.iter().enumerate() {
            let ord = match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => x.cmp(y),
                _ => Ordering::Equal,
            };
            let ord = if o.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    *kept = keyed.into_iter().map(|(_, i)| i).collect();
}

// ------------------------------------------------------------------------------------------------ $expand

struct PreparedExpand<'a> {
    navigation: String,
    collection: bool,
    /// Key of the join column in the parent row.
    to_key: String,
    index: HashMap<String, Vec<&'a Row>>,
    filter: Option<Predicate>,
    orders: Vec<OrderKey<'a>>,
    top: Option<u32>,
    columns: ColumnPlan,
    children: Vec<PreparedExpand<'a>>,
}

impl<'a> PreparedExpand<'a> {
    fn new(
        schema: &'a Schema,
        source: &'a dyn RowSource,
        ctx: &EvalContext,
        parent: &'a TableDef,
        e: &'a Expand,
    ) -> Result<PreparedExpand<'a>> {
        let table = schema.require_table(&e.query.table)?;
        let from_key = table.require_attribute(&e.from)?.row_key();
        let to_key = parent.require_attribute(&e.to)?.row_key();
        let slots = [Slot { alias: None, table }];
        let filter = match &e.query.filter {
            Some(f) => Some(Predicate::compile_slots(schema, &slots, f, source, ctx)?),
            None => None,
        };
        let orders = prepare_orders(&slots, &e.query.orders)?;
        let mut index: HashMap<String, Vec<&'a Row>> = HashMap::new();
        for row in source.rows(&table.logical_name) {
            if let Some(k) = row.get(&from_key).and_then(join_key) {
                index.entry(k.into_owned()).or_default().push(row);
            }
        }
        let children = e
            .query
            .expands
            .iter()
            .map(|c| PreparedExpand::new(schema, source, ctx, table, c))
            .collect::<Result<_>>()?;
        Ok(PreparedExpand {
            navigation: e.navigation.clone(),
            collection: e.collection,
            to_key,
            index,
            filter,
            orders,
            top: e.query.top,
            columns: ColumnPlan::new(table, &e.query.columns, true)?,
            children,
        })
    }

    fn project(&self, row: &Row, off: i32) -> Value {
        let mut out = self.columns.project(row);
        for c in &self.children {
            out.insert(c.navigation.clone(), c.value(row, off));
        }
        Value::Object(out)
    }

    /// The nested value for one parent row: an object or null (single-valued), an array (collection-valued).
    fn value(&self, parent: &Row, off: i32) -> Value {
        let related: &[&Row] = parent
            .get(&self.to_key)
            .and_then(join_key)
            .and_then(|k| self.index.get(k.as_ref()))
            .map_or(&[], |v| v.as_slice());
        let mut kept: Vec<usize> =
            (0..related.len()).filter(|&i| self.filter.as_ref().is_none_or(|p| p.test(related[i]))).collect();
        if !self.collection {
            return kept.first().map_or(Value::Null, |&i| self.project(related[i], off));
        }
        let slots: Vec<[Option<&Row>; 1]> = related.iter().map(|r| [Some(*r)]).collect();
        sort_rows(&mut kept, &self.orders, &|i| &slots[i][..], off);
        if let Some(top) = self.top {
            kept.truncate(top as usize);
        }
        Value::Array(kept.into_iter().map(|i| self.project(related[i], off)).collect())
    }
}
