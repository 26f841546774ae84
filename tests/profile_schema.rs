//! The shipped Field Service schema (`schema/fieldservice.json`, written by `tools/gen-schema.mjs`) loads and has
//! the tables, columns and relationships the rest of the engine relies on.

use xrm_offline::schema::{field_service, AttributeType, OwnershipType};

#[test]
fn has_every_table_with_its_entity_set() {
    let s = field_service();
    let expected = [
        ("systemuser", "systemusers"),
        ("team", "teams"),
        ("businessunit", "businessunits"),
        ("account", "accounts"),
        ("contact", "contacts"),
        ("msdyn_customerasset", "msdyn_customerassets"),
        ("product", "products"),
        ("msdyn_incidenttype", "msdyn_incidenttypes"),
        ("msdyn_workorder", "msdyn_workorders"),
        ("msdyn_workorderproduct", "msdyn_workorderproducts"),
        ("msdyn_workorderservice", "msdyn_workorderservices"),
        ("msdyn_workorderservicetask", "msdyn_workorderservicetasks"),
        ("bookableresource", "bookableresources"),
        ("bookableresourcebooking", "bookableresourcebookings"),
        ("bookingstatus", "bookingstatuses"),
        ("msdyn_purchaseorder", "msdyn_purchaseorders"),
        ("msdyn_agreement", "msdyn_agreements"),
        ("msdyn_rtv", "msdyn_rtvs"),
        ("msdyn_rma", "msdyn_rmas"),
    ];
    assert_eq!(s.tables().len(), expected.len());
    for (name, set) in expected {
        let t = s.table(name).unwrap_or_else(|| panic!("missing table {name}"));
        assert_eq!(t.entity_set_name, set);
        assert_eq!(t.primary_id_attribute, format!("{name}id"));
        assert!(t.change_tracking_enabled, "{name} must have change tracking");
        assert_eq!(s.table_by_set(set).map(|t| t.logical_name.as_str()), Some(name));
    }
}

#[test]
fn not_offline_capable_tables_are_flagged() {
    let s = field_service();
    for name in ["msdyn_purchaseorder", "msdyn_agreement", "msdyn_rtv", "msdyn_rma"] {
        assert!(!s.table(name).unwrap().is_available_offline, "{name} must not be offline-capable");
    }
    for t in s.tables().iter().filter(|t| {
        !["msdyn_purchaseorder", "msdyn_agreement", "msdyn_rtv", "msdyn_rma"].contains(&t.logical_name.as_str())
    }) {
        assert!(t.is_available_offline, "{} must be offline-capable", t.logical_name);
    }
}

#[test]
fn work_order_columns() {
    let s = field_service();
    let wo = s.table("msdyn_workorder").unwrap();
    assert_eq!(wo.primary_name_attribute.as_deref(), Some("msdyn_name"));
    assert_eq!(wo.ownership, OwnershipType::UserOwned);
    let status = wo.attribute("msdyn_systemstatus").unwrap();
    assert_eq!(status.attribute_type, AttributeType::Picklist);
    assert_eq!(status.option_label(690970000), Some("Unscheduled"));
    assert_eq!(status.option_label(690970005), Some("Canceled"));
    let name = wo.attribute("msdyn_name").unwrap();
    assert!(name.required);
    assert_eq!(name.max_length, Some(100));
    let account = wo.attribute("msdyn_serviceaccount").unwrap();
    assert_eq!(account.targets, vec!["account".to_string()]);
    assert_eq!(account.row_key(), "_msdyn_serviceaccount_value");
    let owner = wo.attribute("ownerid").unwrap();
    assert_eq!(owner.attribute_type, AttributeType::Owner);
    assert_eq!(owner.targets, vec!["systemuser".to_string(), "team".to_string()]);
    assert_eq!(wo.attribute("versionnumber").unwrap().attribute_type, AttributeType::BigInt);
    assert!(!wo.attribute("createdon").unwrap().valid_for_create);
    assert_eq!(wo.attribute("statecode").unwrap().attribute_type, AttributeType::State);
    assert_eq!(wo.attribute("statuscode").unwrap().attribute_type, AttributeType::Status);
}

#[test]
fn every_main_table_has_a_required_text_column_with_a_max_length() {
    let s = field_service();
    for t in s.tables() {
        let ok = t
            .attributes
            .iter()
            .any(|a| a.required && a.attribute_type == AttributeType::String && a.max_length.is_some());
        assert!(ok, "{} has no required text column with a MaxLength", t.logical_name);
    }
}

#[test]
fn relationships_are_listed_on_both_sides() {
    let s = field_service();
    let booking = s.table("bookableresourcebooking").unwrap();
    let wo = s.table("msdyn_workorder").unwrap();
    let r = booking.relationship("msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder").unwrap();
    assert_eq!(r.referencing_entity, "bookableresourcebooking");
    assert_eq!(r.referencing_attribute, "msdyn_workorder");
    assert_eq!(r.referenced_entity, "msdyn_workorder");
    assert_eq!(r.referenced_attribute, "msdyn_workorderid");
    assert!(wo.one_to_many.iter().any(|o| o == r), "the work order lists the booking relationship too");
    assert_eq!(s.relationship_by_id(&r.metadata_id).map(|x| x.schema_name.as_str()), Some(r.schema_name.as_str()));
    // Navigation properties, both ways.
    let (nav, collection) = booking.navigation("msdyn_workorder").unwrap();
    assert!(!collection);
    assert_eq!(nav.schema_name, "msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder");
    let (_, collection) = wo.navigation("msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder").unwrap();
    assert!(collection);
    let contact = s.table("contact").unwrap();
    assert_eq!(contact.navigation("parentcustomerid_account").unwrap().0.schema_name, "contact_customer_accounts");

    // Every relationship appears exactly once on each side, with the same MetadataId.
    for t in s.tables() {
        for r in &t.many_to_one {
            assert_eq!(r.referencing_entity, t.logical_name);
            let other = s.table(&r.referenced_entity).unwrap();
            assert_eq!(other.one_to_many.iter().filter(|o| *o == r).count(), 1, "{}", r.schema_name);
            assert_eq!(r.metadata_id.len(), 36);
        }
        for r in &t.one_to_many {
            let other = s.table(&r.referencing_entity).unwrap();
            assert_eq!(other.many_to_one.iter().filter(|o| *o == r).count(), 1, "{}", r.schema_name);
        }
    }
}
