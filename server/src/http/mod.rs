//! The HTTP layer: requests, responses and the connection loop, on `std::net` only.

pub mod request;
pub mod response;
pub mod server;

pub use request::Request;
pub use response::Response;
pub use server::{Handler, Outcome};
