//! FetchXML parser: a `<fetch>` document (or a profile's custom `<filter>`) to a [`Query`] plan.
//!
//! Accepted forms and decisions:
//! - `<fetch>`: `top`, `count`, `page`, `distinct`, `returntotalrecordcount`; `version`, `mapping`,
//!   `output-format`, `no-lock`, `latematerialize`, `useraworderby`, `options`, `paging-cookie` are ignored;
//!   `aggregate="true"` is refused (no aggregation offline), as are `top` together with `count` or `page`.
//! - One `<entity name>`; `<attribute name>` (no `alias`, `aggregate`, `groupby`), `<all-attributes/>`; an entity
//!   without any attribute element returns every column, a `link-entity` without one returns none.
//! - `<order attribute descending>`; inside a `link-entity` the order applies to that join's alias. Orders of the
//!   entity come first, then those of the joins in document order.
//! - `<filter type="and|or">` nested; `<condition attribute operator value entityname>`, `<value>` children.
//!   Values are kept as text; the number of values is checked against [`Operator::arity`], and the `x` of the
//!   `last-x-...`/`next-x-...`/`olderthan-x-days` operators must be a whole number.
//! - `<link-entity name from to alias link-type>`: `inner` (default) and `outer` become [`Join`]s. A join without
//!   an `alias` is named `{table}{n}`, `n` counting from 1 the un-aliased joins of that table in document order
//!   (skipping names already used as an explicit alias), e.g. the first un-aliased contact join is `contact1`.
//! - Inside a `<filter>`, `link-type` `any`, `not any`, `all`, `not all` become [`Filter::Related`].
//! - Every table and column is checked against the schema.

use std::collections::{HashMap, HashSet};

use super::plan::{Arity, Columns, Condition, Filter, Join, JoinKind, Literal, Operator, Order, Query};
use super::plan::{RelatedFilter, RelatedKind};
use super::xml::{self, Element, Node};
use crate::error::{Error, ErrorCode, Result};
use crate::schema::{Schema, TableDef};

/// The most conditions a profile's custom filter may hold.
pub const MAX_FILTER_CONDITIONS: usize = 500;

/// Parses a `<fetch>` document into a query plan, checking every table and column against `schema`.
///
/// - `<fetch>`: `top`, `count`, `page`, `distinct`, `returntotalrecordcount`; `version`, `mapping`, `output-format`,
///   `no-lock`, `latematerialize`, `useraworderby`, `options` are ignored; `aggregate="true"`, `top` with
///   `count`/`page`, column aliases, `groupby` and `<condition valueof>` are refused.
/// - An `<entity>` without `<attribute>` elements returns every column; a `link-entity` without any returns none.
/// - `link-entity` `inner` (default) / `outer` become joins; inside a `<filter>`, `any` / `not any` / `all` /
///   `not all` become related-row filters. A join without `alias` is named `{table}{n}` (`contact1`, `contact2`...),
///   `n` counting the un-aliased joins of that table in document order and skipping names already taken.
/// - Orders of the entity come first, then those inside joins (with the join's alias), in document order.
/// - Values stay text; their count is checked against the operator, and `last-x-...` values must be whole numbers.
///
/// Errors: `InvalidFetchXml` (with the byte offset for syntax errors), `TableNotFound`, `AttributeNotFound`,
/// `InvalidArgument` for bad numbers.
pub fn parse_fetchxml(schema: &Schema, xml: &str) -> Result<Query> {
    let root = xml::parse(xml)?;
    if root.name != "fetch" {
        return Err(Error::fetchxml(format!("the root element must be <fetch>, not <{}>", root.name)));
    }
    let mut p = Parser::new(schema);
    let q = p.fetch(&root)?;
    p.check_pending()?;
    Ok(q)
}

/// Parses a profile's custom filter for `table`: a bare `<filter>` element, or a `<fetch>` whose `<entity>` (which
/// must be `table`) holds filters, and-ed together. `attribute`, `order`, `top`, `page` and `count` are ignored (not
/// even checked) in the second form. Returns `None` when there is no condition. At most 500 conditions (each
/// `<condition>` and each `link-entity` counts one), as the profile rules allow.
pub fn parse_fetchxml_filter(schema: &Schema, table: &str, xml: &str) -> Result<Option<Filter>> {
    let def = schema.require_table(table)?;
    let root = xml::parse(xml)?;
    let mut p = Parser::new(schema);
    let filter = match root.name.as_str() {
        "filter" => Some(p.filter(def, &root, 0)?),
        "fetch" => {
            // `attribute`, `order`, `top`, `page` and `count` mean nothing in a profile filter: ignored unchecked.
            let mut root = root;
            root.attrs.retain(|(n, _)| !matches!(n.as_str(), "top" | "page" | "count"));
            for child in root.children.iter_mut() {
                if let Node::Element(entity) = child {
                    let ignored = |e: &Element| matches!(e.name.as_str(), "attribute" | "all-attributes" | "order");
                    entity.children.retain(|n| !matches!(n, Node::Element(e) if ignored(e)));
                }
            }
            let q = p.fetch(&root)?;
            if !q.table.eq_ignore_ascii_case(&def.logical_name) {
                return Err(Error::fetchxml(format!(
                    "the custom filter queries '{}' but belongs to table '{}'",
                    q.table, def.logical_name
                )));
            }
            if let Some(j) = q.joins.first() {
                return Err(Error::fetchxml(format!(
                    "a custom filter can only link to other tables inside a <filter> with link-type \"any\" or \
                     \"not any\" (link-entity '{}')",
                    j.table
                )));
            }
            q.filter
        }
        other => return Err(Error::fetchxml(format!("expected <filter> or <fetch>, found <{other}>"))),
    };
    p.check_pending()?;
    if p.conditions > MAX_FILTER_CONDITIONS {
        return Err(Error::fetchxml(format!(
            "the custom filter has {} conditions; at most {MAX_FILTER_CONDITIONS} are allowed",
            p.conditions
        )));
    }
    Ok(if p.conditions == 0 { None } else { filter })
}

/// A condition naming a join alias (`entityname`), checked once every join is known.
struct Pending {
    alias: String,
    attribute: String,
}

struct Parser<'s> {
    schema: &'s Schema,
    /// Join aliases and their tables, in document order.
    aliases: Vec<(String, String)>,
    pending: Vec<Pending>,
    /// Join alias -> table, for `entityname` look-ups.
    alias_index: HashMap<String, String>,
    /// How many joins have been read (the index of the next one in `aliases`).
    taken: usize,
    /// Orders of joins, appended after the entity's own.
    orders: Vec<Order>,
    conditions: usize,
}

fn unknown_attr(el: &Element, name: &str) -> Error {
    Error::fetchxml(format!("attribute '{name}' is not supported on <{}> (at byte {})", el.name, el.offset))
}

/// Fails on attributes outside `known` (and `ignored`), and on text content.
fn check_attrs(el: &Element, known: &[&str], ignored: &[&str]) -> Result<()> {
    for (name, _) in &el.attrs {
        if !known.contains(&name.as_str()) && !ignored.contains(&name.as_str()) {
            return Err(unknown_attr(el, name));
        }
    }
    if el.has_text() {
        return Err(Error::fetchxml(format!("<{}> cannot hold text (at byte {})", el.name, el.offset)));
    }
    Ok(())
}

fn required<'e>(el: &'e Element, name: &str) -> Result<&'e str> {
    match el.attr(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim()),
        _ => Err(Error::fetchxml(format!("<{}> needs a '{name}' attribute (at byte {})", el.name, el.offset))),
    }
}

fn parse_bool(el: &Element, name: &str) -> Result<bool> {
    match el.attr(name).map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(Error::argument(format!("'{name}' of <{}> must be true or false, not '{v}'", el.name))),
    }
}

fn parse_u32(el: &Element, name: &str) -> Result<Option<u32>> {
    match el.attr(name).map(str::trim) {
        None => Ok(None),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::argument(format!("'{name}' of <{}> must be a positive whole number, not '{v}'", el.name))),
        },
    }
}

fn attribute_name(table: &TableDef, name: &str) -> Result<String> {
    Ok(table.require_attribute(name)?.logical_name.clone())
}

impl<'s> Parser<'s> {
    fn new(schema: &'s Schema) -> Self {
        Parser {
            schema,
            aliases: Vec::new(),
            alias_index: HashMap::new(),
            pending: Vec::new(),
            taken: 0,
            orders: Vec::new(),
            conditions: 0,
        }
    }

    fn fetch(&mut self, root: &Element) -> Result<Query> {
        check_attrs(
            root,
            &["top", "count", "page", "distinct", "returntotalrecordcount", "aggregate"],
            &[
                "version",
                "mapping",
                "output-format",
                "no-lock",
                "latematerialize",
                "useraworderby",
                "options",
                "paging-cookie",
            ],
        )?;
        if parse_bool(root, "aggregate")? {
            return Err(Error::fetchxml(
                "aggregate queries are not available offline: retrieve the rows and aggregate them in code",
            ));
        }
        let top = parse_u32(root, "top")?;
        let page_size = parse_u32(root, "count")?;
        let page = parse_u32(root, "page")?;
        if top.is_some() && (page_size.is_some() || page.is_some()) {
            return Err(Error::fetchxml("the 'top' attribute can't be used together with 'count' or 'page'"));
        }
        let mut entity = None;
        for child in root.elements() {
            if child.name != "entity" {
                return Err(Error::fetchxml(format!(
                    "<fetch> can only contain one <entity>, found <{}> (at byte {})",
                    child.name, child.offset
                )));
            }
            if entity.is_some() {
                return Err(Error::fetchxml(format!(
                    "<fetch> holds more than one <entity> (at byte {})",
                    child.offset
                )));
            }
            entity = Some(child);
        }
        let entity = entity.ok_or_else(|| Error::fetchxml("<fetch> needs an <entity name=\"...\"> element"))?;
        check_attrs(entity, &["name"], &["enableprefiltering", "prefilterparametername"])?;
        let def = self.schema.require_table(required(entity, "name")?)?;
        self.collect_aliases(entity)?;
        let mut q = Query {
            table: def.logical_name.clone(),
            top,
            page_size,
            page,
            count: parse_bool(root, "returntotalrecordcount")?,
            distinct: parse_bool(root, "distinct")?,
            ..Query::default()
        };
        let body = self.body(def, entity, None)?;
        q.columns = if body.any_column { body.columns } else { Columns::All };
        q.filter = body.filter;
        q.orders = body.orders;
        q.orders.append(&mut self.orders);
        q.joins = body.joins;
        Ok(q)
    }

    /// Records every join alias (explicit and default) before the body is read, so `entityname` can name joins
    /// declared later in the document. Iterative: nesting is already bounded by the XML reader.
    fn collect_aliases(&mut self, entity: &Element) -> Result<()> {
        let mut joins: Vec<&Element> = Vec::new();
        let mut stack: Vec<&Element> = entity.elements().filter(|e| e.name == "link-entity").rev().collect();
        while let Some(el) = stack.pop() {
            joins.push(el);
            stack.extend(el.elements().filter(|e| e.name == "link-entity").rev());
        }
        let mut used: HashSet<String> = HashSet::new();
        for j in &joins {
            if let Some(a) = j.attr("alias") {
                if !used.insert(a.to_string()) {
                    return Err(Error::fetchxml(format!("the alias '{a}' is used by more than one link-entity")));
                }
            }
        }
        let mut counters: HashMap<String, usize> = HashMap::new();
        for j in joins {
            let table = j.attr("name").unwrap_or("").trim().to_ascii_lowercase();
            let alias = match j.attr("alias") {
                Some(a) => a.to_string(),
                None => {
                    let n = counters.entry(table.clone()).or_insert(0);
                    loop {
                        *n += 1;
                        let candidate = format!("{table}{n}");
                        if used.insert(candidate.clone()) {
                            break candidate;
                        }
                    }
                }
            };
            self.alias_index.insert(alias.clone(), table.clone());
            self.aliases.push((alias, table));
        }
        Ok(())
    }

    fn body(&mut self, def: &TableDef, el: &Element, alias: Option<&str>) -> Result<Body> {
        let mut body = Body::default();
        let mut all = false;
        let mut cols = Vec::new();
        let mut filters = Vec::new();
        for child in el.elements() {
            match child.name.as_str() {
                "attribute" => {
                    check_attrs(
                        child,
                        &["name", "alias", "aggregate", "groupby", "dategrouping", "distinct"],
                        &["build", "addedby", "usertimezone"],
                    )?;
                    for refused in ["aggregate", "groupby", "dategrouping", "distinct"] {
                        if child.attr(refused).is_some() {
                            return Err(Error::fetchxml(format!(
                                "'{refused}' on <attribute> is not available offline: no aggregation offline; retrieve \
                                 the rows and aggregate them in code"
                            )));
                        }
                    }
                    if child.attr("alias").is_some() {
                        return Err(Error::fetchxml("column aliases (<attribute alias>) are not supported offline"));
                    }
                    let name = attribute_name(def, required(child, "name")?)?;
                    if !cols.contains(&name) {
                        cols.push(name);
                    }
                    body.any_column = true;
                }
                "all-attributes" => {
                    check_attrs(child, &[], &[])?;
                    all = true;
                    body.any_column = true;
                }
                "order" => {
                    check_attrs(child, &["attribute", "descending", "entityname", "alias"], &[])?;
                    if child.attr("alias").is_some() {
                        return Err(Error::fetchxml("<order alias> orders aggregate results: no aggregation offline"));
                    }
                    let (entity, attribute) = match child.attr("entityname") {
                        Some(e) if alias.is_none() => {
                            let a = required(child, "attribute")?.to_string();
                            self.pending.push(Pending { alias: e.to_string(), attribute: a.clone() });
                            (Some(e.to_string()), a.to_ascii_lowercase())
                        }
                        Some(_) => {
                            return Err(Error::fetchxml("<order entityname> is only allowed on the <entity>'s orders"))
                        }
                        None => (alias.map(str::to_string), attribute_name(def, required(child, "attribute")?)?),
                    };
                    let order = Order { entity, attribute, descending: parse_bool(child, "descending")? };
                    if alias.is_some() {
                        self.orders.push(order);
                    } else {
                        body.orders.push(order);
                    }
                }
                "filter" => filters.push(self.filter(def, child, 0)?),
                "link-entity" => {
                    // Joins are read in the document order collect_aliases numbered them in.
                    let alias = self.aliases.get(self.taken).map(|(a, _)| a.clone()).unwrap_or_default();
                    self.taken += 1;
                    let join = self.join(def, child, alias)?;
                    body.joins.push(join);
                }
                other => {
                    return Err(Error::fetchxml(format!(
                        "<{other}> is not allowed inside <{}> (at byte {})",
                        el.name, child.offset
                    )))
                }
            }
        }
        body.columns = if all { Columns::All } else { Columns::Some(cols) };
        body.filter = match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Filter::And(filters)),
        };
        Ok(body)
    }

    fn join(&mut self, parent: &TableDef, el: &Element, alias: String) -> Result<Join> {
        check_attrs(
            el,
            &["name", "from", "to", "alias", "link-type"],
            &["visible", "intersect", "enableprefiltering"],
        )?;
        let def = self.schema.require_table(required(el, "name")?)?;
        let kind = match el.attr("link-type").map(str::trim) {
            None | Some("inner") => JoinKind::Inner,
            Some("outer") => JoinKind::Outer,
            Some(t @ ("any" | "not any" | "all" | "not all")) => {
                return Err(Error::fetchxml(format!(
                    "link-type \"{t}\" is only allowed on a <link-entity> inside a <filter>"
                )))
            }
            Some(t) => {
                return Err(Error::fetchxml(format!(
                    "link-type \"{t}\" is not supported offline: use \"inner\" or \"outer\" (or \"any\" / \"not any\" \
                     inside a <filter>)"
                )))
            }
        };
        let from = attribute_name(def, required(el, "from")?)?;
        let to = attribute_name(parent, required(el, "to")?)?;
        let body = self.body(def, el, Some(&alias))?;
        Ok(Join {
            table: def.logical_name.clone(),
            from,
            to,
            alias,
            kind,
            columns: body.columns,
            filter: body.filter,
            joins: body.joins,
        })
    }

    /// A `<filter>` over `def`. `depth` counts enclosing related filters (bounded by the XML depth limit).
    fn filter(&mut self, def: &TableDef, el: &Element, depth: usize) -> Result<Filter> {
        check_attrs(
            el,
            &["type"],
            &[
                "hint",
                "isquickfindfields",
                "overridequickfindrecordlimitenabled",
                "overridequickfindrecordlimitdisabled",
            ],
        )?;
        let or = match el.attr("type").map(str::trim) {
            None | Some("and") => false,
            Some("or") => true,
            Some(t) => {
                return Err(Error::fetchxml(format!("<filter type=\"{t}\"> is not valid: use \"and\" or \"or\"")))
            }
        };
        // Iterative over nested <filter>s: a stack of (element, children so far, or).
        let mut items = Vec::new();
        for child in el.elements() {
            let f = match child.name.as_str() {
                "condition" => Filter::Condition(self.condition(def, child, depth)?),
                "filter" => self.filter(def, child, depth)?,
                "link-entity" => Filter::Related(Box::new(self.related(def, child, depth)?)),
                other => {
                    return Err(Error::fetchxml(format!(
                        "<{other}> is not allowed inside <filter> (at byte {})",
                        child.offset
                    )))
                }
            };
            items.push(f);
        }
        Ok(if or { Filter::Or(items) } else { Filter::And(items) })
    }

    fn related(&mut self, outer: &TableDef, el: &Element, depth: usize) -> Result<RelatedFilter> {
        check_attrs(el, &["name", "from", "to", "link-type", "alias"], &["visible", "intersect"])?;
        let kind = match el.attr("link-type").map(str::trim) {
            Some("any") => RelatedKind::Any,
            Some("not any") => RelatedKind::NotAny,
            Some("all") => RelatedKind::All,
            Some("not all") => RelatedKind::NotAll,
            other => {
                return Err(Error::fetchxml(format!(
                    "a <link-entity> inside a <filter> needs link-type \"any\", \"not any\", \"all\" or \"not all\", \
                     not {}",
                    other.map(|t| format!("\"{t}\"")).unwrap_or_else(|| "none".into())
                )))
            }
        };
        // A related filter counts as a condition (it restricts rows even without an inner filter).
        self.conditions += 1;
        let def = self.schema.require_table(required(el, "name")?)?;
        let from = attribute_name(def, required(el, "from")?)?;
        let to = attribute_name(outer, required(el, "to")?)?;
        let mut filters = Vec::new();
        for child in el.elements() {
            match child.name.as_str() {
                "filter" => filters.push(self.filter(def, child, depth + 1)?),
                "attribute" | "all-attributes" | "order" => {}
                other => {
                    return Err(Error::fetchxml(format!(
                        "<{other}> is not allowed inside a <link-entity link-type=\"any|not any|all|not all\"> \
                         (at byte {}): put conditions in a <filter>",
                        child.offset
                    )))
                }
            }
        }
        let filter = match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Filter::And(filters)),
        };
        Ok(RelatedFilter { kind, table: def.logical_name.clone(), from, to, filter })
    }

    fn condition(&mut self, def: &TableDef, el: &Element, depth: usize) -> Result<Condition> {
        check_attrs(
            el,
            &["attribute", "operator", "value", "entityname", "valueof", "alias"],
            &["uiname", "uitype", "uihidden"],
        )?;
        self.conditions += 1;
        if el.attr("valueof").is_some() {
            return Err(Error::fetchxml("comparing two columns (<condition valueof>) is not supported offline"));
        }
        if el.attr("alias").is_some() {
            return Err(Error::fetchxml("<condition alias> filters aggregate results: no aggregation offline"));
        }
        let op_name = required(el, "operator")?;
        let operator = Operator::from_fetchxml(op_name).ok_or_else(|| {
            Error::fetchxml(format!(
                "the condition operator '{op_name}' is not supported offline (at byte {})",
                el.offset
            ))
        })?;
        let raw_attr = required(el, "attribute")?;
        let (entity, attribute) = match el.attr("entityname").map(str::trim) {
            Some(alias) if depth == 0 => {
                self.pending.push(Pending { alias: alias.to_string(), attribute: raw_attr.to_string() });
                (Some(alias.to_string()), raw_attr.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(Error::fetchxml(
                    "entityname is not allowed on a condition inside a link-entity filter of link-type any/not any",
                ))
            }
            None => (None, attribute_name(def, raw_attr)?),
        };
        let mut values = Vec::new();
        if let Some(v) = el.attr("value") {
            values.push(Literal::Text(v.to_string()));
        }
        for child in &el.children {
            match child {
                Node::Element(v) if v.name == "value" => {
                    check_attrs_allow_text(v)?;
                    values.push(Literal::Text(v.text()));
                }
                Node::Element(v) => {
                    return Err(Error::fetchxml(format!(
                        "<{}> is not allowed inside <condition> (at byte {})",
                        v.name, v.offset
                    )))
                }
                Node::Text(t) if t.trim().is_empty() => {}
                Node::Text(_) => {
                    return Err(Error::fetchxml(format!("<condition> cannot hold text (at byte {})", el.offset)))
                }
            }
        }
        let name = operator.fetchxml_name();
        match (operator.arity(), values.len()) {
            (Arity::None, 0) | (Arity::One, 1) => {}
            (Arity::Many, n) if n >= 1 => {}
            (Arity::None, _) => {
                return Err(Error::fetchxml(format!("the operator '{name}' takes no value (attribute '{raw_attr}')")))
            }
            (Arity::One, n) => {
                return Err(Error::fetchxml(format!(
                    "the operator '{name}' takes exactly one value, {n} given (attribute '{raw_attr}')"
                )))
            }
            (Arity::Many, _) => {
                return Err(Error::fetchxml(format!(
                    "the operator '{name}' needs at least one <value> (attribute '{raw_attr}')"
                )))
            }
        }
        if operator.counts_units() {
            if let Some(Literal::Text(v)) = values.first() {
                if v.trim().parse::<u32>().is_err() {
                    return Err(Error::argument(format!(
                        "the operator '{name}' needs a whole number of units, not '{v}' (attribute '{raw_attr}')"
                    )));
                }
            }
        }
        Ok(Condition { entity, attribute, operator, values })
    }

    fn check_pending(&mut self) -> Result<()> {
        for p in std::mem::take(&mut self.pending) {
            let Some(table) = self.alias_index.get(&p.alias) else {
                return Err(Error::fetchxml(format!(
                    "entityname '{}' does not name a link-entity alias of the query",
                    p.alias
                )));
            };
            let def = self.schema.require_table(table)?;
            if def.attribute(&p.attribute).is_none() {
                return Err(Error::new(
                    ErrorCode::AttributeNotFound,
                    format!("'{}' entity doesn't contain attribute with Name = '{}'", def.logical_name, p.attribute),
                ));
            }
        }
        Ok(())
    }
}

fn check_attrs_allow_text(el: &Element) -> Result<()> {
    for (name, _) in &el.attrs {
        if !["uiname", "uitype"].contains(&name.as_str()) {
            return Err(unknown_attr(el, name));
        }
    }
    if el.elements().next().is_some() {
        return Err(Error::fetchxml(format!("<value> cannot hold elements (at byte {})", el.offset)));
    }
    Ok(())
}

#[derive(Default)]
struct Body {
    any_column: bool,
    columns: Columns,
    filter: Option<Filter>,
    orders: Vec<Order>,
    joins: Vec<Join>,
}
