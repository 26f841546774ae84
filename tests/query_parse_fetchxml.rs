//! FetchXML parser: every element, attribute and operator to hand-written plans; errors with their codes.

#[path = "query_parse_support/mod.rs"]
mod support;

use xrm_offline::query::plan::*;
use xrm_offline::query::{parse_fetchxml, parse_fetchxml_filter};
use xrm_offline::ErrorCode;

fn cond(attribute: &str, operator: Operator, values: &[&str]) -> Filter {
    Filter::Condition(Condition {
        entity: None,
        attribute: attribute.into(),
        operator,
        values: values.iter().map(|v| Literal::Text(v.to_string())).collect(),
    })
}

fn err(xml: &str) -> xrm_offline::Error {
    parse_fetchxml(&support::schema(), xml).expect_err(xml)
}

#[test]
fn full_fetch_to_plan() {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<fetch version="1.0" mapping="logical" top="10" distinct="true" returntotalrecordcount="true" no-lock="true">
  <entity name="account">
    <attribute name="name"/>
    <attribute name="revenue" />
    <order attribute="name" descending="true"/>
    <order attribute="fullname" entityname="pc"/>
    <filter type="and">
      <condition attribute="statecode" operator="eq" value="0"/>
      <condition attribute="fullname" entityname="pc" operator="like" value="%a&amp;b%"/>
      <filter type="or">
        <condition attribute="numberofemployees" operator="gte" value="10"/>
        <condition attribute="industrycode" operator="in"><value>1</value><value>2</value></condition>
      </filter>
    </filter>
    <link-entity name="contact" from="contactid" to="primarycontactid" alias="pc" link-type="outer">
      <attribute name="fullname"/>
      <order attribute="birthdate"/>
    </link-entity>
    <link-entity name="contact" from="parentcustomerid" to="accountid">
      <filter><condition attribute="numberofchildren" operator="gt" value="2"/></filter>
      <link-entity name="account" from="accountid" to="parentcustomerid"><all-attributes/></link-entity>
    </link-entity>
  </entity>
</fetch>"#;
    let q = parse_fetchxml(&support::schema(), xml).unwrap();
    let expected = Query {
        table: "account".into(),
        columns: Columns::Some(vec!["name".into(), "revenue".into()]),
        filter: Some(Filter::And(vec![
            cond("statecode", Operator::Eq, &["0"]),
            Filter::Condition(Condition {
                entity: Some("pc".into()),
                attribute: "fullname".into(),
                operator: Operator::Like,
                values: vec![Literal::Text("%a&b%".into())],
            }),
            Filter::Or(vec![
                cond("numberofemployees", Operator::Ge, &["10"]),
                cond("industrycode", Operator::In, &["1", "2"]),
            ]),
        ])),
        orders: vec![
            Order { entity: None, attribute: "name".into(), descending: true },
            Order { entity: Some("pc".into()), attribute: "fullname".into(), descending: false },
            Order { entity: Some("pc".into()), attribute: "birthdate".into(), descending: false },
        ],
        top: Some(10),
        page_size: None,
        page: None,
        count: true,
        distinct: true,
        joins: vec![
            Join {
                table: "contact".into(),
                from: "contactid".into(),
                to: "primarycontactid".into(),
                alias: "pc".into(),
                kind: JoinKind::Outer,
                columns: Columns::Some(vec!["fullname".into()]),
                filter: None,
                joins: vec![],
            },
            Join {
                table: "contact".into(),
                from: "parentcustomerid".into(),
                to: "accountid".into(),
                alias: "contact1".into(),
                kind: JoinKind::Inner,
                columns: Columns::Some(vec![]),
                filter: Some(Filter::And(vec![cond("numberofchildren", Operator::Gt, &["2"])])),
                joins: vec![Join {
                    table: "account".into(),
                    from: "accountid".into(),
                    to: "parentcustomerid".into(),
                    alias: "account1".into(),
                    kind: JoinKind::Inner,
                    columns: Columns::All,
                    filter: None,
                    joins: vec![],
                }],
            },
        ],
        expands: vec![],
    };
    assert_eq!(q, expected);
}

#[test]
fn paging_and_defaults() {
    let q = parse_fetchxml(&support::schema(), "<fetch count='50' page='3'><entity name='contact'/></fetch>").unwrap();
    assert_eq!(q.table, "contact");
    assert_eq!(q.columns, Columns::All);
    assert_eq!((q.page_size, q.page, q.top), (Some(50), Some(3), None));
    assert!(!q.count && !q.distinct);
    assert_eq!(q.filter, None);
}

#[test]
fn default_aliases_skip_explicit_ones() {
    let xml = "<fetch><entity name='account'>
        <link-entity name='contact' from='contactid' to='primarycontactid' alias='contact1'/>
        <link-entity name='contact' from='contactid' to='primarycontactid'/>
        <link-entity name='contact' from='contactid' to='primarycontactid'/>
        <link-entity name='msdyn_workorder' from='msdyn_serviceaccount' to='accountid'/>
      </entity></fetch>";
    let q = parse_fetchxml(&support::schema(), xml).unwrap();
    let aliases: Vec<_> = q.joins.iter().map(|j| j.alias.as_str()).collect();
    assert_eq!(aliases, ["contact1", "contact2", "contact3", "msdyn_workorder1"]);
}

#[test]
fn every_operator_parses() {
    for op in Operator::ALL {
        let (attr, values): (&str, Vec<&str>) = match op.arity() {
            Arity::None => ("createdon", vec![]),
            Arity::One => ("createdon", vec!["3"]),
            Arity::Many => ("createdon", vec!["1", "2"]),
        };
        let body = match op.arity() {
            Arity::None => String::new(),
            Arity::One => "<value>3</value>".to_string(),
            Arity::Many => "<value>1</value><value>2</value>".to_string(),
        };
        let xml = format!(
            "<filter><condition attribute='{attr}' operator='{}'>{body}</condition></filter>",
            op.fetchxml_name()
        );
        let f = parse_fetchxml_filter(&support::schema(), "account", &xml).unwrap();
        assert_eq!(f, Some(Filter::And(vec![cond(attr, op, &values)])), "{op:?}");
    }
    for (alias, op) in [("neq", Operator::Ne), ("gte", Operator::Ge), ("lte", Operator::Le)] {
        let xml = format!("<filter><condition attribute='name' operator='{alias}' value='x'/></filter>");
        let f = parse_fetchxml_filter(&support::schema(), "account", &xml).unwrap();
        assert_eq!(f, Some(Filter::And(vec![cond("name", op, &["x"])])));
    }
}

#[test]
fn related_filters() {
    let xml = r#"<filter type="or">
        <link-entity name="contact" from="parentcustomerid" to="accountid" link-type="any">
          <filter><condition attribute="fullname" operator="begins-with" value="A"/></filter>
        </link-entity>
        <link-entity name="contact" from="contactid" to="primarycontactid" link-type="not any"/>
        <link-entity name="msdyn_workorder" from="msdyn_serviceaccount" to="accountid" link-type="all">
          <filter type="or"><condition attribute="msdyn_priority" operator="eq" value="1"/></filter>
        </link-entity>
        <link-entity name="msdyn_workorder" from="msdyn_serviceaccount" to="accountid" link-type="not all"/>
      </filter>"#;
    let f = parse_fetchxml_filter(&support::schema(), "account", xml).unwrap().unwrap();
    let rel = |kind, table: &str, from: &str, to: &str, filter| {
        Filter::Related(Box::new(RelatedFilter { kind, table: table.into(), from: from.into(), to: to.into(), filter }))
    };
    assert_eq!(
        f,
        Filter::Or(vec![
            rel(
                RelatedKind::Any,
                "contact",
                "parentcustomerid",
                "accountid",
                Some(Filter::And(vec![cond("fullname", Operator::BeginsWith, &["A"])]))
            ),
            rel(RelatedKind::NotAny, "contact", "contactid", "primarycontactid", None),
            rel(
                RelatedKind::All,
                "msdyn_workorder",
                "msdyn_serviceaccount",
                "accountid",
                Some(Filter::Or(vec![cond("msdyn_priority", Operator::Eq, &["1"])]))
            ),
            rel(RelatedKind::NotAll, "msdyn_workorder", "msdyn_serviceaccount", "accountid", None),
        ])
    );
}

#[test]
fn custom_filter_forms() {
    let s = support::schema();
    assert_eq!(parse_fetchxml_filter(&s, "account", "<filter/>").unwrap(), None);
    assert_eq!(parse_fetchxml_filter(&s, "account", "<filter><filter type='or'/></filter>").unwrap(), None);
    let fetch =
        "<fetch count='5' page='2' top='3'><entity name='account'><attribute name='stale'/><order attribute='name'/>
        <filter><condition attribute='name' operator='not-null'/></filter>
        <filter type='or'><condition attribute='revenue' operator='lt' value='5'/></filter></entity></fetch>";
    assert_eq!(
        parse_fetchxml_filter(&s, "account", fetch).unwrap(),
        Some(Filter::And(vec![
            Filter::And(vec![cond("name", Operator::NotNull, &[])]),
            Filter::Or(vec![cond("revenue", Operator::Lt, &["5"])]),
        ]))
    );
    let e = parse_fetchxml_filter(&s, "contact", fetch).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidFetchXml);
    let e = parse_fetchxml_filter(&s, "nope", "<filter/>").unwrap_err();
    assert_eq!(e.code, ErrorCode::TableNotFound);
    let many = format!("<filter>{}</filter>", "<condition attribute='name' operator='null'/>".repeat(501));
    assert!(parse_fetchxml_filter(&s, "account", &many).unwrap_err().message.contains("500"));
}

#[test]
fn errors_have_codes() {
    assert_eq!(err("<fetch><entity name='nope'/></fetch>").code, ErrorCode::TableNotFound);
    let e = err("<fetch><entity name='account'><attribute name='nope'/></entity></fetch>");
    assert_eq!(e.code, ErrorCode::AttributeNotFound);
    assert!(e.message.contains("'account'") && e.message.contains("'nope'"), "{}", e.message);
    let e = err("<fetch><entity name='account'><filter><condition attribute='x' entityname='pc' operator='eq' value='1'/></filter>
        <link-entity name='contact' from='contactid' to='primarycontactid' alias='pc'/></entity></fetch>");
    assert_eq!(e.code, ErrorCode::AttributeNotFound);
    assert!(e.message.contains("'contact'"), "{}", e.message);
    let e = err("<fetch aggregate='true'><entity name='account'/></fetch>");
    assert!(e.message.contains("aggregat"));
    assert_eq!(e.code, ErrorCode::InvalidFetchXml);
    assert!(err("<fetch><entity name='account'><attribute name='name' aggregate='count'/></entity></fetch>")
        .message
        .contains("aggregat"));
    assert!(err("<fetch><entity name='account'><attribute name='name' groupby='true'/></entity></fetch>")
        .message
        .contains("groupby"));
    for bad in [
        "<fetch><entity name='account'><filter><condition attribute='name' operator='eq'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' operator='null' value='1'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' operator='in'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' operator='eq' value='1'><value>2</value></condition></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' operator='bogus' value='1'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter type='xor'/></entity></fetch>",
        "<fetch><entity name='account'><bogus/></entity></fetch>",
        "<fetch><entity name='account' bogus='1'/></fetch>",
        "<fetch top='5' count='5'><entity name='account'/></fetch>",
        "<fetch><entity name='account'/><entity name='contact'/></fetch>",
        "<fetch/>",
        "<filter/>",
        "<fetch><entity name='account'><link-entity name='contact' from='contactid' to='primarycontactid' link-type='any'/></entity></fetch>",
        "<fetch><entity name='account'><filter><link-entity name='contact' from='contactid' to='primarycontactid'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' operator='eq' valueof='description'/></filter></entity></fetch>",
        "<fetch><entity name='account'><filter><condition attribute='name' entityname='zz' operator='null'/></filter></entity></fetch>",
        "<fetch><entity name='account'><link-entity name='contact' from='contactid' to='primarycontactid' alias='a'/><link-entity name='contact' from='contactid' to='primarycontactid' alias='a'/></entity></fetch>",
        "<fetch><entity name='account'>",
    ] {
        assert_eq!(err(bad).code, ErrorCode::InvalidFetchXml, "{bad}");
    }
    let e = err("<fetch><entity name='account'><filter><condition attribute='createdon' operator='last-x-days' value='x'/></filter></entity></fetch>");
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert_eq!(err("<fetch top='-1'><entity name='account'/></fetch>").code, ErrorCode::InvalidArgument);
    let e = err("<fetch><entity name='account'><link-entity name='contact' from='nope' to='primarycontactid'/></entity></fetch>");
    assert_eq!(e.code, ErrorCode::AttributeNotFound);
    let e = err("<fetch>\n<entity name='account'></fetch>");
    assert!(e.message.contains("at byte 31"), "{}", e.message);
}
