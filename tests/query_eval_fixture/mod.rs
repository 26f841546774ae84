//! Shared fixture of the query evaluator tests: a small schema, a clock and hand-written rows.
#![allow(dead_code)]

use serde_json::{json, Map, Value};
use xrm_offline::query::plan::{Condition, Filter, Literal, Operator};
use xrm_offline::query::{EvalContext, MemorySource, Row};
use xrm_offline::schema::{AttributeDef, AttributeType, OwnershipType, Relationship, Schema, TableDef};

pub const USER: &str = "11111111-1111-1111-1111-111111111111";
pub const TEAM1: &str = "22222222-2222-2222-2222-222222222222";
pub const TEAM2: &str = "33333333-3333-3333-3333-333333333333";
pub const OTHER: &str = "44444444-4444-4444-4444-444444444444";
pub const BU1: &str = "55555555-5555-5555-5555-555555555555";
pub const BU2: &str = "66666666-6666-6666-6666-666666666666";

/// The GUID of test row `n` (the number is the last 12 digits).
pub fn g(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// A contact id.
pub fn c(n: u32) -> String {
    format!("cccccccc-0000-0000-0000-{n:012}")
}

pub fn attr(name: &str, t: &str) -> AttributeDef {
    AttributeDef {
        logical_name: name.to_string(),
        attribute_type: AttributeType::parse(t),
        targets: vec![],
        required: false,
        max_length: None,
        options: vec![],
        valid_for_create: true,
        valid_for_update: true,
    }
}

fn rel(schema: &str, one: &str, one_id: &str, many: &str, lookup: &str, coll: &str, single: &str) -> Relationship {
    Relationship {
        schema_name: schema.to_string(),
        metadata_id: format!("{schema}-id"),
        referenced_entity: one.to_string(),
        referenced_attribute: one_id.to_string(),
        referencing_entity: many.to_string(),
        referencing_attribute: lookup.to_string(),
        referenced_navigation: coll.to_string(),
        referencing_navigation: single.to_string(),
    }
}

pub fn schema() -> Schema {
    let mut industry = attr("industrycode", "Picklist");
    industry.options = vec![(1, "Zeta services".into()), (2, "Accounting".into()), (3, "Mining".into())];
    let account_contacts = rel(
        "contact_customer_accounts",
        "account",
        "accountid",
        "contact",
        "parentcustomerid",
        "contact_customer_accounts",
        "parentcustomerid_account",
    );
    let primary_contact = rel(
        "account_primary_contact",
        "contact",
        "contactid",
        "account",
        "primarycontactid",
        "account_primary_contact",
        "primarycontactid",
    );
    let account = TableDef::new(
        "account".into(),
        "accounts".into(),
        "accountid".into(),
        Some("name".into()),
        true,
        true,
        OwnershipType::UserOwned,
        vec![
            attr("accountid", "Uniqueidentifier"),
            attr("name", "String"),
            attr("description", "Memo"),
            attr("revenue", "Money"),
            attr("numberofemployees", "Integer"),
            industry,
            attr("donotemail", "Boolean"),
            attr("createdon", "DateTime"),
            attr("ownerid", "Owner"),
            attr("owningbusinessunit", "Lookup"),
            attr("primarycontactid", "Lookup"),
        ],
        vec![primary_contact.clone()],
        vec![account_contacts.clone()],
    );
    let contact = TableDef::new(
        "contact".into(),
        "contacts".into(),
        "contactid".into(),
        Some("fullname".into()),
        true,
        true,
        OwnershipType::UserOwned,
        vec![
            attr("contactid", "Uniqueidentifier"),
            attr("fullname", "String"),
            attr("parentcustomerid", "Customer"),
            attr("birthdate", "DateTime"),
            attr("numberofchildren", "Integer"),
        ],
        vec![account_contacts],
        vec![primary_contact],
    );
    Schema::new(vec![account, contact])
}

/// now = 2026-11-25T23:30:00Z for a user at UTC+2: the user's local date is already Thursday 2026-11-26 (01:30).
pub fn ctx() -> EvalContext {
    EvalContext {
        now_ms: xrm_offline::dates::parse_datetime("2026-11-25T23:30:00Z", 0).expect("valid"),
        utc_offset_minutes: 120,
        user_id: Some(USER.to_string()),
        team_ids: vec![TEAM1.to_string(), TEAM2.to_string()],
        business_unit_id: Some(BU1.to_string()),
    }
}

pub fn row(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn cond(attribute: &str, operator: Operator, values: Vec<Literal>) -> Filter {
    Filter::Condition(Condition { entity: None, attribute: attribute.to_string(), operator, values })
}

pub fn t(s: &str) -> Literal {
    Literal::Text(s.to_string())
}

/// The accounts of the comparison tests (see each test for the columns that matter).
pub fn accounts() -> Vec<Row> {
    vec![
        row(json!({"accountid": g(1), "name": "Alpha", "revenue": 100, "numberofemployees": 10, "industrycode": 1,
            "donotemail": true, "_ownerid_value": USER, "_owningbusinessunit_value": BU1,
            "_primarycontactid_value": c(1), "description": "First row", "@odata.etag": "W/\"1\"",
            "_primarycontactid_value@OData.Community.Display.V1.FormattedValue": "Ann",
            "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
            "_primarycontactid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "primarycontactid",
            "industrycode@OData.Community.Display.V1.FormattedValue": "Zeta services",
            "createdon": "2026-11-20T10:00:00Z"})),
        row(json!({"accountid": g(2), "name": "alpha", "revenue": 250.5, "numberofemployees": 20, "industrycode": 2,
            "donotemail": false, "_ownerid_value": TEAM1, "_primarycontactid_value": c(2),
            "createdon": "2026-11-26T08:00:00Z"})),
        row(json!({"accountid": g(3), "name": "Beta Corp", "numberofemployees": 30, "industrycode": 1,
            "donotemail": true, "_ownerid_value": TEAM2, "_primarycontactid_value": null,
            "createdon": "2026-11-25T22:00:00Z"})),
        row(json!({"accountid": g(4), "name": "Élan", "revenue": 1000, "numberofemployees": null, "industrycode": 3,
            "donotemail": null, "_ownerid_value": OTHER, "_owningbusinessunit_value": BU2})),
        row(json!({"accountid": g(5), "name": "100% Pure", "revenue": 0, "numberofemployees": -5,
            "industrycode": null, "donotemail": false, "_ownerid_value": USER.to_uppercase(),
            "createdon": "2026-11-25T21:00:00Z"})),
        row(json!({"accountid": g(6), "revenue": 42, "numberofemployees": 42, "industrycode": 2, "donotemail": true,
            "_ownerid_value": TEAM1})),
        row(json!({"accountid": g(7), "name": "gamma_ray", "revenue": "oops", "numberofemployees": 7,
            "industrycode": 1, "donotemail": "yes", "_ownerid_value": OTHER})),
        row(json!({"accountid": g(8), "name": 12, "revenue": 99.99, "numberofemployees": 8})),
    ]
}

/// Contacts: 1 and 2 belong to account 1, 3 to account 2, 4 to no account.
pub fn contacts() -> Vec<Row> {
    vec![
        row(json!({"contactid": c(1), "fullname": "Ann", "_parentcustomerid_value": g(1), "numberofchildren": 2,
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"})),
        row(json!({"contactid": c(2), "fullname": "Bob", "_parentcustomerid_value": g(1), "numberofchildren": 0})),
        row(json!({"contactid": c(3), "fullname": "Cid", "_parentcustomerid_value": g(2).to_uppercase()})),
        row(json!({"contactid": c(4), "fullname": "Dee", "_parentcustomerid_value": null, "numberofchildren": 1})),
    ]
}

pub fn source() -> MemorySource {
    let mut s = MemorySource::new();
    s.extend("account", accounts());
    s.extend("contact", contacts());
    s
}

/// The row number of a row's primary id (its last 12 digits).
pub fn num(row: &Row, id: &str) -> u32 {
    row.get(id).and_then(Value::as_str).and_then(|s| s.get(24..)).and_then(|s| s.parse().ok()).unwrap_or(0)
}
