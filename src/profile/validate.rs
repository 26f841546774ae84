//! Checks a profile against a schema, resolves its relationships into links, and orders its items for sync.

use std::collections::{BTreeSet, HashMap};

use super::model::{
    item_label, ItemFilter, Profile, MAX_FILTER_CONDITIONS, MAX_RELATED_TABLES, MAX_SYNC_INTERVAL_MINUTES,
    MIN_SYNC_INTERVAL_MINUTES,
};
use crate::error::{Error, ErrorCode};
use crate::query::parse_fetchxml_filter;
use crate::query::plan::Filter;
use crate::schema::{OwnershipType, Schema};

/// One relationship of an item, resolved against the schema: how rows of the other table bring rows of this one
/// into scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The relationship's schema name, as the schema spells it.
    pub relationship: String,
    /// The other profile table (logical name); it syncs before this one.
    pub other_table: String,
    /// Which side holds the lookup.
    pub kind: LinkKind,
}

/// Which side of a [`Link`] holds the lookup column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// This table holds lookup `column` pointing at the other table: rows of this table whose `column` is an
    /// in-scope row of the other table are in scope (work order products of in-scope work orders).
    References {
        /// Lookup column (logical name) on this table.
        column: String,
    },
    /// The other table holds lookup `column` pointing at this table: rows of this table that in-scope rows of the
    /// other table point at are in scope (the work orders of in-scope bookings).
    ReferencedBy {
        /// Lookup column (logical name) on the other table.
        column: String,
    },
}

impl Profile {
    /// Every rule violation, each naming its item: unknown or not offline-capable tables, duplicate items,
    /// intervals outside 5..1440, unknown columns, ownership filters on tables without owners, custom filters that
    /// do not parse or have more than 500 conditions, unknown relationships or relationships that do not connect
    /// the item's table to another profile table, self and circular references, and more than 15 related tables
    /// per item counted transitively. Empty when the profile is valid.
    pub fn validate(&self, schema: &Schema) -> Vec<Error> {
        check(self, schema).0
    }

    /// Validates the profile and stores the parsed plan of each custom filter (see [`CustomFilter::plan`]), so
    /// [`ItemFilter::own_rows`] can be evaluated. On error the profile is left unchanged.
    ///
    /// [`CustomFilter::plan`]: super::CustomFilter::plan
    pub fn prepare(&mut self, schema: &Schema) -> Result<(), Vec<Error>> {
        let (errors, plans) = check(self, schema);
        if !errors.is_empty() {
            return Err(errors);
        }
        for (index, plan) in plans {
            if let ItemFilter::Custom(c) = &mut self.items[index].filter {
                c.plan = Some(plan.unwrap_or(Filter::And(Vec::new())));
            }
        }
        Ok(())
    }

    /// The relationships of item `index` that resolve to another profile table (the invalid ones are left out; see
    /// [`Profile::validate`]).
    pub fn links(&self, schema: &Schema, index: usize) -> Vec<Link> {
        let Some(item) = self.items.get(index) else { return Vec::new() };
        item.relationships.iter().filter_map(|name| resolve(self, schema, &item.table, name).ok()).collect()
    }

    /// Item indexes in sync order: every item after the items it depends on (the tables its relationships lead
    /// to), otherwise in profile order. Items caught in a cycle (an invalid profile) come last, in profile order.
    pub fn sync_order(&self, schema: &Schema) -> Vec<usize> {
        let deps = dependencies(self, schema);
        let mut done = vec![false; self.items.len()];
        let mut order = Vec::with_capacity(self.items.len());
        loop {
            let next = (0..self.items.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d] || d == i));
            match next {
                Some(i) => {
                    done[i] = true;
                    order.push(i);
                }
                None => break,
            }
        }
        order.extend((0..self.items.len()).filter(|&i| !done[i]));
        order
    }

    /// For each item, the indexes of the items it depends on (through valid relationships), without repeats.
    pub fn dependencies(&self, schema: &Schema) -> Vec<Vec<usize>> {
        dependencies(self, schema)
    }
}

fn dependencies(profile: &Profile, schema: &Schema) -> Vec<Vec<usize>> {
    let index_of = table_index(profile);
    (0..profile.items.len())
        .map(|i| {
            let mut out: Vec<usize> = Vec::new();
            for link in profile.links(schema, i) {
                if let Some(&j) = index_of.get(link.other_table.as_str()) {
                    if !out.contains(&j) {
                        out.push(j);
                    }
                }
            }
            out
        })
        .collect()
}

/// First item index of each table (logical names are lower case in the model).
fn table_index(profile: &Profile) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (i, item) in profile.items.iter().enumerate() {
        m.entry(item.table.to_ascii_lowercase()).or_insert(i);
    }
    m
}

/// Resolves relationship `name` listed on `table`. Err: what is wrong with it (without the item label).
fn resolve(profile: &Profile, schema: &Schema, table: &str, name: &str) -> Result<Link, String> {
    let r = schema.relationship(name).ok_or_else(|| format!("relationship '{name}' is not in the schema"))?;
    let referenced = r.referenced_entity.eq_ignore_ascii_case(table);
    let referencing = r.referencing_entity.eq_ignore_ascii_case(table);
    if referenced && referencing {
        return Err(format!(
            "relationship '{}' is a self reference ({table}.{} -> {table}); a table cannot be related to itself",
            r.schema_name, r.referencing_attribute
        ));
    }
    let (other, kind) = if referencing {
        (&r.referenced_entity, LinkKind::References { column: r.referencing_attribute.clone() })
    } else if referenced {
        (&r.referencing_entity, LinkKind::ReferencedBy { column: r.referencing_attribute.clone() })
    } else {
        return Err(format!(
            "relationship '{}' connects {} and {}, not {table}",
            r.schema_name, r.referencing_entity, r.referenced_entity
        ));
    };
    if profile.item(other).is_none() {
        return Err(format!(
            "relationship '{}' leads to table '{other}', which is not in the profile (add an item for it)",
            r.schema_name
        ));
    }
    Ok(Link { relationship: r.schema_name.clone(), other_table: other.clone(), kind })
}

/// Number of `<condition` elements in FetchXML text (counted without parsing, so the limit holds even for text the
/// parser refuses).
pub(crate) fn count_condition_tags(xml: &str) -> usize {
    xml.to_ascii_lowercase().matches("<condition").count()
}

/// Number of conditions in a parsed filter, related-row filters included.
pub(crate) fn count_conditions(f: &Filter) -> usize {
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().map(count_conditions).sum(),
        Filter::Not(f) => count_conditions(f),
        Filter::Condition(_) => 1,
        Filter::Related(r) => r.filter.as_ref().map_or(0, count_conditions),
    }
}

type Plans = Vec<(usize, Option<Filter>)>;

fn check(profile: &Profile, schema: &Schema) -> (Vec<Error>, Plans) {
    let mut errors = Vec::new();
    let mut plans = Vec::new();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    for (index, item) in profile.items.iter().enumerate() {
        let label = item_label(index, &item.table);
        let mut err = |code: ErrorCode, msg: String| errors.push(Error::new(code, format!("{label}: {msg}")));
        let key = item.table.to_ascii_lowercase();
        if let Some(&first) = first_of.get(&key) {
            err(
                ErrorCode::InvalidProfile,
                format!(
                    "duplicate item: table '{}' is already {}; merge them",
                    item.table,
                    item_label(first, &item.table)
                ),
            );
        } else {
            first_of.insert(key, index);
        }
        if !(MIN_SYNC_INTERVAL_MINUTES..=MAX_SYNC_INTERVAL_MINUTES).contains(&item.sync_interval_minutes) {
            err(
                ErrorCode::InvalidProfile,
                format!(
                    "sync interval {} minutes is outside {MIN_SYNC_INTERVAL_MINUTES}..{MAX_SYNC_INTERVAL_MINUTES}",
                    item.sync_interval_minutes
                ),
            );
        }
        let Some(def) = schema.table(&item.table) else {
            err(ErrorCode::InvalidProfile, format!("table '{}' is not in the schema", item.table));
            continue;
        };
        if !def.is_available_offline {
            err(
                ErrorCode::TableNotAvailableOffline,
                format!(
                    "table '{}' is not offline-capable (IsAvailableOffline is false), so it cannot be in a mobile \
                     offline profile; remove the item (Field Service purchase orders, agreements, RTVs and RMAs \
                     are online only)",
                    def.logical_name
                ),
            );
        } else if !def.change_tracking_enabled {
            err(
                ErrorCode::TableNotAvailableOffline,
                format!(
                    "table '{}' has change tracking turned off (ChangeTrackingEnabled is false), so it cannot sync \
                     offline; enable change tracking on the table",
                    def.logical_name
                ),
            );
        }
        if let Some(cols) = &item.columns {
            for c in cols {
                if def.attribute(c).is_none() {
                    err(ErrorCode::InvalidProfile, format!("column '{c}' is not a column of '{}'", def.logical_name));
                }
            }
        }
        match &item.filter {
            ItemFilter::Ownership(_) if def.ownership != OwnershipType::UserOwned => err(
                ErrorCode::InvalidProfile,
                format!(
                    "an ownership filter needs a user- or team-owned table; '{}' is {:?}: use a custom filter or \
                     related rows",
                    def.logical_name, def.ownership
                ),
            ),
            ItemFilter::Custom(c) => {
                let tags = count_condition_tags(&c.fetchxml);
                if tags > MAX_FILTER_CONDITIONS {
                    err(
                        ErrorCode::InvalidProfile,
                        format!("the custom filter has {tags} conditions; at most {MAX_FILTER_CONDITIONS} are allowed"),
                    );
                } else {
                    match parse_fetchxml_filter(schema, &def.logical_name, &c.fetchxml) {
                        Ok(plan) => {
                            let n = plan.as_ref().map_or(0, count_conditions);
                            if n > MAX_FILTER_CONDITIONS {
                                err(
                                    ErrorCode::InvalidProfile,
                                    format!(
                                        "the custom filter has {n} conditions; at most {MAX_FILTER_CONDITIONS} are \
                                         allowed"
                                    ),
                                );
                            }
                            plans.push((index, plan));
                        }
                        Err(e) => {
                            err(ErrorCode::InvalidProfile, format!("the custom filter does not parse: {}", e.message))
                        }
                    }
                }
            }
            _ => {}
        }
        let mut seen = BTreeSet::new();
        for name in &item.relationships {
            if !seen.insert(name.to_ascii_lowercase()) {
                err(ErrorCode::InvalidProfile, format!("relationship '{name}' is listed twice"));
                continue;
            }
            if let Err(msg) = resolve(profile, schema, &def.logical_name, name) {
                err(ErrorCode::InvalidProfile, msg);
            }
        }
    }
    check_graph(profile, schema, &mut errors);
    (errors, plans)
}

/// Circular references and the transitive related-table limit.
/// How far the related tables of one item are counted (the error message gives the number up to this).
const MAX_COUNTED: usize = 100;

fn check_graph(profile: &Profile, schema: &Schema, errors: &mut Vec<Error>) {
    let deps = dependencies(profile, schema);
    let n = profile.items.len();
    let table = |i: usize| profile.items[i].table.as_str();

    // Cycles: depth-first search, reporting each cycle once (by its set of items).
    let mut reported: Vec<Vec<usize>> = Vec::new();
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut in_cycle = vec![false; n];
    for start in 0..n {
        if state[start] == 0 {
            let mut stack = Vec::new();
            visit(start, &deps, &mut state, &mut stack, &mut |cycle: &[usize]| {
                // The cycle's items as a set: sorted, without repeats.
                let mut set = cycle.to_vec();
                crate::sort::sort_dedup(&mut set);
                for &i in cycle {
                    in_cycle[i] = true;
                }
                if reported.contains(&set) {
                    return;
                }
                reported.push(set);
                let first = *cycle.iter().min().unwrap_or(&cycle[0]);
                let rot = cycle.iter().position(|&i| i == first).unwrap_or(0);
                let mut chain: Vec<&str> = cycle[rot..].iter().chain(cycle[..rot].iter()).map(|&i| table(i)).collect();
                chain.push(table(first));
                errors.push(Error::profile(format!(
                    "{}: circular reference {}; remove one of these relationships",
                    item_label(first, table(first)),
                    chain.join(" -> ")
                )));
            });
        }
    }

    // Related tables counted transitively (A -> B, C, D and B -> F, G, H counts 6).
    for (start, &cyclic) in in_cycle.iter().enumerate() {
        if cyclic {
            continue;
        }
        // Linear per item (membership in a bit set, not a list): a profile of thousands of chained items is
        // checked in O(items x relationships), not O(items^3).
        let mut reached = 0usize;
        let mut is_reached = vec![false; n];
        let mut edges: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut queue = vec![start];
        let mut expanded = vec![false; n];
        while let Some(i) = queue.pop() {
            if reached >= MAX_COUNTED {
                // Far past the limit: counting further only costs time (a chain of thousands of items).
                break;
            }
            if std::mem::replace(&mut expanded[i], true) {
                continue;
            }
            let next: Vec<usize> = deps[i].iter().copied().filter(|&d| d != start).collect();
            if !next.is_empty() {
                edges.push((i, next.clone()));
            }
            for d in next {
                if !std::mem::replace(&mut is_reached[d], true) {
                    reached += 1;
                }
                queue.push(d);
            }
        }
        if reached > MAX_RELATED_TABLES {
            crate::sort::sort_by_key(&mut edges, |(i, _)| if *i == start { 0 } else { 1 + *i });
            // The message names the first links of the chain only (it stays short however long the chain is).
            let shown = MAX_RELATED_TABLES + 1;
            let mut chain = edges
                .iter()
                .take(shown)
                .map(|(i, to)| {
                    format!("{} -> {}", table(*i), to.iter().map(|&d| table(d)).collect::<Vec<_>>().join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            if edges.len() > shown {
                chain.push_str(&format!("; ... ({} more)", edges.len() - shown));
            }
            errors.push(Error::profile(format!(
                "{}: relates to {}{} tables counted transitively, more than {MAX_RELATED_TABLES}: {chain}",
                item_label(start, table(start)),
                if reached >= MAX_COUNTED { "at least " } else { "" },
                reached
            )));
        }
    }
}

/// Depth-first search from `start`, calling `found` with each cycle met (the items on the path from the repeated
/// item). Iterative, with an explicit stack: a chain of thousands of items cannot overflow the call stack.
fn visit(start: usize, deps: &[Vec<usize>], state: &mut [u8], stack: &mut Vec<usize>, found: &mut dyn FnMut(&[usize])) {
    // (item, index of the next dependency to look at)
    let mut frames: Vec<(usize, usize)> = vec![(start, 0)];
    state[start] = 1;
    stack.push(start);
    while let Some(frame) = frames.last_mut() {
        let (i, next) = *frame;
        let Some(&d) = deps[i].get(next) else {
            frames.pop();
            stack.pop();
            state[i] = 2;
            continue;
        };
        frame.1 += 1;
        match state[d] {
            0 => {
                state[d] = 1;
                stack.push(d);
                frames.push((d, 0));
            }
            1 => {
                if let Some(pos) = stack.iter().position(|&s| s == d) {
                    found(&stack[pos..]);
                }
            }
            _ => {}
        }
    }
}
