//! Both loaders: the plain JSON form and the Dataverse representation as the Web API returns it, the detecting
//! loader, and a property test that no input makes them panic.

use proptest::prelude::*;
use serde_json::{json, Value};
use xrm_offline::profile::{to_dataverse_json, ItemFilter, Ownership, Profile};
use xrm_offline::schema::field_service;
use xrm_offline::ErrorCode;

fn rel_id(name: &str) -> String {
    field_service().relationship(name).map(|r| r.metadata_id.clone()).unwrap_or_default()
}

/// A profile row as `GET mobileofflineprofiles(<id>)?$select=...&$expand=MobileOfflineProfile_MobileOfflineProfileItem(...)`
/// returns it, and the association rows of a separate `mobileofflineprofileitemassociations` query.
fn web_api_profile() -> (Value, Vec<Value>) {
    let profile = json!({
        "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#mobileofflineprofiles(mobileofflineprofileid,name,publishedon,componentstate,isvalidated,MobileOfflineProfile_MobileOfflineProfileItem(mobileofflineprofileitemid,selectedentitytypecode,recorddistributioncriteria,recordsownedbyme,recordsownedbymyteam,recordsownedbymybusinessunit,syncintervalinminutes,selectedcolumns,profileitementityfilter))/$entity",
        "@odata.etag": "W/\"1234567\"",
        "mobileofflineprofileid": "0b9c1d2e-0000-4000-8000-000000000001",
        "name": "Technicians",
        "publishedon": "2024-03-01T10:00:00Z",
        "componentstate": 0,
        "isvalidated": true,
        "MobileOfflineProfile_MobileOfflineProfileItem": [
            {"@odata.etag": "W/\"1\"", "mobileofflineprofileitemid": "10000000-0000-4000-8000-000000000001",
             "selectedentitytypecode": "bookableresourcebooking", "recorddistributioncriteria": 3,
             "recordsownedbyme": false, "recordsownedbymyteam": false, "recordsownedbymybusinessunit": false,
             "syncintervalinminutes": 5, "selectedcolumns": null,
             "profileitementityfilter": "<fetch version=\"1.0\" mapping=\"logical\"><entity name=\"bookableresourcebooking\"><filter type=\"and\"><condition attribute=\"starttime\" operator=\"next-seven-days\" /></filter></entity></fetch>"},
            {"@odata.etag": "W/\"2\"", "mobileofflineprofileitemid": "10000000-0000-4000-8000-000000000002",
             "selectedentitytypecode": "msdyn_workorder", "recorddistributioncriteria": 0,
             "recordsownedbyme": null, "recordsownedbymyteam": null, "recordsownedbymybusinessunit": null,
             "syncintervalinminutes": 10, "selectedcolumns": "{\"Columns\":[\"msdyn_name\",\"msdyn_systemstatus\"]}",
             "profileitementityfilter": null},
            {"@odata.etag": "W/\"3\"", "mobileofflineprofileitemid": "10000000-0000-4000-8000-000000000003",
             "selectedentitytypecode": "account", "recorddistributioncriteria": 2,
             "recordsownedbyme": true, "recordsownedbymyteam": true, "recordsownedbymybusinessunit": false,
             "syncintervalinminutes": null, "selectedcolumns": null, "profileitementityfilter": null},
            {"@odata.etag": "W/\"4\"", "mobileofflineprofileitemid": "10000000-0000-4000-8000-000000000004",
             "selectedentitytypecode": "bookingstatus", "recorddistributioncriteria": 1,
             "syncintervalinminutes": 1440, "selectedcolumns": null, "profileitementityfilter": null}
        ]
    });
    let associations = vec![json!({
        "@odata.etag": "W/\"99\"",
        "mobileofflineprofileitemassociationid": "20000000-0000-4000-8000-000000000001",
        "_mobileofflineprofileitemid_value": "10000000-0000-4000-8000-000000000002",
        "relationshipid": rel_id("msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder").to_uppercase(),
        "name": "Work Order (Booking)"
    })];
    (profile, associations)
}

#[test]
fn reads_the_web_api_representation() {
    let schema = field_service();
    let (row, assoc) = web_api_profile();
    let mut p = Profile::from_dataverse(&row, &assoc, &schema).unwrap();
    assert_eq!(p.id.as_deref(), Some("0b9c1d2e-0000-4000-8000-000000000001"));
    assert_eq!(p.name, "Technicians");
    assert_eq!(p.items.len(), 4);
    let b = &p.items[0];
    assert!(matches!(&b.filter, ItemFilter::Custom(c) if c.fetchxml.starts_with("<fetch")));
    let wo = &p.items[1];
    assert_eq!(wo.filter, ItemFilter::Related);
    assert_eq!(wo.relationships, vec!["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder".to_string()]);
    assert_eq!(wo.sync_interval_minutes, 10);
    assert_eq!(wo.columns, Some(vec!["msdyn_name".to_string(), "msdyn_systemstatus".to_string()]));
    assert_eq!(p.items[2].filter, ItemFilter::Ownership(Ownership { me: true, teams: true, business_unit: false }));
    assert_eq!(p.items[2].sync_interval_minutes, 5, "null interval means the default");
    assert_eq!(p.items[3].filter, ItemFilter::All);
    p.prepare(&schema).unwrap();
}

#[test]
fn model_to_dataverse_to_model_round_trips() {
    let schema = field_service();
    let (row, assoc) = web_api_profile();
    let p = Profile::from_dataverse(&row, &assoc, &schema).unwrap();
    let dv = to_dataverse_json(&p, &schema).unwrap();
    assert_eq!(dv.associations.len(), 1);
    assert_eq!(dv.associations[0]["_mobileofflineprofileitemid_value"], "10000000-0000-4000-8000-000000000002");
    assert_eq!(
        dv.associations[0]["relationshipid"],
        json!(rel_id("msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"))
    );
    let items = dv.profile["MobileOfflineProfile_MobileOfflineProfileItem"].as_array().unwrap();
    assert_eq!(items[1]["selectedcolumns"], "{\"Columns\":[\"msdyn_name\",\"msdyn_systemstatus\"]}");
    assert_eq!(items[2]["recorddistributioncriteria"], 2);
    assert_eq!(items[2]["recordsownedbymyteam"], true);
    let back = Profile::from_dataverse(&dv.profile, &dv.associations, &schema).unwrap();
    assert_eq!(back, p);
    // The bundle form and the nested-associations form read the same.
    assert_eq!(Profile::from_dataverse_value(&dv.to_value(), &schema).unwrap(), p);
    let mut nested = dv.profile.clone();
    nested["MobileOfflineProfile_MobileOfflineProfileItem"][1]
        ["MobileOfflineProfileItem_MobileOfflineProfileItemAssociation"] = json!(dv.associations);
    assert_eq!(Profile::from_dataverse_value(&nested, &schema).unwrap(), p);
    assert_eq!(Profile::from_dataverse_value(&json!({"value": [nested]}), &schema).unwrap(), p);
}

#[test]
fn plain_json_round_trips_through_dataverse() {
    let schema = field_service();
    let p = Profile::from_json(
        r#"{"name": "p", "items": [
        {"table": "bookableresourcebooking", "filter": {"custom": "<filter><condition attribute=\"starttime\" operator=\"today\"/></filter>"}},
        {"table": "msdyn_workorder", "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"], "syncIntervalMinutes": 15},
        {"table": "account", "filter": {"ownership": ["businessunit"]}, "columns": ["name"]}]}"#,
    )
    .unwrap();
    let dv = to_dataverse_json(&p, &schema).unwrap();
    let mut back = Profile::from_dataverse_value(&dv.to_value(), &schema).unwrap();
    assert!(back.id.is_some(), "the writer invents a stable id");
    assert!(back.items.iter().all(|i| i.id.is_some()));
    back.id = None;
    back.items.iter_mut().for_each(|i| i.id = None);
    assert_eq!(back, p);
    assert_eq!(to_dataverse_json(&p, &schema).unwrap(), dv, "stable output");
}

#[test]
fn dataverse_errors_name_the_item() {
    let schema = field_service();
    let (mut row, mut assoc) = web_api_profile();
    row["MobileOfflineProfile_MobileOfflineProfileItem"][0]["recorddistributioncriteria"] = json!(7);
    row["MobileOfflineProfile_MobileOfflineProfileItem"][2]["selectedcolumns"] = json!("not json");
    assoc[0]["relationshipid"] = json!("00000000-0000-0000-0000-000000000000");
    let e: Vec<String> =
        Profile::from_dataverse(&row, &assoc, &schema).unwrap_err().into_iter().map(|e| e.message).collect();
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("items[0] (bookableresourcebooking): \"recorddistributioncriteria\" must be 0"),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("items[1] (msdyn_workorder): association 'Work Order (Booking)' names relationship id"),
        "{}",
        e[1]
    );
    assert!(e[2].starts_with("items[2] (account): \"selectedcolumns\""), "{}", e[2]);
    let (row, mut assoc) = web_api_profile();
    assoc[0]["_mobileofflineprofileitemid_value"] = json!("99999999-0000-4000-8000-000000000000");
    let e = Profile::from_dataverse(&row, &assoc, &schema).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "associations[0]: belongs to item '99999999-0000-4000-8000-000000000000', which is not an item of this profile"
    );
    let e = Profile::from_dataverse_value(&json!({"name": "x"}), &schema).unwrap_err();
    assert!(e[0].message.contains("MobileOfflineProfile_MobileOfflineProfileItem"));
}

#[test]
fn writer_refuses_unknown_relationships() {
    let schema = field_service();
    let p = Profile::from_json(r#"{"name": "p", "items": [{"table": "account", "relationships": ["nope"]}]}"#).unwrap();
    let e = to_dataverse_json(&p, &schema).unwrap_err();
    assert_eq!(e.message, "items[0] (account): relationship 'nope' is not in the schema, so it has no relationshipid");
}

#[test]
fn load_detects_the_form_and_validates() {
    let schema = field_service();
    let (row, assoc) = web_api_profile();
    let bundle = json!({"profile": row, "associations": assoc}).to_string();
    assert_eq!(Profile::load(&bundle, &schema).unwrap().name, "Technicians");
    let e = Profile::load(r#"{"name": "p", "items": [{"table": "msdyn_rma", "filter": "all"}]}"#, &schema).unwrap_err();
    assert_eq!(e[0].code, ErrorCode::TableNotAvailableOffline);
    let e = Profile::load("{", &schema).unwrap_err();
    assert_eq!(e[0].code, ErrorCode::InvalidJson);
    let e = Profile::load("[]", &schema).unwrap_err();
    assert_eq!(e[0].code, ErrorCode::InvalidProfile);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        prop_oneof![
            "[a-z_]{0,12}",
            Just("all".to_string()),
            Just("related".to_string()),
            Just("<filter><condition attribute=\"name\" operator=\"eq\" value=\"x\"/></filter>".to_string()),
            Just("{\"Columns\":[\"name\"]}".to_string()),
            Just("account".to_string()),
        ]
        .prop_map(Value::String),
    ];
    let keys = prop_oneof![
        Just("name"),
        Just("items"),
        Just("table"),
        Just("filter"),
        Just("relationships"),
        Just("syncIntervalMinutes"),
        Just("columns"),
        Just("custom"),
        Just("ownership"),
        Just("id"),
        Just("profile"),
        Just("associations"),
        Just("value"),
        Just("MobileOfflineProfile_MobileOfflineProfileItem"),
        Just("selectedentitytypecode"),
        Just("recorddistributioncriteria"),
        Just("selectedcolumns"),
        Just("syncintervalinminutes"),
        Just("profileitementityfilter"),
        Just("mobileofflineprofileitemid"),
        Just("_mobileofflineprofileitemid_value"),
        Just("relationshipid"),
        Just("recordsownedbyme"),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn shared_schema() -> &'static xrm_offline::schema::Schema {
    static SCHEMA: std::sync::OnceLock<xrm_offline::schema::Schema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(field_service)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn loaders_never_panic(doc in arb_json()) {
        let schema = shared_schema();
        let _ = Profile::from_json_value(&doc);
        let _ = Profile::from_dataverse_value(&doc, schema);
        let text = doc.to_string();
        if let Ok(mut p) = Profile::from_any_value(&doc, schema) {
            let _ = p.validate(schema);
            let _ = p.prepare(schema);
            let _ = p.lint(schema);
            let _ = p.sync_order(schema);
            let _ = to_dataverse_json(&p, schema);
        }
        let _ = Profile::load(&text, schema);
    }

    #[test]
    fn text_loaders_never_panic(text in "\\PC{0,200}") {
        let schema = shared_schema();
        let _ = Profile::from_json(&text);
        let _ = Profile::from_dataverse_json(&text, schema);
        let _ = Profile::load(&text, schema);
    }
}
