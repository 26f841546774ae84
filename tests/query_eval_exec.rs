//! Query execution: columns, ordering, top, paging, count, distinct, FetchXML joins and OData $expand, with
//! hand-computed expected rows over the fixture's accounts and contacts.

mod query_eval_fixture;

use query_eval_fixture::*;
use serde_json::{json, Value};
use xrm_offline::query::plan::{Columns, Condition, Expand, Filter, Join, JoinKind, Literal, Operator, Order, Query};
use xrm_offline::query::{execute, MemorySource, QueryResult, Row};
use xrm_offline::ErrorCode;

fn q(table: &str) -> Query {
    Query { table: table.into(), ..Query::default() }
}

fn some(cols: &[&str]) -> Columns {
    Columns::Some(cols.iter().map(|c| c.to_string()).collect())
}

fn order(attribute: &str, descending: bool) -> Order {
    Order { entity: None, attribute: attribute.into(), descending }
}

fn run(query: &Query) -> QueryResult {
    execute(&schema(), query, &source(), &ctx()).unwrap_or_else(|e| panic!("{query:?}: {e}"))
}

fn ids(r: &QueryResult) -> Vec<u32> {
    r.entities.iter().map(|e| num(e, "accountid")).collect()
}

fn obj(v: Value) -> Row {
    row(v)
}

#[test]
fn select_returns_listed_columns_with_lookup_annotations_id_and_etag() {
    let mut query = q("account");
    query.columns = some(&["name", "primarycontactid", "industrycode"]);
    query.filter = Some(cond("accountid", Operator::In, vec![t(&g(1)), t(&g(2))]));
    let r = run(&query);
    assert_eq!(
        r.entities,
        vec![
            obj(json!({
                "accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha",
                "_primarycontactid_value": c(1),
                "_primarycontactid_value@OData.Community.Display.V1.FormattedValue": "Ann",
                "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
                "_primarycontactid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "primarycontactid",
                "industrycode": 1,
                "industrycode@OData.Community.Display.V1.FormattedValue": "Zeta services",
            })),
            obj(json!({"accountid": g(2), "name": "alpha", "_primarycontactid_value": c(2), "industrycode": 2})),
        ]
    );
    assert_eq!(r.count, None);
    assert!(!r.more_records);
}

#[test]
fn all_columns_return_the_stored_row() {
    let mut query = q("account");
    query.filter = Some(cond("name", Operator::Eq, vec![t("beta corp")]));
    assert_eq!(run(&query).entities, vec![accounts()[2].clone()]);
    // Selected columns that are not stored come back as null.
    query.columns = some(&["revenue"]);
    assert_eq!(run(&query).entities, vec![obj(json!({"accountid": g(3), "revenue": null}))]);
}

#[test]
fn no_filter_returns_every_row_in_stored_order() {
    assert_eq!(ids(&run(&q("account"))), vec![1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn text_order_is_case_insensitive_nulls_first_ascending_last_descending() {
    // Names: 1 Alpha, 2 alpha, 3 Beta Corp, 4 Élan, 5 100% Pure, 6 null, 7 gamma_ray, 8 a number (sorts as null).
    let mut query = q("account");
    query.orders = vec![order("name", false)];
    assert_eq!(ids(&run(&query)), vec![6, 8, 5, 1, 2, 3, 7, 4]);
    query.orders = vec![order("name", true)];
    assert_eq!(ids(&run(&query)), vec![4, 7, 3, 1, 2, 5, 6, 8]);
}

#[test]
fn numbers_dates_and_multiple_keys() {
    let mut query = q("account");
    query.orders = vec![order("numberofemployees", false)];
    assert_eq!(ids(&run(&query)), vec![4, 5, 7, 8, 1, 2, 3, 6]);
    query.orders = vec![order("createdon", true)];
    assert_eq!(ids(&run(&query)), vec![2, 3, 5, 1, 4, 6, 7, 8]);
    // Choice columns sort by label (Accounting < Mining < Zeta services), then revenue descending, nulls last.
    query.orders = vec![order("industrycode", false), order("revenue", true)];
    assert_eq!(ids(&run(&query)), vec![8, 5, 2, 6, 4, 1, 3, 7]);
    // GUIDs sort as text.
    query.orders = vec![order("primarycontactid", true)];
    assert_eq!(ids(&run(&query)), vec![2, 1, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn top_count_and_more_records() {
    let mut query = q("account");
    query.orders = vec![order("numberofemployees", false)];
    query.top = Some(3);
    query.count = true;
    let r = run(&query);
    assert_eq!(ids(&r), vec![4, 5, 7]);
    assert_eq!(r.count, Some(8));
    assert!(r.more_records);
    query.top = Some(8);
    let r = run(&query);
    assert_eq!(r.entities.len(), 8);
    assert!(!r.more_records);
    query.top = Some(0);
    assert_eq!(ids(&run(&query)), Vec::<u32>::new());
}

#[test]
fn pages() {
    let mut query = q("account");
    query.orders = vec![order("numberofemployees", false)];
    query.page_size = Some(3);
    query.count = true;
    let p1 = run(&query);
    assert_eq!((ids(&p1), p1.more_records, p1.count), (vec![4, 5, 7], true, Some(8)));
    query.page = Some(2);
    let p2 = run(&query);
    assert_eq!((ids(&p2), p2.more_records), (vec![8, 1, 2], true));
    query.page = Some(3);
    let p3 = run(&query);
    assert_eq!((ids(&p3), p3.more_records, p3.count), (vec![3, 6], false, Some(8)));
    query.page = Some(9);
    assert_eq!(ids(&run(&query)), Vec::<u32>::new());
}

#[test]
fn distinct_compares_the_returned_columns_only() {
    let mut query = q("account");
    query.columns = some(&["donotemail"]);
    query.distinct = true;
    query.count = true;
    let r = run(&query);
    // donotemail: true, false, true, null, false, true, "yes", missing (null).
    let got: Vec<Value> = r.entities.iter().map(|e| e["donotemail"].clone()).collect();
    assert_eq!(got, vec![json!(true), json!(false), json!(null), json!("yes")]);
    assert_eq!(r.entities[0], obj(json!({"donotemail": true})));
    assert_eq!(r.count, Some(4));
    query.top = Some(2);
    let r = run(&query);
    assert_eq!(r.entities.len(), 2);
    assert!(r.more_records);
}

fn contacts_join(kind: JoinKind, columns: Columns, filter: Option<Filter>) -> Join {
    Join {
        table: "contact".into(),
        from: "parentcustomerid".into(),
        to: "accountid".into(),
        alias: "c".into(),
        kind,
        columns,
        filter,
        joins: vec![],
    }
}

#[test]
fn inner_join_multiplies_rows_and_returns_aliased_columns() {
    let mut query = q("account");
    query.columns = some(&["name"]);
    query.joins = vec![contacts_join(JoinKind::Inner, some(&["fullname", "parentcustomerid"]), None)];
    query.orders = vec![Order { entity: Some("c".into()), attribute: "fullname".into(), descending: true }];
    let r = run(&query);
    assert_eq!(
        r.entities,
        vec![
            obj(
                json!({"accountid": g(2), "name": "alpha", "c.fullname": "Cid", "c.parentcustomerid": g(2).to_uppercase()})
            ),
            obj(json!({"accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha", "c.fullname": "Bob",
                "c.parentcustomerid": g(1)})),
            obj(json!({"accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha", "c.fullname": "Ann",
                "c.parentcustomerid": g(1), "c.parentcustomerid@Microsoft.Dynamics.CRM.lookuplogicalname": "account"})),
        ]
    );
}

#[test]
fn outer_join_keeps_unmatched_rows_with_nulls() {
    let mut query = q("account");
    query.columns = some(&["name"]);
    query.joins = vec![contacts_join(JoinKind::Outer, some(&["fullname"]), None)];
    let r = run(&query);
    assert_eq!(ids(&r), vec![1, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(r.entities[0]["c.fullname"], json!("Ann"));
    assert_eq!(r.entities[1]["c.fullname"], json!("Bob"));
    assert_eq!(r.entities[3], obj(json!({"accountid": g(3), "name": "Beta Corp", "c.fullname": null})));
}

#[test]
fn join_filters_and_conditions_on_join_aliases() {
    let mut query = q("account");
    query.columns = some(&["name"]);
    let not_bob = cond("fullname", Operator::Ne, vec![t("bob")]);
    query.joins = vec![contacts_join(JoinKind::Inner, some(&["fullname"]), Some(not_bob))];
    let r = run(&query);
    let got: Vec<(u32, Value)> = r.entities.iter().map(|e| (num(e, "accountid"), e["c.fullname"].clone())).collect();
    assert_eq!(got, vec![(1, json!("Ann")), (2, json!("Cid"))]);

    // Outer join + `c.contactid null` in the main filter: accounts without contacts.
    let mut anti = q("account");
    anti.joins = vec![contacts_join(JoinKind::Outer, some(&["fullname"]), None)];
    anti.filter = Some(Filter::Condition(Condition {
        entity: Some("c".into()),
        attribute: "contactid".into(),
        operator: Operator::Null,
        values: vec![],
    }));
    assert_eq!(ids(&run(&anti)), vec![3, 4, 5, 6, 7, 8]);
}

#[test]
fn nested_joins_and_all_columns_of_a_join() {
    // account -> its primary contact (pc) -> that contact's parent account (pcp).
    let mut query = q("account");
    query.columns = some(&["name"]);
    query.joins = vec![Join {
        table: "contact".into(),
        from: "contactid".into(),
        to: "primarycontactid".into(),
        alias: "pc".into(),
        kind: JoinKind::Inner,
        columns: Columns::All,
        filter: None,
        joins: vec![Join {
            table: "account".into(),
            from: "accountid".into(),
            to: "parentcustomerid".into(),
            alias: "pcp".into(),
            kind: JoinKind::Inner,
            columns: some(&["name"]),
            filter: None,
            joins: vec![],
        }],
    }];
    let r = run(&query);
    assert_eq!(
        r.entities,
        vec![
            obj(json!({"accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha",
                "pc.contactid": c(1), "pc.fullname": "Ann", "pc.parentcustomerid": g(1), "pc.numberofchildren": 2,
                "pc.parentcustomerid@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
                "pcp.name": "Alpha"})),
            obj(json!({"accountid": g(2), "name": "alpha",
                "pc.contactid": c(2), "pc.fullname": "Bob", "pc.parentcustomerid": g(1), "pc.numberofchildren": 0,
                "pcp.name": "Alpha"})),
        ]
    );
}

fn parent_account_expand(columns: Columns) -> Expand {
    Expand {
        navigation: "parentcustomerid_account".into(),
        collection: false,
        from: "accountid".into(),
        to: "parentcustomerid".into(),
        query: Query { table: "account".into(), columns, ..Query::default() },
    }
}

#[test]
fn single_valued_expand_nests_an_object_or_null() {
    let mut query = q("contact");
    query.columns = some(&["fullname"]);
    query.expands = vec![parent_account_expand(some(&["name"]))];
    let r = run(&query);
    assert_eq!(
        r.entities,
        vec![
            obj(json!({"contactid": c(1), "fullname": "Ann",
                "parentcustomerid_account": {"accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha"}})),
            obj(json!({"contactid": c(2), "fullname": "Bob",
                "parentcustomerid_account": {"accountid": g(1), "@odata.etag": "W/\"1\"", "name": "Alpha"}})),
            obj(json!({"contactid": c(3), "fullname": "Cid",
                "parentcustomerid_account": {"accountid": g(2), "name": "alpha"}})),
            obj(json!({"contactid": c(4), "fullname": "Dee", "parentcustomerid_account": null})),
        ]
    );
}

fn contacts_expand(query: Query) -> Expand {
    Expand {
        navigation: "contact_customer_accounts".into(),
        collection: true,
        from: "parentcustomerid".into(),
        to: "accountid".into(),
        query,
    }
}

#[test]
fn collection_expand_with_nested_options() {
    let mut query = q("account");
    query.columns = some(&["name"]);
    query.filter = Some(cond("accountid", Operator::In, vec![t(&g(1)), t(&g(2)), t(&g(3))]));
    let mut nested = q("contact");
    nested.columns = some(&["fullname"]);
    nested.orders = vec![order("fullname", true)];
    query.expands = vec![contacts_expand(nested.clone())];
    let r = run(&query);
    let names = |e: &Row| -> Vec<Value> {
        e["contact_customer_accounts"].as_array().map_or(vec![], |a| a.iter().map(|c| c["fullname"].clone()).collect())
    };
    assert_eq!(names(&r.entities[0]), vec![json!("Bob"), json!("Ann")]);
    assert_eq!(names(&r.entities[1]), vec![json!("Cid")]);
    assert_eq!(r.entities[2]["contact_customer_accounts"], json!([]));
    assert_eq!(r.entities[0]["contact_customer_accounts"][1], json!({"contactid": c(1), "fullname": "Ann"}));

    // Nested $top and $filter.
    nested.top = Some(1);
    query.expands = vec![contacts_expand(nested.clone())];
    assert_eq!(names(&run(&query).entities[0]), vec![json!("Bob")]);
    nested.top = None;
    nested.filter = Some(cond("numberofchildren", Operator::Gt, vec![Literal::Int(0)]));
    query.expands = vec![contacts_expand(nested.clone())];
    assert_eq!(names(&run(&query).entities[0]), vec![json!("Ann")]);

    // Nested $expand: each contact back to its parent account.
    nested.filter = None;
    nested.expands = vec![parent_account_expand(some(&["name"]))];
    query.expands = vec![contacts_expand(nested)];
    let r = run(&query);
    assert_eq!(r.entities[1]["contact_customer_accounts"][0]["parentcustomerid_account"]["name"], json!("alpha"));
}

#[test]
fn errors_name_what_is_wrong() {
    let mut query = q("account");
    query.orders = vec![Order { entity: Some("nope".into()), attribute: "name".into(), descending: false }];
    let e = execute(&schema(), &query, &source(), &ctx()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    assert!(e.message.contains("nope"));
    let mut query = q("account");
    query.columns = some(&["nosuch"]);
    assert_eq!(execute(&schema(), &query, &source(), &ctx()).unwrap_err().code, ErrorCode::AttributeNotFound);
    assert_eq!(execute(&schema(), &q("nosuch"), &source(), &ctx()).unwrap_err().code, ErrorCode::TableNotFound);
    let mut query = q("account");
    query.filter = Some(cond("revenue", Operator::Gt, vec![t("lots")]));
    assert_eq!(execute(&schema(), &query, &source(), &ctx()).unwrap_err().code, ErrorCode::InvalidArgument);
}

#[test]
fn a_hundred_thousand_rows() {
    let mut src = MemorySource::new();
    src.extend(
        "account",
        (0..100_000u32).map(|i| {
            row(json!({"accountid": g(i), "name": format!("Account {:05}", (i * 7919) % 100_000),
                "numberofemployees": i % 1000, "createdon": "2026-11-26T08:00:00Z"}))
        }),
    );
    let mut query = q("account");
    query.filter = Some(Filter::And(vec![
        cond("numberofemployees", Operator::Lt, vec![t("10")]),
        cond("name", Operator::BeginsWith, vec![t("account 0")]),
        cond("createdon", Operator::Today, vec![]),
    ]));
    query.orders = vec![order("name", false)];
    query.top = Some(5);
    query.count = true;
    let r = execute(&schema(), &query, &src, &ctx()).expect("runs");
    assert_eq!(r.entities.len(), 5);
    let names: Vec<&str> = r.entities.iter().filter_map(|e| e["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(r.count.is_some_and(|n| n > 5 && n < 1000));
}
