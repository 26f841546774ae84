//! The seeded organisation's fixed principals: business units, teams and users with their bearer tokens.

use crate::meta::build::guid_from;

/// A security role, simplified to a read/write depth per kind of table (see `auth.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Organisation depth on every table, all privileges.
    SystemAdministrator,
    /// Organisation depth on every table (Field Service - Dispatcher).
    Dispatcher,
    /// Business-unit depth on user-owned tables, read-only on organisation-owned ones (Field Service - Resource).
    Technician,
    /// User depth on user-owned tables (the user's and the user's teams' rows), read-only elsewhere.
    Salesperson,
}

impl Role {
    /// The role's name as documented.
    pub fn name(self) -> &'static str {
        match self {
            Role::SystemAdministrator => "System Administrator",
            Role::Dispatcher => "Field Service - Dispatcher",
            Role::Technician => "Field Service - Resource",
            Role::Salesperson => "Salesperson",
        }
    }
}

/// A seeded business unit: key, name, parent key.
pub const BUSINESS_UNITS: &[(&str, &str, Option<&str>)] =
    &[("root", "Contoso", None), ("north", "Contoso North", Some("root")), ("south", "Contoso South", Some("root"))];

/// A seeded user.
#[derive(Debug, Clone, Copy)]
pub struct SeedUser {
    /// Short key (`tech1`).
    pub key: &'static str,
    /// First and last name.
    pub first: &'static str,
    /// Last name.
    pub last: &'static str,
    /// Business unit key.
    pub bu: &'static str,
    /// Role.
    pub role: Role,
    /// Bearer token.
    pub token: &'static str,
}

/// The seeded users. Technicians have a bookable resource each.
pub const USERS: &[SeedUser] = &[
    SeedUser {
        key: "admin",
        first: "Avery",
        last: "Admin",
        bu: "root",
        role: Role::SystemAdministrator,
        token: "admin-token",
    },
    SeedUser {
        key: "dispatcher",
        first: "Dana",
        last: "Dispatch",
        bu: "root",
        role: Role::Dispatcher,
        token: "dispatcher-token",
    },
    SeedUser { key: "tech1", first: "Toni", last: "North", bu: "north", role: Role::Technician, token: "tech1-token" },
    SeedUser { key: "tech2", first: "Theo", last: "North", bu: "north", role: Role::Technician, token: "tech2-token" },
    SeedUser { key: "tech3", first: "Tara", last: "South", bu: "south", role: Role::Technician, token: "tech3-token" },
    SeedUser { key: "tech4", first: "Tom", last: "South", bu: "south", role: Role::Technician, token: "tech4-token" },
    SeedUser {
        key: "sales1",
        first: "Sam",
        last: "Sales",
        bu: "north",
        role: Role::Salesperson,
        token: "sales1-token",
    },
];

/// The organisation id WhoAmI returns.
pub fn organization_id() -> String {
    guid_from("seed:organization")
}

/// The id of a seeded business unit.
pub fn bu_id(key: &str) -> String {
    guid_from(&format!("seed:businessunit:{key}"))
}

/// The id of a business unit's default team.
pub fn team_id(bu_key: &str) -> String {
    guid_from(&format!("seed:team:{bu_key}"))
}

/// The id of a seeded user.
pub fn user_id(key: &str) -> String {
    guid_from(&format!("seed:systemuser:{key}"))
}

/// The domain name of a seeded user (`tech1@contoso.example`).
pub fn domain_name(key: &str) -> String {
    format!("{key}@contoso.example")
}

/// The seeded user with that id.
pub fn seeded_user(id: &str) -> Option<&'static SeedUser> {
    USERS.iter().find(|u| user_id(u.key) == id)
}
