//! The `$filter` expression parser: precedence `not` > `and` > `or`, parentheses, comparisons, `contains` /
//! `startswith` / `endswith`, the `Microsoft.Dynamics.CRM.*` query functions, navigation paths and `any` / `all`.
//!
//! Recursion goes through parentheses, `not` and lambdas only, each counted against [`MAX_DEPTH`]; positions in
//! errors are 0-based character offsets in the `$filter` text.

use super::functions::{self, PREFIX};
use super::lexer::{lex, Tok, Token};
use crate::error::{Error, ErrorCode, Result};
use crate::query::plan::{Arity, Condition, Filter, Literal, Operator, RelatedFilter, RelatedKind};
use crate::schema::{Schema, TableDef};

/// The deepest nesting of parentheses, `not` and lambdas accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// Parses a `$filter` expression over `table`; `what` names the option in errors (`$filter`).
pub(crate) fn parse_filter(schema: &Schema, table: &TableDef, text: &str, what: &str) -> Result<Filter> {
    let toks = lex(text, what)?;
    let mut p = Parser { schema, toks, i: 0, depth: 0, what, scopes: vec![Scope { table, var: None }] };
    if p.peek() == &Tok::End {
        return Err(Error::query(format!("{what} is empty: expected a condition")));
    }
    let f = p.or()?;
    if p.peek() != &Tok::End {
        return Err(p.expected("'and', 'or' or the end"));
    }
    Ok(f)
}

/// The error for an unknown column, in the Dataverse wording.
pub(crate) fn property_not_found(table: &TableDef, name: &str) -> Error {
    Error::new(
        ErrorCode::AttributeNotFound,
        format!("Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'.", table.logical_name),
    )
}

/// Resolves a column as OData names it: logical name, `_x_value` for a lookup, or a single-valued navigation
/// property (the lookup it follows). Returns the logical name.
pub(crate) fn resolve_column(table: &TableDef, name: &str) -> Result<String> {
    if let Some(a) = table.attribute(name) {
        return Ok(a.logical_name.clone());
    }
    if let Some(inner) = name.strip_prefix('_').and_then(|n| n.strip_suffix("_value")) {
        if let Some(a) = table.attribute(inner).filter(|a| a.attribute_type.is_lookup()) {
            return Ok(a.logical_name.clone());
        }
    }
    match table.navigation(name) {
        Some((rel, false)) => Ok(rel.referencing_attribute.to_ascii_lowercase()),
        Some((_, true)) => Err(Error::query(format!(
            "'{name}' is a collection-valued navigation property: filter it with {name}/any(o:o/column eq ...)"
        ))),
        None => Err(property_not_found(table, name)),
    }
}

struct Scope<'a> {
    table: &'a TableDef,
    var: Option<String>,
}

struct Parser<'a> {
    schema: &'a Schema,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    what: &'a str,
    scopes: Vec<Scope<'a>>,
}

type Seg = (String, usize);

/// A single-valued hop of a path: `Any` over the referenced table.
struct Hop {
    table: String,
    from: String,
    to: String,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map(|t| &t.tok).unwrap_or(&Tok::End)
    }

    fn peek2(&self) -> &Tok {
        self.toks.get(self.i + 1).map(|t| &t.tok).unwrap_or(&Tok::End)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).or(self.toks.last()).map(|t| t.pos).unwrap_or(0)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn expected(&self, what: &str) -> Error {
        Error::query(format!("expected {what} at {} in {}, found {}", self.pos(), self.what, self.peek().describe()))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<()> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn ident(&mut self, what: &str) -> Result<Seg> {
        let pos = self.pos();
        match self.peek() {
            Tok::Ident(s) => {
                let s = s.clone();
                self.bump();
                Ok((s, pos))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::query(format!(
                "{} is nested more than {MAX_DEPTH} levels deep at {}",
                self.what,
                self.pos()
            )));
        }
        Ok(())
    }

    fn scope(&self) -> &Scope<'a> {
        // The stack always holds the outer scope.
        &self.scopes[self.scopes.len() - 1]
    }

    fn or(&mut self) -> Result<Filter> {
        let mut items = vec![self.and()?];
        while self.is_kw("or") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::Or(items) })
    }

    fn and(&mut self) -> Result<Filter> {
        let mut items = vec![self.unary()?];
        while self.is_kw("and") {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::And(items) })
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.is_kw("not") && !matches!(self.peek2(), Tok::Ident(k) if is_comparison(k)) {
            self.enter()?;
            self.bump();
            let f = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(f)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter> {
        match self.peek().clone() {
            Tok::LParen => {
                self.enter()?;
                self.bump();
                let f = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                self.depth -= 1;
                Ok(f)
            }
            Tok::Ident(name) if *self.peek2() == Tok::LParen => match name.as_str() {
                "contains" | "startswith" | "endswith" => self.string_function(&name),
                n if n.starts_with(PREFIX) => self.query_function(&name),
                _ => Err(Error::query(format!(
                    "the function '{name}' at {} in {} is not supported offline: use contains, startswith, endswith \
                     or a Microsoft.Dynamics.CRM query function",
                    self.pos(),
                    self.what
                ))),
            },
            Tok::Ident(_) => self.path_expression(),
            _ => Err(self.expected("a condition")),
        }
    }

    /// `a/b/c op value` or `a/b/any(x: ...)`.
    fn path_expression(&mut self) -> Result<Filter> {
        let mut segs = vec![self.ident("a column name")?];
        while *self.peek() == Tok::Slash {
            self.bump();
            let seg = self.ident("a property name after '/'")?;
            if (seg.0 == "any" || seg.0 == "all") && *self.peek() == Tok::LParen {
                return self.lambda(segs, seg);
            }
            segs.push(seg);
        }
        let op_pos = self.pos();
        let op = match self.peek() {
            Tok::Ident(k) if is_comparison(k) => k.clone(),
            _ => return Err(self.expected("a comparison operator (eq, ne, gt, ge, lt, le)")),
        };
        self.bump();
        let value = self.literal()?;
        let (operator, values) = match (op.as_str(), value) {
            ("eq", Literal::Null) => (Operator::Null, vec![]),
            ("ne", Literal::Null) => (Operator::NotNull, vec![]),
            (_, Literal::Null) => {
                return Err(Error::query(format!(
                    "'{op}' can't compare with null at {op_pos} in {}: use eq null or ne null",
                    self.what
                )))
            }
            ("eq", v) => (Operator::Eq, vec![v]),
            ("ne", v) => (Operator::Ne, vec![v]),
            ("gt", v) => (Operator::Gt, vec![v]),
            ("ge", v) => (Operator::Ge, vec![v]),
            ("lt", v) => (Operator::Lt, vec![v]),
            (_, v) => (Operator::Le, vec![v]),
        };
        self.condition_on_path(&segs, operator, values)
    }

    /// A literal value.
    fn literal(&mut self) -> Result<Literal> {
        let v = match self.peek() {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Int(n) => Literal::Int(*n),
            Tok::Num(n) => Literal::Number(*n),
            Tok::Guid(g) => Literal::Guid(g.clone()),
            Tok::DateTime(d) => Literal::DateTime(d.clone()),
            Tok::Ident(k) if k == "null" => Literal::Null,
            Tok::Ident(k) if k == "true" => Literal::Bool(true),
            Tok::Ident(k) if k == "false" => Literal::Bool(false),
            Tok::Ident(k) => {
                return Err(Error::query(format!(
                    "expected a value at {} in {}, found '{k}' (comparing two columns is not supported)",
                    self.pos(),
                    self.what
                )))
            }
            _ => return Err(self.expected("a value")),
        };
        self.bump();
        Ok(v)
    }

    /// Strips the lambda variable from a path read inside `any` / `all`.
    fn strip_var<'s>(&self, segs: &'s [Seg]) -> Result<&'s [Seg]> {
        let Some(var) = &self.scope().var else { return Ok(segs) };
        match segs.split_first() {
            Some((first, rest)) if first.0 == *var && !rest.is_empty() => Ok(rest),
            Some((first, _)) => Err(Error::query(format!(
                "expected '{var}/column' at {} in {}: inside any() and all() columns are read through the lambda \
                 variable '{var}'",
                first.1, self.what
            ))),
            None => Err(Error::query(format!("expected a column name in {}", self.what))),
        }
    }

    /// Follows the single-valued navigation properties of `segs` (all but the last) from the current table.
    fn hops(&self, segs: &[Seg]) -> Result<(Vec<Hop>, &'a TableDef)> {
        let mut table = self.scope().table;
        let mut hops = Vec::new();
        for (name, pos) in segs {
            match table.navigation(name) {
                Some((rel, false)) => {
                    let target = self.schema.require_table(&rel.referenced_entity)?;
                    hops.push(Hop {
                        table: target.logical_name.clone(),
                        from: rel.referenced_attribute.to_ascii_lowercase(),
                        to: rel.referencing_attribute.to_ascii_lowercase(),
                    });
                    table = target;
                }
                Some((_, true)) => {
                    return Err(Error::query(format!(
                        "'{name}' at {pos} in {} is a collection-valued navigation property: use {name}/any(o:...) \
                         or {name}/all(o:...)",
                        self.what
                    )))
                }
                None => {
                    return Err(Error::new(
                        ErrorCode::AttributeNotFound,
                        format!(
                            "Could not find a navigation property named '{name}' on type \
                             'Microsoft.Dynamics.CRM.{}' (at {pos} in {}).",
                            table.logical_name, self.what
                        ),
                    ))
                }
            }
        }
        Ok((hops, table))
    }

    fn wrap(hops: Vec<Hop>, mut f: Filter) -> Filter {
        for h in hops.into_iter().rev() {
            f = Filter::Related(Box::new(RelatedFilter {
                kind: RelatedKind::Any,
                table: h.table,
                from: h.from,
                to: h.to,
                filter: Some(f),
            }));
        }
        f
    }

    fn condition_on_path(&self, segs: &[Seg], operator: Operator, values: Vec<Literal>) -> Result<Filter> {
        let segs = self.strip_var(segs)?;
        let Some((last, path)) = segs.split_last() else {
            return Err(Error::query(format!("expected a column name in {}", self.what)));
        };
        let (hops, table) = self.hops(path)?;
        let attribute = resolve_column(table, &last.0).map_err(|e| at(e, last.1, self.what))?;
        let f = Filter::Condition(Condition { entity: None, attribute, operator, values });
        Ok(Self::wrap(hops, f))
    }

    fn lambda(&mut self, segs: Vec<Seg>, quantifier: Seg) -> Result<Filter> {
        let segs = self.strip_var(&segs)?.to_vec();
        let Some(((nav, nav_pos), path)) = segs.split_last() else {
            return Err(Error::query(format!("expected a navigation property before '{}'", quantifier.0)));
        };
        let (hops, table) = self.hops(path)?;
        let rel = match table.navigation(nav) {
            Some((rel, true)) => rel,
            Some((_, false)) => {
                return Err(Error::query(format!(
                    "'{nav}' at {nav_pos} in {} is single-valued: {}() needs a collection-valued navigation property; \
                     compare {nav}/column directly",
                    self.what, quantifier.0
                )))
            }
            None => {
                return Err(Error::new(
                    ErrorCode::AttributeNotFound,
                    format!(
                        "Could not find a navigation property named '{nav}' on type 'Microsoft.Dynamics.CRM.{}' (at \
                         {nav_pos} in {}).",
                        table.logical_name, self.what
                    ),
                ))
            }
        };
        let target = self.schema.require_table(&rel.referencing_entity)?;
        let kind = if quantifier.0 == "any" { RelatedKind::Any } else { RelatedKind::All };
        self.expect(Tok::LParen, "'('")?;
        let filter = if *self.peek() == Tok::RParen && kind == RelatedKind::Any {
            None
        } else {
            let (var, _) = self.ident("a lambda variable name")?;
            self.expect(Tok::Colon, "':' after the lambda variable")?;
            self.enter()?;
            self.scopes.push(Scope { table: target, var: Some(var) });
            let body = self.or();
            self.scopes.pop();
            self.depth -= 1;
            Some(body?)
        };
        self.expect(Tok::RParen, "')'")?;
        let f = Filter::Related(Box::new(RelatedFilter {
            kind,
            table: target.logical_name.clone(),
            from: rel.referencing_attribute.to_ascii_lowercase(),
            to: rel.referenced_attribute.to_ascii_lowercase(),
            filter,
        }));
        Ok(Self::wrap(hops, f))
    }

    /// `contains(col,'a')`, `startswith(...)`, `endswith(...)`.
    fn string_function(&mut self, name: &str) -> Result<Filter> {
        self.bump();
        self.expect(Tok::LParen, "'('")?;
        let mut segs = vec![self.ident("a column name")?];
        while *self.peek() == Tok::Slash {
            self.bump();
            segs.push(self.ident("a property name after '/'")?);
        }
        self.expect(Tok::Comma, "','")?;
        let text = match self.peek() {
            Tok::Str(s) => s.clone(),
            _ => return Err(self.expected(&format!("a quoted string as the second argument of {name}()"))),
        };
        self.bump();
        self.expect(Tok::RParen, "')'")?;
        let (operator, value) = match name {
            "contains" => (Operator::Like, format!("%{text}%")),
            "startswith" => (Operator::BeginsWith, text),
            _ => (Operator::EndsWith, text),
        };
        self.condition_on_path(&segs, operator, vec![Literal::Text(value)])
    }

    /// `Microsoft.Dynamics.CRM.Name(PropertyName='col',PropertyValue=v|PropertyValues=[...])`.
    fn query_function(&mut self, full: &str) -> Result<Filter> {
        let fn_pos = self.pos();
        let name = full.get(PREFIX.len()..).unwrap_or("");
        let Some(operator) = functions::operator_of(name) else {
            let hint = functions::unsupported_hint(name).unwrap_or("see the offline operators in the documentation");
            return Err(Error::query(format!(
                "the query function '{full}' at {fn_pos} in {} is not supported offline: {hint}",
                self.what
            )));
        };
        self.bump();
        self.expect(Tok::LParen, "'('")?;
        let mut property: Option<Seg> = None;
        let mut value: Option<Literal> = None;
        let mut list: Option<Vec<Literal>> = None;
        loop {
            let (param, ppos) = self.ident("PropertyName, PropertyValue or PropertyValues")?;
            self.expect(Tok::Equals, "'='")?;
            let dup = match param.as_str() {
                "PropertyName" => {
                    let pos = self.pos();
                    let Tok::Str(s) = self.peek().clone() else {
                        return Err(self.expected("a quoted column name"));
                    };
                    self.bump();
                    property.replace((s, pos)).is_some()
                }
                "PropertyValue" => {
                    let v = self.literal()?;
                    value.replace(v).is_some()
                }
                "PropertyValues" => {
                    self.expect(Tok::LBracket, "'['")?;
                    let mut vs = vec![self.literal()?];
                    while *self.peek() == Tok::Comma {
                        self.bump();
                        vs.push(self.literal()?);
                    }
                    self.expect(Tok::RBracket, "']'")?;
                    list.replace(vs).is_some()
                }
                _ => {
                    return Err(Error::query(format!(
                        "unknown parameter '{param}' of {full} at {ppos} in {}: use PropertyName, PropertyValue or \
                         PropertyValues",
                        self.what
                    )))
                }
            };
            if dup {
                return Err(Error::query(format!("parameter '{param}' given twice at {ppos} in {}", self.what)));
            }
            if *self.peek() == Tok::Comma {
                self.bump();
                continue;
            }
            self.expect(Tok::RParen, "',' or ')'")?;
            break;
        }
        let Some((column, cpos)) = property else {
            return Err(Error::query(format!("{full} at {fn_pos} in {} needs PropertyName='column'", self.what)));
        };
        let values = match (operator.arity(), value, list) {
            (Arity::None, None, None) => vec![],
            (Arity::One, Some(v), None) => vec![v],
            (Arity::Many, None, Some(vs)) => vs,
            (Arity::None, _, _) => {
                return Err(Error::query(format!("{full} at {fn_pos} in {} takes no value", self.what)))
            }
            (Arity::One, _, _) => {
                return Err(Error::query(format!("{full} at {fn_pos} in {} needs one PropertyValue", self.what)))
            }
            (Arity::Many, _, _) => {
                return Err(Error::query(format!(
                    "{full} at {fn_pos} in {} needs PropertyValues=[...] with at least one value",
                    self.what
                )))
            }
        };
        if operator.counts_units() {
            let ok = match values.first() {
                Some(Literal::Int(n)) => *n >= 0 && *n <= i64::from(u32::MAX),
                Some(Literal::Text(t)) => t.trim().parse::<u32>().is_ok(),
                _ => false,
            };
            if !ok {
                return Err(Error::argument(format!(
                    "{full} at {fn_pos} in {} needs a whole number of units as PropertyValue",
                    self.what
                )));
            }
        }
        let table = self.scope().table;
        let attribute = resolve_column(table, &column).map_err(|e| at(e, cpos, self.what))?;
        Ok(Filter::Condition(Condition { entity: None, attribute, operator, values }))
    }
}

fn is_comparison(k: &str) -> bool {
    matches!(k, "eq" | "ne" | "gt" | "ge" | "lt" | "le")
}

/// Adds the position to a name-resolution error.
fn at(mut e: Error, pos: usize, what: &str) -> Error {
    e.message = format!("{} (at {pos} in {what})", e.message);
    e
}
