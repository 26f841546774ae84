//! Plans back to text: FetchXML (`<filter>`, `<fetch>`) and OData (the `$filter` expression, the options string).
//!
//! The sync engine sends profile filters to the server with these, and the property tests check that rendering
//! then parsing gives the plan back.
//!
//! Decisions:
//! - FetchXML has no `not`: a [`Filter::Not`] is pushed down to the conditions (De Morgan; `eq`↔`ne`, `gt`↔`le`,
//!   `ge`↔`lt`, `null`↔`not-null`, `in`↔`not-in`, `like`↔`not-like`, `begins-with`↔`not-begin-with`,
//!   `ends-with`↔`not-end-with`, `eq-userid`↔`ne-userid`, `eq-businessid`↔`ne-businessid`, `any`↔`not any`,
//!   `all`↔`not all`), which is exact under the evaluator's three-valued logic. A negated operator without a
//!   complement (the date and team operators) cannot be written: the `try_` functions fail with `InvalidArgument`,
//!   the infallible ones write `operator="not-<name>"`, which every FetchXML parser rejects instead of silently
//!   changing the filter.
//! - OData is written for the online Web API: lookups as `_x_value`, query functions with the column's logical
//!   name, `like` through `contains` / `startswith` / `endswith` (a pattern with wildcards elsewhere cannot be
//!   written), `in` / `not-in` and the date and user operators through `Microsoft.Dynamics.CRM.*` functions.
//!   Values are written in the column's type (FetchXML plans hold text). A query that needs FetchXML (joins,
//!   `distinct`, paging, orders on joins) is sent as `?fetchXml=`.
//! - An empty `and` / `or` (which always holds) is written in OData as `<primary id> ne null`.

use super::odata::functions::{self, PREFIX};
use super::plan::{Columns, Condition, Filter, Join, JoinKind, Literal, Operator, Query, RelatedFilter, RelatedKind};
use crate::error::{Error, Result};
use crate::schema::{AttributeType, Schema, TableDef};

/// The deepest filter nesting rendered.
pub const MAX_RENDER_DEPTH: usize = 200;

// ---------------------------------------------------------------------------------------------------------------
// FetchXML

/// Writes a filter as a FetchXML `<filter>` element (see the module documentation for negations).
pub fn filter_to_fetchxml(filter: &Filter) -> String {
    let mut out = String::new();
    let mut w = XmlWriter { out: &mut out, strict: false };
    // Non-strict rendering never fails.
    let _ = w.filter_element(filter, 0);
    out
}

/// Writes a filter as a FetchXML `<filter>` element, failing on a negation FetchXML cannot express.
pub fn try_filter_to_fetchxml(filter: &Filter) -> Result<String> {
    let mut out = String::new();
    XmlWriter { out: &mut out, strict: true }.filter_element(filter, 0)?;
    Ok(out)
}

/// Writes a query as a `<fetch>` document. `$expand`s have no FetchXML form and are left out (use
/// [`try_query_to_fetchxml`] to be told).
pub fn query_to_fetchxml(query: &Query) -> String {
    let mut out = String::new();
    let _ = XmlWriter { out: &mut out, strict: false }.fetch(query);
    out
}

/// Writes a query as a `<fetch>` document, failing on `$expand`s and on negations FetchXML cannot express.
pub fn try_query_to_fetchxml(query: &Query) -> Result<String> {
    if let Some(e) = query.expands.first() {
        return Err(Error::argument(format!(
            "the $expand of '{}' has no FetchXML form: use a link-entity join instead",
            e.navigation
        )));
    }
    let mut out = String::new();
    XmlWriter { out: &mut out, strict: true }.fetch(query)?;
    Ok(out)
}

/// Escapes text for an XML attribute value or element content.
fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// A literal as FetchXML text.
fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Null => String::new(),
        Literal::Bool(b) => (if *b { "1" } else { "0" }).to_string(),
        Literal::Int(n) => n.to_string(),
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) | Literal::Guid(s) | Literal::DateTime(s) => s.clone(),
    }
}

/// The operator that holds exactly when `op` does not (under three-valued logic).
fn complement(op: Operator) -> Option<Operator> {
    use Operator::*;
    let pairs = [
        (Eq, Ne),
        (Null, NotNull),
        (Gt, Le),
        (Ge, Lt),
        (In, NotIn),
        (Like, NotLike),
        (BeginsWith, NotBeginWith),
        (EndsWith, NotEndWith),
        (EqUserId, NeUserId),
        (EqBusinessId, NeBusinessId),
    ];
    pairs.iter().find_map(|&(a, b)| {
        if a == op {
            Some(b)
        } else if b == op {
            Some(a)
        } else {
            None
        }
    })
}

fn too_deep() -> Error {
    Error::argument(format!("the filter is nested more than {MAX_RENDER_DEPTH} levels deep"))
}

/// Pushes a negation down to the conditions. `Err` carries the operator without a complement.
fn negate(f: &Filter, depth: usize) -> std::result::Result<Filter, NegateError> {
    if depth > MAX_RENDER_DEPTH {
        return Err(NegateError::TooDeep);
    }
    Ok(match f {
        // An empty group always holds: its negation never does, which FetchXML can't write without a column.
        Filter::And(items) | Filter::Or(items) if items.is_empty() => return Err(NegateError::AlwaysFalse),
        Filter::And(items) => {
            Filter::Or(items.iter().map(|i| negate(i, depth + 1)).collect::<std::result::Result<_, _>>()?)
        }
        Filter::Or(items) => {
            Filter::And(items.iter().map(|i| negate(i, depth + 1)).collect::<std::result::Result<_, _>>()?)
        }
        Filter::Not(inner) => (**inner).clone(),
        Filter::Condition(c) => {
            let op = complement(c.operator).ok_or(NegateError::NoComplement(c.clone()))?;
            Filter::Condition(Condition { operator: op, ..c.clone() })
        }
        Filter::Related(r) => {
            let kind = match r.kind {
                RelatedKind::Any => RelatedKind::NotAny,
                RelatedKind::NotAny => RelatedKind::Any,
                RelatedKind::All => RelatedKind::NotAll,
                RelatedKind::NotAll => RelatedKind::All,
            };
            Filter::Related(Box::new(RelatedFilter { kind, ..(**r).clone() }))
        }
    })
}

enum NegateError {
    TooDeep,
    AlwaysFalse,
    NoComplement(Condition),
}

struct XmlWriter<'o> {
    out: &'o mut String,
    strict: bool,
}

impl XmlWriter<'_> {
    fn attr(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        xml_escape(value, self.out);
        self.out.push('"');
    }

    fn fetch(&mut self, q: &Query) -> Result<()> {
        if q.top == Some(0) && self.strict {
            // FetchXML's `top` is 1 or more: `$top=0` (no rows) has no FetchXML form.
            return Err(Error::argument("$top=0 has no FetchXML form: 'top' of <fetch> must be 1 or more"));
        }
        self.out.push_str("<fetch");
        if let Some(t) = q.top {
            self.attr("top", &t.to_string());
        }
        if let Some(c) = q.page_size {
            self.attr("count", &c.to_string());
        }
        if let Some(p) = q.page {
            self.attr("page", &p.to_string());
        }
        if q.distinct {
            self.attr("distinct", "true");
        }
        if q.count {
            self.attr("returntotalrecordcount", "true");
        }
        self.out.push_str("><entity");
        self.attr("name", &q.table);
        self.out.push('>');
        self.columns(&q.columns);
        for o in &q.orders {
            self.out.push_str("<order");
            self.attr("attribute", &o.attribute);
            if let Some(e) = &o.entity {
                self.attr("entityname", e);
            }
            if o.descending {
                self.attr("descending", "true");
            }
            self.out.push_str("/>");
        }
        if let Some(f) = &q.filter {
            self.filter_element(f, 0)?;
        }
        // Joins nest at most as deep as the parsers allow; deeper plans built in code are refused.
        for j in &q.joins {
            self.join(j, 0)?;
        }
        self.out.push_str("</entity></fetch>");
        Ok(())
    }

    fn columns(&mut self, columns: &Columns) {
        match columns {
            Columns::All => self.out.push_str("<all-attributes/>"),
            Columns::Some(cols) => {
                for c in cols {
                    self.out.push_str("<attribute");
                    self.attr("name", c);
                    self.out.push_str("/>");
                }
            }
        }
    }

    fn join(&mut self, j: &Join, depth: usize) -> Result<()> {
        if depth > MAX_RENDER_DEPTH {
            return Err(too_deep());
        }
        self.out.push_str("<link-entity");
        self.attr("name", &j.table);
        self.attr("from", &j.from);
        self.attr("to", &j.to);
        self.attr("alias", &j.alias);
        if j.kind == JoinKind::Outer {
            self.attr("link-type", "outer");
        }
        self.out.push('>');
        self.columns(&j.columns);
        if let Some(f) = &j.filter {
            self.filter_element(f, depth + 1)?;
        }
        for inner in &j.joins {
            self.join(inner, depth + 1)?;
        }
        self.out.push_str("</link-entity>");
        Ok(())
    }

    /// Writes `f` as a `<filter>` element (wrapping a lone condition or related filter).
    fn filter_element(&mut self, f: &Filter, depth: usize) -> Result<()> {
        if depth > MAX_RENDER_DEPTH {
            if self.strict {
                return Err(too_deep());
            }
            self.out.push_str("<filter-nested-too-deep/>");
            return Ok(());
        }
        let (or, items): (bool, Vec<Filter>) = match f {
            Filter::And(items) => (false, items.clone()),
            Filter::Or(items) => (true, items.clone()),
            Filter::Not(inner) => match negate(inner, depth) {
                Ok(n) => return self.filter_element(&n, depth + 1),
                Err(e) => return self.unnegatable(e),
            },
            other => (false, vec![other.clone()]),
        };
        self.out.push_str(if or { "<filter type=\"or\">" } else { "<filter type=\"and\">" });
        for item in &items {
            match item {
                Filter::And(_) | Filter::Or(_) => self.filter_element(item, depth + 1)?,
                Filter::Not(inner) => match negate(inner, depth) {
                    Ok(n @ (Filter::And(_) | Filter::Or(_))) => self.filter_element(&n, depth + 1)?,
                    Ok(Filter::Condition(c)) => self.condition(&c),
                    Ok(Filter::Related(r)) => self.related(&r, depth + 1)?,
                    Ok(n @ Filter::Not(_)) => self.filter_element(&n, depth + 1)?,
                    Err(e) => self.unnegatable(e)?,
                },
                Filter::Condition(c) => self.condition(c),
                Filter::Related(r) => self.related(r, depth + 1)?,
            }
        }
        self.out.push_str("</filter>");
        Ok(())
    }

    fn unnegatable(&mut self, e: NegateError) -> Result<()> {
        match e {
            NegateError::TooDeep if self.strict => Err(too_deep()),
            NegateError::TooDeep => {
                self.out.push_str("<filter-nested-too-deep/>");
                Ok(())
            }
            NegateError::AlwaysFalse if self.strict => {
                Err(Error::argument("the negation of an empty filter (never true) has no FetchXML form"))
            }
            NegateError::AlwaysFalse => {
                self.out.push_str("<filter-never-true/>");
                Ok(())
            }
            NegateError::NoComplement(c) if self.strict => Err(Error::argument(format!(
                "'not {}' on '{}' has no FetchXML form: the operator has no complement",
                c.operator.fetchxml_name(),
                c.attribute
            ))),
            NegateError::NoComplement(c) => {
                let name = format!("not-{}", c.operator.fetchxml_name());
                self.condition_named(&c, &name);
                Ok(())
            }
        }
    }

    fn condition(&mut self, c: &Condition) {
        self.condition_named(c, c.operator.fetchxml_name());
    }

    fn condition_named(&mut self, c: &Condition, op: &str) {
        self.out.push_str("<condition");
        self.attr("attribute", &c.attribute);
        if let Some(e) = &c.entity {
            self.attr("entityname", e);
        }
        self.attr("operator", op);
        if c.operator == Operator::In || c.operator == Operator::NotIn || c.values.len() > 1 {
            self.out.push('>');
            for v in &c.values {
                self.out.push_str("<value>");
                xml_escape(&literal_text(v), self.out);
                self.out.push_str("</value>");
            }
            self.out.push_str("</condition>");
        } else {
            if let Some(v) = c.values.first() {
                self.attr("value", &literal_text(v));
            }
            self.out.push_str("/>");
        }
    }

    fn related(&mut self, r: &RelatedFilter, depth: usize) -> Result<()> {
        self.out.push_str("<link-entity");
        self.attr("name", &r.table);
        self.attr("from", &r.from);
        self.attr("to", &r.to);
        let kind = match r.kind {
            RelatedKind::Any => "any",
            RelatedKind::NotAny => "not any",
            RelatedKind::All => "all",
            RelatedKind::NotAll => "not all",
        };
        self.attr("link-type", kind);
        self.out.push('>');
        if let Some(f) = &r.filter {
            self.filter_element(f, depth + 1)?;
        }
        self.out.push_str("</link-entity>");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// OData

/// Writes a filter over `table` as an OData `$filter` expression (not percent-encoded) for the online Web API.
pub fn filter_to_odata(schema: &Schema, table: &str, filter: &Filter) -> Result<String> {
    let def = schema.require_table(table)?;
    let mut w = ODataWriter { schema, lambdas: 0 };
    let scope = Scope { table: def, prefix: String::new(), functions_ok: true };
    Ok(w.expr(&scope, filter, 0)?.0)
}

/// Writes a query as OData query options (`?$select=...&$filter=...`, percent-encoded), or as `?fetchXml=...` when
/// it needs FetchXML (joins, `distinct`, paging, orders on joins). An empty query gives an empty string.
pub fn query_to_odata(schema: &Schema, query: &Query) -> Result<String> {
    let needs_fetch = !query.joins.is_empty()
        || query.distinct
        || query.page.is_some()
        || query.page_size.is_some()
        || query.orders.iter().any(|o| o.entity.is_some());
    if needs_fetch {
        if let Some(e) = query.expands.first() {
            return Err(Error::argument(format!(
                "a query with joins, distinct or paging is sent as FetchXML, which has no form for the $expand of '{}'",
                e.navigation
            )));
        }
        return Ok(format!("?fetchXml={}", encode(&try_query_to_fetchxml(query)?)));
    }
    let parts = options(schema, query, 0)?;
    if parts.is_empty() {
        return Ok(String::new());
    }
    let encoded: Vec<String> = parts.iter().map(|(n, v)| format!("{n}={}", encode(v))).collect();
    Ok(format!("?{}", encoded.join("&")))
}

/// The (unencoded) options of a query; nested for `$expand`.
fn options(schema: &Schema, q: &Query, depth: usize) -> Result<Vec<(&'static str, String)>> {
    if depth > 8 {
        return Err(Error::argument("$expand is nested too deeply"));
    }
    if !q.joins.is_empty() || q.distinct || q.page.is_some() || q.page_size.is_some() {
        return Err(Error::argument(format!("the $expand query over '{}' uses FetchXML-only features", q.table)));
    }
    let def = schema.require_table(&q.table)?;
    let mut parts = Vec::new();
    if let Columns::Some(cols) = &q.columns {
        let names: Vec<String> = if cols.is_empty() {
            vec![def.primary_id_attribute.clone()]
        } else {
            cols.iter().map(|c| odata_column(def, c)).collect::<Result<_>>()?
        };
        parts.push(("$select", names.join(",")));
    }
    if let Some(f) = &q.filter {
        parts.push(("$filter", filter_to_odata(schema, &q.table, f)?));
    }
    if !q.orders.is_empty() {
        let mut items = Vec::new();
        for o in &q.orders {
            if o.entity.is_some() {
                return Err(Error::argument("an order on a joined table has no OData form"));
            }
            let col = odata_column(def, &o.attribute)?;
            items.push(if o.descending { format!("{col} desc") } else { col });
        }
        parts.push(("$orderby", items.join(",")));
    }
    if let Some(t) = q.top {
        parts.push(("$top", t.to_string()));
    }
    if q.count && depth == 0 {
        parts.push(("$count", "true".to_string()));
    }
    if !q.expands.is_empty() {
        let mut items = Vec::new();
        for e in &q.expands {
            let inner = options(schema, &e.query, depth + 1)?;
            if inner.is_empty() {
                items.push(e.navigation.clone());
            } else {
                let opts: Vec<String> = inner.iter().map(|(n, v)| format!("{n}={v}")).collect();
                items.push(format!("{}({})", e.navigation, opts.join(";")));
            }
        }
        parts.push(("$expand", items.join(",")));
    }
    Ok(parts)
}

/// Percent-encodes a query-string value, keeping the characters OData text is written with.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$,'()/:=;*@!".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The OData name of a column: `_x_value` for lookups.
fn odata_column(table: &TableDef, name: &str) -> Result<String> {
    let a = table.require_attribute(name)?;
    Ok(if a.attribute_type.is_lookup() { format!("_{}_value", a.logical_name) } else { a.logical_name.clone() })
}

/// Where columns are read from: the table, the path prefix (`o/`, `nav/`), and whether query functions (which
/// take no path) and negated string functions can be used (not under a single-valued path).
struct Scope<'a> {
    table: &'a TableDef,
    prefix: String,
    functions_ok: bool,
}

struct ODataWriter<'a> {
    schema: &'a Schema,
    lambdas: usize,
}

/// Precedence of a rendered expression: `or` < `and` < a single term.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Prec {
    Or,
    And,
    Term,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whether `s` lexes as exactly one token accepted by `ok`.
fn lexes_as(s: &str, ok: impl Fn(&super::odata::lexer::Tok) -> bool) -> bool {
    match super::odata::lexer::lex(s, "") {
        Ok(toks) => toks.len() == 2 && ok(&toks[0].tok),
        Err(_) => false,
    }
}

impl<'a> ODataWriter<'a> {
    fn expr(&mut self, scope: &Scope<'a>, f: &Filter, depth: usize) -> Result<(String, Prec)> {
        if depth > MAX_RENDER_DEPTH {
            return Err(too_deep());
        }
        match f {
            Filter::And(items) | Filter::Or(items) if items.is_empty() => {
                let pk = odata_column(scope.table, &scope.table.primary_id_attribute)?;
                Ok((format!("{}{pk} ne null", scope.prefix), Prec::Term))
            }
            Filter::And(items) | Filter::Or(items) if items.len() == 1 => self.expr(scope, &items[0], depth + 1),
            Filter::And(items) | Filter::Or(items) => {
                let is_or = matches!(f, Filter::Or(_));
                let mut parts = Vec::new();
                for item in items {
                    let (s, p) = self.expr(scope, item, depth + 1)?;
                    // Nested groups keep their parentheses so the plan reads back with the same shape.
                    parts.push(if p < Prec::Term { format!("({s})") } else { s });
                }
                Ok((parts.join(if is_or { " or " } else { " and " }), if is_or { Prec::Or } else { Prec::And }))
            }
            Filter::Not(inner) => {
                let (s, p) = self.expr(scope, inner, depth + 1)?;
                Ok((if p < Prec::Term { format!("not ({s})") } else { format!("not {s}") }, Prec::Term))
            }
            Filter::Condition(c) => Ok((self.condition(scope, c)?, Prec::Term)),
            Filter::Related(r) => self.related(scope, r, depth + 1),
        }
    }

    fn condition(&self, scope: &Scope<'a>, c: &Condition) -> Result<String> {
        if let Some(e) = &c.entity {
            return Err(Error::argument(format!(
                "the condition on '{e}.{}' names a FetchXML join, which OData can't express",
                c.attribute
            )));
        }
        let a = scope.table.require_attribute(&c.attribute)?;
        let col = format!("{}{}", scope.prefix, odata_column(scope.table, &c.attribute)?);
        let one = || -> Result<&Literal> {
            c.values.first().ok_or_else(|| {
                Error::argument(format!(
                    "the '{}' condition on '{}' has no value",
                    c.operator.fetchxml_name(),
                    c.attribute
                ))
            })
        };
        use Operator::*;
        if !scope.functions_ok && matches!(c.operator, NotLike | NotBeginWith | NotEndWith) {
            // `not contains(nav/x,'a')` reads as "no related row contains", not "the related row does not".
            return Err(Error::argument(format!(
                "'{}' on '{}' of a related table reached through a single-valued navigation property has no OData form",
                c.operator.fetchxml_name(),
                c.attribute
            )));
        }
        let text_arg = |l: &Literal| quote(&literal_text(l));
        Ok(match c.operator {
            Eq | Ne | Gt | Ge | Lt | Le => {
                let op = match c.operator {
                    Eq => "eq",
                    Ne => "ne",
                    Gt => "gt",
                    Ge => "ge",
                    Lt => "lt",
                    _ => "le",
                };
                format!("{col} {op} {}", value(&a.attribute_type, &c.attribute, one()?)?)
            }
            Null => format!("{col} eq null"),
            NotNull => format!("{col} ne null"),
            Like | NotLike => {
                let p = literal_text(one()?);
                let inner = p.get(1..p.len().saturating_sub(1)).unwrap_or("");
                let s = if p.len() >= 2 && p.starts_with('%') && p.ends_with('%') {
                    format!("contains({col},{})", quote(inner))
                } else if let Some(rest) = p.strip_suffix('%') {
                    format!("startswith({col},{})", quote(rest))
                } else if let Some(rest) = p.strip_prefix('%') {
                    format!("endswith({col},{})", quote(rest))
                } else if !p.contains(['%', '_', '[']) {
                    format!("{col} eq {}", quote(&p))
                } else {
                    return Err(Error::argument(format!(
                        "the like pattern '{p}' on '{}' has no OData form: only '%text%', 'text%', '%text' and \
                         patterns without wildcards can be written",
                        c.attribute
                    )));
                };
                if c.operator == NotLike {
                    format!("not {s}")
                } else {
                    s
                }
            }
            BeginsWith => format!("startswith({col},{})", text_arg(one()?)),
            NotBeginWith => format!("not startswith({col},{})", text_arg(one()?)),
            EndsWith => format!("endswith({col},{})", text_arg(one()?)),
            NotEndWith => format!("not endswith({col},{})", text_arg(one()?)),
            op => {
                let name = functions::function_of(op).ok_or_else(|| {
                    Error::argument(format!("the operator '{}' has no OData form", op.fetchxml_name()))
                })?;
                if !scope.functions_ok {
                    return Err(Error::argument(format!(
                        "'{}' on '{}' of a related table reached through a single-valued navigation property has no \
                         OData form",
                        op.fetchxml_name(),
                        c.attribute
                    )));
                }
                let property = quote(&a.logical_name);
                match op.arity() {
                    super::plan::Arity::None => format!("{PREFIX}{name}(PropertyName={property})"),
                    super::plan::Arity::Many => {
                        let vs: Vec<String> = c.values.iter().map(text_arg).collect();
                        format!("{PREFIX}{name}(PropertyName={property},PropertyValues=[{}])", vs.join(","))
                    }
                    super::plan::Arity::One if op.counts_units() => {
                        let n = literal_text(one()?);
                        let n: u32 = n.trim().parse().map_err(|_| {
                            Error::argument(format!("'{}' needs a whole number, not '{n}'", op.fetchxml_name()))
                        })?;
                        format!("{PREFIX}{name}(PropertyName={property},PropertyValue={n})")
                    }
                    super::plan::Arity::One => {
                        format!("{PREFIX}{name}(PropertyName={property},PropertyValue={})", text_arg(one()?))
                    }
                }
            }
        })
    }

    fn related(&mut self, scope: &Scope<'a>, r: &RelatedFilter, depth: usize) -> Result<(String, Prec)> {
        let target = self.schema.require_table(&r.table)?;
        let outer = scope.table;
        let collection = outer.one_to_many.iter().find(|rel| {
            rel.referencing_entity.eq_ignore_ascii_case(&r.table)
                && rel.referencing_attribute.eq_ignore_ascii_case(&r.from)
                && rel.referenced_attribute.eq_ignore_ascii_case(&r.to)
        });
        if let Some(rel) = collection {
            self.lambdas += 1;
            let var = if self.lambdas == 1 { "o".to_string() } else { format!("o{}", self.lambdas) };
            let inner = Scope { table: target, prefix: format!("{var}/"), functions_ok: true };
            let nav = format!("{}{}", scope.prefix, rel.referenced_navigation);
            let (quant, body) = match (r.kind, &r.filter) {
                (RelatedKind::Any | RelatedKind::NotAny, None) => ("any", String::new()),
                (_, None) => {
                    let pk = odata_column(target, &target.primary_id_attribute)?;
                    ("all", format!("{var}:{var}/{pk} ne null"))
                }
                (RelatedKind::Any | RelatedKind::NotAny, Some(f)) => {
                    ("any", format!("{var}:{}", self.expr(&inner, f, depth + 1)?.0))
                }
                (_, Some(f)) => ("all", format!("{var}:{}", self.expr(&inner, f, depth + 1)?.0)),
            };
            self.lambdas -= 1;
            let s = format!("{nav}/{quant}({body})");
            return Ok((
                if matches!(r.kind, RelatedKind::NotAny | RelatedKind::NotAll) { format!("not {s}") } else { s },
                Prec::Term,
            ));
        }
        let single = outer.many_to_one.iter().find(|rel| {
            rel.referenced_entity.eq_ignore_ascii_case(&r.table)
                && rel.referenced_attribute.eq_ignore_ascii_case(&r.from)
                && rel.referencing_attribute.eq_ignore_ascii_case(&r.to)
        });
        let Some(rel) = single else {
            return Err(Error::argument(format!(
                "no navigation property of '{}' joins '{}' on {}.{} = {}.{}: the related filter has no OData form",
                outer.logical_name, r.table, r.table, r.from, outer.logical_name, r.to
            )));
        };
        // At most one related row: any(f) distributes over and/or once negations are pushed to the conditions.
        let inner = Scope {
            table: target,
            prefix: format!("{}{}/", scope.prefix, rel.referencing_navigation),
            functions_ok: false,
        };
        let exists = Filter::Condition(Condition {
            entity: None,
            attribute: target.primary_id_attribute.clone(),
            operator: Operator::NotNull,
            values: vec![],
        });
        let term = |(s, p): (String, Prec)| if p < Prec::Term { format!("({s})") } else { s };
        let (exists_s, _) = self.expr(&inner, &exists, depth + 1)?;
        // any(f) over at most one row: f with every column behind the path (negations pushed to the operators,
        // which is exact row by row). all / not all need "no related row" spelled out, because under
        // three-valued logic a row where f is unknown matches neither f nor its complement.
        let any =
            |w: &mut Self, f: &Filter| -> Result<(String, Prec)> { w.expr(&inner, &push_down(f, depth)?, depth + 1) };
        Ok(match (r.kind, &r.filter) {
            (RelatedKind::Any, None) => (exists_s, Prec::Term),
            (RelatedKind::NotAny, None) => (format!("not {exists_s}"), Prec::Term),
            (RelatedKind::Any, Some(f)) => any(self, f)?,
            (RelatedKind::NotAny, Some(f)) => (format!("not {}", term(any(self, f)?)), Prec::Term),
            (RelatedKind::All, None) => (self.expr(scope, &Filter::And(vec![]), depth)?.0, Prec::Term),
            (RelatedKind::NotAll, None) => {
                (format!("not {}", self.expr(scope, &Filter::And(vec![]), depth)?.0), Prec::Term)
            }
            (RelatedKind::All, Some(f)) => (format!("not {exists_s} or {}", term(any(self, f)?)), Prec::Or),
            (RelatedKind::NotAll, Some(f)) => (format!("{exists_s} and not {}", term(any(self, f)?)), Prec::And),
        })
    }
}

/// Removes `Not`s by pushing them to the conditions (needed under a single-valued path).
fn push_down(f: &Filter, depth: usize) -> Result<Filter> {
    if depth > MAX_RENDER_DEPTH {
        return Err(too_deep());
    }
    Ok(match f {
        Filter::And(items) => Filter::And(items.iter().map(|i| push_down(i, depth + 1)).collect::<Result<_>>()?),
        Filter::Or(items) => Filter::Or(items.iter().map(|i| push_down(i, depth + 1)).collect::<Result<_>>()?),
        Filter::Not(inner) => {
            let n = negate(inner, depth).map_err(|e| match e {
                NegateError::TooDeep => too_deep(),
                NegateError::AlwaysFalse => Error::argument("the negation of an empty filter has no OData path form"),
                NegateError::NoComplement(c) => Error::argument(format!(
                    "'not {}' on '{}' has no OData form through a single-valued navigation property",
                    c.operator.fetchxml_name(),
                    c.attribute
                )),
            })?;
            push_down(&n, depth + 1)?
        }
        other => other.clone(),
    })
}

/// A comparison value written in the column's type.
fn value(t: &AttributeType, column: &str, l: &Literal) -> Result<String> {
    use super::odata::lexer::Tok;
    let bad = |what: &str| Error::argument(format!("the value '{}' of '{column}' is not {what}", literal_text(l)));
    if let Literal::Null = l {
        return Ok("null".into());
    }
    if t.is_numeric() {
        return match l {
            Literal::Int(n) => Ok(n.to_string()),
            Literal::Number(n) if n.is_finite() => Ok(number(*n)),
            Literal::Text(s) if lexes_as(s.trim(), |t| matches!(t, Tok::Int(_) | Tok::Num(_))) => {
                Ok(s.trim().to_string())
            }
            _ => Err(bad("a number")),
        };
    }
    match t {
        AttributeType::Boolean => match l {
            Literal::Bool(b) => Ok(b.to_string()),
            Literal::Int(1) => Ok("true".into()),
            Literal::Int(0) => Ok("false".into()),
            Literal::Text(s) => match s.trim() {
                "1" | "true" | "True" => Ok("true".into()),
                "0" | "false" | "False" => Ok("false".into()),
                _ => Err(bad("true or false")),
            },
            _ => Err(bad("true or false")),
        },
        AttributeType::DateTime => match l {
            Literal::DateTime(s) => Ok(s.clone()),
            Literal::Text(s) if lexes_as(s.trim(), |t| matches!(t, Tok::DateTime(_))) => Ok(s.trim().to_string()),
            _ => Err(bad("a date or date-time")),
        },
        t if *t == AttributeType::Uniqueidentifier || t.is_lookup() => match l {
            Literal::Guid(s) => Ok(s.clone()),
            Literal::Text(s) if lexes_as(s.trim(), |t| matches!(t, Tok::Guid(_))) => Ok(s.trim().to_string()),
            _ => Err(bad("a GUID")),
        },
        _ => Ok(quote(&literal_text(l))),
    }
}

/// A float that reads back as a decimal literal (always with a `.`).
fn number(n: f64) -> String {
    let s = n.to_string();
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}
