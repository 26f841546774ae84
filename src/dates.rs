//! PLACEHOLDER (being written): civil dates, RFC 3339, local day boundaries.
