//! A small hand-made schema shared by the query parser tests: account, contact, msdyn_workorder.
#![allow(dead_code)]

use xrm_offline::schema::{AttributeDef, AttributeType, OwnershipType, Relationship, Schema, TableDef};

pub fn attr(name: &str, t: &str, targets: &[&str]) -> AttributeDef {
    AttributeDef {
        logical_name: name.to_string(),
        attribute_type: AttributeType::parse(t),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        required: false,
        max_length: None,
        options: Vec::new(),
        valid_for_create: true,
        valid_for_update: true,
    }
}

pub fn rel(
    name: &str,
    one: &str,
    one_key: &str,
    many: &str,
    lookup: &str,
    coll_nav: &str,
    single_nav: &str,
) -> Relationship {
    Relationship {
        schema_name: name.to_string(),
        metadata_id: format!("00000000-0000-0000-0000-{:012}", name.len()),
        referenced_entity: one.to_string(),
        referenced_attribute: one_key.to_string(),
        referencing_entity: many.to_string(),
        referencing_attribute: lookup.to_string(),
        referenced_navigation: coll_nav.to_string(),
        referencing_navigation: single_nav.to_string(),
    }
}

pub fn schema() -> Schema {
    let primary_contact = rel(
        "account_primary_contact",
        "contact",
        "contactid",
        "account",
        "primarycontactid",
        "account_primary_contact",
        "primarycontactid",
    );
    let customer = rel(
        "contact_customer_accounts",
        "account",
        "accountid",
        "contact",
        "parentcustomerid",
        "contact_customer_accounts",
        "parentcustomerid_account",
    );
    let service_account = rel(
        "msdyn_account_msdyn_workorder_ServiceAccount",
        "account",
        "accountid",
        "msdyn_workorder",
        "msdyn_serviceaccount",
        "msdyn_account_msdyn_workorder_ServiceAccount",
        "msdyn_serviceaccount",
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
            attr("accountid", "Uniqueidentifier", &[]),
            attr("name", "String", &[]),
            attr("description", "Memo", &[]),
            attr("revenue", "Money", &[]),
            attr("numberofemployees", "Integer", &[]),
            attr("exchangerate", "Decimal", &[]),
            attr("donotphone", "Boolean", &[]),
            attr("statecode", "State", &[]),
            attr("industrycode", "Picklist", &[]),
            attr("createdon", "DateTime", &[]),
            attr("primarycontactid", "Lookup", &["contact"]),
            attr("ownerid", "Owner", &["systemuser", "team"]),
            attr("owningbusinessunit", "Lookup", &["businessunit"]),
        ],
        vec![primary_contact.clone()],
        vec![customer.clone(), service_account.clone()],
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
            attr("contactid", "Uniqueidentifier", &[]),
            attr("fullname", "String", &[]),
            attr("birthdate", "DateTime", &[]),
            attr("numberofchildren", "Integer", &[]),
            attr("parentcustomerid", "Customer", &["account", "contact"]),
            attr("ownerid", "Owner", &["systemuser", "team"]),
        ],
        vec![customer],
        vec![primary_contact],
    );
    let workorder = TableDef::new(
        "msdyn_workorder".into(),
        "msdyn_workorders".into(),
        "msdyn_workorderid".into(),
        Some("msdyn_name".into()),
        true,
        true,
        OwnershipType::UserOwned,
        vec![
            attr("msdyn_workorderid", "Uniqueidentifier", &[]),
            attr("msdyn_name", "String", &[]),
            attr("msdyn_serviceaccount", "Lookup", &["account"]),
            attr("msdyn_timefrompromised", "DateTime", &[]),
            attr("msdyn_priority", "Picklist", &[]),
        ],
        vec![service_account],
        vec![],
    );
    Schema::new(vec![account, contact, workorder])
}
