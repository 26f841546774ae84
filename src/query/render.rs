//! PLACEHOLDER (being written): plans back to FetchXML and OData text.
