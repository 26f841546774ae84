//! Errors as Dataverse returns them: an HTTP status plus `{"error":{"code":"0x...","message":"..."}}`.

use crate::http::Response;

/// A failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Dataverse hex code (`0x80040217`).
    pub code: &'static str,
    /// Message.
    pub message: String,
}

/// Result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// Any status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400, 0x80060888: the URL or the payload could not be read (OData's generic "bad request" code).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "0x80060888", message)
    }

    /// 400, 0x80040203: a value is invalid.
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "0x80040203", message)
    }

    /// 404, 0x80040217: `{table} With Id = {id} Does Not Exist`.
    pub fn not_found(table: &str, id: &str) -> ApiError {
        ApiError::new(404, "0x80040217", format!("{table} With Id = {id} Does Not Exist"))
    }

    /// 404, 0x80060888: the URL names no resource.
    pub fn no_resource(path: &str) -> ApiError {
        ApiError::new(404, "0x80060888", format!("Resource not found for the segment '{path}'."))
    }

    /// 405: method not allowed on that resource.
    pub fn method(method: &str) -> ApiError {
        ApiError::new(405, "0x80060888", format!("The HTTP method '{method}' is not allowed for this resource."))
    }

    /// 500: storage failure.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "0x80044150", message)
    }

    /// 403, 0x80040220: the caller's role lacks the privilege.
    pub fn privilege(user_id: &str, privilege: &str, table: &str) -> ApiError {
        ApiError::new(
            403,
            "0x80040220",
            format!(
                "Principal user (Id={user_id}, type=8) is missing {privilege} privilege on entity '{table}'. \
                 Consider adding the privilege to one of the user's security roles."
            ),
        )
    }

    /// 412, 0x80060882: If-Match did not match.
    pub fn version_mismatch() -> ApiError {
        ApiError::new(
            412,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    }

    /// 412, 0x80040237: the row already exists (create with an existing id, If-None-Match: *).
    pub fn duplicate() -> ApiError {
        ApiError::new(412, "0x80040237", "A record with matching key values already exists.")
    }

    /// The response carrying this error.
    pub fn response(&self) -> Response {
        Response::error(self.status, self.code, &self.message)
    }
}

impl From<String> for ApiError {
    fn from(message: String) -> ApiError {
        ApiError::internal(message)
    }
}

impl From<xrm_offline::Error> for ApiError {
    fn from(e: xrm_offline::Error) -> ApiError {
        use xrm_offline::ErrorCode as C;
        let status = match e.code {
            C::RecordNotFound => 404,
            C::DuplicateRecord => 412,
            _ => 400,
        };
        let code: &'static str = match e.code {
            C::RecordNotFound => "0x80040217",
            C::DuplicateRecord => "0x80040237",
            C::AttributeNotFound => "0x80041103",
            C::TableNotFound => "0x80041102",
            C::InvalidQuery => "0x80060888",
            C::InvalidFetchXml => "0x80041129",
            C::InvalidArgument => "0x80040203",
            _ => "0x80040203",
        };
        ApiError::new(status, code, e.message)
    }
}
