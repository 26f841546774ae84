//! The tables the reference server holds that the shipped schema may lack: the Field Service tables it seeds, the
//! security tables (business units, teams, users) and the mobile offline profile tables.
//!
//! The shipped `schema/fieldservice.json` wins for every table it defines; these definitions fill the gaps.

use serde_json::Value;

use super::build::{lk, lk_req, memo, pick, plain, plain_req, s, s_req, table, Col, TableSpec};

const WO_STATUS: &[(i64, &str)] = &[
    (690970000, "Unscheduled"),
    (690970001, "Scheduled"),
    (690970002, "In Progress"),
    (690970003, "Completed"),
    (690970004, "Posted"),
    (690970005, "Canceled"),
];

fn spec<'a>(
    name: &'a str,
    set: &'a str,
    primary_name: Option<&'a str>,
    ownership: &'a str,
    offline: bool,
) -> TableSpec<'a> {
    TableSpec { name, set, primary_name, ownership, offline, state: true }
}

fn t(sp: TableSpec<'_>, cols: Vec<Col>) -> Value {
    table(&sp, cols)
}

/// Every table definition of the server's supplement, as EntityDefinitions JSON.
pub fn supplement() -> Vec<Value> {
    let mut out = vec![
        t(
            spec("businessunit", "businessunits", Some("name"), "BusinessOwned", false),
            vec![s_req("name", 160), lk("parentbusinessunitid", &["businessunit"])],
        ),
        t(
            spec("team", "teams", Some("name"), "BusinessOwned", false),
            vec![
                s_req("name", 160),
                lk_req("businessunitid", &["businessunit"]),
                pick("teamtype", &[(0, "Owner"), (1, "Access"), (2, "Security Group"), (3, "Office Group")]),
            ],
        ),
        t(
            spec("systemuser", "systemusers", Some("fullname"), "BusinessOwned", true),
            vec![
                s("fullname", 200),
                s("firstname", 64),
                s_req("lastname", 64),
                s_req("domainname", 1024),
                s("internalemailaddress", 100),
                lk_req("businessunitid", &["businessunit"]),
                plain("isdisabled", "Boolean"),
            ],
        ),
        t(
            spec("teammembership", "teammemberships", None, "None", false),
            vec![lk_req("systemuserid", &["systemuser"]), lk_req("teamid", &["team"])],
        ),
        t(
            spec("account", "accounts", Some("name"), "UserOwned", true),
            vec![
                s_req("name", 160),
                s("accountnumber", 20),
                s("telephone1", 50),
                s("emailaddress1", 100),
                s("address1_line1", 250),
                s("address1_city", 80),
                s("address1_postalcode", 20),
                plain("address1_latitude", "Double"),
                plain("address1_longitude", "Double"),
                lk("primarycontactid", &["contact"]),
                lk("parentaccountid", &["account"]),
                plain("revenue", "Money"),
                plain("numberofemployees", "Integer"),
                memo("description", 2000),
            ],
        ),
        t(
            spec("contact", "contacts", Some("fullname"), "UserOwned", true),
            vec![
                s("firstname", 50),
                s_req("lastname", 50),
                s("fullname", 160),
                s("emailaddress1", 100),
                s("telephone1", 50),
                s("mobilephone", 50),
                s("jobtitle", 100),
                lk("parentcustomerid", &["account", "contact"]),
            ],
        ),
        t(
            spec("product", "products", Some("name"), "OrganizationOwned", true),
            vec![
                s_req("name", 100),
                s_req("productnumber", 100),
                memo("description", 2000),
                plain("price", "Money"),
                pick(
                    "msdyn_fieldserviceproducttype",
                    &[(690970000, "Inventory"), (690970001, "Non-Inventory"), (690970002, "Service")],
                ),
            ],
        ),
        t(
            spec("msdyn_incidenttype", "msdyn_incidenttypes", Some("msdyn_name"), "OrganizationOwned", true),
            vec![
                s_req("msdyn_name", 100),
                memo("msdyn_description", 2000),
                plain("msdyn_estimatedduration", "Integer"),
            ],
        ),
        t(
            spec("msdyn_customerasset", "msdyn_customerassets", Some("msdyn_name"), "UserOwned", true),
            vec![
                s_req("msdyn_name", 100),
                lk("msdyn_account", &["account"]),
                lk("msdyn_product", &["product"]),
                lk("msdyn_parentasset", &["msdyn_customerasset"]),
                s("msdyn_assettag", 100),
            ],
        ),
        t(
            spec("msdyn_workorder", "msdyn_workorders", Some("msdyn_name"), "UserOwned", true),
            vec![
                s_req("msdyn_name", 100),
                lk_req("msdyn_serviceaccount", &["account"]),
                lk("msdyn_billingaccount", &["account"]),
                lk("msdyn_reportedbycontact", &["contact"]),
                lk("msdyn_customerasset", &["msdyn_customerasset"]),
                lk("msdyn_primaryincidenttype", &["msdyn_incidenttype"]),
                memo("msdyn_primaryincidentdescription", 4000),
                memo("msdyn_instructions", 4000),
                memo("msdyn_workordersummary", 4000),
                pick("msdyn_systemstatus", WO_STATUS),
                pick("msdyn_priority", &[(1, "Low"), (2, "Normal"), (3, "High"), (4, "Urgent")]),
                s("msdyn_address1", 250),
                s("msdyn_city", 80),
                s("msdyn_postalcode", 20),
                plain("msdyn_latitude", "Double"),
                plain("msdyn_longitude", "Double"),
                plain("msdyn_timefrompromised", "DateTime"),
                plain("msdyn_timetopromised", "DateTime"),
                plain("msdyn_datewindowstart", "DateTime"),
                plain("msdyn_datewindowend", "DateTime"),
                plain("msdyn_completedon", "DateTime"),
                plain("msdyn_totalamount", "Money"),
                plain("msdyn_estimatesubtotalamount", "Money"),
            ],
        ),
        t(
            spec("msdyn_workorderproduct", "msdyn_workorderproducts", Some("msdyn_name"), "UserOwned", true),
            vec![
                s("msdyn_name", 200),
                lk_req("msdyn_workorder", &["msdyn_workorder"]),
                lk_req("msdyn_product", &["product"]),
                plain("msdyn_quantity", "Double"),
                plain("msdyn_estimatequantity", "Double"),
                plain("msdyn_unitamount", "Money"),
                plain("msdyn_totalamount", "Money"),
                pick("msdyn_linestatus", &[(690970000, "Estimated"), (690970001, "Used")]),
                memo("msdyn_description", 2000),
            ],
        ),
        t(
            spec("msdyn_workorderservice", "msdyn_workorderservices", Some("msdyn_name"), "UserOwned", true),
            vec![
                s("msdyn_name", 200),
                lk_req("msdyn_workorder", &["msdyn_workorder"]),
                lk_req("msdyn_service", &["product"]),
                plain("msdyn_duration", "Integer"),
                plain("msdyn_estimateduration", "Integer"),
                plain("msdyn_unitamount", "Money"),
                pick("msdyn_linestatus", &[(690970000, "Estimated"), (690970001, "Used")]),
                memo("msdyn_description", 2000),
            ],
        ),
        t(
            spec("msdyn_workorderservicetask", "msdyn_workorderservicetasks", Some("msdyn_name"), "UserOwned", true),
            vec![
                s_req("msdyn_name", 100),
                lk_req("msdyn_workorder", &["msdyn_workorder"]),
                plain("msdyn_percentcomplete", "Double"),
                plain("msdyn_estimatedduration", "Integer"),
                plain("msdyn_lineorder", "Integer"),
                memo("msdyn_description", 2000),
            ],
        ),
        t(
            spec("bookableresource", "bookableresources", Some("name"), "UserOwned", true),
            vec![
                s_req("name", 100),
                pick(
                    "resourcetype",
                    &[(1, "Generic"), (2, "Contact"), (3, "User"), (4, "Equipment"), (5, "Account"), (6, "Crew")],
                ),
                lk("userid", &["systemuser"]),
                plain("timezone", "Integer"),
            ],
        ),
        t(
            spec("bookingstatus", "bookingstatuses", Some("name"), "OrganizationOwned", true),
            vec![
                s_req("name", 100),
                pick("status", &[(1, "Proposed"), (2, "Committed"), (3, "Canceled")]),
                pick(
                    "msdyn_fieldservicestatus",
                    &[
                        (690970000, "Scheduled"),
                        (690970001, "Traveling"),
                        (690970002, "In Progress"),
                        (690970003, "On Break"),
                        (690970004, "Completed"),
                        (690970005, "Canceled"),
                    ],
                ),
            ],
        ),
        t(
            spec("bookableresourcebooking", "bookableresourcebookings", Some("name"), "UserOwned", true),
            vec![
                s("name", 100),
                plain_req("starttime", "DateTime"),
                plain_req("endtime", "DateTime"),
                plain("duration", "Integer"),
                lk_req("resource", &["bookableresource"]),
                lk_req("bookingstatus", &["bookingstatus"]),
                lk("msdyn_workorder", &["msdyn_workorder"]),
                plain("msdyn_estimatedtravelduration", "Integer"),
                plain("msdyn_actualarrivaltime", "DateTime"),
                pick("bookingtype", &[(1, "Liquid"), (2, "Solid")]),
            ],
        ),
        t(
            spec("msdyn_warehouse", "msdyn_warehouses", Some("msdyn_name"), "OrganizationOwned", true),
            vec![s_req("msdyn_name", 100), s("msdyn_description", 200)],
        ),
        t(
            spec("msdyn_productinventory", "msdyn_productinventories", None, "OrganizationOwned", true),
            vec![
                lk_req("msdyn_product", &["product"]),
                lk_req("msdyn_warehouse", &["msdyn_warehouse"]),
                plain("msdyn_qtyavailable", "Double"),
                plain("msdyn_qtyonhand", "Double"),
            ],
        ),
        t(
            spec("mobileofflineprofile", "mobileofflineprofiles", Some("name"), "OrganizationOwned", false),
            vec![
                s_req("name", 100),
                memo("description", 2000),
                plain("publishedon", "DateTime"),
                plain("componentstate", "Integer"),
                plain("isvalidated", "Boolean"),
            ],
        ),
        t(
            spec("mobileofflineprofileitem", "mobileofflineprofileitems", Some("name"), "OrganizationOwned", false),
            vec![
                s("name", 100),
                lk_req("regardingobjectid", &["mobileofflineprofile"]),
                s_req("selectedentitytypecode", 100),
                pick(
                    "recorddistributioncriteria",
                    &[
                        (0, "Download related data only"),
                        (1, "All records"),
                        (2, "Other data filter"),
                        (3, "Custom data filter"),
                    ],
                ),
                plain("recordsownedbyme", "Boolean"),
                plain("recordsownedbymyteam", "Boolean"),
                plain("recordsownedbymybusinessunit", "Boolean"),
                memo("profileitementityfilter", 1_048_576),
                memo("selectedcolumns", 1_048_576),
                plain("syncintervalinminutes", "Integer"),
                plain("getrelatedentityrecords", "Boolean"),
            ],
        ),
        t(
            spec(
                "mobileofflineprofileitemassociation",
                "mobileofflineprofileitemassociations",
                Some("name"),
                "OrganizationOwned",
                false,
            ),
            vec![
                s("name", 100),
                lk_req("mobileofflineprofileitemid", &["mobileofflineprofileitem"]),
                s("relationshipid", 100),
                s("selectedrelationshipsschema", 200),
            ],
        ),
    ];
    for tbl in &mut out {
        // Security and bookkeeping tables have no state columns in Dataverse.
        let name = tbl["LogicalName"].as_str().unwrap_or_default().to_string();
        if matches!(name.as_str(), "teammembership" | "mobileofflineprofileitemassociation") {
            if let Some(a) = tbl["Attributes"].as_array_mut() {
                a.retain(|x| !matches!(x["LogicalName"].as_str(), Some("statecode") | Some("statuscode")));
            }
        }
    }
    out
}

/// Relationship schema names that clients use verbatim (`$expand=MobileOfflineProfile_MobileOfflineProfileItem`).
pub const FIXED_RELATIONSHIP_NAMES: &[(&str, &str, &str, &str)] = &[
    (
        "mobileofflineprofileitem",
        "regardingobjectid",
        "mobileofflineprofile",
        "MobileOfflineProfile_MobileOfflineProfileItem",
    ),
    (
        "mobileofflineprofileitemassociation",
        "mobileofflineprofileitemid",
        "mobileofflineprofileitem",
        "MobileOfflineProfileItem_MobileOfflineProfileItemAssociation",
    ),
    ("contact", "parentcustomerid", "account", "contact_customer_accounts"),
    ("contact", "parentcustomerid", "contact", "contact_customer_contacts"),
    ("account", "primarycontactid", "contact", "account_primary_contact"),
    ("msdyn_workorder", "msdyn_serviceaccount", "account", "msdyn_account_msdyn_workorder_ServiceAccount"),
    (
        "msdyn_workorderproduct",
        "msdyn_workorder",
        "msdyn_workorder",
        "msdyn_msdyn_workorder_msdyn_workorderproduct_WorkOrder",
    ),
    (
        "msdyn_workorderservice",
        "msdyn_workorder",
        "msdyn_workorder",
        "msdyn_msdyn_workorder_msdyn_workorderservice_WorkOrder",
    ),
    (
        "msdyn_workorderservicetask",
        "msdyn_workorder",
        "msdyn_workorder",
        "msdyn_msdyn_workorder_msdyn_workorderservicetask_WorkOrder",
    ),
    (
        "bookableresourcebooking",
        "msdyn_workorder",
        "msdyn_workorder",
        "msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder",
    ),
    ("bookableresourcebooking", "resource", "bookableresource", "bookableresource_bookableresourcebooking_Resource"),
];
