//! The bridge to the engine: loads the rows a query plan reads (the queried table's candidates plus every table a
//! related-row filter, a join or an `$expand` touches) into a `MemorySource`, within the caller's read access.

use serde_json::Value;
use xrm_offline::query::plan::{Condition, Filter, Literal, Operator, Query};
use xrm_offline::query::{execute, parse_odata, MemorySource, Row};
use xrm_offline::schema::TableDef;

use super::crud::with_etag;
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
    Ok(db.scan(&def.logical_name, &access, None, usize::MAX)?.iter().map(with_etag).collect())
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

/// Runs `q` (select, expand, joins; its filter and order too) over exactly `rows` of `table`.
pub fn run_over(ctx: &Ctx<'_>, db: &Db, table: &TableDef, mut q: Query, rows: Vec<Row>) -> ApiResult<Vec<Row>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let (mut src, has_self) = related_source(ctx, db, &q)?;
    if has_self {
        // The table is already loaded whole for a relationship: restrict the result to `rows` by id.
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
    } else {
        src.extend(&table.logical_name, rows);
    }
    let result = execute(ctx.schema(), &q, &src, &ctx.eval_context())?;
    Ok(result.entities)
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
