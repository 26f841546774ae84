//! The Field Service default mobile offline profile as Dataverse stores it: one `mobileofflineprofile`, one
//! `mobileofflineprofileitem` per table and `mobileofflineprofileitemassociation` rows for the relationships the
//! related-only tables follow (SPEC section 2).

use serde_json::{json, Value};
use xrm_offline::schema::Schema;

use super::data::{lookup, profile_id, row, SeedRow};
use crate::meta::build::guid_from;

/// The custom filter of bookings: starting or ending today or in the next seven days, booked on the user's own
/// resource.
pub const BOOKING_FILTER: &str = r#"<fetch version="1.0" mapping="logical"><entity name="bookableresourcebooking"><filter type="and"><filter type="or"><condition attribute="starttime" operator="today" /><condition attribute="starttime" operator="next-seven-days" /><condition attribute="endtime" operator="today" /><condition attribute="endtime" operator="next-seven-days" /></filter><link-entity name="bookableresource" from="bookableresourceid" to="resource" link-type="any"><filter><condition attribute="userid" operator="eq-userid" /></filter></link-entity></filter></entity></fetch>"#;

/// (table, distribution criteria, custom filter, relationships followed: (referencing table, lookup column)).
type ItemSpec = (&'static str, i64, Option<&'static str>, &'static [(&'static str, &'static str)]);

const ITEMS: &[ItemSpec] = &[
    ("bookableresourcebooking", 3, Some(BOOKING_FILTER), &[]),
    ("msdyn_workorder", 0, None, &[("bookableresourcebooking", "msdyn_workorder")]),
    ("msdyn_workorderproduct", 0, None, &[("msdyn_workorderproduct", "msdyn_workorder")]),
    ("msdyn_workorderservice", 0, None, &[("msdyn_workorderservice", "msdyn_workorder")]),
    ("msdyn_workorderservicetask", 0, None, &[("msdyn_workorderservicetask", "msdyn_workorder")]),
    ("msdyn_customerasset", 0, None, &[("msdyn_workorder", "msdyn_customerasset")]),
    ("account", 0, None, &[("msdyn_workorder", "msdyn_serviceaccount")]),
    ("contact", 0, None, &[("msdyn_workorder", "msdyn_reportedbycontact")]),
    ("bookableresource", 0, None, &[("bookableresourcebooking", "resource")]),
    ("bookingstatus", 1, None, &[]),
    ("product", 1, None, &[]),
    ("msdyn_incidenttype", 1, None, &[]),
];

/// The profile rows.
pub fn rows(schema: &Schema) -> Vec<SeedRow> {
    let pid = profile_id();
    let mut out = vec![row(
        "mobileofflineprofile",
        pid.clone(),
        json!({
            "name": "Field Service Mobile - Offline Profile",
            "description": "Default offline profile for technicians: bookings of today and the next seven days and the records they need.",
            "publishedon": "2026-01-01T00:00:00Z", "componentstate": 0, "isvalidated": true,
        }),
    )];
    for (i, (table, criteria, filter, rels)) in ITEMS.iter().enumerate() {
        let item_id = guid_from(&format!("seed:mobileofflineprofileitem:{table}"));
        let columns = schema
            .table(table)
            .map(|t| t.attributes.iter().map(|a| Value::from(a.logical_name.clone())).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut r = row(
            "mobileofflineprofileitem",
            item_id.clone(),
            json!({
                "name": table, "selectedentitytypecode": table, "recorddistributioncriteria": criteria,
                "recordsownedbyme": false, "recordsownedbymyteam": false, "recordsownedbymybusinessunit": false,
                "profileitementityfilter": filter, "selectedcolumns": json!({ "Columns": columns }).to_string(),
                "syncintervalinminutes": 5, "getrelatedentityrecords": !rels.is_empty(),
            }),
        );
        lookup(&mut r.data, "regardingobjectid", "mobileofflineprofile", &pid);
        out.push(r);
        for (k, (referencing, column)) in rels.iter().enumerate() {
            let rel = schema
                .table(referencing)
                .and_then(|t| t.many_to_one.iter().find(|r| r.referencing_attribute == *column).cloned());
            let Some(rel) = rel else { continue };
            let label = format!("{} ({})", column, rel.referenced_entity);
            let mut a = row(
                "mobileofflineprofileitemassociation",
                guid_from(&format!("seed:mobileofflineprofileitemassociation:{i}:{k}")),
                json!({ "name": label, "relationshipid": rel.metadata_id, "selectedrelationshipsschema": rel.schema_name }),
            );
            lookup(&mut a.data, "mobileofflineprofileitemid", "mobileofflineprofileitem", &item_id);
            out.push(a);
        }
    }
    out
}
