//! The parsers' plans run by the evaluator: OData and FetchXML text in, Web API rows out (the contract between
//! `parse_odata` / `parse_fetchxml` and `execute`).

mod query_eval_fixture;

use query_eval_fixture::*;
use serde_json::json;
use xrm_offline::query::{execute, parse_fetchxml, parse_fetchxml_filter, parse_odata, Predicate, QueryResult};

fn odata(table: &str, options: &str) -> QueryResult {
    let q = parse_odata(&schema(), table, options).unwrap_or_else(|e| panic!("{options}: {e}"));
    execute(&schema(), &q, &source(), &ctx()).unwrap_or_else(|e| panic!("{options}: {e}"))
}

fn fetch(xml: &str) -> QueryResult {
    let q = parse_fetchxml(&schema(), xml).unwrap_or_else(|e| panic!("{xml}: {e}"));
    execute(&schema(), &q, &source(), &ctx()).unwrap_or_else(|e| panic!("{xml}: {e}"))
}

fn ids(r: &QueryResult, id: &str) -> Vec<u32> {
    r.entities.iter().map(|e| num(e, id)).collect()
}

#[test]
fn odata_filter_order_top_count() {
    let r =
        odata("account", "$select=name&$filter=contains(name,'a') and revenue gt 50&$orderby=revenue desc&$count=true");
    // Names containing "a" with revenue > 50: 1 (100), 2 (250.5), 4 Élan (1000); 7 holds text revenue.
    assert_eq!(ids(&r, "accountid"), vec![4, 2, 1]);
    assert_eq!(r.count, Some(3));
    let r = odata("account", "$filter=not (name eq 'alpha')&$select=name&$top=2&$orderby=name");
    assert_eq!(ids(&r, "accountid"), vec![5, 3]);
    assert!(r.more_records);
}

#[test]
fn odata_lookup_by_navigation_property_and_query_functions() {
    let r = odata("account", &format!("$select=name&$filter=primarycontactid eq {}", c(1)));
    assert_eq!(ids(&r, "accountid"), vec![1]);
    let r = odata("account", "$select=name&$filter=Microsoft.Dynamics.CRM.Today(PropertyName='createdon')");
    // Account 2 (11-26T08:00Z) and 3 (11-25T22:00Z) fall on the user's local 11-26; 1 and 5 do not.
    assert_eq!(ids(&r, "accountid"), vec![2, 3]);
    let r =
        odata("account", "$select=name&$filter=Microsoft.Dynamics.CRM.EqualUserOrUserTeams(PropertyName='ownerid')");
    assert_eq!(ids(&r, "accountid"), vec![1, 2, 3, 5, 6]);
}

#[test]
fn odata_any_and_expand() {
    let r = odata("account", "$select=name&$filter=contact_customer_accounts/any(c:c/fullname eq 'Bob')");
    assert_eq!(ids(&r, "accountid"), vec![1]);
    let r = odata(
        "account",
        "$select=name&$filter=accountid eq 00000000-0000-0000-0000-000000000001\
         &$expand=contact_customer_accounts($select=fullname;$orderby=fullname desc)",
    );
    assert_eq!(
        r.entities[0]["contact_customer_accounts"],
        json!([
            {"contactid": c(2), "fullname": "Bob"},
            {"contactid": c(1), "fullname": "Ann"},
        ])
    );
    let r = odata("contact", "$select=fullname&$expand=parentcustomerid_account($select=name)");
    assert_eq!(r.entities[2]["parentcustomerid_account"]["name"], json!("alpha"));
    assert_eq!(r.entities[3]["parentcustomerid_account"], json!(null));
}

#[test]
fn fetchxml_join_order_and_paging() {
    let r = fetch(
        r#"<fetch count="2" page="1" returntotalrecordcount="true">
             <entity name="account">
               <attribute name="name"/>
               <order attribute="name"/>
               <link-entity name="contact" from="parentcustomerid" to="accountid" alias="c" link-type="inner">
                 <attribute name="fullname"/>
                 <filter><condition attribute="fullname" operator="ne" value="bob"/></filter>
               </link-entity>
             </entity>
           </fetch>"#,
    );
    let got: Vec<(u32, serde_json::Value)> =
        r.entities.iter().map(|e| (num(e, "accountid"), e["c.fullname"].clone())).collect();
    assert_eq!(got, vec![(1, json!("Ann")), (2, json!("Cid"))]);
    assert_eq!(r.count, Some(2));
    assert!(!r.more_records);
}

#[test]
fn fetchxml_outer_join_anti_pattern_and_date_operators() {
    let r = fetch(
        r#"<fetch>
             <entity name="account">
               <attribute name="accountid"/>
               <link-entity name="contact" from="parentcustomerid" to="accountid" alias="c" link-type="outer"/>
               <filter><condition entityname="c" attribute="contactid" operator="null"/></filter>
             </entity>
           </fetch>"#,
    );
    assert_eq!(ids(&r, "accountid"), vec![3, 4, 5, 6, 7, 8]);
    let r = fetch(
        r#"<fetch><entity name="account"><attribute name="name"/>
             <filter type="or">
               <condition attribute="createdon" operator="last-x-days" value="1"/>
               <condition attribute="revenue" operator="in"><value>42</value><value>1000</value></condition>
             </filter></entity></fetch>"#,
    );
    // last-x-days 1: from 11-25 00:00 local (11-24T22:00Z) to now (11-25T23:30Z): 3 and 5. Revenue: 4, 6.
    assert_eq!(ids(&r, "accountid"), vec![3, 4, 5, 6]);
}

#[test]
fn profile_filter_with_link_any() {
    let f = parse_fetchxml_filter(
        &schema(),
        "account",
        r#"<filter type="or">
             <condition attribute="ownerid" operator="eq-userid"/>
             <link-entity name="contact" from="parentcustomerid" to="accountid" link-type="any">
               <filter><condition attribute="fullname" operator="eq" value="Cid"/></filter>
             </link-entity>
           </filter>"#,
    )
    .expect("parses")
    .expect("a filter");
    let p = Predicate::compile(&schema(), "account", &f, &source(), &ctx()).expect("compiles");
    let got: Vec<u32> = accounts().iter().filter(|r| p.test(r)).map(|r| num(r, "accountid")).collect();
    assert_eq!(got, vec![1, 2, 5]);
}
