//! Sync errors: the `syncerror`-shaped record kept when the server rejects a change or a conflict is settled in
//! the server's favour. They can be listed, retried (the change is kept in `actiondata`) and discarded.

use serde::Serialize;
use serde_json::{json, Value};

use super::request::Request;
use super::upload::PendingChange;
use crate::dates;
use crate::read::{self, Fields, Read};

/// `errortype` of a conflict (the server row changed; the server's version was kept).
pub const CONFLICT: u8 = 0;
/// `errortype` of a row missing on the server.
pub const RECORD_NOT_FOUND: u8 = 1;
/// `errortype` of a row that already exists.
pub const ALREADY_EXISTS: u8 = 2;
/// `errortype` of any other rejection.
pub const OTHER: u8 = 3;

/// `statecode` of an error still to look at.
pub const ACTIVE: u8 = 0;
/// `statecode` of an error retried or discarded.
pub const RESOLVED: u8 = 1;

/// Dataverse's code for an `If-Match` mismatch ("The version of the existing record doesn't match").
pub const CONCURRENCY_VERSION_MISMATCH: &str = "0x80060882";

/// The row an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regarding {
    /// Table logical name.
    pub table: String,
    /// Row id.
    pub id: String,
}

/// A sync error, shaped like Dataverse's `syncerror` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncError {
    /// Id (derived from the change and the time, so recording the same failure twice gives one id).
    pub syncerrorid: String,
    /// `"<Action> of <table> <id> failed"`.
    pub name: String,
    /// `Create`, `Update` or `Delete`.
    pub action: String,
    /// The change itself (a [`PendingChange`]), so it can be retried.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub actiondata: Option<Value>,
    /// The request sent, as JSON text (`{"method","url","body"}`).
    pub requestdata: String,
    /// The Dataverse error code, hex (`0x80040217`).
    pub errorcode: String,
    /// The server's message.
    pub errormessage: String,
    /// More detail, when there is any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errordetail: Option<String>,
    /// 0 conflict, 1 record not found, 2 already exists, 3 other.
    pub errortype: u8,
    /// When it happened (ISO 8601, UTC).
    pub errortime: String,
    /// The row concerned.
    pub regardingobjectid: Regarding,
    /// 0 active, 1 resolved.
    pub statecode: u8,
}

// `Deserialize` is written out (crate::read says why); the tests compare it with the derive.
impl Regarding {
    pub(crate) fn read(v: &Value) -> Read<Regarding> {
        let f = Fields::of(v, "Regarding")?;
        Ok(Regarding { table: f.with("table", read::string)?, id: f.with("id", read::string)? })
    }
}

impl SyncError {
    pub(crate) fn read(v: &Value) -> Read<SyncError> {
        let f = Fields::of(v, "SyncError")?;
        Ok(SyncError {
            syncerrorid: f.with("syncerrorid", read::string)?,
            name: f.with("name", read::string)?,
            action: f.with("action", read::string)?,
            actiondata: f.opt("actiondata", |v| Ok(v.clone()))?,
            requestdata: f.with("requestdata", read::string)?,
            errorcode: f.with("errorcode", read::string)?,
            errormessage: f.with("errormessage", read::string)?,
            errordetail: f.opt("errordetail", read::string)?,
            errortype: f.with("errortype", read::u8)?,
            errortime: f.with("errortime", read::string)?,
            regardingobjectid: f.with("regardingobjectid", Regarding::read)?,
            statecode: f.with("statecode", read::u8)?,
        })
    }
}

crate::deserialize_by_hand!(Regarding);
crate::deserialize_by_hand!(SyncError);

fn fnv(seed: u64, text: &str) -> u64 {
    text.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A GUID derived from text (two FNV-1a hashes), version 8.
fn derived_guid(text: &str) -> String {
    let a = (fnv(0xcbf2_9ce4_8422_2325, text) & 0xffff_ffff_ffff_0fff) | 0x8000;
    let b = (fnv(0x8422_2325_cbf2_9ce4, text) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

impl SyncError {
    /// The error for `change`, sent as `request`, failing with `errorcode` / `message` of `errortype` at `now_ms`.
    pub fn new(
        change: &PendingChange,
        request: &Request,
        errorcode: &str,
        message: &str,
        errortype: u8,
        now_ms: i64,
    ) -> SyncError {
        let requestdata = json!({"method": request.method.as_str(), "url": request.url, "body": request.body});
        let seqs: Vec<String> = change.seqs.iter().map(u64::to_string).collect();
        SyncError {
            syncerrorid: derived_guid(&format!("{}|{}|{}|{now_ms}", change.table, change.id, seqs.join(","))),
            name: format!("{} of {} {} failed", change.action.name(), change.table, change.id),
            action: change.action.name().to_string(),
            actiondata: serde_json::to_value(change).ok(),
            requestdata: requestdata.to_string(),
            errorcode: errorcode.to_string(),
            errormessage: message.to_string(),
            errordetail: None,
            errortype,
            errortime: dates::format_datetime(now_ms),
            regardingobjectid: Regarding { table: change.table.clone(), id: change.id.clone() },
            statecode: ACTIVE,
        }
    }

    /// The change to queue again when the user retries the error (`None` when `actiondata` is missing or not a
    /// change).
    pub fn change(&self) -> Option<PendingChange> {
        self.actiondata.as_ref().and_then(|v| PendingChange::read(v).ok())
    }

    /// The error marked resolved (after a retry or a discard).
    pub fn resolved(&self) -> SyncError {
        SyncError { statecode: RESOLVED, ..self.clone() }
    }
}
