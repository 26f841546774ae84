//! Bearer tokens mapped to system users, and read/write access by role depth.
//!
//! Security roles are simplified to one depth per role for user-owned tables (see [`Role`]); organisation-owned
//! and business-owned tables are readable by every user and writable by administrators and dispatchers only.

use std::collections::HashMap;
use std::sync::RwLock;

use xrm_offline::schema::{OwnershipType, TableDef};

use crate::api::error::ApiError;
use crate::http::Request;
use crate::seed::users::{self, Role};
use crate::store::{Access, Db};

/// The signed-in user of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// systemuserid.
    pub id: String,
    /// Full name.
    pub fullname: String,
    /// Business unit id.
    pub business_unit: String,
    /// Ids of the teams the user belongs to.
    pub teams: Vec<String>,
    /// Role.
    pub role: Role,
}

/// User-owned tables every role reads at organisation depth (configuration data the Field Service roles read
/// organisation-wide: booking statuses, bookable resources).
pub const REFERENCE_TABLES: &[&str] = &["bookingstatus", "bookableresource"];

/// Depth of a privilege on user-owned tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Rows owned by the user or the user's teams.
    User,
    /// Rows of the user's business unit.
    BusinessUnit,
    /// Every row.
    Organization,
}

impl Principal {
    /// The depth of this user's role on user-owned tables.
    pub fn depth(&self) -> Depth {
        match self.role {
            Role::SystemAdministrator | Role::Dispatcher => Depth::Organization,
            Role::Technician => Depth::BusinessUnit,
            Role::Salesperson => Depth::User,
        }
    }

    /// Which rows of `table` this user reads.
    pub fn read_access(&self, table: &TableDef) -> Access {
        if table.ownership != OwnershipType::UserOwned || REFERENCE_TABLES.contains(&table.logical_name.as_str()) {
            return Access::All;
        }
        match self.depth() {
            Depth::Organization => Access::All,
            Depth::BusinessUnit => Access::BusinessUnits(vec![self.business_unit.clone()]),
            Depth::User => {
                let mut ids = vec![self.id.clone()];
                ids.extend(self.teams.iter().cloned());
                Access::Owners(ids)
            }
        }
    }

    /// Whether this user may create, change or delete rows of a table that are not user-owned.
    pub fn can_write_unowned(&self) -> bool {
        matches!(self.role, Role::SystemAdministrator | Role::Dispatcher)
    }

    /// Checks the write privilege on a row of `table` with this owner and business unit.
    pub fn check_write(
        &self,
        table: &TableDef,
        owner: Option<&str>,
        bu: Option<&str>,
        privilege: &str,
    ) -> Result<(), ApiError> {
        let ok = if REFERENCE_TABLES.contains(&table.logical_name.as_str()) {
            self.can_write_unowned()
        } else if table.ownership == OwnershipType::UserOwned {
            self.read_access(table).allows(owner, bu)
        } else {
            self.can_write_unowned()
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::privilege(&self.id, &format!("{privilege}{}", table.logical_name), &table.logical_name))
        }
    }
}

/// Tokens to users.
pub struct Auth {
    tokens: RwLock<HashMap<String, String>>,
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

impl Auth {
    /// The seeded users' fixed tokens.
    pub fn new() -> Auth {
        let tokens = users::USERS.iter().map(|u| (u.token.to_string(), users::user_id(u.key))).collect();
        Auth { tokens: RwLock::new(tokens) }
    }

    /// Adds a token for a user (`--token NAME=TOKEN`): NAME is a seeded user's key, domain name or id, or the
    /// domain name or id of a user in the database.
    pub fn add(&self, name: &str, token: &str, db: &Db) -> Result<String, String> {
        let id = resolve_user(name, db).ok_or_else(|| format!("--token {name}=...: no system user named '{name}'"))?;
        if let Ok(mut t) = self.tokens.write() {
            t.insert(token.to_string(), id.clone());
        }
        Ok(id)
    }

    /// The user of a request, or a 401 in Dataverse's shape.
    pub fn authenticate(&self, req: &Request, db: &Db) -> Result<Principal, ApiError> {
        let Some(header) = req.header("authorization") else {
            return Err(unauthorized("The request has no Authorization header: send 'Authorization: Bearer <token>'."));
        };
        let token = match header.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => return Err(unauthorized("The Authorization header must be 'Bearer <token>'.")),
        };
        let id = self.tokens.read().ok().and_then(|t| t.get(token).cloned());
        let Some(id) = id else {
            return Err(unauthorized("The user is not a member of the organization."));
        };
        load_principal(&id, db).ok_or_else(|| unauthorized("The user is not a member of the organization."))
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(401, "0x80072560", message)
}

fn resolve_user(name: &str, db: &Db) -> Option<String> {
    if let Some(u) = users::USERS
        .iter()
        .find(|u| u.key == name || users::domain_name(u.key) == name || users::user_id(u.key) == name)
    {
        return Some(users::user_id(u.key));
    }
    let lower = name.to_ascii_lowercase();
    if db.exists("systemuser", &lower).ok()? {
        return Some(lower);
    }
    db.find_by("systemuser", "domainname", name).ok()?.into_iter().next().map(|r| r.id)
}

/// Reads a user from the database (falling back to the seeded constants when the database is empty).
pub fn load_principal(id: &str, db: &Db) -> Option<Principal> {
    let seeded = users::seeded_user(id);
    let row = db.get("systemuser", id).ok().flatten();
    let (fullname, business_unit) = match (&row, seeded) {
        (Some(r), _) => (
            r.data.get("fullname").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            r.data.get("_businessunitid_value").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        ),
        (None, Some(u)) => (format!("{} {}", u.first, u.last), users::bu_id(u.bu)),
        (None, None) => return None,
    };
    if row.as_ref().is_some_and(|r| r.data.get("isdisabled").and_then(|v| v.as_bool()) == Some(true)) {
        return None;
    }
    let mut teams: Vec<String> = db
        .find_by("teammembership", "_systemuserid_value", id)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.data.get("_teamid_value").and_then(|v| v.as_str()).map(str::to_string))
        .collect();
    if teams.is_empty() {
        if let Some(u) = seeded {
            teams.push(users::team_id(u.bu));
        }
    }
    let role = seeded.map(|u| u.role).unwrap_or(Role::Salesperson);
    Some(Principal { id: id.to_string(), fullname, business_unit, teams, role })
}
