//! Rows as the Web API returns them: `@odata.etag` first, every requested column (null when empty), lookups as
//! `_x_value`, and the annotations the `Prefer: odata.include-annotations` header asks for, placed before the
//! value they describe as Dataverse does.

use std::cell::RefCell;

use serde_json::{Map, Value};
use xrm_offline::schema::{AttributeDef, AttributeType, TableDef};

use super::prefer::{ASSOCIATED_NAV, FORMATTED, LOOKUP_LOGICAL_NAME};
use super::stored::{RawRow, Scalar};
use super::Ctx;
use crate::clock;
use crate::fxhash::FxHashMap;
use crate::store::{Access, Db};

/// Primary names of lookup targets: table -> id -> name (`None`: no such row or no name).
pub type Names = FxHashMap<String, FxHashMap<String, Option<String>>>;

/// Which columns to return.
#[derive(Debug, Clone, PartialEq)]
pub enum Cols<'a> {
    /// Every column of the table (no `$select`).
    All,
    /// These logical names (plus the primary id).
    Some(&'a [String]),
    /// Whatever keys the row has (nested `$expand` rows, already projected by the engine).
    Present,
}

/// Shapes rows, caching lookup names for formatted values.
pub struct Shaper<'a, 'c> {
    ctx: &'a Ctx<'c>,
    db: &'a Db,
    /// Primary names of lookup targets, read once per response.
    names: RefCell<Names>,
    /// The annotations the request asks for, decided once per response (not per column of every row).
    wants: Wants,
}

/// The annotations a response carries.
#[derive(Debug, Clone, Copy)]
pub struct Wants {
    /// Any annotation at all.
    pub any: bool,
    /// `OData.Community.Display.V1.FormattedValue`.
    pub formatted: bool,
    /// `Microsoft.Dynamics.CRM.associatednavigationproperty`.
    pub nav: bool,
    /// `Microsoft.Dynamics.CRM.lookuplogicalname`.
    pub logical: bool,
}

/// One annotation of a column: `<key>@<term>` and its value.
enum Note {
    Text(&'static str, String),
}

impl<'a, 'c> Shaper<'a, 'c> {
    /// A shaper for one response.
    pub fn new(ctx: &'a Ctx<'c>, db: &'a Db) -> Self {
        let p = &ctx.prefer;
        let wants = Wants {
            any: p.any_annotations(),
            formatted: p.wants(FORMATTED),
            nav: p.wants(ASSOCIATED_NAV),
            logical: p.wants(LOOKUP_LOGICAL_NAME),
        };
        Shaper { ctx, db, names: RefCell::new(Names::default()), wants }
    }

    /// The annotations this response carries.
    pub fn wants(&self) -> Wants {
        self.wants
    }

    /// The context of the response.
    pub fn ctx(&self) -> &'a Ctx<'c> {
        self.ctx
    }

    /// One row of `table`.
    pub fn row(&self, table: &TableDef, row: &Map<String, Value>, cols: Cols<'_>) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(e) = etag_of(row) {
            out.insert("@odata.etag".into(), e);
        }
        for a in attrs_of(table, row, cols) {
            let key = a.row_key();
            let value = row.get(&key).cloned().unwrap_or(Value::Null);
            for Note::Text(term, text) in self.notes(table, a, &key, &value, row) {
                out.insert(format!("{key}@{term}"), Value::from(text));
            }
            out.insert(key, value);
        }
        // Navigation properties ($expand) and link-entity columns (alias.column).
        for (k, v) in extras(table, row) {
            if let Some((rel, collection)) = table.navigation(k) {
                let other = if collection { &rel.referencing_entity } else { &rel.referenced_entity };
                let Some(other_table) = self.ctx.schema().table(other) else { continue };
                let shaped = match v {
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|r| Value::Object(self.row(other_table, r, Cols::Present)))
                            .collect(),
                    ),
                    Value::Object(r) => Value::Object(self.row(other_table, r, Cols::Present)),
                    other => other.clone(),
                };
                out.insert(k.clone(), shaped);
            } else if k.contains('.') {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// [`Shaper::row`] serialized (compact JSON) straight into `out`, byte for byte what serializing the map it
    /// returns gives, without building the map: collection pages write thousands of rows.
    pub fn write_row(&self, table: &TableDef, row: &Map<String, Value>, cols: Cols<'_>, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        if let Some(e) = etag_of(row) {
            member(out, &mut first, &["@odata.etag"]);
            write_value(out, &e);
        }
        for a in attrs_of(table, row, cols) {
            let lookup = a.attribute_type.is_lookup();
            let parts: [&str; 3] =
                if lookup { ["_", a.logical_name.as_str(), "_value"] } else { ["", a.logical_name.as_str(), ""] };
            let value = row.get(&parts.concat()).unwrap_or(&Value::Null);
            if self.wants.any && !value.is_null() {
                let key = parts.concat();
                for Note::Text(term, text) in self.notes(table, a, &key, value, row) {
                    member(out, &mut first, &[parts[0], parts[1], parts[2], "@", term]);
                    write_value(out, &Value::String(text));
                }
            }
            member(out, &mut first, &parts);
            write_value(out, value);
        }
        for (k, v) in extras(table, row) {
            if let Some((rel, collection)) = table.navigation(k) {
                let other = if collection { &rel.referencing_entity } else { &rel.referenced_entity };
                let Some(other_table) = self.ctx.schema().table(other) else { continue };
                member(out, &mut first, &[k]);
                match v {
                    Value::Array(items) => {
                        out.push(b'[');
                        for (i, r) in items.iter().filter_map(Value::as_object).enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            self.write_row(other_table, r, Cols::Present, out);
                        }
                        out.push(b']');
                    }
                    Value::Object(r) => self.write_row(other_table, r, Cols::Present, out),
                    other => write_value(out, other),
                }
            } else if k.contains('.') {
                member(out, &mut first, &[k]);
                write_value(out, v);
            }
        }
        out.push(b'}');
    }

    /// The annotations of column `a` (row key `key`, value `value`), in the order Dataverse writes them.
    fn notes(
        &self,
        table: &TableDef,
        a: &AttributeDef,
        key: &str,
        value: &Value,
        row: &Map<String, Value>,
    ) -> Vec<Note> {
        let w = self.wants;
        let mut notes = Vec::new();
        if !w.any || value.is_null() {
            return notes;
        }
        if a.attribute_type.is_lookup() {
            let target = row
                .get(&format!("{key}@{LOOKUP_LOGICAL_NAME}"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| a.targets.first().cloned())
                .unwrap_or_default();
            if w.formatted {
                if let Some(name) = value.as_str().and_then(|id| self.lookup_name(&target, id)) {
                    notes.push(Note::Text(FORMATTED, name));
                }
            }
            if w.nav {
                let nav = table
                    .many_to_one
                    .iter()
                    .find(|r| r.referencing_attribute == a.logical_name && r.referenced_entity == target)
                    .map(|r| r.referencing_navigation.clone())
                    .unwrap_or_else(|| a.logical_name.clone());
                notes.push(Note::Text(ASSOCIATED_NAV, nav));
            }
            if w.logical {
                notes.push(Note::Text(LOOKUP_LOGICAL_NAME, target));
            }
            return notes;
        }
        if w.formatted {
            if let Some(text) = formatted(a, value) {
                notes.push(Note::Text(FORMATTED, text));
            }
        }
        notes
    }

    /// Reads the primary names the formatted values of `rows`' lookups need, one query per target table, instead
    /// of one query per distinct lookup value while writing.
    pub fn prefetch_names(&self, table: &TableDef, rows: &[Map<String, Value>], cols: Cols<'_>) {
        if !self.wants.formatted || rows.is_empty() {
            return;
        }
        let lookups: Vec<&AttributeDef> = attrs_of(table, &rows[0], cols.clone())
            .into_iter()
            .filter(|a| a.attribute_type.is_lookup() && !matches!(cols, Cols::Present))
            .collect();
        let mut wanted: FxHashMap<String, Vec<String>> = FxHashMap::default();
        {
            let names = self.names.borrow();
            for a in &lookups {
                let key = a.row_key();
                let logical_key = format!("{key}@{LOOKUP_LOGICAL_NAME}");
                for row in rows {
                    let Some(id) = row.get(&key).and_then(Value::as_str) else { continue };
                    let target = row
                        .get(&logical_key)
                        .and_then(Value::as_str)
                        .or_else(|| a.targets.first().map(String::as_str))
                        .unwrap_or_default();
                    if names.get(target).is_some_and(|m| m.contains_key(id)) {
                        continue;
                    }
                    wanted.entry(target.to_string()).or_default().push(id.to_string());
                }
            }
        }
        self.fetch_names(wanted);
    }

    /// Reads the primary names of these lookup values (target table -> ids), one query per table, into the cache.
    pub fn fetch_names(&self, wanted: FxHashMap<String, Vec<String>>) {
        for (target, mut ids) in wanted {
            ids.sort_unstable();
            ids.dedup();
            let Some(t) = self.ctx.schema().table(&target) else { continue };
            let Some(pn) = t.primary_name_attribute.as_deref() else { continue };
            let Ok(found) = self.db.get_many_text(&t.logical_name, &Access::All, &ids) else { continue };
            let mut names = self.names.borrow_mut();
            let cache = names.entry(target).or_default();
            // Ids with no row (or no name) are remembered as nameless, as a single read would find.
            for id in ids {
                cache.entry(id).or_insert(None);
            }
            for r in found {
                let name = RawRow::parse(&r.text).get(pn).map(Scalar::of).and_then(|s| match s {
                    Scalar::Str(n) => Some(n.into_owned()),
                    _ => None,
                });
                cache.insert(r.id, name);
            }
        }
    }

    /// Whether the cache already holds the name of `id` in `table`.
    pub fn has_name(&self, table: &str, id: &str) -> bool {
        self.names.borrow().get(table).is_some_and(|m| m.contains_key(id))
    }

    /// Calls `f` with the primary name of row `id` of `table` when it has one (from the cache, else read).
    pub fn with_name(&self, table: &str, id: &str, f: impl FnOnce(&str)) {
        {
            let names = self.names.borrow();
            if let Some(found) = names.get(table).and_then(|m| m.get(id)) {
                if let Some(n) = found {
                    f(n);
                }
                return;
            }
        }
        if let Some(n) = self.lookup_name(table, id) {
            f(&n);
        }
    }

    fn lookup_name(&self, table: &str, id: &str) -> Option<String> {
        if let Some(v) = self.names.borrow().get(table).and_then(|m| m.get(id)) {
            return v.clone();
        }
        let name = self.ctx.schema().table(table).and_then(|t| {
            let pn = t.primary_name_attribute.clone()?;
            let row = self.db.get(&t.logical_name, id).ok()??;
            row.data.get(&pn).and_then(Value::as_str).map(str::to_string)
        });
        self.names.borrow_mut().entry(table.to_string()).or_default().insert(id.to_string(), name.clone());
        name
    }
}

/// `@odata.etag` of a row: its own, else from `versionnumber`.
fn etag_of(row: &Map<String, Value>) -> Option<Value> {
    match row.get("@odata.etag") {
        Some(e) => Some(e.clone()),
        None => row.get("versionnumber").and_then(Value::as_i64).map(|v| Value::from(format!("W/\"{v}\""))),
    }
}

/// The columns to write, each once, in order.
pub(super) fn attrs_of<'t>(table: &'t TableDef, row: &Map<String, Value>, cols: Cols<'_>) -> Vec<&'t AttributeDef> {
    match cols {
        Cols::All => table.attributes.iter().filter(|a| !matches!(a.attribute_type, AttributeType::Other(_))).collect(),
        Cols::Some(list) => {
            let mut v: Vec<&AttributeDef> = Vec::with_capacity(list.len() + 1);
            for a in list.iter().filter_map(|n| table.attribute(n)) {
                if !v.iter().any(|x| x.logical_name == a.logical_name) {
                    v.push(a);
                }
            }
            if let Some(pid) = table.attribute(&table.primary_id_attribute) {
                if !v.iter().any(|a| a.logical_name == pid.logical_name) {
                    v.push(pid);
                }
            }
            v
        }
        Cols::Present => table.attributes.iter().filter(|a| row.contains_key(&a.row_key())).collect(),
    }
}

/// Keys of `row` that are neither annotations nor columns: navigation properties and link-entity columns.
fn extras<'r>(table: &'r TableDef, row: &'r Map<String, Value>) -> impl Iterator<Item = (&'r String, &'r Value)> {
    row.iter().filter(move |(k, _)| !k.contains('@') && table.attribute_by_row_key(k).is_none())
}

/// Writes `,` (unless first) and `"<parts joined>":`, escaped as serde_json escapes strings.
pub(super) fn member(out: &mut Vec<u8>, first: &mut bool, parts: &[&str]) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    for p in parts {
        if p.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            let quoted = serde_json::to_string(p).unwrap_or_default();
            out.extend_from_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
        } else {
            out.extend_from_slice(p.as_bytes());
        }
    }
    out.extend_from_slice(b"\":");
}

pub(super) fn write_value(out: &mut Vec<u8>, v: &Value) {
    // Writing into a Vec cannot fail and a JSON value always serializes.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// The en-US formatted value of a column value, as Dataverse returns it.
pub fn formatted(a: &AttributeDef, value: &Value) -> Option<String> {
    let mut s = String::new();
    format_into(a, &Scalar::of_value(value), &mut s).then_some(s)
}

/// Appends the formatted value of `v` to `out`; false (and nothing written) when the column has none.
pub fn format_into(a: &AttributeDef, v: &Scalar<'_>, out: &mut String) -> bool {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    match &a.attribute_type {
        t if t.is_option_set() => {
            let Some(n) = v.as_i64() else { return false };
            match a.option_label(n) {
                Some(label) => out.push_str(label),
                None => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        AttributeType::Boolean => {
            let Some(b) = v.as_bool() else { return false };
            out.push_str(if b { "Yes" } else { "No" });
        }
        AttributeType::DateTime => {
            let Some(ms) = v.as_str().and_then(clock::parse_rfc3339) else { return false };
            clock::write_display(ms, out);
        }
        AttributeType::Money | AttributeType::Decimal | AttributeType::Double => {
            let Some(f) = v.as_f64() else { return false };
            if f < 0.0 {
                out.push('-');
            }
            if a.attribute_type == AttributeType::Money {
                out.push('$');
            }
            let start = out.len();
            write_fixed2(f.abs(), out);
            group_in_place(out, start);
        }
        AttributeType::Integer | AttributeType::BigInt => {
            let Some(n) = v.as_i64() else { return false };
            if n < 0 {
                out.push('-');
            }
            let start = out.len();
            // As `abs` behaves in the release build (i64::MIN stays itself).
            let _ = write!(out, "{}", n.wrapping_abs());
            group_in_place(out, start);
        }
        _ => return false,
    }
    true
}

/// `format!("{:.2}", f)` for `f >= 0`. When `f * 100` is a whole number below 2^52, the exact value of `f` is
/// within half a unit in the last place of that number, so `{:.2}` prints it: written from the integer (money
/// and quantities usually are whole cents), without the float formatter's exact (bignum) path.
fn write_fixed2(f: f64, out: &mut String) {
    use std::fmt::Write;
    let cents = f * 100.0;
    if cents.fract() == 0.0 && (0.0..4_503_599_627_370_496.0).contains(&cents) {
        let c = cents as u64;
        let _ = write!(out, "{}.{:02}", c / 100, c % 100);
    } else {
        let _ = write!(out, "{f:.2}");
    }
}

/// Groups the integer part of the number written from `start` in thousands: `1234567.50` -> `1,234,567.50`.
fn group_in_place(out: &mut String, start: usize) {
    let end = out[start..].find('.').map_or(out.len(), |i| start + i);
    let mut i = end - start;
    while i > 3 {
        i -= 3;
        out.insert(start + i, ',');
    }
}

/// `1234567.50` -> `1,234,567.50`.
#[cfg(test)]
fn group(s: &str) -> String {
    let mut out = s.to_string();
    group_in_place(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::prefer::Prefer;
    use crate::app::App;
    use crate::seed::users;

    fn app() -> App {
        App::seeded_for_tests()
    }

    /// The streaming writer of collection pages must give exactly the bytes of the shaped map: every seeded row of
    /// the sync tables, every column choice, each annotation preference, and rows carrying expanded navigation
    /// properties, link-entity columns and text that needs escaping.
    #[test]
    fn write_row_is_byte_for_byte_the_serialized_row() {
        let app = app();
        let db = app.store.lock();
        let user = crate::auth::load_principal(&users::user_id("admin"), &db).expect("admin");
        let prefers = [
            None,
            Some("*"),
            Some("OData.Community.Display.V1.FormattedValue"),
            Some("Microsoft.Dynamics.CRM.lookuplogicalname,-OData.Community.Display.V1.FormattedValue"),
        ];
        let mut compared = 0;
        for annotations in prefers {
            let prefer = Prefer { annotations: annotations.map(str::to_string), ..Default::default() };
            let ctx = Ctx { app: &app, user: user.clone(), base: "http://h/api/data/v9.2/".into(), prefer };
            let shaper = Shaper::new(&ctx, &db);
            for name in ["msdyn_workorder", "account", "contact", "bookableresourcebooking", "msdyn_workorderproduct"] {
                let table = ctx.schema().table(name).expect("table");
                let access = user.read_access(table);
                let rows = db.scan(name, &access, None, 300).expect("scan");
                assert!(!rows.is_empty(), "{name} is seeded");
                let some: Vec<String> = table.attributes.iter().rev().take(4).map(|a| a.logical_name.clone()).collect();
                let mut twice = some.clone();
                twice.extend(some.iter().cloned());
                for stored in &rows {
                    let mut row = crate::api::crud::with_etag(stored);
                    // Extras: a navigation property (object and collection), a link-entity column, odd text.
                    if let Some(rel) = table.many_to_one.first() {
                        let nested = row.clone();
                        row.insert(rel.referencing_navigation.clone(), Value::Object(nested));
                    }
                    if let Some(rel) = table.one_to_many.first() {
                        row.insert(rel.referenced_navigation.clone(), Value::Array(vec![Value::Object(Map::new())]));
                    }
                    row.insert("alias.name".into(), Value::from("quote \" back \\ ctl \u{1} é"));
                    for cols in [Cols::All, Cols::Some(&some), Cols::Some(&twice), Cols::Present] {
                        let expected = serde_json::to_vec(&Value::Object(shaper.row(table, &row, cols.clone())))
                            .expect("serialize");
                        let mut written = Vec::new();
                        shaper.write_row(table, &row, cols.clone(), &mut written);
                        assert_eq!(
                            String::from_utf8_lossy(&written),
                            String::from_utf8_lossy(&expected),
                            "{name} {cols:?} {annotations:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 1000, "compared {compared}");
    }

    #[test]
    fn whole_cents_print_as_the_float_formatter_prints_them() {
        let mut values =
            vec![0.0, 0.07, 0.1, 0.125, 0.375, 1.005, 2.675, 3.0, 25.0, 75.5, 1234567.89, 1e14 + 0.25, 4.5e13];
        let mut x = 0.001f64;
        for i in 0..200_000u64 {
            values.push((i as f64) / 100.0);
            values.push((i as f64) * 0.37);
            x = x * 1.37 + 0.013;
            if x > 1e16 {
                x = 0.001;
            }
            values.push(x);
        }
        for v in values {
            let mut s = String::new();
            write_fixed2(v, &mut s);
            assert_eq!(s, format!("{v:.2}"), "{v}");
        }
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group("1234567.50"), "1,234,567.50");
        assert_eq!(group("12"), "12");
        assert_eq!(group("123"), "123");
        assert_eq!(group("1000"), "1,000");
    }
}
