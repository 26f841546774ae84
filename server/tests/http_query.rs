//! Query options, FetchXML, paging, EntityDefinitions and the mobile offline profile entity sets.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;
use xrm_offline_server::http::request::percent_encode;

fn values(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["value"].as_array().cloned().unwrap_or_default()
}

/// Follows `@odata.nextLink` (bounded) and returns every row and the number of pages.
fn all_pages(port: u16, token: &str, first: &str, prefer: &str) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut path = format!("{API}{first}");
    for page in 1..=1000 {
        let r = send(port, "GET", &path, &[("Authorization", &format!("Bearer {token}")), ("Prefer", prefer)], None);
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        rows.extend(j["value"].as_array().cloned().unwrap_or_default());
        match j["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("$skiptoken="), "{next}");
                path = next
                    .split_once("127.0.0.1")
                    .map(|(_, p)| p.split_once('/').map(|(_, p)| format!("/{p}")).unwrap())
                    .unwrap();
            }
            None => return (rows, page),
        }
    }
    panic!("more than 1000 pages");
}

#[test]
fn filter_select_orderby_top_and_count() {
    let port = shared();
    let r = get(
        port,
        "admin-token",
        "accounts?$select=name,revenue&$filter=revenue gt 2000000&$orderby=revenue desc&$top=5&$count=true",
    );
    let j = r.json();
    let rows = values(&r);
    assert_eq!(rows.len(), 5);
    assert!(j["@odata.count"].as_u64().unwrap() >= 5);
    assert!(j["@odata.context"].as_str().unwrap().ends_with("$metadata#accounts(name,revenue)"));
    let revenues: Vec<f64> = rows.iter().map(|r| r["revenue"].as_f64().unwrap()).collect();
    assert!(revenues.windows(2).all(|w| w[0] >= w[1]), "{revenues:?}");
    assert!(revenues.iter().all(|v| *v > 2_000_000.0));
    assert!(rows.iter().all(|r| r.as_object().unwrap().len() == 4), "etag, name, revenue, accountid: {:?}", rows[0]);
    let r = get(port, "admin-token", "accounts?$filter=startswith(name,'Contoso')&$select=name");
    assert!(values(&r).iter().all(|r| r["name"].as_str().unwrap().starts_with("Contoso")));
}

#[test]
fn lookups_filter_by_value_name_and_by_navigation_name() {
    let port = shared();
    let wo = &values(&get(port, "admin-token", "msdyn_workorders?$select=_msdyn_serviceaccount_value&$top=1"))[0];
    let account = wo["_msdyn_serviceaccount_value"].as_str().unwrap();
    let a = values(&get(
        port,
        "admin-token",
        &format!("msdyn_workorders?$select=msdyn_name&$filter=_msdyn_serviceaccount_value eq {account}"),
    ));
    assert!(!a.is_empty());
    let b = values(&get(
        port,
        "admin-token",
        &format!("msdyn_workorders?$select=msdyn_name&$filter=msdyn_serviceaccount eq {account}"),
    ));
    assert_eq!(a.len(), b.len());
}

#[test]
fn expand_single_valued_and_collection_navigation() {
    let port = shared();
    let r = get(
        port,
        "admin-token",
        "msdyn_workorders?$select=msdyn_name&$expand=msdyn_ServiceAccount($select=name)&$top=3",
    );
    let rows = values(&r);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(row["msdyn_ServiceAccount"]["name"].is_string(), "{row}");
    }
    let r =
        get(port, "admin-token", "accounts?$select=name&$top=2&$expand=contact_customer_accounts($select=fullname)");
    let rows = values(&r);
    assert!(rows.iter().any(|r| r["contact_customer_accounts"].as_array().is_some_and(|c| !c.is_empty())), "{rows:?}");
    // Two expands of the same table, and a self-referencing one, return exactly the page's rows.
    let r = get(port, "admin-token", "msdyn_workorders?$select=msdyn_name&$top=4&$expand=msdyn_ServiceAccount($select=name),msdyn_BillingAccount($select=name)");
    let wos = values(&r);
    assert_eq!(wos.len(), 4);
    assert!(wos.iter().all(|w| w["msdyn_ServiceAccount"]["accountid"] == w["msdyn_BillingAccount"]["accountid"]));
    let r = get_prefer(
        port,
        "admin-token",
        "accounts?$select=name&$expand=parentaccountid($select=name)",
        "odata.maxpagesize=7",
    );
    assert_eq!(values(&r).len(), 7);
    let id = rows[0]["accountid"].as_str().unwrap();
    let one = get(
        port,
        "admin-token",
        &format!("accounts({id})?$select=name&$expand=contact_customer_accounts($select=fullname)"),
    );
    assert_eq!(one.status, 200, "{}", one.text());
    assert!(one.json()["contact_customer_accounts"].is_array());
}

#[test]
fn fetchxml_queries_run_through_the_engine() {
    let port = shared();
    let fetch = r#"<fetch top="3"><entity name="account"><attribute name="name"/><order attribute="name"/><filter><condition attribute="name" operator="like" value="%Hotel%"/></filter></entity></fetch>"#;
    let r = get(port, "admin-token", &format!("accounts?fetchXml={}", percent_encode(fetch)));
    let rows = values(&r);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["name"].as_str().unwrap().contains("Hotel")));
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // The engine's user operators see the caller.
    let fetch = r#"<fetch><entity name="bookableresource"><filter><condition attribute="userid" operator="eq-userid"/></filter></entity></fetch>"#;
    let rows = values(&get(port, "tech1-token", &format!("bookableresources?fetchXml={}", percent_encode(fetch))));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["_userid_value"], user_id("tech1"));
    // FetchXML pages as Dataverse does: count and page attributes, morerecords and a paging cookie, no next link.
    let page = |n: u32| {
        let fetch = format!(
            r#"<fetch count="200" page="{n}" returntotalrecordcount="true"><entity name="account"><attribute name="name"/></entity></fetch>"#
        );
        get_prefer(
            port,
            "admin-token",
            &format!("accounts?fetchXml={}", percent_encode(&fetch)),
            "odata.include-annotations=\"*\"",
        )
        .json()
    };
    let (p1, p2) = (page(1), page(2));
    assert_eq!(p1["value"].as_array().unwrap().len(), 200);
    assert_eq!(p1["@Microsoft.Dynamics.CRM.morerecords"], true);
    assert!(p1.get("@odata.nextLink").is_none());
    assert!(p1["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
        .as_str()
        .unwrap()
        .starts_with("<cookie pagenumber=\"2\""));
    assert!(p1["@Microsoft.Dynamics.CRM.totalrecordcount"].as_u64().unwrap() > 400);
    assert_ne!(p1["value"][0]["accountid"], p2["value"][0]["accountid"]);
    // A FetchXML for another table than the entity set is refused.
    let fetch = r#"<fetch><entity name="contact"/></fetch>"#;
    assert_eq!(get(port, "admin-token", &format!("accounts?fetchXml={}", percent_encode(fetch))).status, 400);
    // Parse errors are 400 with the engine's code.
    let r = get(port, "admin-token", "accounts?$filter=name eqq 'x'");
    assert_eq!(r.status, 400);
    assert!(r.code().starts_with("0x"));
}

#[test]
fn fetchxml_pages_follow_the_paging_cookie_whatever_their_size() {
    use xrm_offline_server::http::request::percent_decode;
    let port = shared();
    let fetch = |attrs: &str| {
        format!(
            r#"<fetch{attrs}><entity name="contact"><attribute name="fullname"/><filter><condition attribute="fullname" operator="not-null"/></filter></entity></fetch>"#
        )
    };
    let read = |xml: String| {
        get_prefer(
            port,
            "admin-token",
            &format!("contacts?fetchXml={}", percent_encode(&xml)),
            "odata.include-annotations=\"*\"",
        )
        .json()
    };
    let ids = |rows: &[Value]| rows.iter().map(|r| r["contactid"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let whole = ids(read(fetch("")).get("value").and_then(Value::as_array).unwrap());
    assert!(whole.len() > 600, "{}", whole.len());
    // The size changes from page to page; each request carries the previous page's cookie, as the sync does.
    let sizes = [7, 150, 40, 333, 1, 64];
    let (mut rows, mut page, mut cookie) = (Vec::new(), 1, None::<String>);
    for i in 0..200 {
        let size = sizes[i % sizes.len()];
        let mut attrs = format!(r#" count="{size}" page="{page}""#);
        if let Some(c) = &cookie {
            let escaped = c.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
            attrs.push_str(&format!(r#" paging-cookie="{escaped}""#));
        }
        let j = read(fetch(&attrs));
        let got = j["value"].as_array().unwrap();
        assert!(got.len() <= size, "page {page}: {} rows for count {size}", got.len());
        rows.extend(ids(got));
        if j["@Microsoft.Dynamics.CRM.morerecords"] != true {
            break;
        }
        let annotation = j["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].as_str().unwrap();
        let inner = annotation.split("pagingcookie=\"").nth(1).unwrap().split('"').next().unwrap();
        cookie = Some(percent_decode(&percent_decode(inner)));
        page += 1;
    }
    assert_eq!(rows, whole, "every row once, in order");
    // Without a cookie the page number is a position: page 3 of 100 rows starts at row 200.
    let p3 = read(fetch(r#" count="100" page="3""#));
    assert_eq!(ids(p3["value"].as_array().unwrap()), whole[200..300].to_vec());
}

#[test]
fn paging_with_maxpagesize_returns_every_row_once() {
    let port = shared();
    let (rows, pages) = all_pages(port, "admin-token", "accounts?$select=name", "odata.maxpagesize=120");
    let total = values(&get(port, "admin-token", "accounts?$select=name")).len();
    assert_eq!(rows.len(), total);
    assert_eq!(pages, total.div_ceil(120));
    let ids: HashSet<&str> = rows.iter().map(|r| r["accountid"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "no row twice");
    // Filtered and ordered queries page too.
    let (rows, _) =
        all_pages(port, "admin-token", "contacts?$select=fullname&$orderby=fullname", "odata.maxpagesize=300");
    let names: Vec<&str> = rows.iter().map(|r| r["fullname"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0].to_lowercase() <= w[1].to_lowercase()));
    let (rows, _) = all_pages(
        port,
        "admin-token",
        "msdyn_workorders?$select=msdyn_name&$filter=msdyn_systemstatus eq 690970001",
        "odata.maxpagesize=100",
    );
    assert!(!rows.is_empty());
    // $top bounds paging.
    let (rows, pages) = all_pages(port, "admin-token", "accounts?$select=name&$top=250", "odata.maxpagesize=100");
    assert_eq!((rows.len(), pages), (250, 3));
    let r = get_prefer(port, "admin-token", "accounts?$select=name", "odata.maxpagesize=10");
    assert_eq!(r.header("Preference-Applied"), Some("odata.maxpagesize=10"));
    assert_eq!(get(port, "admin-token", "accounts?$skip=10").status, 400);
    assert_eq!(get(port, "admin-token", "accounts?$skiptoken=garbage").status, 400);
}

#[test]
fn entity_definitions_list_single_and_expanded() {
    let port = shared();
    let r = get(port, "tech1-token", "EntityDefinitions?$select=LogicalName,EntitySetName");
    let rows = values(&r);
    assert!(rows.iter().any(|t| t["LogicalName"] == "msdyn_workorder" && t["EntitySetName"] == "msdyn_workorders"));
    assert!(rows.iter().all(|t| t.get("Attributes").is_none()));
    let r = get(
        port,
        "tech1-token",
        "EntityDefinitions(LogicalName='account')?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships",
    );
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["PrimaryIdAttribute"], "accountid");
    assert!(t["Attributes"].as_array().unwrap().iter().any(|a| a["LogicalName"] == "name"));
    assert!(!t["ManyToOneRelationships"].as_array().unwrap().is_empty());
    assert!(t["@odata.context"].as_str().unwrap().ends_with("$metadata#EntityDefinitions/$entity"));
    let r = get(
        port,
        "tech1-token",
        "EntityDefinitions?$filter=LogicalName eq 'contact'&$expand=Attributes($select=LogicalName)",
    );
    let rows = values(&r);
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["Attributes"][0].get("AttributeType").is_none());
    let r = get(port, "tech1-token", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')");
    assert_eq!(r.json()["MaxLength"], 160);
    assert_eq!(get(port, "tech1-token", "EntityDefinitions(LogicalName='nope')").status, 404);
    let sets = values(&send(port, "GET", API, &[("Authorization", "Bearer tech1-token")], None));
    assert!(sets.iter().any(|s| s["name"] == "msdyn_workorders" && s["kind"] == "EntitySet"));
    let r = send(port, "GET", &format!("{API}$metadata"), &[("Authorization", "Bearer tech1-token")], None);
    assert!(r.text().contains("<EntitySet Name=\"accounts\""));
}

#[test]
fn the_default_profile_is_served_as_dataverse_returns_it() {
    let port = shared();
    let r = get(
        port,
        "tech1-token",
        "mobileofflineprofiles?$select=mobileofflineprofileid,name,publishedon,componentstate,isvalidated&$expand=MobileOfflineProfile_MobileOfflineProfileItem($select=mobileofflineprofileitemid,selectedentitytypecode,recorddistributioncriteria,recordsownedbyme,recordsownedbymyteam,recordsownedbymybusinessunit,syncintervalinminutes,selectedcolumns,profileitementityfilter)",
    );
    let rows = values(&r);
    assert_eq!(rows.len(), 1);
    let items = rows[0]["MobileOfflineProfile_MobileOfflineProfileItem"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|i| i["selectedentitytypecode"] == "bookableresourcebooking" && i["recorddistributioncriteria"] == 3));
    let wo = items.iter().find(|i| i["selectedentitytypecode"] == "msdyn_workorder").unwrap();
    let item_id = wo["mobileofflineprofileitemid"].as_str().unwrap();
    let r = get(
        port,
        "tech1-token",
        &format!(
            "mobileofflineprofileitemassociations?$filter=_mobileofflineprofileitemid_value eq {item_id}&$select=mobileofflineprofileitemassociationid,relationshipid,name"
        ),
    );
    let assoc = values(&r);
    assert_eq!(assoc.len(), 1, "{assoc:?}");
    let rel_id = assoc[0]["relationshipid"].as_str().unwrap().to_string();
    // The relationshipid is the MetadataId of a relationship in EntityDefinitions.
    let t = get(port, "tech1-token", "EntityDefinitions(LogicalName='msdyn_workorder')?$expand=OneToManyRelationships")
        .json();
    assert!(t["OneToManyRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["MetadataId"].as_str() == Some(rel_id.as_str())));
}

#[test]
fn actions_complete_work_orders_and_validate_inventory() {
    let port = shared();
    let wo = &values(&get(
        port,
        "tech1-token",
        "msdyn_workorders?$select=msdyn_name&$filter=msdyn_systemstatus eq 690970001&$top=1",
    ))[0];
    let id = wo["msdyn_workorderid"].as_str().unwrap();
    let r = call(
        port,
        "tech1-token",
        "POST",
        "msdyn_CompleteWorkOrder",
        Some(&serde_json::json!({"WorkOrderId": id})),
        &[],
    );
    assert_eq!(r.status, 400, "the completion note is required: {}", r.text());
    assert_eq!(r.code(), "0x80040265");
    let r = call(
        port,
        "tech1-token",
        "POST",
        &format!("msdyn_workorders({id})/Microsoft.Dynamics.CRM.msdyn_CompleteWorkOrder"),
        Some(&serde_json::json!({"Summary": "Replaced the filter."})),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(port, "tech1-token", &format!("msdyn_workorders({id})")).json()["msdyn_systemstatus"], 690970003);
    let r = call(
        port,
        "tech1-token",
        "POST",
        "msdyn_ValidateInventory",
        Some(&serde_json::json!({"WorkOrderId": id})),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["IsValid"].is_boolean());
    let product =
        values(&get(port, "tech1-token", "products?$select=name&$top=1"))[0]["productid"].as_str().unwrap().to_string();
    let r = call(
        port,
        "tech1-token",
        "POST",
        "msdyn_ValidateInventory",
        Some(&serde_json::json!({"ProductId": product, "Quantity": 1e9})),
        &[],
    );
    assert_eq!(r.json()["IsValid"], false);
    assert_eq!(r.json()["Shortages"][0]["ProductId"], product.as_str());
}

/// A query whose filter names primary ids reads those rows by key (`source::key_candidates`); it must answer what
/// the whole-table path answers. The reference wraps the same condition in an `or` with a branch that names no id
/// (never true), which keeps the server on the whole-table path.
#[test]
fn queries_by_primary_id_answer_as_a_whole_table_scan() {
    let port = shared();
    let ids = |token: &str, set: &str, pid: &str| -> Vec<String> {
        values(&get(port, token, &format!("{set}?$select={pid}&$top=40")))
            .iter()
            .map(|r| r[pid].as_str().unwrap().to_string())
            .collect()
    };
    let wo: Vec<String> = ids("admin-token", "msdyn_workorders", "msdyn_workorderid");
    assert_eq!(wo.len(), 40);
    // Mixed forms: upper case, braces, a duplicate and an id no row has.
    let mut asked: Vec<String> = wo.iter().step_by(4).cloned().collect();
    asked[0] = asked[0].to_uppercase();
    asked[1] = format!("{{{}}}", asked[1]);
    asked.push(asked[2].clone());
    asked.push("00000000-0000-0000-0000-0000000000ff".into());
    let values_xml: String = asked.iter().map(|v| format!("<value>{v}</value>")).collect();
    let prefer = "odata.include-annotations=\"*\"";
    let fetch = |cond: &str, extra: &str, paging: &str| {
        format!(
            r#"<fetch{paging}><entity name="msdyn_workorder"><all-attributes/><filter type="and">{cond}{extra}</filter></entity></fetch>"#
        )
    };
    let keyed = format!(r#"<condition attribute="msdyn_workorderid" operator="in">{values_xml}</condition>"#);
    let scanned =
        format!(r#"<filter type="or">{keyed}<condition attribute="msdyn_workorderid" operator="null"/></filter>"#);
    let run = |token: &str, xml: &str| {
        let r = get_prefer(port, token, &format!("msdyn_workorders?fetchXml={}", percent_encode(xml)), prefer);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let a = run("admin-token", &fetch(&keyed, "", ""));
    assert_eq!(a["value"].as_array().unwrap().len(), 10, "the 10 distinct ids that exist");
    assert_eq!(a, run("admin-token", &fetch(&scanned, "", "")));
    // With another condition beside it, and paged.
    let status = r#"<condition attribute="msdyn_systemstatus" operator="ne" value="690970000"/>"#;
    assert_eq!(run("admin-token", &fetch(&keyed, status, "")), run("admin-token", &fetch(&scanned, status, "")));
    for page in 1..=4 {
        let p = format!(r#" count="3" page="{page}""#);
        assert_eq!(run("admin-token", &fetch(&keyed, "", &p)), run("admin-token", &fetch(&scanned, "", &p)));
    }
    // A technician reads only the rows the access rules let them: asking for other ids returns nothing more.
    let all_bookings = ids("admin-token", "bookableresourcebookings", "bookableresourcebookingid");
    let booking_xml = |cond: &str| {
        format!(
            r#"<fetch><entity name="bookableresourcebooking"><all-attributes/><filter>{cond}</filter></entity></fetch>"#
        )
    };
    let in_bookings: String = all_bookings.iter().map(|v| format!("<value>{v}</value>")).collect();
    let keyed_b =
        format!(r#"<condition attribute="bookableresourcebookingid" operator="in">{in_bookings}</condition>"#);
    let scanned_b = format!(
        r#"<filter type="or">{keyed_b}<condition attribute="bookableresourcebookingid" operator="null"/></filter>"#
    );
    let tech = get(
        port,
        "tech1-token",
        &format!("bookableresourcebookings?fetchXml={}", percent_encode(&booking_xml(&keyed_b))),
    );
    let tech_ref = get(
        port,
        "tech1-token",
        &format!("bookableresourcebookings?fetchXml={}", percent_encode(&booking_xml(&scanned_b))),
    );
    assert_eq!(tech.json(), tech_ref.json());
    assert!(values(&tech).len() < all_bookings.len(), "tech1 does not read every booking");
    // OData: `eq` in an `or`, paged by next links (the streamed path resumes after the page's last id).
    let eqs: Vec<String> = wo.iter().take(7).map(|id| format!("msdyn_workorderid eq {id}")).collect();
    let odata = format!("msdyn_workorders?$select=msdyn_name&$filter={}", percent_encode(&eqs.join(" or ")));
    let odata_ref = format!(
        "msdyn_workorders?$select=msdyn_name&$filter={}",
        percent_encode(&format!("{} or msdyn_workorderid eq null", eqs.join(" or ")))
    );
    let (rows, pages) = all_pages(port, "admin-token", &odata, "odata.maxpagesize=3");
    assert_eq!((rows.len(), pages), (7, 3));
    assert_eq!(rows, all_pages(port, "admin-token", &odata_ref, "odata.maxpagesize=3").0);
}
