//! The default profile evaluated over a small hand-made data set: which rows it keeps, and why.

use serde_json::json;
use xrm_offline::profile::{field_service_default, Profile};
use xrm_offline::query::{EvalContext, MemorySource};
use xrm_offline::schema::field_service;

const ME: &str = "11111111-1111-4111-8111-111111111111";
const SOMEONE: &str = "22222222-2222-4222-8222-222222222222";

fn data() -> MemorySource {
    let doc = json!({
        "systemuser": [{"systemuserid": ME, "fullname": "Tech"}, {"systemuserid": SOMEONE, "fullname": "Other"}],
        "bookableresource": [
            {"bookableresourceid": "r1", "name": "Tech", "_userid_value": ME},
            {"bookableresourceid": "r2", "name": "Other", "_userid_value": SOMEONE}],
        "bookingstatus": [{"bookingstatusid": "s1", "name": "Scheduled"}],
        "bookableresourcebooking": [
            // Mine, today: in.
            {"bookableresourcebookingid": "b1", "name": "today", "_resource_value": "r1", "_msdyn_workorder_value": "w1",
             "starttime": "2026-11-27T09:00:00Z", "endtime": "2026-11-27T10:00:00Z"},
            // Mine, in 20 days: out.
            {"bookableresourcebookingid": "b2", "name": "later", "_resource_value": "r1", "_msdyn_workorder_value": "w2",
             "starttime": "2026-12-17T09:00:00Z", "endtime": "2026-12-17T10:00:00Z"},
            // Someone else's, today: out.
            {"bookableresourcebookingid": "b3", "name": "theirs", "_resource_value": "r2", "_msdyn_workorder_value": "w3",
             "starttime": "2026-11-27T09:00:00Z", "endtime": "2026-11-27T10:00:00Z"}],
        "msdyn_workorder": [
            {"msdyn_workorderid": "w1", "msdyn_name": "WO1", "_msdyn_serviceaccount_value": "a1",
             "_msdyn_primaryincidenttype_value": "i1", "_msdyn_customerasset_value": "c1"},
            {"msdyn_workorderid": "w2", "msdyn_name": "WO2", "_msdyn_serviceaccount_value": "a2"},
            {"msdyn_workorderid": "w3", "msdyn_name": "WO3", "_msdyn_serviceaccount_value": "a2"}],
        "msdyn_workorderproduct": [
            {"msdyn_workorderproductid": "p1", "msdyn_name": "line", "_msdyn_workorder_value": "w1", "_msdyn_product_value": "pr1"},
            {"msdyn_workorderproductid": "p2", "msdyn_name": "line", "_msdyn_workorder_value": "w2", "_msdyn_product_value": "pr2"}],
        "msdyn_customerasset": [{"msdyn_customerassetid": "c1", "msdyn_name": "pump", "_msdyn_product_value": "pr3"},
                                {"msdyn_customerassetid": "c2", "msdyn_name": "other"}],
        "account": [{"accountid": "a1", "name": "Kept"}, {"accountid": "a2", "name": "Dropped"}],
        "contact": [{"contactid": "k1", "lastname": "A1 contact", "_parentcustomerid_value": "a1"},
                    {"contactid": "k2", "lastname": "A2 contact", "_parentcustomerid_value": "a2"}],
        "product": [{"productid": "pr1", "name": "used"}, {"productid": "pr2", "name": "unused"},
                    {"productid": "pr3", "name": "asset product"}],
        "msdyn_incidenttype": [{"msdyn_incidenttypeid": "i1", "msdyn_name": "Repair"}, {"msdyn_incidenttypeid": "i2", "msdyn_name": "Other"}]
    });
    MemorySource::from_json(&doc.to_string()).unwrap()
}

fn ctx() -> EvalContext {
    EvalContext {
        now_ms: 1_795_770_000_000, // 2026-11-27T09:00:00Z
        utc_offset_minutes: 0,
        user_id: Some(ME.into()),
        team_ids: Vec::new(),
        business_unit_id: None,
    }
}

#[test]
fn the_default_profile_keeps_the_technicians_week() {
    let schema = field_service();
    let mut p: Profile = field_service_default();
    p.prepare(&schema).unwrap();
    let scope = p.scope(&schema, &data(), &ctx()).unwrap_or_else(|e| panic!("{e}"));
    let ids = |t: &str| {
        let mut v: Vec<String> = scope.ids(t).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(ids("systemuser"), vec![ME.to_string()]);
    assert_eq!(ids("bookableresource"), vec!["r1"]);
    assert_eq!(ids("bookingstatus"), vec!["s1"]);
    assert_eq!(ids("bookableresourcebooking"), vec!["b1"]);
    assert_eq!(ids("msdyn_workorder"), vec!["w1"]);
    assert_eq!(ids("msdyn_workorderproduct"), vec!["p1"]);
    assert_eq!(ids("msdyn_customerasset"), vec!["c1"]);
    assert_eq!(ids("account"), vec!["a1"]);
    assert_eq!(ids("contact"), vec!["k1"]);
    assert_eq!(ids("product"), vec!["pr1", "pr3"]);
    assert_eq!(ids("msdyn_incidenttype"), vec!["i1"]);
    assert!(scope.contains("MSDYN_WORKORDER", "W1"));
    assert!(scope.ids("msdyn_rma").is_none());
}

#[test]
fn own_filter_and_relationships_are_or_ed() {
    let schema = field_service();
    let p = Profile::from_json(
        r#"{"name": "t", "items": [
        {"table": "msdyn_workorder", "filter": {"custom": "<filter><condition attribute=\"msdyn_name\" operator=\"eq\" value=\"WO3\"/></filter>"}},
        {"table": "account", "filter": {"custom": "<filter><condition attribute=\"name\" operator=\"eq\" value=\"Kept\"/></filter>"},
         "relationships": ["msdyn_account_msdyn_workorder_ServiceAccount"]}]}"#,
    )
    .unwrap();
    let scope = p.scope(&schema, &data(), &ctx()).unwrap_or_else(|e| panic!("{e}"));
    // a1 by its own filter, a2 through work order w3.
    assert_eq!(scope.len("account"), 2);
    assert_eq!(scope.len("msdyn_workorder"), 1);
}
