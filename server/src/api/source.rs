//! The bridge to the engine: loads the rows a query plan reads (the queried table's candidates plus every table a
//! related-row filter, a join or an `$expand` touches) into a `MemorySource`, within the caller's read access.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use xrm_offline::query::plan::{Condition, Filter, Literal, Operator, Query};
use xrm_offline::query::{execute, parse_odata, MemorySource, Row};
use xrm_offline::schema::TableDef;

use super::crud::{into_etag, with_etag};
use super::error::ApiResult;
use super::Ctx;
use crate::store::Db;

/// Tables (logical names) a plan reads besides its own.
pub fn related_tables(q: &Query, out: &mut Vec<String>) {
    fn push(out: &mut Vec<String>, t: &str) {
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    fn walk_filter(f: &Filter, out: &mut Vec<String>) {
        match f {
            Filter::And(l) | Filter::Or(l) => l.iter().for_each(|x| walk_filter(x, out)),
            Filter::Not(x) => walk_filter(x, out),
            Filter::Condition(_) => {}
            Filter::Related(r) => {
                push(out, &r.table);
                if let Some(f) = &r.filter {
                    walk_filter(f, out);
                }
            }
        }
    }
    fn walk_joins(js: &[xrm_offline::query::plan::Join], out: &mut Vec<String>) {
        for j in js {
            push(out, &j.table);
            if let Some(f) = &j.filter {
                walk_filter(f, out);
            }
            walk_joins(&j.joins, out);
        }
    }
    if let Some(f) = &q.filter {
        walk_filter(f, out);
    }
    walk_joins(&q.joins, out);
    for e in &q.expands {
        push(out, &e.query.table);
        related_tables(&e.query, out);
    }
}

/// Every row of `table` the caller may read, in id order, with `@odata.etag`.
pub fn load_table(ctx: &Ctx<'_>, db: &Db, table: &str) -> ApiResult<Vec<Row>> {
    let Some(def) = ctx.schema().table(table) else { return Ok(Vec::new()) };
    let access = ctx.user.read_access(def);
    Ok(db.scan(&def.logical_name, &access, None, usize::MAX)?.into_iter().map(into_etag).collect())
}

/// The primary ids a row must have to match `q`'s filter, when the filter says so: a condition `<primary id> eq`
/// or `in` on the queried table itself, at the top of the filter or in every branch of an `or` (inside an `and`,
/// one such condition is enough). `None` when the filter does not restrict the primary id (or a value is not a
/// GUID: then the engine decides over the whole table, errors included). The ids come back lower case, sorted and
/// without duplicates. The rows with these ids are a superset of the matches, so a caller that loads only them and
/// still runs the whole filter over them returns what a scan of the whole table returns, at the cost of the ids
/// (change tracking's "fetch the changed rows by id" query costs its 100 ids, not the table).
pub fn key_candidates(q: &Query, table: &TableDef) -> Option<Vec<String>> {
    fn walk(f: &Filter, pid: &str) -> Option<Vec<String>> {
        match f {
            Filter::Condition(c)
                if c.entity.is_none()
                    && c.attribute.eq_ignore_ascii_case(pid)
                    && matches!(c.operator, Operator::Eq | Operator::In)
                    && !c.values.is_empty() =>
            {
                c.values
                    .iter()
                    .map(|v| match v {
                        Literal::Guid(s) | Literal::Text(s) => super::normalize_guid(s),
                        _ => None,
                    })
                    .collect()
            }
            Filter::And(list) => list.iter().find_map(|x| walk(x, pid)),
            Filter::Or(list) if !list.is_empty() => {
                let mut all = Vec::new();
                for x in list {
                    all.extend(walk(x, pid)?);
                }
                Some(all)
            }
            _ => None,
        }
    }
    let mut ids = walk(q.filter.as_ref()?, &table.primary_id_attribute)?;
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// The rows of `table` with these ids the caller may read, in id order, with `@odata.etag`.
pub fn load_keys(ctx: &Ctx<'_>, db: &Db, table: &TableDef, ids: &[String]) -> ApiResult<Vec<Row>> {
    let access = ctx.user.read_access(table);
    let mut rows = db.get_many(&table.logical_name, &access, ids)?;
    rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Ok(rows.into_iter().map(into_etag).collect())
}

/// A source with the related tables of `q` (not `q.table` itself unless a relationship reads it).
pub fn related_source(ctx: &Ctx<'_>, db: &Db, q: &Query) -> ApiResult<(MemorySource, bool)> {
    let mut tables = Vec::new();
    related_tables(q, &mut tables);
    let mut src = MemorySource::new();
    let mut has_self = false;
    for t in &tables {
        if *t == q.table {
            has_self = true;
        }
        src.extend(t, load_table(ctx, db, t)?);
    }
    Ok((src, has_self))
}

/// Tables a plan reads whole: related-row filters and joins, at any `$expand` depth (not the expanded tables).
fn whole_tables(q: &Query, out: &mut Vec<String>) {
    let mut shallow =
        Query { table: q.table.clone(), filter: q.filter.clone(), joins: q.joins.clone(), ..Default::default() };
    shallow.expands.clear();
    related_tables(&shallow, out);
    for e in &q.expands {
        whole_tables(&e.query, out);
    }
}

fn expanded_tables(q: &Query, out: &mut Vec<String>) {
    for e in &q.expands {
        out.push(e.query.table.clone());
        expanded_tables(&e.query, out);
    }
}

fn value_text(row: &Row, column: &str) -> Option<String> {
    row.get(&format!("_{column}_value")).or_else(|| row.get(column)).and_then(Value::as_str).map(str::to_string)
}

/// Loads the rows the `$expand`s of `expands` need for `rows` (by key, not whole tables), recursively.
fn add_expanded(
    ctx: &Ctx<'_>,
    db: &Db,
    expands: &[xrm_offline::query::plan::Expand],
    rows: &[Row],
    src: &mut MemorySource,
    loaded: &mut HashMap<String, HashSet<String>>,
) -> ApiResult<()> {
    for e in expands {
        let Some(def) = ctx.schema().table(&e.query.table) else { continue };
        let access = ctx.user.read_access(def);
        let keys: Vec<String> =
            rows.iter().filter_map(|r| value_text(r, &e.to)).collect::<HashSet<_>>().into_iter().collect();
        if keys.is_empty() {
            continue;
        }
        let found = if e.collection {
            db.find_in(&def.logical_name, &format!("_{}_value", e.from), &keys, &access)?
        } else {
            db.get_many(&def.logical_name, &access, &keys)?
        };
        let seen = loaded.entry(def.logical_name.clone()).or_default();
        let fresh: Vec<Row> = found.iter().filter(|r| seen.insert(r.id.clone())).map(with_etag).collect();
        let all: Vec<Row> = found.iter().map(with_etag).collect();
        add_expanded(ctx, db, &e.query.expands, &all, src, loaded)?;
        src.extend(&def.logical_name, fresh);
    }
    Ok(())
}

/// Runs `q` (select, expand, joins; its filter and order too) over exactly `rows` of `table`.
pub fn run_over(ctx: &Ctx<'_>, db: &Db, table: &TableDef, mut q: Query, rows: Vec<Row>) -> ApiResult<Vec<Row>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let mut whole = Vec::new();
    whole_tables(&q, &mut whole);
    let mut expanded = Vec::new();
    expanded_tables(&q, &mut expanded);
    let reads_itself = whole.contains(&q.table) || expanded.contains(&q.table);
    let mut src = MemorySource::new();
    if reads_itself {
        // The table is also read through a relationship: load what it needs whole and restrict the result to
        // `rows` by id.
        let (full, _) = related_source(ctx, db, &q)?;
        src = full;
        let ids: Vec<Literal> = rows
            .iter()
            .filter_map(|r| r.get(&table.primary_id_attribute).and_then(Value::as_str))
            .map(|s| Literal::Guid(s.to_string()))
            .collect();
        let by_id = Filter::Condition(Condition {
            entity: None,
            attribute: table.primary_id_attribute.clone(),
            operator: Operator::In,
            values: ids,
        });
        q.filter = Some(match q.filter.take() {
            Some(f) => Filter::And(vec![f, by_id]),
            None => by_id,
        });
        if !src_has(&q, &q.table) {
            src.extend(&table.logical_name, load_table(ctx, db, &table.logical_name)?);
        }
    } else {
        let mut loaded: HashMap<String, HashSet<String>> = HashMap::new();
        for t in &whole {
            loaded.insert(t.clone(), HashSet::new());
            src.extend(t, load_table(ctx, db, t)?);
        }
        let expands: Vec<_> = q.expands.iter().filter(|e| !whole.contains(&e.query.table)).cloned().collect();
        add_expanded(ctx, db, &expands, &rows, &mut src, &mut loaded)?;
        src.extend(&table.logical_name, rows);
    }
    let result = execute(ctx.schema(), &q, &src, &ctx.eval_context())?;
    Ok(result.entities)
}

/// Whether [`related_source`] loads `table` for `q`.
fn src_has(q: &Query, table: &str) -> bool {
    let mut t = Vec::new();
    related_tables(q, &mut t);
    t.iter().any(|x| x == table)
}

/// Applies `$select` / `$expand` options to rows already chosen (single retrieve).
pub fn expand_rows(ctx: &Ctx<'_>, db: &Db, table: &TableDef, rows: Vec<Row>, options: &str) -> ApiResult<Vec<Row>> {
    let mut q = parse_odata(ctx.schema(), &table.logical_name, options)?;
    q.filter = None;
    q.orders.clear();
    q.top = None;
    q.count = false;
    run_over(ctx, db, table, q, rows)
}
