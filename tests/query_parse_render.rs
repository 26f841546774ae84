//! Rendering plans as FetchXML and OData: exact text for hand-written plans, and reading it back.

#[path = "query_parse_support/mod.rs"]
mod support;

use xrm_offline::query::plan::*;
use xrm_offline::query::render::*;
use xrm_offline::query::{parse_fetchxml, parse_fetchxml_filter, parse_odata};
use xrm_offline::ErrorCode;

const G: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn c(attribute: &str, operator: Operator, values: Vec<Literal>) -> Filter {
    Filter::Condition(Condition { entity: None, attribute: attribute.into(), operator, values })
}

fn t(s: &str) -> Literal {
    Literal::Text(s.into())
}

fn rel(kind: RelatedKind, table: &str, from: &str, to: &str, filter: Option<Filter>) -> Filter {
    Filter::Related(Box::new(RelatedFilter { kind, table: table.into(), from: from.into(), to: to.into(), filter }))
}

#[test]
fn fetchxml_text() {
    let f = Filter::Or(vec![
        c("name", Operator::Like, vec![t("%a&<\"'>\n%")]),
        Filter::And(vec![c("statecode", Operator::In, vec![t("0"), t("1")]), c("createdon", Operator::Today, vec![])]),
        rel(
            RelatedKind::NotAny,
            "contact",
            "parentcustomerid",
            "accountid",
            Some(Filter::And(vec![c("fullname", Operator::Null, vec![])])),
        ),
    ]);
    let xml = filter_to_fetchxml(&f);
    assert_eq!(
        xml,
        "<filter type=\"or\"><condition attribute=\"name\" operator=\"like\" value=\"%a&amp;&lt;&quot;&apos;&gt;&#10;%\"/>\
         <filter type=\"and\"><condition attribute=\"statecode\" operator=\"in\"><value>0</value><value>1</value></condition>\
         <condition attribute=\"createdon\" operator=\"today\"/></filter>\
         <link-entity name=\"contact\" from=\"parentcustomerid\" to=\"accountid\" link-type=\"not any\">\
         <filter type=\"and\"><condition attribute=\"fullname\" operator=\"null\"/></filter></link-entity></filter>"
    );
    assert_eq!(parse_fetchxml_filter(&support::schema(), "account", &xml).unwrap(), Some(f));
}

#[test]
fn fetchxml_negation_is_pushed_down() {
    let f = Filter::Not(Box::new(Filter::And(vec![
        c("name", Operator::Eq, vec![t("a")]),
        c("revenue", Operator::Gt, vec![t("5")]),
        Filter::Not(Box::new(c("numberofemployees", Operator::In, vec![t("1")]))),
        rel(RelatedKind::Any, "contact", "parentcustomerid", "accountid", None),
    ])));
    let expected = Filter::Or(vec![
        c("name", Operator::Ne, vec![t("a")]),
        c("revenue", Operator::Le, vec![t("5")]),
        c("numberofemployees", Operator::In, vec![t("1")]),
        rel(RelatedKind::NotAny, "contact", "parentcustomerid", "accountid", None),
    ]);
    let xml = try_filter_to_fetchxml(&f).unwrap();
    assert_eq!(parse_fetchxml_filter(&support::schema(), "account", &xml).unwrap(), Some(expected));
    // No complement: the try_ form fails, the infallible one writes an operator every parser rejects.
    let today = Filter::Not(Box::new(c("createdon", Operator::Today, vec![])));
    assert_eq!(try_filter_to_fetchxml(&today).unwrap_err().code, ErrorCode::InvalidArgument);
    let xml = filter_to_fetchxml(&today);
    assert!(xml.contains("operator=\"not-today\""), "{xml}");
    assert!(parse_fetchxml_filter(&support::schema(), "account", &xml).is_err());
}

#[test]
fn fetch_round_trip() {
    let xml = "<fetch top=\"3\" distinct=\"true\" returntotalrecordcount=\"true\"><entity name=\"account\"><attribute name=\"name\"/>\
        <order attribute=\"name\" descending=\"true\"/><order attribute=\"fullname\" entityname=\"pc\"/>\
        <filter type=\"and\"><condition attribute=\"fullname\" entityname=\"pc\" operator=\"not-null\"/></filter>\
        <link-entity name=\"contact\" from=\"contactid\" to=\"primarycontactid\" alias=\"pc\" link-type=\"outer\"><attribute name=\"fullname\"/>\
        <link-entity name=\"account\" from=\"accountid\" to=\"parentcustomerid\" alias=\"account1\"><all-attributes/></link-entity></link-entity></entity></fetch>";
    let q = parse_fetchxml(&support::schema(), xml).unwrap();
    let text = try_query_to_fetchxml(&q).unwrap();
    assert_eq!(text, xml);
    assert_eq!(parse_fetchxml(&support::schema(), &text).unwrap(), q);
    // Needs FetchXML: sent as ?fetchXml=, which reads back to the same plan.
    let odata = query_to_odata(&support::schema(), &q).unwrap();
    assert!(odata.starts_with("?fetchXml=%3Cfetch"), "{odata}");
    assert_eq!(parse_odata(&support::schema(), "account", &odata).unwrap(), q);
    let paged =
        parse_fetchxml(&support::schema(), "<fetch count='5' page='2'><entity name='contact'/></fetch>").unwrap();
    assert_eq!(
        query_to_fetchxml(&paged),
        "<fetch count=\"5\" page=\"2\"><entity name=\"contact\"><all-attributes/></entity></fetch>"
    );
}

#[test]
fn odata_text() {
    let s = support::schema();
    let cases: Vec<(Filter, &str)> = vec![
        (c("name", Operator::Eq, vec![t("O'Neil")]), "name eq 'O''Neil'"),
        (c("numberofemployees", Operator::Ge, vec![t("10")]), "numberofemployees ge 10"),
        (c("revenue", Operator::Lt, vec![Literal::Number(2.0)]), "revenue lt 2.0"),
        (c("donotphone", Operator::Eq, vec![t("1")]), "donotphone eq true"),
        (c("createdon", Operator::Gt, vec![t("2024-01-02T03:04:05Z")]), "createdon gt 2024-01-02T03:04:05Z"),
        (c("primarycontactid", Operator::Eq, vec![t(G)]), "_primarycontactid_value eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        (c("primarycontactid", Operator::Null, vec![]), "_primarycontactid_value eq null"),
        (c("name", Operator::NotNull, vec![]), "name ne null"),
        (c("name", Operator::Like, vec![t("%ab%")]), "contains(name,'ab')"),
        (c("name", Operator::Like, vec![t("ab%")]), "startswith(name,'ab')"),
        (c("name", Operator::Like, vec![t("%ab")]), "endswith(name,'ab')"),
        (c("name", Operator::Like, vec![t("ab")]), "name eq 'ab'"),
        (c("name", Operator::NotLike, vec![t("%ab%")]), "not contains(name,'ab')"),
        (c("name", Operator::BeginsWith, vec![t("a")]), "startswith(name,'a')"),
        (c("name", Operator::NotBeginWith, vec![t("a")]), "not startswith(name,'a')"),
        (c("name", Operator::EndsWith, vec![t("a")]), "endswith(name,'a')"),
        (c("name", Operator::NotEndWith, vec![t("a")]), "not endswith(name,'a')"),
        (
            c("primarycontactid", Operator::In, vec![t(G)]),
            "Microsoft.Dynamics.CRM.In(PropertyName='primarycontactid',PropertyValues=['3f2504e0-4f89-11d3-9a0c-0305e82c3301'])",
        ),
        (c("statecode", Operator::NotIn, vec![t("0"), t("1")]), "Microsoft.Dynamics.CRM.NotIn(PropertyName='statecode',PropertyValues=['0','1'])"),
        (c("ownerid", Operator::EqUserOrUserTeams, vec![]), "Microsoft.Dynamics.CRM.EqualUserOrUserTeams(PropertyName='ownerid')"),
        (c("createdon", Operator::LastXDays, vec![t("7")]), "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)"),
        (c("createdon", Operator::On, vec![t("2024-01-02")]), "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-02')"),
        (c("createdon", Operator::NextSevenDays, vec![]), "Microsoft.Dynamics.CRM.Next7Days(PropertyName='createdon')"),
        (Filter::And(vec![]), "accountid ne null"),
        (
            Filter::Or(vec![
                c("name", Operator::Eq, vec![t("a")]),
                Filter::And(vec![c("name", Operator::Eq, vec![t("b")]), c("name", Operator::Eq, vec![t("c")])]),
                Filter::Not(Box::new(Filter::Or(vec![c("name", Operator::Eq, vec![t("d")]), c("name", Operator::Eq, vec![t("e")])]))),
            ]),
            "name eq 'a' or (name eq 'b' and name eq 'c') or not (name eq 'd' or name eq 'e')",
        ),
        (
            rel(RelatedKind::All, "contact", "parentcustomerid", "accountid", Some(c("parentcustomerid", Operator::Eq, vec![t(G)]))),
            "contact_customer_accounts/all(o:o/_parentcustomerid_value eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301)",
        ),
        (rel(RelatedKind::NotAny, "contact", "parentcustomerid", "accountid", None), "not contact_customer_accounts/any()"),
        (
            rel(RelatedKind::Any, "contact", "contactid", "primarycontactid", Some(Filter::And(vec![
                c("fullname", Operator::Eq, vec![t("x")]),
                Filter::Not(Box::new(c("numberofchildren", Operator::Gt, vec![t("2")]))),
            ]))),
            "primarycontactid/fullname eq 'x' and primarycontactid/numberofchildren le 2",
        ),
    ];
    for (f, expected) in cases {
        let text = filter_to_odata(&s, "account", &f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert_eq!(text, expected);
        parse_odata(&s, "account", &format!("$filter={}", text.replace('%', "%25")))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    for bad in [
        c("name", Operator::Like, vec![t("a%b")]),
        c("numberofemployees", Operator::Eq, vec![t("many")]),
        c("createdon", Operator::Eq, vec![t("yesterday")]),
        c("primarycontactid", Operator::Eq, vec![t("not-a-guid")]),
        rel(RelatedKind::Any, "contact", "fullname", "name", None),
        Filter::Condition(Condition {
            entity: Some("pc".into()),
            attribute: "name".into(),
            operator: Operator::Null,
            values: vec![],
        }),
    ] {
        assert_eq!(filter_to_odata(&s, "account", &bad).unwrap_err().code, ErrorCode::InvalidArgument, "{bad:?}");
    }
}

#[test]
fn query_options_round_trip() {
    let s = support::schema();
    let options = "?$select=name,_primarycontactid_value&$filter=name eq 'a %26 b+c' and contact_customer_accounts/any(o:o/numberofchildren gt 1)\
        &$orderby=name desc,createdon&$top=7&$count=true\
        &$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$filter=startswith(fullname,'x;y');$orderby=fullname;$top=2)";
    let q = parse_odata(&s, "account", options).unwrap();
    let text = query_to_odata(&s, &q).unwrap();
    assert_eq!(
        text,
        "?$select=name,_primarycontactid_value\
         &$filter=name%20eq%20'a%20%26%20b%2Bc'%20and%20contact_customer_accounts/any(o:o/numberofchildren%20gt%201)\
         &$orderby=name%20desc,createdon&$top=7&$count=true\
         &$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$filter=startswith(fullname,'x;y');$orderby=fullname;$top=2)"
    );
    assert_eq!(parse_odata(&s, "account", &text).unwrap(), q);
    assert_eq!(query_to_odata(&s, &Query { table: "account".into(), ..Query::default() }).unwrap(), "");
}
