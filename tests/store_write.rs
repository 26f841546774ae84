//! Offline write validation against the shipped Field Service schema: what the device accepts, what it refuses
//! (with which code), and the row it stores.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::json;
use xrm_offline::schema::field_service;
use xrm_offline::store::write::{prepare_create, prepare_update};
use xrm_offline::ErrorCode;

const NEW_ID: &str = "11111111-2222-4333-8444-555555555555";
const ACCOUNT: &str = "a0000000-0000-0000-0000-000000000001";

fn offline(t: &str) -> bool {
    t != "msdyn_rma"
}

#[test]
fn create_stores_lookups_in_the_web_api_shape_and_normalizes_dates() {
    let s = field_service();
    let w = prepare_create(
        &s,
        "contact",
        &json!({
            "fullname": "Ana Berg",
            "parentcustomerid": {"logicalname": "account", "id": "A0000000-0000-0000-0000-000000000001"},
            "birthdate": "1990-04-01T10:00:00+02:00",
        }),
        NEW_ID,
        &offline,
    )
    .unwrap();
    assert_eq!(w.id, NEW_ID);
    assert_eq!(w.row["contactid"], NEW_ID);
    assert_eq!(w.row["_parentcustomerid_value"], ACCOUNT);
    assert_eq!(w.row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"], "account");
    assert_eq!(
        w.row["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"],
        "parentcustomerid_account"
    );
    assert_eq!(w.row["birthdate"], "1990-04-01T08:00:00Z");
    assert!(w.changes.get("contactid").is_none(), "the id is not a changed column");
}

#[test]
fn create_keeps_a_client_supplied_id() {
    let s = field_service();
    let w = prepare_create(&s, "account", &json!({"accountid": ACCOUNT.to_uppercase(), "name": "X"}), NEW_ID, &offline)
        .unwrap();
    assert_eq!(w.id, ACCOUNT);
}

#[test]
fn refusals_carry_codes_and_say_what_to_write() {
    let s = field_service();
    let cases = [
        (json!({"nosuch": 1}), ErrorCode::AttributeNotFound, "nosuch"),
        (json!({"Name": "x"}), ErrorCode::AttributeNotFound, "lower case"),
        (json!({"primarycontactid@odata.bind": "/contacts(x)"}), ErrorCode::InvalidArgument, "logicalname"),
        (json!({"_primarycontactid_value": ACCOUNT}), ErrorCode::AttributeNotFound, "logicalname"),
        (json!({"name": 5}), ErrorCode::InvalidArgument, "a string"),
        (json!({"numberofemployees": 1.5}), ErrorCode::InvalidArgument, "whole number"),
        (json!({"numberofemployees": 4_000_000_000i64}), ErrorCode::InvalidArgument, "32-bit"),
        (json!({"customertypecode": 123456}), ErrorCode::InvalidArgument, "valid options"),
        (json!({"createdon": "yesterday"}), ErrorCode::InvalidArgument, "ISO 8601"),
        (json!({"primarycontactid": ACCOUNT}), ErrorCode::InvalidArgument, "logicalname"),
        (json!({"primarycontactid": {"logicalname": "account", "id": ACCOUNT}}), ErrorCode::InvalidArgument, "contact"),
        (json!({"primarycontactid": {"logicalname": "contact", "id": "nope"}}), ErrorCode::InvalidArgument, "GUID"),
        (json!({"accountid": "nope"}), ErrorCode::InvalidArgument, "GUID"),
    ];
    for (record, code, hint) in cases {
        let e = prepare_create(&s, "account", &record, NEW_ID, &offline).unwrap_err();
        assert_eq!(e.code, code, "{record}: {}", e.message);
        assert!(e.message.contains(hint), "{record}: '{}' should mention '{hint}'", e.message);
    }
    let e = prepare_create(
        &s,
        "msdyn_workorder",
        &json!({"msdyn_serviceaccount": {"logicalname": "account", "id": ACCOUNT}}),
        NEW_ID,
        &|t: &str| t != "account",
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::TableNotAvailableOffline);
    assert_eq!(
        prepare_create(&s, "nosuchtable", &json!({}), NEW_ID, &offline).unwrap_err().code,
        ErrorCode::TableNotFound
    );
    assert_eq!(
        prepare_create(&s, "account", &json!([1]), NEW_ID, &offline).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}

#[test]
fn update_lists_only_columns_that_change_and_clears_lookup_annotations() {
    let s = field_service();
    let existing = prepare_create(
        &s,
        "account",
        &json!({"name": "Contoso", "telephone1": "1", "primarycontactid": {"logicalname": "contact", "id": NEW_ID, "name": "Ana"}}),
        ACCOUNT,
        &offline,
    )
    .unwrap()
    .row;
    assert_eq!(existing["_primarycontactid_value@OData.Community.Display.V1.FormattedValue"], "Ana");
    let w = prepare_update(
        &s,
        "account",
        &existing,
        &json!({"name": "Contoso", "telephone1": "2", "primarycontactid": null}),
        &offline,
    )
    .unwrap();
    let mut changed: Vec<&str> = w.changes.keys().map(String::as_str).collect();
    changed.sort_unstable();
    assert_eq!(changed, vec!["_primarycontactid_value", "telephone1"]);
    assert_eq!(w.row["telephone1"], "2");
    assert!(w.row["_primarycontactid_value"].is_null());
    assert!(w.row.keys().all(|k| !k.starts_with("_primarycontactid_value@")), "{:?}", w.row.keys());
    let e = prepare_update(&s, "account", &existing, &json!({"accountid": NEW_ID}), &offline).unwrap_err();
    assert!(e.message.contains("can't be changed"));
}
