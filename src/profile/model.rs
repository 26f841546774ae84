//! The profile model: a list of items, one per table, each with a row filter and relationships to follow.

use crate::query::plan::{Condition, Filter, Operator};

/// The default sync interval of an item, in minutes (Field Service's default).
pub const DEFAULT_SYNC_INTERVAL_MINUTES: u32 = 5;
/// The shortest sync interval allowed, in minutes.
pub const MIN_SYNC_INTERVAL_MINUTES: u32 = 5;
/// The longest sync interval allowed, in minutes (one day).
pub const MAX_SYNC_INTERVAL_MINUTES: u32 = 1440;
/// The most related tables one item may reach, counted transitively.
pub const MAX_RELATED_TABLES: usize = 15;
/// The most `<condition>` elements a custom filter may hold.
pub const MAX_FILTER_CONDITIONS: usize = 500;

/// A mobile offline profile: which rows of which tables a device downloads, and how often.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// `mobileofflineprofileid`, when the profile came from (or is meant for) a Dataverse organisation.
    pub id: Option<String>,
    /// Display name (`Field Service Mobile - Offline Profile`).
    pub name: String,
    /// One item per table.
    pub items: Vec<ProfileItem>,
}

/// One table of a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileItem {
    /// `mobileofflineprofileitemid`, when known.
    pub id: Option<String>,
    /// Table logical name.
    pub table: String,
    /// Which rows of the table download by their own values.
    pub filter: ItemFilter,
    /// Schema names of relationships between this table and other profile tables. Rows of this table that
    /// reference, or are referenced by, in-scope rows of the other table are in scope too (OR-ed with `filter`);
    /// this table depends on the other one, which syncs first.
    pub relationships: Vec<String>,
    /// How often the table syncs, 5..=1440 minutes.
    pub sync_interval_minutes: u32,
    /// The columns to download (`None`: all of them). The primary id always downloads.
    pub columns: Option<Vec<String>>,
}

impl ProfileItem {
    /// An item for `table` with `filter`, no relationships, the default interval and all columns.
    pub fn new(table: impl Into<String>, filter: ItemFilter) -> ProfileItem {
        ProfileItem {
            id: None,
            table: table.into(),
            filter,
            relationships: Vec::new(),
            sync_interval_minutes: DEFAULT_SYNC_INTERVAL_MINUTES,
            columns: None,
        }
    }

    /// Builder: adds relationships (schema names).
    pub fn with_relationships<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> ProfileItem {
        self.relationships.extend(names.into_iter().map(Into::into));
        self
    }

    /// Builder: sets the sync interval.
    pub fn with_interval(mut self, minutes: u32) -> ProfileItem {
        self.sync_interval_minutes = minutes;
        self
    }
}

/// The row filter of an item (`recorddistributioncriteria` in Dataverse).
#[derive(Debug, Clone, PartialEq)]
pub enum ItemFilter {
    /// Every row (`1`, "All records"). The linter warns about it.
    All,
    /// No row by its own values: only the rows the item's relationships bring in (`0`, "Related rows only").
    Related,
    /// Rows owned by the user, the user's teams or business unit (`2`, "Other data filter").
    Ownership(Ownership),
    /// Rows matching a FetchXML `<filter>` (`3`, "Custom data filter").
    Custom(CustomFilter),
}

/// Which owners an ownership filter selects (any of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ownership {
    /// Rows owned by the signed-in user (`recordsownedbyme`).
    pub me: bool,
    /// Rows owned by one of the user's teams (`recordsownedbymyteam`).
    pub teams: bool,
    /// Rows of the user's business unit (`recordsownedbymybusinessunit`).
    pub business_unit: bool,
}

/// A custom FetchXML filter: the text as written, and its parsed plan once the profile is prepared against a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFilter {
    /// The FetchXML: a `<filter>` element, or a `<fetch>` whose `<entity>` holds filters.
    pub fetchxml: String,
    /// The parsed filter: `None` until [`Profile::prepare`](crate::profile::Profile::prepare) succeeds. A filter
    /// without conditions is stored as an empty `And` (every row).
    pub plan: Option<Filter>,
}

impl CustomFilter {
    /// A filter from its FetchXML text, not parsed yet.
    pub fn new(fetchxml: impl Into<String>) -> CustomFilter {
        CustomFilter { fetchxml: fetchxml.into(), plan: None }
    }
}

/// Which rows of a table an item's own filter selects (before relationships add more).
#[derive(Debug, Clone, PartialEq)]
pub enum OwnRows {
    /// None: the item downloads only related rows.
    None,
    /// Every row.
    All,
    /// The rows matching this filter.
    Matching(Filter),
}

impl ItemFilter {
    /// The `recorddistributioncriteria` value: 0 related, 1 all, 2 other (ownership), 3 custom.
    pub fn distribution_criteria(&self) -> i64 {
        match self {
            ItemFilter::Related => 0,
            ItemFilter::All => 1,
            ItemFilter::Ownership(_) => 2,
            ItemFilter::Custom(_) => 3,
        }
    }

    /// The rows this filter selects, as a plan the evaluator (or the FetchXML renderer) can use. Ownership becomes
    /// `ownerid eq-userid` / `ownerid eq-userteams` / `owningbusinessunit eq-businessid`, OR-ed. A custom filter
    /// that has not been parsed yet selects nothing here: call [`Profile::prepare`](crate::profile::Profile::prepare)
    /// first.
    pub fn own_rows(&self) -> OwnRows {
        match self {
            ItemFilter::All => OwnRows::All,
            ItemFilter::Related => OwnRows::None,
            ItemFilter::Ownership(o) => {
                let mut any = Vec::new();
                let cond = |attribute: &str, operator| {
                    Filter::Condition(Condition {
                        entity: None,
                        attribute: attribute.to_string(),
                        operator,
                        values: Vec::new(),
                    })
                };
                if o.me {
                    any.push(cond("ownerid", Operator::EqUserId));
                }
                if o.teams {
                    any.push(cond("ownerid", Operator::EqUserTeams));
                }
                if o.business_unit {
                    any.push(cond("owningbusinessunit", Operator::EqBusinessId));
                }
                match any.len() {
                    0 => OwnRows::None,
                    1 => OwnRows::Matching(any.remove(0)),
                    _ => OwnRows::Matching(Filter::Or(any)),
                }
            }
            ItemFilter::Custom(c) => match &c.plan {
                Some(f) => OwnRows::Matching(f.clone()),
                None => OwnRows::None,
            },
        }
    }
}

impl Profile {
    /// The item of `table` (logical name, case-insensitive), if the profile has one.
    pub fn item(&self, table: &str) -> Option<&ProfileItem> {
        self.items.iter().find(|i| i.table.eq_ignore_ascii_case(table))
    }

    /// Whether `table` is in the profile (what `Xrm.WebApi.offline.isAvailableOffline` answers).
    pub fn is_available_offline(&self, table: &str) -> bool {
        self.item(table).is_some()
    }
}

/// How an item is named in messages: `items[3] (account)`.
pub(crate) fn item_label(index: usize, table: &str) -> String {
    if table.is_empty() {
        format!("items[{index}]")
    } else {
        format!("items[{index}] ({table})")
    }
}

/// A deterministic GUID from a text (two FNV-1a 64 hashes), for ids the Dataverse writer has to invent.
pub(crate) fn derived_guid(text: &str) -> String {
    fn fnv(seed: u64, text: &str) -> u64 {
        let mut h = seed;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
    let a = fnv(0xcbf2_9ce4_8422_2325, text);
    let b = fnv(0x8422_2325_cbf2_9ce4, &format!("{text}#"));
    // Version 8 (custom) and the RFC 4122 variant, so it parses as a GUID anywhere.
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_8000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_guids_are_stable_and_well_formed() {
        let g = derived_guid("x");
        assert_eq!(g, derived_guid("x"));
        assert_ne!(g, derived_guid("y"));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "8");
    }

    #[test]
    fn ownership_becomes_user_operators() {
        let f = ItemFilter::Ownership(Ownership { me: true, teams: false, business_unit: true });
        let OwnRows::Matching(Filter::Or(parts)) = f.own_rows() else { panic!("expected an OR") };
        assert_eq!(parts.len(), 2);
        assert_eq!(ItemFilter::Related.own_rows(), OwnRows::None);
        assert_eq!(ItemFilter::All.own_rows(), OwnRows::All);
    }
}
