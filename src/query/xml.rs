//! PLACEHOLDER (being written): a small XML reader for FetchXML.
