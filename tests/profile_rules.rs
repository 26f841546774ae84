//! Each validation rule and each lint warning, with hand-written expectations.

use xrm_offline::profile::{codes, CustomFilter, ItemFilter, Link, LinkKind, Profile, ProfileItem};
use xrm_offline::query::plan::{Condition, Filter, Literal, Operator};
use xrm_offline::schema::field_service;
use xrm_offline::ErrorCode;

fn profile(items: &str) -> Profile {
    Profile::from_json(&format!(r#"{{"name": "test", "items": {items}}}"#)).unwrap()
}

fn errors(items: &str) -> Vec<String> {
    profile(items).validate(&field_service()).into_iter().map(|e| e.message).collect()
}

fn one_error(items: &str) -> String {
    let e = errors(items);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap_or_default()
}

const BOOKINGS: &str = r#"{"table": "bookableresourcebooking", "filter": {"custom": "<filter><condition attribute=\"starttime\" operator=\"today\"/></filter>"}}"#;
const WO_FROM_BOOKINGS: &str =
    r#"{"table": "msdyn_workorder", "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"]}"#;

#[test]
fn a_small_valid_profile_has_no_errors() {
    assert_eq!(errors(&format!("[{BOOKINGS}, {WO_FROM_BOOKINGS}]")), Vec::<String>::new());
}

#[test]
fn unknown_table() {
    let e = one_error(r#"[{"table": "msdyn_nope", "filter": "all"}]"#);
    assert_eq!(e, "items[0] (msdyn_nope): table 'msdyn_nope' is not in the schema");
}

#[test]
fn not_offline_capable_tables_are_refused_with_their_own_code() {
    let p = profile(
        r#"[{"table": "account", "filter": "all"}, {"table": "msdyn_purchaseorder", "filter": "all"},
        {"table": "msdyn_agreement", "filter": "all"}, {"table": "msdyn_rtv", "filter": "all"}, {"table": "msdyn_rma", "filter": "all"}]"#,
    );
    let e = p.validate(&field_service());
    assert_eq!(e.len(), 4, "{e:#?}");
    for (err, table) in e.iter().zip(["msdyn_purchaseorder", "msdyn_agreement", "msdyn_rtv", "msdyn_rma"]) {
        assert_eq!(err.code, ErrorCode::TableNotAvailableOffline);
        assert!(err.message.contains(&format!("table '{table}' is not offline-capable")), "{}", err.message);
    }
}

#[test]
fn interval_outside_5_to_1440() {
    let e = one_error(r#"[{"table": "account", "filter": "all", "syncIntervalMinutes": 4}]"#);
    assert_eq!(e, "items[0] (account): sync interval 4 minutes is outside 5..1440");
    let e = one_error(r#"[{"table": "account", "filter": "all", "syncIntervalMinutes": 1441}]"#);
    assert!(e.contains("1441 minutes"), "{e}");
    assert!(errors(r#"[{"table": "account", "filter": "all", "syncIntervalMinutes": 1440}]"#).is_empty());
    assert!(errors(r#"[{"table": "account", "filter": "all", "syncIntervalMinutes": 5}]"#).is_empty());
}

#[test]
fn unknown_columns() {
    let e = one_error(r#"[{"table": "account", "filter": "all", "columns": ["name", "colour"]}]"#);
    assert_eq!(e, "items[0] (account): column 'colour' is not a column of 'account'");
}

#[test]
fn duplicate_items() {
    let e = one_error(r#"[{"table": "account", "filter": "all"}, {"table": "Account", "filter": "all"}]"#);
    assert_eq!(e, "items[1] (account): duplicate item: table 'account' is already items[0] (account); merge them");
}

#[test]
fn unknown_relationship() {
    let e = one_error(r#"[{"table": "account", "relationships": ["account_nonsense"]}]"#);
    assert_eq!(e, "items[0] (account): relationship 'account_nonsense' is not in the schema");
}

#[test]
fn relationship_of_other_tables() {
    let e = one_error(&format!(
        r#"[{BOOKINGS}, {{"table": "account", "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"]}}]"#
    ));
    assert!(e.starts_with("items[1] (account): relationship 'msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder' connects bookableresourcebooking and msdyn_workorder, not account"), "{e}");
}

#[test]
fn relationship_to_a_table_not_in_the_profile() {
    let e = one_error(WO_FROM_BOOKINGS.replace('{', "[{").replace("]}", "]}]").as_str());
    assert!(e.contains("leads to table 'bookableresourcebooking', which is not in the profile"), "{e}");
}

#[test]
fn self_reference() {
    let e = one_error(r#"[{"table": "account", "filter": "all", "relationships": ["account_parent_account"]}]"#);
    assert!(e.starts_with("items[0] (account): relationship 'account_parent_account' is a self reference"), "{e}");
}

#[test]
fn circular_reference_names_the_chain() {
    let e = one_error(
        r#"[{"table": "account", "relationships": ["msdyn_account_msdyn_workorder_ServiceAccount"]},
            {"table": "msdyn_workorder", "relationships": ["msdyn_account_msdyn_workorder_BillingAccount"]}]"#,
    );
    assert_eq!(e, "items[0] (account): circular reference account -> msdyn_workorder -> account; remove one of these relationships");
    // A longer cycle: booking -> work order -> account -> booking is not expressible with these tables, so use
    // work order -> booking -> bookable resource -> account -> work order.
    let e = one_error(
        r#"[{"table": "msdyn_workorder", "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"]},
            {"table": "bookableresourcebooking", "relationships": ["bookableresource_bookableresourcebooking_Resource"]},
            {"table": "bookableresource", "relationships": ["account_bookableresource_AccountId"]},
            {"table": "account", "relationships": ["msdyn_account_msdyn_workorder_ServiceAccount"]}]"#,
    );
    assert_eq!(e, "items[0] (msdyn_workorder): circular reference msdyn_workorder -> bookableresourcebooking -> bookableresource -> account -> msdyn_workorder; remove one of these relationships");
}

#[test]
fn more_than_15_related_tables_counted_transitively() {
    // A synthetic schema: table a relates to b1..b4, each bN relates to four more tables (c): 4 + 16 = 20 tables.
    let mut tables = Vec::new();
    let mut rels = Vec::new();
    let mut names = vec!["a".to_string()];
    for b in 1..=4 {
        names.push(format!("b{b}"));
        rels.push((format!("a_b{b}"), "a".to_string(), format!("b{b}")));
        for c in 1..=4 {
            let cname = format!("c{b}{c}");
            names.push(cname.clone());
            rels.push((format!("b{b}_{cname}"), format!("b{b}"), cname));
        }
    }
    for n in &names {
        let many: Vec<String> = rels.iter().filter(|r| &r.1 == n).map(rel_json).collect();
        let one: Vec<String> = rels.iter().filter(|r| &r.2 == n).map(rel_json).collect();
        let lookups: Vec<String> = rels
            .iter()
            .filter(|r| &r.1 == n)
            .map(|r| format!(r#"{{"LogicalName":"{}id","AttributeType":"Lookup","Targets":["{}"]}}"#, r.2, r.2))
            .collect();
        tables.push(format!(
            r#"{{"LogicalName":"{n}","EntitySetName":"{n}s","PrimaryIdAttribute":"{n}id","Attributes":[{{"LogicalName":"{n}id","AttributeType":"Uniqueidentifier"}}{}{}],"ManyToOneRelationships":[{}],"OneToManyRelationships":[{}]}}"#,
            if lookups.is_empty() { "" } else { "," },
            lookups.join(","),
            many.join(","),
            one.join(",")
        ));
    }
    let schema = xrm_offline::schema::Schema::from_json(&format!(r#"{{"value":[{}]}}"#, tables.join(","))).unwrap();
    let items: Vec<ProfileItem> = names
        .iter()
        .map(|n| {
            let rels: Vec<String> = rels.iter().filter(|r| &r.1 == n).map(|r| r.0.clone()).collect();
            ProfileItem::new(n.clone(), ItemFilter::All).with_relationships(rels)
        })
        .collect();
    let p = Profile { id: None, name: "wide".into(), items };
    let e = p.validate(&schema);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.starts_with("items[0] (a): relates to 20 tables counted transitively, more than 15: a -> b1, b2, b3, b4; b1 -> c11, c12, c13, c14;"), "{}", e[0].message);
    // Fifteen is allowed: drop one b (and its four c) -> 3 + 12 = 15.
    let mut p2 = p.clone();
    p2.items[0].relationships.pop();
    assert!(p2.validate(&schema).is_empty());

    fn rel_json(r: &(String, String, String)) -> String {
        // r = (name, referencing, referenced)
        format!(
            r#"{{"SchemaName":"{}","MetadataId":"{}","ReferencedEntity":"{}","ReferencedAttribute":"{}id","ReferencingEntity":"{}","ReferencingAttribute":"{}id"}}"#,
            r.0, r.0, r.2, r.2, r.1, r.2
        )
    }
}

#[test]
fn custom_filter_that_does_not_parse() {
    let e = one_error(
        r#"[{"table": "account", "filter": {"custom": "<filter><condition attribute=\"colour\" operator=\"eq\" value=\"red\"/></filter>"}}]"#,
    );
    assert!(e.starts_with("items[0] (account): the custom filter does not parse:"), "{e}");
    assert!(e.contains("colour"), "{e}");
    let e = one_error(r#"[{"table": "account", "filter": {"custom": "<filter><condition"}}]"#);
    assert!(e.contains("does not parse"), "{e}");
}

#[test]
fn custom_filter_with_more_than_500_conditions() {
    let conds = r#"<condition attribute=\"name\" operator=\"eq\" value=\"x\"/>"#.repeat(501);
    let e = one_error(&format!(
        r#"[{{"table": "account", "filter": {{"custom": "<filter type=\"or\">{conds}</filter>"}}}}]"#
    ));
    assert_eq!(e, "items[0] (account): the custom filter has 501 conditions; at most 500 are allowed");
    let conds = r#"<condition attribute=\"name\" operator=\"eq\" value=\"x\"/>"#.repeat(500);
    assert!(errors(&format!(
        r#"[{{"table": "account", "filter": {{"custom": "<filter type=\"or\">{conds}</filter>"}}}}]"#
    ))
    .is_empty());
}

#[test]
fn ownership_on_an_organization_owned_table() {
    let e = one_error(r#"[{"table": "product", "filter": {"ownership": ["me"]}}]"#);
    assert!(e.starts_with("items[0] (product): an ownership filter needs a user- or team-owned table"), "{e}");
}

#[test]
fn all_errors_come_together() {
    let e = errors(
        r#"[{"table": "msdyn_rma", "filter": "all", "syncIntervalMinutes": 2},
            {"table": "nope"}, {"table": "account", "columns": ["x"], "relationships": ["y"]}]"#,
    );
    assert_eq!(e.len(), 5, "{e:#?}");
}

#[test]
fn links_say_which_side_holds_the_lookup() {
    let schema = field_service();
    let p = profile(&format!(
        r#"[{BOOKINGS}, {WO_FROM_BOOKINGS}, {{"table": "msdyn_workorderproduct", "relationships": ["msdyn_msdyn_workorder_msdyn_workorderproduct_WorkOrder"]}}]"#
    ));
    assert_eq!(
        p.links(&schema, 1),
        vec![Link {
            relationship: "msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder".into(),
            other_table: "bookableresourcebooking".into(),
            kind: LinkKind::ReferencedBy { column: "msdyn_workorder".into() },
        }]
    );
    assert_eq!(p.links(&schema, 2)[0].kind, LinkKind::References { column: "msdyn_workorder".into() });
    assert_eq!(p.sync_order(&schema), vec![0, 1, 2]);
    assert!(p.is_available_offline("MSDYN_WORKORDER"));
    assert!(!p.is_available_offline("account"));
}

// ----- lint -----

fn warnings(items: &str) -> Vec<(String, String)> {
    let schema = field_service();
    let mut p = profile(items);
    p.prepare(&schema).unwrap();
    p.lint(&schema).into_iter().map(|w| (w.code.to_string(), w.message)).collect()
}

fn custom(table: &str, filter: &str) -> String {
    format!(r#"{{"table": "{table}", "filter": {{"custom": "{}"}}}}"#, filter.replace('"', "\\\""))
}

#[test]
fn lint_all_rows() {
    let w = warnings(r#"[{"table": "bookingstatus", "filter": "all"}]"#);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, codes::ALL_ROWS);
    assert!(w[0].1.starts_with("items[0] (bookingstatus): downloads every row"), "{}", w[0].1);
}

#[test]
fn lint_related_without_relationship_downloads_nothing() {
    let w = warnings(r#"[{"table": "account"}, {"table": "contact", "filter": {"ownership": []}}]"#);
    assert_eq!(w.iter().map(|w| w.0.as_str()).collect::<Vec<_>>(), vec![codes::NO_ROWS, codes::NO_ROWS]);
    assert!(w[0].1.starts_with("items[0] (account): related rows only"));
    assert!(w[1].1.starts_with("items[1] (contact): the ownership filter selects no owner"));
}

#[test]
fn lint_wide_date_ranges() {
    let cases = [
        (r#"<filter><condition attribute="starttime" operator="last-x-years" value="2"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="last-x-years" value="1"/></filter>"#, false),
        (r#"<filter><condition attribute="starttime" operator="next-x-months" value="13"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="next-x-months" value="12"/></filter>"#, false),
        (r#"<filter><condition attribute="starttime" operator="last-x-days" value="400"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="next-x-weeks" value="53"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="this-year"/></filter>"#, false),
    ];
    for (f, wide) in cases {
        let w = warnings(&format!("[{}]", custom("bookableresourcebooking", f)));
        if wide {
            assert_eq!(w.len(), 1, "{f}: {w:?}");
            assert_eq!(w[0].0, codes::WIDE_DATE_RANGE, "{f}");
            assert!(w[0].1.starts_with("items[0] (bookableresourcebooking): 'starttime'"), "{}", w[0].1);
        } else {
            assert!(w.is_empty(), "{f}: {w:?}");
        }
    }
}

#[test]
fn lint_open_date_ranges() {
    let cases = [
        (r#"<filter><condition attribute="starttime" operator="on-or-after" value="2026-01-01"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="on-or-before" value="2026-01-01"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="olderthan-x-days" value="3"/></filter>"#, true),
        (r#"<filter><condition attribute="starttime" operator="gt" value="2026-01-01"/></filter>"#, true),
        (r#"<filter><condition attribute="duration" operator="gt" value="30"/></filter>"#, false),
        (
            r#"<filter><condition attribute="starttime" operator="on-or-after" value="2026-01-01"/><condition attribute="starttime" operator="on-or-before" value="2026-02-01"/></filter>"#,
            false,
        ),
        (
            r#"<filter type="or"><condition attribute="starttime" operator="on-or-after" value="2026-01-01"/><condition attribute="starttime" operator="on-or-before" value="2026-02-01"/></filter>"#,
            true,
        ),
        (
            r#"<filter><condition attribute="starttime" operator="on-or-after" value="2026-01-01"/><condition attribute="endtime" operator="next-seven-days"/></filter>"#,
            true,
        ),
    ];
    for (f, open) in cases {
        let w = warnings(&format!("[{}]", custom("bookableresourcebooking", f)));
        if open {
            assert!(!w.is_empty(), "{f}");
            assert!(w.iter().all(|w| w.0 == codes::OPEN_DATE_RANGE), "{f}: {w:?}");
        } else {
            assert!(w.is_empty(), "{f}: {w:?}");
        }
    }
}

#[test]
fn lint_uses_a_prepared_plan_too() {
    // A hand-built plan (as the sync engine holds after prepare), not text.
    let schema = field_service();
    let mut item = ProfileItem::new("bookableresourcebooking", ItemFilter::All);
    item.filter = ItemFilter::Custom(CustomFilter {
        fetchxml: "(hand-built)".into(),
        plan: Some(Filter::Condition(Condition {
            entity: None,
            attribute: "endtime".into(),
            operator: Operator::LastXYears,
            values: vec![Literal::Text("3".into())],
        })),
    });
    let p = Profile { id: None, name: "x".into(), items: vec![item] };
    let w = p.lint(&schema);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, codes::WIDE_DATE_RANGE);
}

#[test]
fn lint_interval_shorter_than_a_dependency() {
    let w = warnings(&format!(
        r#"[{}, {{"table": "msdyn_workorder", "relationships": ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"], "syncIntervalMinutes": 5}}]"#,
        BOOKINGS.replace("}}", r#"}, "syncIntervalMinutes": 60}"#)
    ));
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, codes::INTERVAL_SHORTER_THAN_DEPENDENCY);
    assert!(w[0].1.starts_with("items[1] (msdyn_workorder): syncs every 5 minutes but depends on bookableresourcebooking, which syncs every 60"), "{}", w[0].1);
}

#[test]
fn warning_json_has_code_item_table_message() {
    let schema = field_service();
    let p = profile(r#"[{"table": "bookingstatus", "filter": "all"}]"#);
    let j = p.lint(&schema)[0].to_json();
    assert_eq!(j["code"], "all-rows");
    assert_eq!(j["item"], 0);
    assert_eq!(j["table"], "bookingstatus");
}
