//! The shipped Field Service default profile validates against the shipped schema, lints as documented, and
//! round-trips through the Dataverse representation.

use xrm_offline::profile::{codes, field_service_default, to_dataverse_json, ItemFilter, OwnRows, Profile};
use xrm_offline::schema::field_service;

#[test]
fn validates_with_no_errors_and_prepares_every_custom_filter() {
    let schema = field_service();
    let mut p = field_service_default();
    assert_eq!(p.name, "Field Service Mobile - Offline Profile");
    assert_eq!(p.validate(&schema), vec![], "the default profile must be valid");
    p.prepare(&schema).unwrap();
    for item in &p.items {
        if let ItemFilter::Custom(c) = &item.filter {
            assert!(c.plan.is_some(), "{}: custom filter not parsed", item.table);
            assert!(matches!(item.filter.own_rows(), OwnRows::Matching(_)));
        }
    }
}

#[test]
fn lints_only_the_documented_warning() {
    let schema = field_service();
    let p = Profile::load(xrm_offline::profile::FIELD_SERVICE_PROFILE_JSON, &schema).unwrap();
    let warnings = p.lint(&schema);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, codes::ALL_ROWS);
    assert_eq!(warnings[0].table, "bookingstatus");
}

#[test]
fn bookings_sync_before_work_orders_before_their_lines() {
    let schema = field_service();
    let p = field_service_default();
    let order: Vec<&str> = p.sync_order(&schema).into_iter().map(|i| p.items[i].table.as_str()).collect();
    let pos = |t: &str| order.iter().position(|x| *x == t).unwrap();
    assert!(pos("bookableresourcebooking") < pos("msdyn_workorder"));
    assert!(pos("msdyn_workorder") < pos("msdyn_workorderproduct"));
    assert!(pos("msdyn_workorderproduct") < pos("product"));
    assert!(pos("msdyn_workorderservice") < pos("product"));
    assert!(pos("msdyn_workorder") < pos("account"));
    assert!(pos("account") < pos("contact"));
    assert_eq!(order.len(), p.items.len());
}

#[test]
fn round_trips_through_the_dataverse_representation() {
    let schema = field_service();
    let p = field_service_default();
    let dv = to_dataverse_json(&p, &schema).unwrap();
    let text = dv.to_value().to_string();
    let back = Profile::from_dataverse_json(&text, &schema).unwrap();
    assert_eq!(back.name, p.name);
    assert_eq!(back.id, p.id);
    assert_eq!(back.items.len(), p.items.len());
    for (a, b) in p.items.iter().zip(&back.items) {
        assert_eq!(a.table, b.table);
        assert_eq!(a.filter, b.filter);
        assert_eq!(a.relationships, b.relationships);
        assert_eq!(a.sync_interval_minutes, b.sync_interval_minutes);
        assert_eq!(a.columns, b.columns);
        assert!(b.id.is_some());
    }
    // Loading the Dataverse form through the detecting loader gives the same profile.
    assert_eq!(Profile::load(&text, &schema).unwrap().items.len(), p.items.len());
}
