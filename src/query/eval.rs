//! The filter evaluator: a [`Filter`] is compiled once into a [`Predicate`] (row keys resolved, literals converted
//! to the column's type, date windows resolved for the [`EvalContext`], related rows indexed) and then tested
//! against any number of rows without schema look-ups or allocation for ASCII text.
//!
//! Semantics (the full rules, with sources, are in `docs/QUERY.md`):
//! - comparisons follow the column's `AttributeType`: text and GUIDs case-insensitively, numbers numerically,
//!   date-times as instants, booleans as booleans;
//! - a null or missing column matches only `null`; any other comparison with it is *unknown* and does not match,
//!   including `ne`, `not-in` and `not-like`. `and`/`or`/`not` use SQL's three-valued logic, so `not (x eq 1)`
//!   does not match a row whose `x` is null either;
//! - a column whose stored JSON has the wrong type (text in a number column...) behaves like null for comparisons
//!   (it is still `not-null`): it never makes evaluation panic or fail;
//! - a literal that cannot be converted to the column's type is an `InvalidArgument` error when the filter is
//!   compiled.

mod like;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::plan::{Filter, Literal, Operator, RelatedKind};
use super::{EvalContext, Row, RowSource};
use crate::dates;
use crate::error::{Error, ErrorCode, Result};
use crate::schema::{AttributeDef, AttributeType, Schema, TableDef};

use like::Pattern;

/// Whether `row` of `table` satisfies `filter`. Compiles the filter and tests one row; to test many rows, compile
/// once with [`Predicate::compile`].
pub fn matches(
    schema: &Schema,
    table: &str,
    filter: &Filter,
    row: &Row,
    source: &dyn RowSource,
    ctx: &EvalContext,
) -> Result<bool> {
    Ok(Predicate::compile(schema, table, filter, source, ctx)?.test(row))
}

/// A compiled filter: test rows with [`Predicate::test`].
///
/// Related-row filters (`Filter::Related`) read the related table from the [`RowSource`] when the predicate is
/// compiled; relative dates (`today`, `last-x-days`...) are resolved against the context's clock at that moment.
#[derive(Debug, Clone)]
pub struct Predicate {
    root: Node,
    utc_offset_minutes: i32,
}

/// One table a compiled filter can read: slot 0 is the table filtered, the others are FetchXML join aliases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<'a> {
    /// The join alias (`None` for the table queried).
    pub alias: Option<&'a str>,
    /// The table.
    pub table: &'a TableDef,
}

impl Predicate {
    /// Compiles `filter` over rows of `table`. Errors: unknown table or column, a condition naming a join alias
    /// (`entityname`) outside a query with joins, a value that does not convert to the column's type, an operator
    /// that does not apply to the column's type.
    pub fn compile(
        schema: &Schema,
        table: &str,
        filter: &Filter,
        source: &dyn RowSource,
        ctx: &EvalContext,
    ) -> Result<Predicate> {
        let table = schema.require_table(table)?;
        Predicate::compile_slots(schema, &[Slot { alias: None, table }], filter, source, ctx)
    }

    /// Compiles `filter` for combined rows of several tables (slot 0 first).
    pub(crate) fn compile_slots(
        schema: &Schema,
        slots: &[Slot<'_>],
        filter: &Filter,
        source: &dyn RowSource,
        ctx: &EvalContext,
    ) -> Result<Predicate> {
        let c = Compiler::new(schema, slots, source, ctx);
        Ok(Predicate { root: c.node(filter)?, utc_offset_minutes: ctx.utc_offset_minutes })
    }

    /// Whether `row` satisfies the filter.
    pub fn test(&self, row: &Row) -> bool {
        self.test_slots(&[Some(row)])
    }

    /// Whether the combined row (one optional row per slot) satisfies the filter.
    pub(crate) fn test_slots(&self, rows: &[Option<&Row>]) -> bool {
        self.root.eval(rows, self.utc_offset_minutes) == Some(true)
    }
}

/// How values of a column compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Guid,
    Number,
    Bool,
    Date,
}

/// The comparison kind of a column type. Types the evaluator does not know (`Other`) compare as text.
pub(crate) fn kind_of(t: &AttributeType) -> Kind {
    if t.is_lookup() || *t == AttributeType::Uniqueidentifier {
        Kind::Guid
    } else if t.is_numeric() {
        Kind::Number
    } else if *t == AttributeType::Boolean {
        Kind::Bool
    } else if *t == AttributeType::DateTime {
        Kind::Date
    } else {
        Kind::Text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
        }
    }
}

/// A number as stored: integers compare exactly, everything else as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn from_json(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(Num::Int(i)),
                None => n.as_f64().map(Num::Float),
            },
            _ => None,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn cmp(self, other: Num) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cond(Box<Cond>),
    Related(Box<Related>),
}

#[derive(Debug, Clone)]
struct Cond {
    slot: usize,
    key: String,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    IsNull,
    NotNull,
    /// Never true for a non-null value (the comparison is unknown): `gt null`, `eq-userid` without a user.
    Never,
    Text(Cmp, String),
    TextIn(Vec<String>, bool),
    Like(Pattern, bool),
    Guid(Cmp, String),
    GuidIn(GuidSet, bool),
    Number(Cmp, Num),
    NumberIn(Vec<Num>, bool),
    Bool(Cmp, bool),
    Date(Cmp, i64),
    DateIn(Vec<i64>, bool),
    /// Instant in `[lo, hi]` (both inclusive).
    DateRange(i64, i64),
}

#[derive(Debug, Clone)]
enum GuidSet {
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl GuidSet {
    fn new(values: Vec<String>) -> GuidSet {
        if values.len() <= 8 {
            GuidSet::Few(values)
        } else {
            GuidSet::Many(values.into_iter().collect())
        }
    }

    fn contains(&self, v: &str) -> bool {
        match self {
            GuidSet::Few(vs) => vs.iter().any(|x| x.eq_ignore_ascii_case(v)),
            GuidSet::Many(set) => {
                if v.bytes().any(|b| b.is_ascii_uppercase()) {
                    set.contains(&v.to_ascii_lowercase())
                } else {
                    set.contains(v)
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Related {
    kind: RelatedKind,
    slot: usize,
    to_key: String,
    /// Join value (normalised) -> (some related row matches, some related row does not match).
    index: HashMap<String, (bool, bool)>,
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn slot_value<'r>(rows: &[Option<&'r Row>], slot: usize, key: &str) -> Option<&'r Value> {
    match rows.get(slot) {
        Some(Some(row)) => match row.get(key) {
            Some(Value::Null) | None => None,
            v => v,
        },
        _ => None,
    }
}

impl Node {
    fn eval(&self, rows: &[Option<&Row>], off: i32) -> Option<bool> {
        match self {
            Node::And(items) => {
                let mut acc = Some(true);
                for n in items {
                    acc = and3(acc, n.eval(rows, off));
                    if acc == Some(false) {
                        break;
                    }
                }
                acc
            }
            Node::Or(items) => {
                if items.is_empty() {
                    return Some(true);
                }
                let mut acc = Some(false);
                for n in items {
                    acc = or3(acc, n.eval(rows, off));
                    if acc == Some(true) {
                        break;
                    }
                }
                acc
            }
            Node::Not(n) => n.eval(rows, off).map(|b| !b),
            Node::Cond(c) => c.eval(rows, off),
            Node::Related(r) => Some(r.eval(rows)),
        }
    }
}

impl Cond {
    fn eval(&self, rows: &[Option<&Row>], off: i32) -> Option<bool> {
        let v = slot_value(rows, self.slot, &self.key);
        let Some(v) = v else {
            return match self.test {
                Test::IsNull => Some(true),
                Test::NotNull => Some(false),
                _ => None,
            };
        };
        match &self.test {
            Test::IsNull => Some(false),
            Test::NotNull => Some(true),
            Test::Never => None,
            Test::Text(op, lit) => {
                let s = v.as_str()?;
                Some(op.holds(cmp_ci(s, lit)))
            }
            Test::TextIn(lits, negate) => {
                let s = v.as_str()?;
                let found = lits.iter().any(|l| cmp_ci(s, l) == std::cmp::Ordering::Equal);
                Some(found != *negate)
            }
            Test::Like(p, negate) => {
                let s = v.as_str()?;
                Some(p.matches(s) != *negate)
            }
            Test::Guid(op, lit) => {
                let s = v.as_str()?;
                let o = if s.eq_ignore_ascii_case(lit) { std::cmp::Ordering::Equal } else { cmp_ci(s, lit) };
                Some(op.holds(o))
            }
            Test::GuidIn(set, negate) => {
                let s = v.as_str()?;
                Some(set.contains(s) != *negate)
            }
            Test::Number(op, lit) => {
                let n = Num::from_json(v)?;
                Some(op.holds(n.cmp(*lit)?))
            }
            Test::NumberIn(lits, negate) => {
                let n = Num::from_json(v)?;
                let found = lits.iter().any(|l| n.cmp(*l) == Some(std::cmp::Ordering::Equal));
                Some(found != *negate)
            }
            Test::Bool(op, lit) => {
                let b = v.as_bool()?;
                Some(op.holds(b.cmp(lit)))
            }
            Test::Date(op, lit) => {
                let t = dates::parse_datetime(v.as_str()?, off)?;
                Some(op.holds(t.cmp(lit)))
            }
            Test::DateIn(lits, negate) => {
                let t = dates::parse_datetime(v.as_str()?, off)?;
                Some(lits.contains(&t) != *negate)
            }
            Test::DateRange(lo, hi) => {
                let t = dates::parse_datetime(v.as_str()?, off)?;
                Some(*lo <= t && t <= *hi)
            }
        }
    }
}

impl Related {
    fn eval(&self, rows: &[Option<&Row>]) -> bool {
        let entry = slot_value(rows, self.slot, &self.to_key)
            .and_then(join_key)
            .and_then(|k| self.index.get(k.as_ref()).copied());
        let (some_match, some_miss) = entry.unwrap_or((false, false));
        match self.kind {
            RelatedKind::Any => some_match,
            RelatedKind::NotAny => !some_match,
            RelatedKind::All => !some_miss,
            RelatedKind::NotAll => some_miss,
        }
    }
}

/// The key two rows are joined on: text lower-cased (GUIDs and text join case-insensitively), numbers and
/// booleans as written; `None` for null (which joins nothing).
pub(crate) fn join_key(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        Value::String(s) => {
            if s.chars().any(|c| c.is_uppercase()) {
                Some(Cow::Owned(crate::lower::lowercase(s)))
            } else {
                Some(Cow::Borrowed(s.as_str()))
            }
        }
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// Compares `s` case-insensitively with `lower` (already lower case), without allocating.
pub(crate) fn cmp_ci(s: &str, lower: &str) -> std::cmp::Ordering {
    if s.is_ascii() && lower.is_ascii() {
        let a = s.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(lower.bytes())
    } else {
        crate::lower::lowercase_chars(s).chars().cmp(lower.chars())
    }
}

struct Compiler<'a> {
    schema: &'a Schema,
    slots: &'a [Slot<'a>],
    source: &'a dyn RowSource,
    ctx: &'a EvalContext,
}

fn literal_text(l: &Literal) -> Option<String> {
    match l {
        Literal::Null => None,
        Literal::Bool(b) => Some(b.to_string()),
        Literal::Int(i) => Some(i.to_string()),
        Literal::Number(f) => Some(f.to_string()),
        Literal::Text(s) | Literal::Guid(s) | Literal::DateTime(s) => Some(s.clone()),
    }
}

/// Checks and normalises a GUID literal: optional braces, 8-4-4-4-12 hex digits; lower case.
pub(crate) fn normalize_guid(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(t);
    let b = t.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() };
        if !ok {
            return None;
        }
    }
    Some(t.to_ascii_lowercase())
}

impl<'a> Compiler<'a> {
    fn new(schema: &'a Schema, slots: &'a [Slot<'a>], source: &'a dyn RowSource, ctx: &'a EvalContext) -> Self {
        Compiler { schema, slots, source, ctx }
    }

    fn node(&self, f: &Filter) -> Result<Node> {
        Ok(match f {
            Filter::And(items) => Node::And(items.iter().map(|i| self.node(i)).collect::<Result<_>>()?),
            Filter::Or(items) => Node::Or(items.iter().map(|i| self.node(i)).collect::<Result<_>>()?),
            Filter::Not(inner) => Node::Not(Box::new(self.node(inner)?)),
            Filter::Condition(c) => self.condition(c)?,
            Filter::Related(r) => self.related(r)?,
        })
    }

    fn slot_of(&self, entity: Option<&str>) -> Result<usize> {
        let Some(alias) = entity else { return Ok(0) };
        self.slots
            .iter()
            .position(|s| s.alias.is_some_and(|a| a.eq_ignore_ascii_case(alias)))
            .or_else(|| {
                // FetchXML also accepts the table's own name for the queried table.
                self.slots.first().filter(|s| s.table.logical_name.eq_ignore_ascii_case(alias)).map(|_| 0)
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.slots.iter().filter_map(|s| s.alias).collect();
                Error::query(format!(
                    "the condition names entity '{alias}', which is not a link-entity alias of this query (aliases: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            })
    }

    fn slot_table(&self, slot: usize) -> Result<&'a TableDef> {
        self.slots.get(slot).map(|s| s.table).ok_or_else(|| Error::query("a filter was compiled without a table"))
    }

    fn related(&self, r: &super::plan::RelatedFilter) -> Result<Node> {
        let outer = self.slot_table(0)?;
        let to = outer.require_attribute(&r.to)?;
        let table = self.schema.require_table(&r.table)?;
        let from = table.require_attribute(&r.from)?;
        let inner = match &r.filter {
            Some(f) => {
                Some(Predicate::compile_slots(self.schema, &[Slot { alias: None, table }], f, self.source, self.ctx)?)
            }
            None => None,
        };
        let from_key = from.row_key();
        let mut index: HashMap<String, (bool, bool)> = HashMap::new();
        for row in self.source.rows(&table.logical_name) {
            let Some(k) = row.get(&from_key).and_then(join_key) else { continue };
            let ok = inner.as_ref().is_none_or(|p| p.test(row));
            let e = index.entry(k.into_owned()).or_insert((false, false));
            if ok {
                e.0 = true;
            } else {
                e.1 = true;
            }
        }
        Ok(Node::Related(Box::new(Related { kind: r.kind, slot: 0, to_key: to.row_key(), index })))
    }

    fn condition(&self, c: &super::plan::Condition) -> Result<Node> {
        let slot = self.slot_of(c.entity.as_deref())?;
        let table = self.slot_table(slot)?;
        let attr = table.require_attribute(&c.attribute)?;
        let test = self.test(table, attr, c.operator, &c.values)?;
        Ok(Node::Cond(Box::new(Cond { slot, key: attr.row_key(), test })))
    }

    fn bad(&self, table: &TableDef, attr: &AttributeDef, what: String) -> Error {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("condition on column '{}' of table '{}': {what}", attr.logical_name, table.logical_name),
        )
    }

    fn one<'l>(
        &self,
        table: &TableDef,
        attr: &AttributeDef,
        op: Operator,
        values: &'l [Literal],
    ) -> Result<&'l Literal> {
        match values {
            [v] => Ok(v),
            _ => Err(self.bad(
                table,
                attr,
                format!("operator '{}' takes exactly one value, {} given", op.fetchxml_name(), values.len()),
            )),
        }
    }

    fn test(&self, table: &TableDef, attr: &AttributeDef, op: Operator, values: &[Literal]) -> Result<Test> {
        use Operator::*;
        let kind = kind_of(&attr.attribute_type);
        let require = |ok: bool, wanted: &str| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(self.bad(
                    table,
                    attr,
                    format!(
                        "operator '{}' applies to {wanted} columns, not to {}",
                        op.fetchxml_name(),
                        attr.attribute_type.as_str()
                    ),
                ))
            }
        };
        Ok(match op {
            Null => Test::IsNull,
            NotNull => Test::NotNull,
            Eq | Ne | Gt | Ge | Lt | Le => {
                let cmp = match op {
                    Eq => Cmp::Eq,
                    Ne => Cmp::Ne,
                    Gt => Cmp::Gt,
                    Ge => Cmp::Ge,
                    Lt => Cmp::Lt,
                    _ => Cmp::Le,
                };
                let lit = self.one(table, attr, op, values)?;
                if *lit == Literal::Null {
                    return Ok(match cmp {
                        Cmp::Eq => Test::IsNull,
                        Cmp::Ne => Test::NotNull,
                        _ => Test::Never,
                    });
                }
                match kind {
                    Kind::Text => Test::Text(cmp, self.text(table, attr, lit)?),
                    Kind::Guid => Test::Guid(cmp, self.guid(table, attr, lit)?),
                    Kind::Number => Test::Number(cmp, self.number(table, attr, lit)?),
                    Kind::Bool => Test::Bool(cmp, self.boolean(table, attr, lit)?),
                    Kind::Date => Test::Date(cmp, self.instant(table, attr, lit)?),
                }
            }
            In | NotIn => {
                let negate = op == NotIn;
                if values.is_empty() {
                    return Err(self.bad(
                        table,
                        attr,
                        format!("operator '{}' needs at least one value", op.fetchxml_name()),
                    ));
                }
                let lits = values.iter().filter(|l| **l != Literal::Null);
                match kind {
                    Kind::Text => Test::TextIn(lits.map(|l| self.text(table, attr, l)).collect::<Result<_>>()?, negate),
                    Kind::Guid => Test::GuidIn(
                        GuidSet::new(lits.map(|l| self.guid(table, attr, l)).collect::<Result<_>>()?),
                        negate,
                    ),
                    Kind::Number => {
                        Test::NumberIn(lits.map(|l| self.number(table, attr, l)).collect::<Result<_>>()?, negate)
                    }
                    Kind::Bool => {
                        let bs: Vec<bool> = lits.map(|l| self.boolean(table, attr, l)).collect::<Result<_>>()?;
                        let (t, f) = (bs.contains(&true), bs.contains(&false));
                        match (t, f, negate) {
                            (true, true, false) => Test::NotNull,
                            (true, true, true) | (false, false, _) => Test::Never,
                            (true, false, n) => Test::Bool(Cmp::Eq, !n),
                            (false, true, n) => Test::Bool(Cmp::Eq, n),
                        }
                    }
                    Kind::Date => {
                        Test::DateIn(lits.map(|l| self.instant(table, attr, l)).collect::<Result<_>>()?, negate)
                    }
                }
            }
            Like | NotLike | BeginsWith | NotBeginWith | EndsWith | NotEndWith => {
                require(kind == Kind::Text, "text")?;
                let lit = self.one(table, attr, op, values)?;
                let Some(text) = literal_text(lit) else { return Ok(Test::Never) };
                let pattern = match op {
                    BeginsWith | NotBeginWith => format!("{text}%"),
                    EndsWith | NotEndWith => format!("%{text}"),
                    _ => text,
                };
                Test::Like(Pattern::new(&pattern), matches!(op, NotLike | NotBeginWith | NotEndWith))
            }
            EqUserId | NeUserId | EqUserTeams | EqUserOrUserTeams | EqBusinessId | NeBusinessId => {
                require(kind == Kind::Guid, "lookup or unique identifier")?;
                let ctx = self.ctx;
                let norm = |s: &str| normalize_guid(s).unwrap_or_else(|| s.trim().to_ascii_lowercase());
                let user = ctx.user_id.as_deref().map(norm);
                let bu = ctx.business_unit_id.as_deref().map(norm);
                let teams: Vec<String> = ctx.team_ids.iter().map(|t| norm(t)).collect();
                match op {
                    EqUserId => user.map_or(Test::Never, |u| Test::Guid(Cmp::Eq, u)),
                    NeUserId => user.map_or(Test::NotNull, |u| Test::Guid(Cmp::Ne, u)),
                    EqBusinessId => bu.map_or(Test::Never, |u| Test::Guid(Cmp::Eq, u)),
                    NeBusinessId => bu.map_or(Test::NotNull, |u| Test::Guid(Cmp::Ne, u)),
                    EqUserTeams => {
                        if teams.is_empty() {
                            Test::Never
                        } else {
                            Test::GuidIn(GuidSet::new(teams), false)
                        }
                    }
                    _ => {
                        let mut all = teams;
                        all.extend(user);
                        if all.is_empty() {
                            Test::Never
                        } else {
                            Test::GuidIn(GuidSet::new(all), false)
                        }
                    }
                }
            }
            _ => {
                require(kind == Kind::Date, "date-time")?;
                let (lo, hi) = self.window(table, attr, op, values)?;
                Test::DateRange(lo, hi)
            }
        })
    }

    /// The instants `[lo, hi]` (inclusive) a date operator selects.
    fn window(&self, table: &TableDef, attr: &AttributeDef, op: Operator, values: &[Literal]) -> Result<(i64, i64)> {
        use Operator::*;
        let off = self.ctx.utc_offset_minutes;
        let now = self.ctx.now_ms;
        let today = dates::local_day(now, off);
        let start = |day: i64| dates::day_start_ms(day, off);
        // [first day, end day) in local days.
        let days = |a: i64, b: i64| (start(a), start(b).saturating_sub(1));
        let week = dates::week_start_day(today);
        let month = dates::month_start_day(today);
        let year = dates::year_start_day(today);
        Ok(match op {
            Today => days(today, today + 1),
            Tomorrow => days(today + 1, today + 2),
            Yesterday => days(today - 1, today),
            NextSevenDays => days(today, today + 8),
            LastSevenDays => days(today - 7, today + 1),
            ThisWeek => days(week, week + 7),
            LastWeek => days(week - 7, week),
            NextWeek => days(week + 7, week + 14),
            ThisMonth => days(month, dates::add_months(month, 1)),
            LastMonth => days(dates::add_months(month, -1), month),
            NextMonth => days(dates::add_months(month, 1), dates::add_months(month, 2)),
            ThisYear => days(year, dates::add_years(year, 1)),
            LastYear => days(dates::add_years(year, -1), year),
            NextYear => days(dates::add_years(year, 1), dates::add_years(year, 2)),
            On | OnOrAfter | OnOrBefore => {
                let lit = self.one(table, attr, op, values)?;
                let day = self.local_date(table, attr, lit)?;
                match op {
                    On => days(day, day + 1),
                    OnOrAfter => (start(day), i64::MAX),
                    _ => (i64::MIN, start(day + 1).saturating_sub(1)),
                }
            }
            _ => {
                let lit = self.one(table, attr, op, values)?;
                let x = self.count(table, attr, op, lit)?;
                match op {
                    LastXDays => (start(today - x), now),
                    LastXWeeks => (start(today - 7 * x), now),
                    LastXMonths => (start(dates::add_months(today, -x)), now),
                    LastXYears => (start(dates::add_years(today, -x)), now),
                    NextXDays => (now, start(today + x + 1).saturating_sub(1)),
                    NextXWeeks => (now, start(today + 7 * x + 1).saturating_sub(1)),
                    NextXMonths => (now, start(dates::add_months(today, x) + 1).saturating_sub(1)),
                    NextXYears => (now, start(dates::add_years(today, x) + 1).saturating_sub(1)),
                    _ => (i64::MIN, start(today - x).saturating_sub(1)), // OlderThanXDays
                }
            }
        })
    }

    fn text(&self, _table: &TableDef, _attr: &AttributeDef, lit: &Literal) -> Result<String> {
        Ok(crate::lower::lowercase(&literal_text(lit).unwrap_or_default()))
    }

    fn guid(&self, table: &TableDef, attr: &AttributeDef, lit: &Literal) -> Result<String> {
        match lit {
            Literal::Guid(s) | Literal::Text(s) => {
                normalize_guid(s).ok_or_else(|| self.bad(table, attr, format!("'{s}' is not a GUID")))
            }
            other => Err(self.bad(table, attr, format!("{other:?} is not a GUID"))),
        }
    }

    fn number(&self, table: &TableDef, attr: &AttributeDef, lit: &Literal) -> Result<Num> {
        let bad = |s: &str| self.bad(table, attr, format!("'{s}' is not a number"));
        match lit {
            Literal::Int(i) => Ok(Num::Int(*i)),
            Literal::Number(f) if f.is_finite() => Ok(Num::Float(*f)),
            Literal::Text(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Ok(Num::Int(i))
                } else {
                    match crate::num::parse_f64(t) {
                        Some(f) if f.is_finite() && !t.is_empty() => Ok(Num::Float(f)),
                        _ => Err(bad(s)),
                    }
                }
            }
            other => Err(bad(&format!("{other:?}"))),
        }
    }

    fn boolean(&self, table: &TableDef, attr: &AttributeDef, lit: &Literal) -> Result<bool> {
        match lit {
            Literal::Bool(b) => Ok(*b),
            Literal::Int(0) => Ok(false),
            Literal::Int(1) => Ok(true),
            Literal::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(self.bad(table, attr, format!("'{s}' is not a boolean (true, false, 1 or 0)"))),
            },
            other => Err(self.bad(table, attr, format!("{other:?} is not a boolean (true, false, 1 or 0)"))),
        }
    }

    fn date_text<'l>(&self, table: &TableDef, attr: &AttributeDef, lit: &'l Literal) -> Result<&'l str> {
        match lit {
            Literal::DateTime(s) | Literal::Text(s) => Ok(s),
            other => Err(self.bad(table, attr, format!("{other:?} is not a date or date-time"))),
        }
    }

    fn instant(&self, table: &TableDef, attr: &AttributeDef, lit: &Literal) -> Result<i64> {
        let s = self.date_text(table, attr, lit)?;
        dates::parse_datetime(s, self.ctx.utc_offset_minutes).ok_or_else(|| {
            self.bad(table, attr, format!("'{s}' is not a date or date-time (use 2026-11-27T09:30:00Z)"))
        })
    }

    /// The user's local date a literal designates: a date as written, or the local date of a date-time.
    fn local_date(&self, table: &TableDef, attr: &AttributeDef, lit: &Literal) -> Result<i64> {
        let s = self.date_text(table, attr, lit)?;
        let p = dates::parse_datetime_parts(s)
            .ok_or_else(|| self.bad(table, attr, format!("'{s}' is not a date (use 2026-11-27)")))?;
        let off = self.ctx.utc_offset_minutes;
        Ok(if p.date_only { p.days } else { dates::local_day(p.instant(off), off) })
    }

    /// The X of `last-x-days` and friends: a whole number from 0 to 100,000.
    fn count(&self, table: &TableDef, attr: &AttributeDef, op: Operator, lit: &Literal) -> Result<i64> {
        let n = match lit {
            Literal::Int(i) => Some(*i),
            Literal::Text(s) => s.trim().parse::<i64>().ok(),
            Literal::Number(f) if f.fract() == 0.0 && f.abs() < 1e9 => Some(*f as i64),
            _ => None,
        };
        match n {
            Some(n) if (0..=100_000).contains(&n) => Ok(n),
            _ => Err(self.bad(
                table,
                attr,
                format!("operator '{}' needs a whole number from 0 to 100000, not {lit:?}", op.fetchxml_name()),
            )),
        }
    }
}
