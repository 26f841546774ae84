//! One error type for the whole engine: a stable code plus a message that says what to fix.
//!
//! Codes follow Dataverse where Dataverse has one (the `errorCode` an `Xrm.WebApi` error callback receives is the
//! positive decimal of the hex code). Where Dataverse has none, the code lives in the `0x80A0xxxx` range, which
//! Dataverse does not use.

use std::fmt;

/// What went wrong, as a stable code. The hex values are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `0x80040217` ObjectDoesNotExist: no row with that id ("Record Not Found").
    RecordNotFound,
    /// `0x80040237` DuplicateRecord: a row with that id already exists.
    DuplicateRecord,
    /// `0x80041103` QueryBuilderNoAttribute: the table has no column of that name.
    AttributeNotFound,
    /// `0x80041102` QueryBuilderNoEntity: no table of that name in the schema.
    TableNotFound,
    /// `0x80060888` the OData query options could not be parsed or are not supported.
    InvalidQuery,
    /// `0x80041129` the FetchXML is not well formed or uses something not supported.
    InvalidFetchXml,
    /// `0x80040203` InvalidArgument: a value has the wrong type or is out of range.
    InvalidArgument,
    /// `0x80A00001` the table is not in the mobile offline profile (or cannot be offline).
    TableNotAvailableOffline,
    /// `0x80A00002` the offline profile breaks a rule (cycle, too many related tables, bad interval...).
    InvalidProfile,
    /// `0x80A00003` the table metadata could not be read.
    InvalidSchema,
    /// `0x80A00004` a JSON document (rows, options, response) could not be read.
    InvalidJson,
    /// `0x80A00005` the device's storage quota is exhausted; nothing was written.
    StorageFull,
    /// `0x80A00006` the local database failed (IndexedDB error other than a full disk).
    StorageError,
    /// `0x80A00007` the server could not be reached ("Network or Service Unavailable").
    NetworkUnavailable,
    /// `0x80A00008` the server answered with an error that carries no Dataverse code (a 5xx page, a proxy error).
    ServerError,
    /// `0x80040265` a pre hook rejected the write (Dataverse's code for a plug-in that cancels an operation).
    HookRejected,
    /// `0x80044182` hooks nested too deep (Dataverse's code for a workflow chain stopped as an infinite loop).
    HookDepthExceeded,
}

impl ErrorCode {
    /// The Dataverse-style hex value, e.g. `0x80040217`.
    pub fn hex(self) -> u32 {
        match self {
            ErrorCode::RecordNotFound => 0x8004_0217,
            ErrorCode::DuplicateRecord => 0x8004_0237,
            ErrorCode::AttributeNotFound => 0x8004_1103,
            ErrorCode::TableNotFound => 0x8004_1102,
            ErrorCode::InvalidQuery => 0x8006_0888,
            ErrorCode::InvalidFetchXml => 0x8004_1129,
            ErrorCode::InvalidArgument => 0x8004_0203,
            ErrorCode::TableNotAvailableOffline => 0x80A0_0001,
            ErrorCode::InvalidProfile => 0x80A0_0002,
            ErrorCode::InvalidSchema => 0x80A0_0003,
            ErrorCode::InvalidJson => 0x80A0_0004,
            ErrorCode::StorageFull => 0x80A0_0005,
            ErrorCode::StorageError => 0x80A0_0006,
            ErrorCode::NetworkUnavailable => 0x80A0_0007,
            ErrorCode::ServerError => 0x80A0_0008,
            ErrorCode::HookRejected => 0x8004_0265,
            ErrorCode::HookDepthExceeded => 0x8004_4182,
        }
    }

    /// The stable name, e.g. `RecordNotFound`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::RecordNotFound => "RecordNotFound",
            ErrorCode::DuplicateRecord => "DuplicateRecord",
            ErrorCode::AttributeNotFound => "AttributeNotFound",
            ErrorCode::TableNotFound => "TableNotFound",
            ErrorCode::InvalidQuery => "InvalidQuery",
            ErrorCode::InvalidFetchXml => "InvalidFetchXml",
            ErrorCode::InvalidArgument => "InvalidArgument",
            ErrorCode::TableNotAvailableOffline => "TableNotAvailableOffline",
            ErrorCode::InvalidProfile => "InvalidProfile",
            ErrorCode::InvalidSchema => "InvalidSchema",
            ErrorCode::InvalidJson => "InvalidJson",
            ErrorCode::StorageFull => "StorageFull",
            ErrorCode::StorageError => "StorageError",
            ErrorCode::NetworkUnavailable => "NetworkUnavailable",
            ErrorCode::ServerError => "ServerError",
            ErrorCode::HookRejected => "HookRejected",
            ErrorCode::HookDepthExceeded => "HookDepthExceeded",
        }
    }

    /// The hex code as Dataverse writes it in an error body: `"0x80040217"`.
    pub fn hex_string(self) -> String {
        format!("0x{:08x}", self.hex())
    }
}

/// An engine error: a stable [`ErrorCode`] and a message that names the item and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The stable code.
    pub code: ErrorCode,
    /// What is wrong, where, and what to do about it.
    pub message: String,
}

impl Error {
    /// A new error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }

    /// Shorthand for [`ErrorCode::InvalidQuery`].
    pub fn query(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidQuery, message)
    }

    /// Shorthand for [`ErrorCode::InvalidFetchXml`].
    pub fn fetchxml(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidFetchXml, message)
    }

    /// Shorthand for [`ErrorCode::InvalidArgument`].
    pub fn argument(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorCode::InvalidProfile`].
    pub fn profile(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidProfile, message)
    }

    /// Shorthand for [`ErrorCode::InvalidSchema`].
    pub fn schema(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidSchema, message)
    }

    /// The Dataverse Web API error body: `{"error":{"code":"0x...","message":"..."}}`.
    pub fn to_dataverse_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code.hex_string(), "message": self.message } })
    }

    /// The JSON the command-line tool prints: name, decimal code as Xrm reports it, and message.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "errorCode": self.code.hex(),
            "name": self.code.name(),
            "message": self.message,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code.name(), self.code.hex_string(), self.message)
    }
}

impl std::error::Error for Error {}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_dataverse_decimals() {
        // 0x80040217 is what Xrm.WebApi reports as errorCode 2147746327 for "Record Not Found".
        assert_eq!(ErrorCode::RecordNotFound.hex(), 2_147_746_327);
        assert_eq!(ErrorCode::RecordNotFound.hex_string(), "0x80040217");
        let e = Error::new(ErrorCode::DuplicateRecord, "dup");
        assert_eq!(e.to_dataverse_json()["error"]["code"], "0x80040237");
        assert_eq!(e.to_json()["errorCode"], 2_147_746_359u32);
    }
}
