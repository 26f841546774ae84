//! Collection pages written straight from the stored rows' JSON text, by a plan made once per response.
//!
//! The plan holds, for every column the response writes, its member key already escaped (`,"<key>":`), the keys
//! of its annotations, and how to format its value; a map from the stored rows' member keys to *slots*. Each row
//! is parsed into borrowed (key, raw value) members ([`RawRow`]), its members dropped into their slots (one hash
//! per member), and written: raw values are copied when their text is what serializing them gives
//! ([`write_raw`]). No `serde_json` map is built for the row, no key is formatted per row.
//!
//! The bytes are those of [`Shaper::write_row`] over the row decoded into a map (with `@odata.etag` first, as
//! [`into_etag`](super::crud::into_etag) builds it): same members, same order, same annotations (checked by
//! `rowplan::tests` over every seeded row of the sync tables).

use std::borrow::Cow;
use std::io::Write;

use serde_json::value::RawValue;
use serde_json::Value;
use xrm_offline::schema::{AttributeDef, TableDef};

use super::prefer::{ASSOCIATED_NAV, FORMATTED, LOOKUP_LOGICAL_NAME};
use super::shape::{attrs_of, format_into, member, write_value, Cols, Shaper, Wants};
use super::stored::{is_null, write_raw, write_str, RawRow, Scalar};
use crate::fxhash::FxHashMap;

/// The slot of `@odata.etag`.
const ETAG: u32 = 0;
/// A key of a column the response does not write.
const SKIP: u32 = u32::MAX;

/// How the rows of one table become response rows, for one column choice and one set of annotations.
pub struct RowPlan<'t> {
    table: &'t TableDef,
    wants: Wants,
    attrs: Vec<AttrPlan<'t>>,
    /// Member key -> slot ([`SKIP`]: a column key not written).
    keys: FxHashMap<String, u32>,
    slots: usize,
}

struct AttrPlan<'t> {
    a: &'t AttributeDef,
    lookup: bool,
    slot: u32,
    /// The slot of `<key>@Microsoft.Dynamics.CRM.lookuplogicalname` (lookups).
    target_slot: u32,
    /// `,"<key>":`
    key: Vec<u8>,
    /// `,"<key>@<term>":` for each annotation.
    formatted_key: Vec<u8>,
    nav_key: Vec<u8>,
    logical_key: Vec<u8>,
    /// The lookup's first target (when the row does not name it).
    default_target: &'t str,
    /// Target table -> navigation property, for each declared target.
    navs: Vec<(&'t str, &'t str)>,
}

/// The member key `,"<parts>":` escaped as the map writer escapes it.
fn key_bytes(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = false;
    member(&mut out, &mut first, parts);
    out
}

/// The navigation property a lookup's value names, for a target table (as `Shaper::notes` finds it).
fn nav_of<'t>(table: &'t TableDef, a: &'t AttributeDef, target: &str) -> &'t str {
    table
        .many_to_one
        .iter()
        .find(|r| r.referencing_attribute == a.logical_name && r.referenced_entity == target)
        .map(|r| r.referencing_navigation.as_str())
        .unwrap_or(a.logical_name.as_str())
}

/// Rows parsed and dropped into their slots: `slots[row * plan.slots + slot]`, plus the members of each row
/// that are not columns (navigation properties, link-entity columns) as (row, key member, value member).
pub struct Filled<'a> {
    slots: Vec<Option<&'a RawValue>>,
    width: usize,
    extras: Vec<(usize, usize, usize)>,
}

impl<'a> Filled<'a> {
    fn row(&self, i: usize) -> &[Option<&'a RawValue>] {
        &self.slots[i * self.width..(i + 1) * self.width]
    }
}

impl<'t> RowPlan<'t> {
    /// The plan of `table`'s rows for these columns (not [`Cols::Present`]: that depends on each row).
    pub fn new(table: &'t TableDef, cols: Cols<'_>, wants: Wants) -> RowPlan<'t> {
        debug_assert!(!matches!(cols, Cols::Present));
        let mut keys: FxHashMap<String, u32> = FxHashMap::default();
        keys.insert("@odata.etag".into(), ETAG);
        let mut next = 1u32;
        let mut attrs = Vec::new();
        for a in attrs_of(table, &serde_json::Map::new(), cols) {
            let lookup = a.attribute_type.is_lookup();
            let row_key = a.row_key();
            let parts: [&str; 3] =
                if lookup { ["_", a.logical_name.as_str(), "_value"] } else { ["", a.logical_name.as_str(), ""] };
            let slot = *keys.entry(row_key.clone()).or_insert_with(|| {
                next += 1;
                next - 1
            });
            let target_slot = if lookup {
                let s = next;
                next += 1;
                keys.insert(format!("{row_key}@{LOOKUP_LOGICAL_NAME}"), s);
                s
            } else {
                SKIP
            };
            let note = |term: &str| key_bytes(&[parts[0], parts[1], parts[2], "@", term]);
            attrs.push(AttrPlan {
                a,
                lookup,
                slot,
                target_slot,
                key: key_bytes(&parts),
                formatted_key: note(FORMATTED),
                nav_key: note(ASSOCIATED_NAV),
                logical_key: note(LOOKUP_LOGICAL_NAME),
                default_target: a.targets.first().map(String::as_str).unwrap_or_default(),
                navs: a.targets.iter().map(|t| (t.as_str(), nav_of(table, a, t))).collect(),
            });
        }
        for a in &table.attributes {
            keys.entry(a.row_key()).or_insert(SKIP);
        }
        RowPlan { table, wants, attrs, keys, slots: next as usize }
    }

    /// Drops the members of every row into their slots.
    pub fn fill<'a>(&self, rows: &[RawRow<'a>]) -> Filled<'a> {
        let mut filled = Filled { slots: vec![None; rows.len() * self.slots], width: self.slots, extras: Vec::new() };
        for (i, row) in rows.iter().enumerate() {
            let slots = &mut filled.slots[i * self.slots..(i + 1) * self.slots];
            let first_extra = filled.extras.len();
            for (m, (k, v)) in row.members.iter().enumerate() {
                match self.keys.get(k.as_ref()) {
                    Some(&SKIP) => {}
                    Some(&s) => slots[s as usize] = Some(*v),
                    None if k.contains('@') || self.table.attribute_by_row_key(k).is_some() => {}
                    None => {
                        // A repeated key keeps its first place and its last value, as a map decoded from the text.
                        let seen = filled.extras[first_extra..].iter_mut().find(|(_, km, _)| row.members[*km].0 == *k);
                        match seen {
                            Some(e) => e.2 = m,
                            None => filled.extras.push((i, m, m)),
                        }
                    }
                }
            }
        }
        filled
    }

    /// The lookup values of the filled rows whose primary names the formatted values need: target -> ids not yet
    /// in the shaper's cache.
    pub fn wanted_names(
        &self,
        filled: &Filled<'_>,
        rows: usize,
        shaper: &Shaper<'_, '_>,
    ) -> FxHashMap<String, Vec<String>> {
        let mut wanted: FxHashMap<String, Vec<String>> = FxHashMap::default();
        if !self.wants.formatted {
            return wanted;
        }
        for i in 0..rows {
            let slots = filled.row(i);
            for ap in self.attrs.iter().filter(|ap| ap.lookup) {
                let Some(Scalar::Str(id)) = slots[ap.slot as usize].map(Scalar::of) else { continue };
                let target = self.target(ap, slots);
                if !shaper.has_name(&target, &id) {
                    wanted.entry(target.into_owned()).or_default().push(id.into_owned());
                }
            }
        }
        wanted
    }

    fn target<'s>(&self, ap: &AttrPlan<'t>, slots: &[Option<&'s RawValue>]) -> Cow<'s, str>
    where
        't: 's,
    {
        match slots[ap.target_slot as usize].map(Scalar::of) {
            Some(Scalar::Str(t)) => t,
            _ => Cow::Borrowed(ap.default_target),
        }
    }

    /// Writes row `i` of `rows` (stored at `version`) as a response row.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        shaper: &Shaper<'_, '_>,
        rows: &[RawRow<'_>],
        filled: &Filled<'_>,
        i: usize,
        version: i64,
        out: &mut Vec<u8>,
        scratch: &mut String,
    ) {
        let slots = filled.row(i);
        out.extend_from_slice(b"{\"@odata.etag\":");
        match slots[ETAG as usize] {
            Some(v) => write_raw(out, v),
            None => {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "\"W/\\\"{version}\\\"\"");
            }
        }
        let w = self.wants;
        for ap in &self.attrs {
            let v = slots[ap.slot as usize];
            if w.any && !is_null(v) {
                let value = Scalar::of(v.expect("not null"));
                if ap.lookup {
                    let target = self.target(ap, slots);
                    if w.formatted {
                        if let Scalar::Str(id) = &value {
                            shaper.with_name(&target, id, |name| {
                                out.extend_from_slice(&ap.formatted_key);
                                write_str(out, name);
                            });
                        }
                    }
                    if w.nav {
                        let nav = match ap.navs.iter().find(|(t, _)| *t == target) {
                            Some((_, n)) => *n,
                            None => nav_of(self.table, ap.a, &target),
                        };
                        out.extend_from_slice(&ap.nav_key);
                        write_str(out, nav);
                    }
                    if w.logical {
                        out.extend_from_slice(&ap.logical_key);
                        write_str(out, &target);
                    }
                } else if w.formatted {
                    scratch.clear();
                    if format_into(ap.a, &value, scratch) {
                        out.extend_from_slice(&ap.formatted_key);
                        write_str(out, scratch);
                    }
                }
            }
            out.extend_from_slice(&ap.key);
            match v {
                Some(v) => write_raw(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        let members = &rows[i].members;
        for &(_, km, vm) in filled.extras.iter().filter(|(r, _, _)| *r == i) {
            let k = members[km].0.as_ref();
            let raw = members[vm].1;
            let mut first = false;
            if let Some((rel, collection)) = self.table.navigation(k) {
                let other = if collection { &rel.referencing_entity } else { &rel.referenced_entity };
                let Some(other_table) = shaper.ctx().schema().table(other) else { continue };
                member(out, &mut first, &[k]);
                match serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null) {
                    Value::Array(items) => {
                        out.push(b'[');
                        for (j, r) in items.iter().filter_map(Value::as_object).enumerate() {
                            if j > 0 {
                                out.push(b',');
                            }
                            shaper.write_row(other_table, r, Cols::Present, out);
                        }
                        out.push(b']');
                    }
                    Value::Object(r) => shaper.write_row(other_table, &r, Cols::Present, out),
                    other => write_value(out, &other),
                }
            } else if k.contains('.') {
                member(out, &mut first, &[k]);
                write_raw(out, raw);
            }
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::prefer::Prefer;
    use crate::api::Ctx;
    use crate::app::App;
    use crate::seed::users;
    use crate::store::StoredRow;

    fn app() -> App {
        App::seeded_for_tests()
    }

    /// The rows written from the stored text are byte for byte the rows the map writer writes from the decoded
    /// rows: every seeded row of the sync tables, every column choice, each annotation preference; plus stored
    /// rows holding what the seed never stores (a navigation property, a link-entity column, escapes, floats, an
    /// etag, a repeated key, a lookup naming its table, keys in other case, text that is not an object).
    #[test]
    fn rows_written_from_stored_text_are_the_rows_the_map_writer_writes() {
        let app = app();
        let db = app.store.lock();
        let user = crate::auth::load_principal(&users::user_id("admin"), &db).expect("admin");
        let prefers = [
            None,
            Some("*"),
            Some("OData.Community.Display.V1.FormattedValue"),
            Some("Microsoft.Dynamics.CRM.lookuplogicalname,-OData.Community.Display.V1.FormattedValue"),
            Some("Microsoft.Dynamics.CRM.associatednavigationproperty"),
        ];
        let mut compared = 0;
        for annotations in prefers {
            let prefer = Prefer { annotations: annotations.map(str::to_string), ..Default::default() };
            let ctx = Ctx { app: &app, user: user.clone(), base: "http://h/api/data/v9.2/".into(), prefer };
            let tables = [
                "msdyn_workorder",
                "account",
                "contact",
                "bookableresourcebooking",
                "msdyn_workorderproduct",
                "systemuser",
            ];
            for name in tables {
                let table = ctx.schema().table(name).expect("table");
                let mut texts = db.scan_text(name, &user.read_access(table), None, 400).expect("scan");
                assert!(!texts.is_empty(), "{name} is seeded");
                let nav = table.many_to_one.first().map(|r| r.referencing_navigation.clone()).unwrap_or_default();
                let odd = [
                    format!(r#"{{"{nav}":{{"name":"x"}},"alias.col":[1,2.50],"msdyn_name":"a\"b\u00e9","versionnumber":7}}"#),
                    r#"{"@odata.etag":"W/\"1\"","statecode":1,"statecode":0,"_ownerid_value":"x","_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"team"}"#.into(),
                    r#"{"MSDYN_NAME":"upper","unknown":1,"createdon":"2026-01-02T03:04:05Z","msdyn_quantity":-1234567.555}"#.into(),
                    r#"[1,2]"#.into(),
                    "not json".into(),
                ];
                for (i, text) in odd.into_iter().enumerate() {
                    texts.push(crate::store::StoredText { id: format!("odd{i}"), text, version: 9 });
                }
                let some: Vec<String> = table.attributes.iter().rev().take(4).map(|a| a.logical_name.clone()).collect();
                let mut twice = some.clone();
                twice.extend(some.iter().cloned());
                let rows: Vec<RawRow> = texts.iter().map(|t| RawRow::parse(&t.text)).collect();
                for cols in [Cols::All, Cols::Some(&some), Cols::Some(&twice)] {
                    let shaper = Shaper::new(&ctx, &db);
                    let plan = RowPlan::new(table, cols.clone(), shaper.wants());
                    let filled = plan.fill(&rows);
                    shaper.fetch_names(plan.wanted_names(&filled, rows.len(), &shaper));
                    let reference = Shaper::new(&ctx, &db);
                    let mut scratch = String::new();
                    for (i, t) in texts.iter().enumerate() {
                        let stored = StoredRow {
                            id: t.id.clone(),
                            data: match serde_json::from_str(&t.text) {
                                Ok(Value::Object(o)) => o,
                                _ => serde_json::Map::new(),
                            },
                            version: t.version,
                            owner: None,
                            business_unit: None,
                        };
                        let mut expected = Vec::new();
                        reference.write_row(table, &crate::api::crud::into_etag(stored), cols.clone(), &mut expected);
                        let mut written = Vec::new();
                        plan.write(&shaper, &rows, &filled, i, t.version, &mut written, &mut scratch);
                        assert_eq!(
                            String::from_utf8_lossy(&written),
                            String::from_utf8_lossy(&expected),
                            "{name} {cols:?} {annotations:?} {}",
                            t.text
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000, "compared {compared}");
    }
}
