//! PLACEHOLDER (being written): mobile offline profiles.
