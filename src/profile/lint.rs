//! Best-practice warnings (the Field Service mobile offline guidance): a valid profile may still download too much,
//! nothing at all, or sync a table more often than the table it follows.

use serde_json::{json, Value};

use super::model::{item_label, ItemFilter, Profile};
use crate::query::parse_fetchxml_filter;
use crate::query::plan::{Filter, Literal, Operator};
use crate::schema::{AttributeType, Schema};

/// The stable warning codes.
pub mod codes {
    /// The item downloads every row of its table ("All records").
    pub const ALL_ROWS: &str = "all-rows";
    /// A custom filter spans more than a year (`last-x-years` 2, `next-x-months` 18...).
    pub const WIDE_DATE_RANGE: &str = "wide-date-range";
    /// A custom filter bounds a date on one side only (`on-or-after` with no upper bound, `olderthan-x-days`).
    pub const OPEN_DATE_RANGE: &str = "open-date-range";
    /// Nothing would download: related rows only with no relationship, or an ownership filter with no owner.
    pub const NO_ROWS: &str = "no-rows";
    /// The item syncs more often than a table it depends on.
    pub const INTERVAL_SHORTER_THAN_DEPENDENCY: &str = "interval-shorter-than-dependency";
}

/// One linter warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable code (see [`codes`]).
    pub code: &'static str,
    /// Index of the item in the profile.
    pub item: usize,
    /// The item's table.
    pub table: String,
    /// What is wrong and what to do, starting with the item (`items[3] (account): ...`).
    pub message: String,
}

impl Warning {
    /// `{"code": ..., "item": 3, "table": ..., "message": ...}`.
    pub fn to_json(&self) -> Value {
        json!({ "code": self.code, "item": self.item, "table": self.table, "message": self.message })
    }
}

impl Profile {
    /// The best-practice warnings for this profile, in item order. Date-range checks need the custom filters to
    /// parse (they are skipped for a filter that does not).
    pub fn lint(&self, schema: &Schema) -> Vec<Warning> {
        let mut out = Vec::new();
        let deps = self.dependencies(schema);
        for (index, item) in self.items.iter().enumerate() {
            let label = item_label(index, &item.table);
            let mut warn = |code: &'static str, msg: String| {
                out.push(Warning { code, item: index, table: item.table.clone(), message: format!("{label}: {msg}") })
            };
            match &item.filter {
                ItemFilter::All => warn(
                    codes::ALL_ROWS,
                    "downloads every row of the table (\"All records\"); prefer related rows or a custom filter that \
                     keeps only what the user needs"
                        .into(),
                ),
                ItemFilter::Related if item.relationships.is_empty() => warn(
                    codes::NO_ROWS,
                    "related rows only, but the item lists no relationship: nothing would download; add a \
                     relationship or a filter"
                        .into(),
                ),
                ItemFilter::Ownership(o) if !(o.me || o.teams || o.business_unit) && item.relationships.is_empty() => {
                    warn(
                        codes::NO_ROWS,
                        "the ownership filter selects no owner (me, teams, business unit) and the item lists no \
                         relationship: nothing would download"
                            .into(),
                    )
                }
                ItemFilter::Custom(c) => {
                    let plan = match &c.plan {
                        Some(p) => Some(p.clone()),
                        // A filter that does not parse is a validation error, not a lint.
                        None => parse_fetchxml_filter(schema, &item.table, &c.fetchxml).ok().flatten(),
                    };
                    if let Some(plan) = plan {
                        let mut found = Vec::new();
                        date_ranges(schema, &item.table, &plan, &mut found);
                        for (code, msg) in found {
                            warn(code, msg);
                        }
                    }
                }
                _ => {}
            }
            for &d in deps.get(index).map(Vec::as_slice).unwrap_or(&[]) {
                let other = &self.items[d];
                if item.sync_interval_minutes < other.sync_interval_minutes {
                    warn(
                        codes::INTERVAL_SHORTER_THAN_DEPENDENCY,
                        format!(
                            "syncs every {} minutes but depends on {}, which syncs every {}: its related rows cannot \
                             change faster than that; use {} minutes or more",
                            item.sync_interval_minutes,
                            other.table,
                            other.sync_interval_minutes,
                            other.sync_interval_minutes
                        ),
                    );
                }
            }
        }
        out
    }
}

fn number(values: &[Literal]) -> Option<i64> {
    match values.first()? {
        Literal::Int(n) => Some(*n),
        Literal::Number(f) => Some(*f as i64),
        Literal::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[derive(Default, Clone, Copy)]
struct Bounds {
    lower: bool,
    upper: bool,
}

/// Which side(s) of a date range a condition bounds, for date conditions.
fn bounds(schema: &Schema, table: &str, attribute: &str, op: Operator) -> Option<Bounds> {
    use Operator::*;
    let both = Bounds { lower: true, upper: true };
    match op {
        OnOrAfter => Some(Bounds { lower: true, upper: false }),
        OnOrBefore | OlderThanXDays => Some(Bounds { lower: false, upper: true }),
        On | Today | Tomorrow | Yesterday | NextSevenDays | LastSevenDays | ThisWeek | LastWeek | NextWeek
        | ThisMonth | LastMonth | NextMonth | ThisYear | LastYear | NextYear | LastXDays | NextXDays | LastXWeeks
        | NextXWeeks | LastXMonths | NextXMonths | LastXYears | NextXYears => Some(both),
        Gt | Ge | Lt | Le => {
            let is_date = schema
                .table(table)
                .and_then(|t| t.attribute(attribute))
                .is_some_and(|a| a.attribute_type == AttributeType::DateTime);
            is_date.then_some(Bounds { lower: matches!(op, Gt | Ge), upper: matches!(op, Lt | Le) })
        }
        _ => None,
    }
}

/// Wide ranges (more than a year) and open ranges (one side only, within one AND group).
fn date_ranges(schema: &Schema, table: &str, f: &Filter, out: &mut Vec<(&'static str, String)>) {
    match f {
        Filter::And(children) => {
            // Per column (a list: a map of this type would add its own code to the wasm).
            let mut by_attr: Vec<(&str, Bounds)> = Vec::new();
            for c in children {
                match c {
                    Filter::Condition(c) if c.entity.is_none() => {
                        wide(c.operator, &c.values, &c.attribute, out);
                        if let Some(b) = bounds(schema, table, &c.attribute, c.operator) {
                            let at = match by_attr.iter().position(|(a, _)| *a == c.attribute) {
                                Some(i) => i,
                                None => {
                                    by_attr.push((c.attribute.as_str(), Bounds::default()));
                                    by_attr.len() - 1
                                }
                            };
                            let e = &mut by_attr[at].1;
                            e.lower |= b.lower;
                            e.upper |= b.upper;
                        }
                    }
                    other => date_ranges(schema, table, other, out),
                }
            }
            crate::sort::sort_by(&mut by_attr, |a, b| a.0.cmp(b.0));
            for (attr, b) in by_attr {
                if b.lower != b.upper {
                    out.push((codes::OPEN_DATE_RANGE, open_message(attr, b)));
                }
            }
        }
        Filter::Or(children) => {
            for c in children {
                date_ranges(schema, table, c, out);
            }
        }
        Filter::Condition(c) if c.entity.is_none() => {
            wide(c.operator, &c.values, &c.attribute, out);
            if let Some(b) = bounds(schema, table, &c.attribute, c.operator) {
                if b.lower != b.upper {
                    out.push((codes::OPEN_DATE_RANGE, open_message(&c.attribute, b)));
                }
            }
        }
        Filter::Related(r) => {
            if let Some(inner) = &r.filter {
                date_ranges(schema, &r.table, inner, out);
            }
        }
        // A negated range is not a range the linter can judge.
        Filter::Not(_) | Filter::Condition(_) => {}
    }
}

fn open_message(attr: &str, b: Bounds) -> String {
    if b.lower {
        format!(
            "'{attr}' has a lower bound and no upper bound: the rows to download grow without limit; add an upper \
             bound (on-or-before, next-x-days...)"
        )
    } else {
        format!(
            "'{attr}' has an upper bound and no lower bound: every older row downloads; add a lower bound \
             (on-or-after, last-x-days...)"
        )
    }
}

fn wide(op: Operator, values: &[Literal], attr: &str, out: &mut Vec<(&'static str, String)>) {
    use Operator::*;
    let Some(n) = number(values) else { return };
    let (limit, unit) = match op {
        LastXYears | NextXYears => (1, "years"),
        LastXMonths | NextXMonths => (12, "months"),
        LastXWeeks | NextXWeeks => (52, "weeks"),
        LastXDays | NextXDays => (365, "days"),
        _ => return,
    };
    if n > limit {
        out.push((
            codes::WIDE_DATE_RANGE,
            format!(
                "'{attr}' {} {n}: a range of more than a year ({n} {unit}); keep the window to what the user works on",
                op.fetchxml_name()
            ),
        ));
    }
}
