//! OData parser: every query option and operator to hand-written plans; errors with codes and positions.

#[path = "query_parse_support/mod.rs"]
mod support;

use xrm_offline::query::parse_odata;
use xrm_offline::query::plan::*;
use xrm_offline::ErrorCode;

const G: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn c(attribute: &str, operator: Operator, values: Vec<Literal>) -> Filter {
    Filter::Condition(Condition { entity: None, attribute: attribute.into(), operator, values })
}

fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

fn filter(table: &str, f: &str) -> Filter {
    let q = parse_odata(&support::schema(), table, &format!("$filter={f}")).unwrap_or_else(|e| panic!("{f}: {e}"));
    q.filter.unwrap()
}

fn err(table: &str, options: &str) -> xrm_offline::Error {
    parse_odata(&support::schema(), table, options).expect_err(options)
}

fn rel(kind: RelatedKind, table: &str, from: &str, to: &str, filter: Option<Filter>) -> Filter {
    Filter::Related(Box::new(RelatedFilter { kind, table: table.into(), from: from.into(), to: to.into(), filter }))
}

#[test]
fn all_options() {
    let q = parse_odata(
        &support::schema(),
        "account",
        "?$select=name,revenue,_primarycontactid_value&$filter=name%20eq%20'a+b'&$orderby=name desc,createdon&$top=5&$count=true",
    )
    .unwrap();
    assert_eq!(
        q,
        Query {
            table: "account".into(),
            columns: Columns::Some(vec!["name".into(), "revenue".into(), "primarycontactid".into()]),
            filter: Some(c("name", Operator::Eq, vec![text("a+b")])),
            orders: vec![
                Order { entity: None, attribute: "name".into(), descending: true },
                Order { entity: None, attribute: "createdon".into(), descending: false },
            ],
            top: Some(5),
            count: true,
            ..Query::default()
        }
    );
    assert_eq!(
        parse_odata(&support::schema(), "account", "").unwrap(),
        Query { table: "account".into(), ..Query::default() }
    );
    assert!(!parse_odata(&support::schema(), "account", "$count=false").unwrap().count);
}

#[test]
fn expand() {
    let q = parse_odata(
        &support::schema(),
        "account",
        "$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$filter=numberofchildren gt 1;$orderby=fullname desc;$top=3;$expand=parentcustomerid_account($select=name))",
    )
    .unwrap();
    let expected = vec![
        Expand {
            navigation: "primarycontactid".into(),
            collection: false,
            from: "contactid".into(),
            to: "primarycontactid".into(),
            query: Query {
                table: "contact".into(),
                columns: Columns::Some(vec!["fullname".into()]),
                ..Query::default()
            },
        },
        Expand {
            navigation: "contact_customer_accounts".into(),
            collection: true,
            from: "parentcustomerid".into(),
            to: "accountid".into(),
            query: Query {
                table: "contact".into(),
                columns: Columns::Some(vec!["fullname".into()]),
                filter: Some(c("numberofchildren", Operator::Gt, vec![Literal::Int(1)])),
                orders: vec![Order { entity: None, attribute: "fullname".into(), descending: true }],
                top: Some(3),
                expands: vec![Expand {
                    navigation: "parentcustomerid_account".into(),
                    collection: false,
                    from: "accountid".into(),
                    to: "parentcustomerid".into(),
                    query: Query {
                        table: "account".into(),
                        columns: Columns::Some(vec!["name".into()]),
                        ..Query::default()
                    },
                }],
                ..Query::default()
            },
        },
    ];
    assert_eq!(q.expands, expected);
    assert_eq!(err("account", "$expand=primarycontactid($top=1)").code, ErrorCode::InvalidQuery);
    assert_eq!(err("account", "$expand=nope").code, ErrorCode::InvalidQuery);
    assert_eq!(err("account", "$expand=contact_customer_accounts($select=nope)").code, ErrorCode::AttributeNotFound);
    assert_eq!(err("account", "$expand=contact_customer_accounts($bogus=1)").code, ErrorCode::InvalidQuery);
    assert_eq!(err("account", "$expand=contact_customer_accounts($select=fullname").code, ErrorCode::InvalidQuery);
}

#[test]
fn comparisons_and_literals() {
    let cases: Vec<(&str, Filter)> = vec![
        ("name eq 'O''Neil'", c("name", Operator::Eq, vec![text("O'Neil")])),
        ("name ne 'x'", c("name", Operator::Ne, vec![text("x")])),
        ("numberofemployees gt -5", c("numberofemployees", Operator::Gt, vec![Literal::Int(-5)])),
        ("revenue ge 1.5", c("revenue", Operator::Ge, vec![Literal::Number(1.5)])),
        ("revenue lt 2e3", c("revenue", Operator::Lt, vec![Literal::Number(2000.0)])),
        ("createdon le 2024-01-31", c("createdon", Operator::Le, vec![Literal::DateTime("2024-01-31".into())])),
        (
            "createdon gt 2024-01-31T10:20:30.123+02:00",
            c("createdon", Operator::Gt, vec![Literal::DateTime("2024-01-31T10:20:30.123+02:00".into())]),
        ),
        (
            "createdon lt 2024-01-31T10:20Z",
            c("createdon", Operator::Lt, vec![Literal::DateTime("2024-01-31T10:20Z".into())]),
        ),
        ("donotphone eq true", c("donotphone", Operator::Eq, vec![Literal::Bool(true)])),
        ("donotphone eq false", c("donotphone", Operator::Eq, vec![Literal::Bool(false)])),
        ("name eq null", c("name", Operator::Null, vec![])),
        ("name ne null", c("name", Operator::NotNull, vec![])),
        (
            "primarycontactid eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            c("primarycontactid", Operator::Eq, vec![Literal::Guid(G.into())]),
        ),
        (
            "_primarycontactid_value eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            c("primarycontactid", Operator::Eq, vec![Literal::Guid(G.into())]),
        ),
        ("contains(name,'a%b')", c("name", Operator::Like, vec![text("%a%b%")])),
        ("startswith(name, 'ab')", c("name", Operator::BeginsWith, vec![text("ab")])),
        ("endswith(name,'ab')", c("name", Operator::EndsWith, vec![text("ab")])),
        ("not contains(name,'a')", Filter::Not(Box::new(c("name", Operator::Like, vec![text("%a%")])))),
    ];
    for (f, expected) in cases {
        assert_eq!(filter("account", f), expected, "{f}");
    }
    // The navigation property name of a lookup works too.
    assert_eq!(
        filter("contact", &format!("parentcustomerid_account eq {G}")),
        c("parentcustomerid", Operator::Eq, vec![Literal::Guid(G.into())])
    );
}

#[test]
fn precedence() {
    let a = || c("name", Operator::Eq, vec![text("a")]);
    let b = || c("numberofemployees", Operator::Eq, vec![Literal::Int(1)]);
    let d = || c("revenue", Operator::Eq, vec![Literal::Int(2)]);
    assert_eq!(
        filter("account", "name eq 'a' or numberofemployees eq 1 and revenue eq 2"),
        Filter::Or(vec![a(), Filter::And(vec![b(), d()])])
    );
    assert_eq!(
        filter("account", "(name eq 'a' or numberofemployees eq 1) and not revenue eq 2"),
        Filter::And(vec![Filter::Or(vec![a(), b()]), Filter::Not(Box::new(d()))])
    );
    assert_eq!(
        filter("account", "not (name eq 'a' and numberofemployees eq 1) or revenue eq 2"),
        Filter::Or(vec![Filter::Not(Box::new(Filter::And(vec![a(), b()]))), d()])
    );
    assert_eq!(filter("account", "((name eq 'a'))"), a());
}

#[test]
fn every_query_function() {
    use Operator::*;
    let none = [
        ("EqualUserId", EqUserId),
        ("NotEqualUserId", NeUserId),
        ("EqualUserTeams", EqUserTeams),
        ("EqualUserOrUserTeams", EqUserOrUserTeams),
        ("EqualBusinessId", EqBusinessId),
        ("NotEqualBusinessId", NeBusinessId),
        ("Today", Today),
        ("Tomorrow", Tomorrow),
        ("Yesterday", Yesterday),
        ("Next7Days", NextSevenDays),
        ("Last7Days", LastSevenDays),
        ("ThisWeek", ThisWeek),
        ("LastWeek", LastWeek),
        ("NextWeek", NextWeek),
        ("ThisMonth", ThisMonth),
        ("LastMonth", LastMonth),
        ("NextMonth", NextMonth),
        ("ThisYear", ThisYear),
        ("LastYear", LastYear),
        ("NextYear", NextYear),
    ];
    for (name, op) in none {
        let f = filter("account", &format!("Microsoft.Dynamics.CRM.{name}(PropertyName='createdon')"));
        assert_eq!(f, c("createdon", op, vec![]), "{name}");
    }
    let one = [
        ("On", On),
        ("OnOrAfter", OnOrAfter),
        ("OnOrBefore", OnOrBefore),
        ("LastXDays", LastXDays),
        ("NextXDays", NextXDays),
        ("LastXWeeks", LastXWeeks),
        ("NextXWeeks", NextXWeeks),
        ("LastXMonths", LastXMonths),
        ("NextXMonths", NextXMonths),
        ("LastXYears", LastXYears),
        ("NextXYears", NextXYears),
        ("OlderThanXDays", OlderThanXDays),
    ];
    for (name, op) in one {
        let f = filter("account", &format!("Microsoft.Dynamics.CRM.{name}(PropertyName='createdon',PropertyValue=3)"));
        assert_eq!(f, c("createdon", op, vec![Literal::Int(3)]), "{name}");
    }
    assert_eq!(
        filter("account", "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-02')"),
        c("createdon", On, vec![text("2024-01-02")])
    );
    assert_eq!(
        filter("account", "Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0',1])"),
        c("statecode", In, vec![text("0"), Literal::Int(1)])
    );
    assert_eq!(
        filter(
            "account",
            &format!("Microsoft.Dynamics.CRM.NotIn(PropertyName='_primarycontactid_value',PropertyValues=['{G}'])")
        ),
        c("primarycontactid", NotIn, vec![text(G)])
    );
    assert_eq!(
        filter("account", "Microsoft.Dynamics.CRM.EqualUserOrUserTeams(PropertyName='ownerid')"),
        c("ownerid", EqUserOrUserTeams, vec![])
    );
}

#[test]
fn navigation_and_lambdas() {
    assert_eq!(
        filter("account", "contact_customer_accounts/any(o:o/numberofchildren gt 2 and o/fullname eq 'x')"),
        rel(
            RelatedKind::Any,
            "contact",
            "parentcustomerid",
            "accountid",
            Some(Filter::And(vec![
                c("numberofchildren", Operator::Gt, vec![Literal::Int(2)]),
                c("fullname", Operator::Eq, vec![text("x")]),
            ]))
        )
    );
    assert_eq!(
        filter("account", "contact_customer_accounts/any()"),
        rel(RelatedKind::Any, "contact", "parentcustomerid", "accountid", None)
    );
    assert_eq!(
        filter("account", "msdyn_account_msdyn_workorder_ServiceAccount/all(w:contains(w/msdyn_name,'x'))"),
        rel(
            RelatedKind::All,
            "msdyn_workorder",
            "msdyn_serviceaccount",
            "accountid",
            Some(c("msdyn_name", Operator::Like, vec![text("%x%")]))
        )
    );
    assert_eq!(
        filter("account", "primarycontactid/fullname eq 'x'"),
        rel(
            RelatedKind::Any,
            "contact",
            "contactid",
            "primarycontactid",
            Some(c("fullname", Operator::Eq, vec![text("x")]))
        )
    );
    // A path through a single-valued property into a collection, inside a lambda.
    assert_eq!(
        filter(
            "contact",
            "parentcustomerid_account/contact_customer_accounts/any(p:p/parentcustomerid_account/name eq 'n')"
        ),
        rel(
            RelatedKind::Any,
            "account",
            "accountid",
            "parentcustomerid",
            Some(rel(
                RelatedKind::Any,
                "contact",
                "parentcustomerid",
                "accountid",
                Some(rel(
                    RelatedKind::Any,
                    "account",
                    "accountid",
                    "parentcustomerid",
                    Some(c("name", Operator::Eq, vec![text("n")]))
                ))
            ))
        )
    );
}

#[test]
fn fetchxml_option() {
    let xml = "<fetch top='2'><entity name='account'><filter><condition attribute='name' operator='eq' value='a&amp;b'/></filter></entity></fetch>";
    let raw = parse_odata(&support::schema(), "account", &format!("?fetchXml={xml}")).unwrap();
    assert_eq!(raw.top, Some(2));
    assert_eq!(raw.filter, Some(Filter::And(vec![c("name", Operator::Eq, vec![text("a&b")])])));
    let encoded: String = xml
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    assert_eq!(parse_odata(&support::schema(), "account", &format!("fetchXml={encoded}")).unwrap(), raw);
    assert_eq!(err("contact", &format!("fetchXml={xml}")).code, ErrorCode::InvalidQuery);
    assert_eq!(err("account", &format!("fetchXml={xml}&$top=1")).code, ErrorCode::InvalidQuery);
}

#[test]
fn errors() {
    let e = err("account", "$filter=(name eq 'a' or name eq 'b'");
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    assert!(e.message.contains("expected ')' at 27 in $filter"), "{}", e.message);
    let e = err("account", "$filter=nope eq 1");
    assert_eq!(e.code, ErrorCode::AttributeNotFound);
    assert!(
        e.message.contains("Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'"),
        "{}",
        e.message
    );
    let e = err("account", "$filter=name eq");
    assert!(e.message.contains("expected a value at 7"), "{}", e.message);
    let e = err("account", "$filter=name xx 1");
    assert!(e.message.contains("comparison operator"), "{}", e.message);
    for (opts, code) in [
        ("$skip=1", ErrorCode::InvalidQuery),
        ("$apply=groupby((name))", ErrorCode::InvalidQuery),
        ("$bogus=1", ErrorCode::InvalidQuery),
        ("$top=x", ErrorCode::InvalidArgument),
        ("$count=maybe", ErrorCode::InvalidArgument),
        ("$select=nope", ErrorCode::AttributeNotFound),
        ("$orderby=name sideways", ErrorCode::InvalidQuery),
        ("$top=1&$top=2", ErrorCode::InvalidQuery),
        ("$filter=", ErrorCode::InvalidQuery),
        ("$filter=name eq 'x", ErrorCode::InvalidQuery),
        ("$filter=name gt null", ErrorCode::InvalidQuery),
        ("$filter=name eq revenue", ErrorCode::InvalidQuery),
        ("$filter=tolower(name) eq 'a'", ErrorCode::InvalidQuery),
        (
            "$filter=Microsoft.Dynamics.CRM.Between(PropertyName='revenue',PropertyValues=['1','2'])",
            ErrorCode::InvalidQuery,
        ),
        ("$filter=Microsoft.Dynamics.CRM.Today(PropertyName='createdon',PropertyValue=1)", ErrorCode::InvalidQuery),
        ("$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon')", ErrorCode::InvalidQuery),
        (
            "$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='x')",
            ErrorCode::InvalidArgument,
        ),
        ("$filter=Microsoft.Dynamics.CRM.In(PropertyName='nope',PropertyValues=['1'])", ErrorCode::AttributeNotFound),
        ("$filter=contact_customer_accounts eq null", ErrorCode::InvalidQuery),
        ("$filter=primarycontactid/any(o:o/fullname eq 'a')", ErrorCode::InvalidQuery),
        ("$filter=contact_customer_accounts/any(o:fullname eq 'a')", ErrorCode::InvalidQuery),
        ("$filter=contact_customer_accounts/any(o:o/nope eq 'a')", ErrorCode::AttributeNotFound),
        ("$filter=name eq 'a' name", ErrorCode::InvalidQuery),
        ("$filter=name eq 99999999999999999999", ErrorCode::InvalidQuery),
        ("$filter=name%ZZ", ErrorCode::InvalidQuery),
    ] {
        assert_eq!(err("account", opts).code, code, "{opts}");
    }
    assert_eq!(err("nope", "").code, ErrorCode::TableNotFound);
    let deep = format!("$filter={}name eq 'a'{}", "(".repeat(100), ")".repeat(100));
    assert!(err("account", &deep).message.contains("nested"));
    let nots = format!("$filter={}name eq 'a'", "not ".repeat(100));
    assert!(err("account", &nots).message.contains("nested"));
}
