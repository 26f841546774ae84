//! Property tests of the parsers: (a) no input makes them panic or hang; (b) render -> parse gives the plan back.

#[path = "query_parse_support/mod.rs"]
mod support;

use proptest::prelude::*;
use xrm_offline::query::plan::*;
use xrm_offline::query::render::*;
use xrm_offline::query::{parse_fetchxml, parse_fetchxml_filter, parse_odata};
use xrm_offline::schema::Schema;

fn schema() -> &'static Schema {
    use std::sync::OnceLock;
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(support::schema)
}

// ------------------------------------------------------------------------------------------------------------
// (a) robustness

const ODATA_SEEDS: &[&str] = &[
    "?$select=name,revenue&$filter=name eq 'a' and (revenue gt 5 or not contains(name,'x'))&$orderby=name desc&$top=5&$count=true",
    "$filter=contact_customer_accounts/any(o:o/fullname eq 'x' and o/parentcustomerid_account/name ne null)",
    "$filter=Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0','1']) or Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3)",
    "$filter=primarycontactid/fullname eq 'a''b' and createdon ge 2024-01-01T00:00:00Z and _primarycontactid_value eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$filter=numberofchildren gt 1;$orderby=fullname;$top=2;$expand=parentcustomerid_account)",
    "fetchXml=<fetch top='2'><entity name='account'><filter><condition attribute='name' operator='eq' value='a&amp;b'/></filter></entity></fetch>",
];

const FETCH_SEEDS: &[&str] = &[
    "<?xml version='1.0'?><fetch top='5' distinct='true'><entity name='account'><attribute name='name'/><order attribute='name' descending='true'/>\
     <filter type='or'><condition attribute='name' operator='like' value='%a%'/><condition attribute='statecode' operator='in'><value>0</value><value>1</value></condition>\
     <link-entity name='contact' from='parentcustomerid' to='accountid' link-type='any'><filter><condition attribute='fullname' operator='not-null'/></filter></link-entity></filter>\
     <link-entity name='contact' from='contactid' to='primarycontactid' alias='pc' link-type='outer'><attribute name='fullname'/></link-entity></entity></fetch>",
    "<filter type='and'><!-- c --><condition attribute='createdon' operator='last-x-days' value='3'/><filter type='or'><condition attribute='ownerid' operator='eq-userid'/>\
     <condition attribute='name' operator='in'><value><![CDATA[a<b]]></value></condition></filter></filter>",
];

/// Applies byte-level mutations to a seed.
fn mutate(seed: &str, edits: &[(u8, usize, u8)]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(kind, at, byte) in edits {
        let at = if b.is_empty() { 0 } else { at % (b.len() + 1) };
        match kind % 5 {
            0 => b.insert(at, byte),
            1 if at < b.len() => {
                b.remove(at);
            }
            2 if at < b.len() => b[at] = byte,
            3 => {
                // Duplicate a slice: nests structures deeper.
                let end = (at + byte as usize % 40).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn run_all(input: &str) {
    let s = schema();
    let _ = parse_odata(s, "account", input);
    let _ = parse_odata(s, "account", &format!("$filter={input}"));
    let _ = parse_fetchxml(s, input);
    let _ = parse_fetchxml_filter(s, "account", input);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        run_all(&input);
    }

    #[test]
    fn syntax_soup_never_panics(
        input in "[<>/='\"a-z &;#x0-9!?\\[\\]()$,:%.\\-]{0,300}",
    ) {
        run_all(&input);
    }

    #[test]
    fn mutated_queries_never_panic(
        seed in 0usize..(ODATA_SEEDS.len() + FETCH_SEEDS.len()),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..8),
    ) {
        let all: Vec<&str> = ODATA_SEEDS.iter().chain(FETCH_SEEDS.iter()).copied().collect();
        run_all(&mutate(all[seed], &edits));
    }
}

#[test]
fn seeds_parse() {
    for s in ODATA_SEEDS {
        parse_odata(schema(), "account", s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    parse_fetchxml(schema(), FETCH_SEEDS[0]).unwrap();
    parse_fetchxml_filter(schema(), "account", FETCH_SEEDS[1]).unwrap();
}

#[test]
fn long_and_deep_inputs_are_fast_and_refused_cleanly() {
    let start = std::time::Instant::now();
    let s = schema();
    let n = 200_000;
    for input in [
        format!("$filter={}", "(".repeat(n)),
        format!("$filter={}", "not ".repeat(n)),
        format!("$filter=name eq '{}'", "a".repeat(n)),
        format!("$filter={}", vec!["name eq 'a'"; n / 10].join(" or ")),
        format!("$expand={}", "contact_customer_accounts($expand=".repeat(n / 40)),
        format!("$select={}", vec!["name"; n / 5].join(",")),
        "&".repeat(n),
        "=".repeat(n),
        (0..n / 10).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&"),
        format!("$filter={}", "o/".repeat(n / 2)),
        format!("$expand={}", "(".repeat(n)),
        format!("$filter=contact_customer_accounts/any(o:{})", "o/contact_customer_accounts/any(o:".repeat(n / 40)),
    ] {
        let _ = parse_odata(s, "account", &input);
    }
    for input in [
        "<filter>".repeat(n / 8),
        format!(
            "<fetch><entity name='account'><filter>{}</filter></entity></fetch>",
            "<condition attribute='name' operator='null'/>".repeat(n / 40)
        ),
        format!("<fetch a='{}'/>", "&amp;".repeat(n / 5)),
        "<!--".repeat(n / 4),
        format!(
            "<filter>{}</filter>",
            "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='any'><filter>".repeat(200)
        ),
    ] {
        let _ = parse_fetchxml(s, &input);
        let _ = parse_fetchxml_filter(s, "account", &input);
    }
    // Debug builds: generous, but a quadratic blow-up on 200k characters would take far longer.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

// ------------------------------------------------------------------------------------------------------------
// (b) round trips

fn cond(attribute: &str, operator: Operator, values: Vec<Literal>) -> Filter {
    Filter::Condition(Condition { entity: None, attribute: attribute.into(), operator, values })
}

/// Any text, including markup and quote characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z<>&\"' %_\\[\\]\\t\\n\\r;,()/=]{0,12}"]
}

/// FetchXML-form conditions on `table` (values are text).
fn fetch_condition(table: &'static str) -> impl Strategy<Value = Filter> {
    let attrs: &'static [&'static str] = match table {
        "account" => &["name", "revenue", "numberofemployees", "createdon", "primarycontactid", "statecode", "ownerid"],
        "contact" => &["fullname", "birthdate", "numberofchildren", "parentcustomerid"],
        _ => &["msdyn_name", "msdyn_priority", "msdyn_serviceaccount"],
    };
    (
        prop::sample::select(attrs),
        prop::sample::select(&Operator::ALL[..]),
        prop::collection::vec(text(), 1..4),
        0u32..1000,
    )
        .prop_map(|(attr, op, vals, n)| {
            let values = match op.arity() {
                Arity::None => vec![],
                Arity::One if is_x(op) => vec![Literal::Text(n.to_string())],
                Arity::One => vec![Literal::Text(vals[0].clone())],
                Arity::Many => vals.into_iter().map(Literal::Text).collect(),
            };
            cond(attr, op, values)
        })
}

fn is_x(op: Operator) -> bool {
    op.fetchxml_name().contains("-x-")
}

fn group(items: Vec<Filter>, or: bool) -> Filter {
    if or {
        Filter::Or(items)
    } else {
        Filter::And(items)
    }
}

/// Relationships of account: (related table, from, to).
const ACCOUNT_LINKS: &[(&str, &str, &str)] = &[
    ("contact", "parentcustomerid", "accountid"),
    ("msdyn_workorder", "msdyn_serviceaccount", "accountid"),
    ("contact", "contactid", "primarycontactid"),
];

fn fetch_related() -> impl Strategy<Value = Filter> {
    (
        prop::sample::select(ACCOUNT_LINKS),
        prop::sample::select(&[RelatedKind::Any, RelatedKind::NotAny, RelatedKind::All, RelatedKind::NotAll][..]),
        prop::option::of((prop::collection::vec(fetch_condition("contact"), 0..3), any::<bool>())),
        prop::collection::vec(fetch_condition("msdyn_workorder"), 0..3),
    )
        .prop_map(|((table, from, to), kind, contact_filter, wo)| {
            let filter = contact_filter.map(
                |(items, or)| {
                    if table == "contact" {
                        group(items, or)
                    } else {
                        group(wo.clone(), or)
                    }
                },
            );
            Filter::Related(Box::new(RelatedFilter {
                kind,
                table: table.into(),
                from: from.into(),
                to: to.into(),
                filter,
            }))
        })
}

/// A filter in the shape a FetchXML `<filter>` reads back as.
fn fetch_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![4 => fetch_condition("account"), 1 => fetch_related()];
    let tree = leaf.prop_recursive(4, 40, 4, |inner| {
        (prop::collection::vec(inner, 0..4), any::<bool>()).prop_map(|(items, or)| group(items, or))
    });
    (prop::collection::vec(tree, 0..4), any::<bool>()).prop_map(|(items, or)| group(items, or))
}

fn has_condition(f: &Filter) -> bool {
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().any(has_condition),
        Filter::Not(i) => has_condition(i),
        Filter::Condition(_) | Filter::Related(_) => true,
    }
}

// OData: typed values in the shapes the OData parser produces.

fn guid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
        "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|\\.[0-9]{3}Z|[+-]0[0-9]:00)",
    ]
}

fn comparison() -> impl Strategy<Value = Operator> {
    prop::sample::select(&[Operator::Eq, Operator::Ne, Operator::Gt, Operator::Ge, Operator::Lt, Operator::Le][..])
}

fn string_condition(attr: &'static str) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (comparison(), text()).prop_map(move |(op, s)| cond(attr, op, vec![Literal::Text(s)])),
        any::<bool>().prop_map(move |b| cond(attr, if b { Operator::Null } else { Operator::NotNull }, vec![])),
        text().prop_map(move |s| cond(attr, Operator::Like, vec![Literal::Text(format!("%{s}%"))])),
        (text(), any::<bool>()).prop_map(move |(s, b)| cond(
            attr,
            if b { Operator::BeginsWith } else { Operator::EndsWith },
            vec![Literal::Text(s)]
        )),
        (prop::collection::vec(text(), 1..4), any::<bool>()).prop_map(move |(v, b)| cond(
            attr,
            if b { Operator::In } else { Operator::NotIn },
            v.into_iter().map(Literal::Text).collect()
        )),
    ]
}

fn int_condition(attr: &'static str) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (comparison(), any::<i64>()).prop_map(move |(op, n)| cond(attr, op, vec![Literal::Int(n)])),
        prop::collection::vec(any::<i32>(), 1..4).prop_map(move |v| cond(
            attr,
            Operator::In,
            v.into_iter().map(|n| Literal::Text(n.to_string())).collect()
        )),
    ]
}

fn account_condition() -> impl Strategy<Value = Filter> {
    let date_ops_none: Vec<Operator> = Operator::ALL
        .iter()
        .copied()
        .filter(|o| {
            o.arity() == Arity::None
                && !o.fetchxml_name().contains("user")
                && !o.fetchxml_name().contains("business")
                && !o.fetchxml_name().contains("null")
        })
        .collect();
    let x_ops: Vec<Operator> =
        Operator::ALL.iter().copied().filter(|&o| is_x(o) || o == Operator::OlderThanXDays).collect();
    prop_oneof![
        string_condition("name"),
        int_condition("numberofemployees"),
        (comparison(), -1.0e12f64..1.0e12).prop_map(|(op, n)| cond("revenue", op, vec![Literal::Number(n)])),
        (prop::sample::select(&[Operator::Eq, Operator::Ne][..]), any::<bool>()).prop_map(|(op, b)| cond(
            "donotphone",
            op,
            vec![Literal::Bool(b)]
        )),
        (comparison(), date()).prop_map(|(op, d)| cond("createdon", op, vec![Literal::DateTime(d)])),
        (prop::sample::select(&[Operator::On, Operator::OnOrAfter, Operator::OnOrBefore][..]), date())
            .prop_map(|(op, d)| cond("createdon", op, vec![Literal::Text(d)])),
        prop::sample::select(date_ops_none).prop_map(|op| cond("createdon", op, vec![])),
        (prop::sample::select(x_ops), 0i64..5000).prop_map(|(op, n)| cond("createdon", op, vec![Literal::Int(n)])),
        (prop::sample::select(&[Operator::Eq, Operator::Ne][..]), guid()).prop_map(|(op, g)| cond(
            "primarycontactid",
            op,
            vec![Literal::Guid(g)]
        )),
        prop::collection::vec(guid(), 1..3).prop_map(|v| cond(
            "primarycontactid",
            Operator::NotIn,
            v.into_iter().map(Literal::Text).collect()
        )),
        any::<bool>().prop_map(|b| cond(
            "primarycontactid",
            if b { Operator::Null } else { Operator::NotNull },
            vec![]
        )),
        prop::sample::select(
            &[Operator::EqUserId, Operator::NeUserId, Operator::EqUserTeams, Operator::EqUserOrUserTeams][..]
        )
        .prop_map(|op| cond("ownerid", op, vec![])),
        prop::sample::select(&[Operator::EqBusinessId, Operator::NeBusinessId][..]).prop_map(|op| cond(
            "owningbusinessunit",
            op,
            vec![]
        )),
    ]
}

fn contact_condition() -> impl Strategy<Value = Filter> {
    prop_oneof![
        string_condition("fullname"),
        int_condition("numberofchildren"),
        guid().prop_map(|g| cond("parentcustomerid", Operator::Eq, vec![Literal::Guid(g)])),
        Just(cond("birthdate", Operator::Today, vec![])),
    ]
}

/// A boolean tree in the canonical OData shape: groups of two or more, `not` anywhere.
fn odata_tree<S: Strategy<Value = Filter> + 'static>(leaf: S, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 24, 3, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 2..4), any::<bool>()).prop_map(|(items, or)| group(items, or)),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn odata_related() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (any::<bool>(), prop::option::of(odata_tree(contact_condition(), 2))).prop_map(|(all, f)| {
            let kind = if all && f.is_some() { RelatedKind::All } else { RelatedKind::Any };
            Filter::Related(Box::new(RelatedFilter {
                kind,
                table: "contact".into(),
                from: "parentcustomerid".into(),
                to: "accountid".into(),
                filter: f,
            }))
        }),
        (comparison(), text()).prop_map(|(op, s)| {
            Filter::Related(Box::new(RelatedFilter {
                kind: RelatedKind::Any,
                table: "contact".into(),
                from: "contactid".into(),
                to: "primarycontactid".into(),
                filter: Some(cond("fullname", op, vec![Literal::Text(s)])),
            }))
        }),
    ]
}

fn odata_filter() -> BoxedStrategy<Filter> {
    odata_tree(prop_oneof![6 => account_condition(), 1 => odata_related()], 4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fetchxml_filter_round_trips(f in fetch_filter()) {
        let xml = try_filter_to_fetchxml(&f).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = parse_fetchxml_filter(schema(), "account", &xml).map_err(|e| TestCaseError::fail(format!("{xml}: {e}")))?;
        let expected = if has_condition(&f) { Some(f) } else { None };
        prop_assert_eq!(back, expected, "{}", xml);
    }

    #[test]
    fn fetch_query_round_trips(
        f in prop::option::of(fetch_filter()),
        cols in prop::option::of(prop::sample::subsequence(vec!["name", "revenue", "createdon", "primarycontactid"], 1..4)),
        orders in prop::collection::vec((prop::sample::select(vec!["name", "createdon"]), any::<bool>()), 0..3),
        paging in prop_oneof![Just((None, None, None)), (1u32..5000).prop_map(|t| (Some(t), None, None)), (1u32..5000, prop::option::of(1u32..50)).prop_map(|(c, p)| (None, Some(c), p))],
        distinct in any::<bool>(),
        count in any::<bool>(),
    ) {
        let q = Query {
            table: "account".into(),
            columns: cols.map(|c| Columns::Some(c.into_iter().map(String::from).collect())).unwrap_or(Columns::All),
            filter: f.map(|f| match f { Filter::And(v) | Filter::Or(v) if v.is_empty() => Filter::And(vec![]), f => f }),
            orders: orders.into_iter().map(|(a, d)| Order { entity: None, attribute: a.into(), descending: d }).collect(),
            top: paging.0,
            page_size: paging.1,
            page: paging.2,
            count,
            distinct,
            joins: vec![],
            expands: vec![],
        };
        let xml = try_query_to_fetchxml(&q).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = parse_fetchxml(schema(), &xml).map_err(|e| TestCaseError::fail(format!("{xml}: {e}")))?;
        prop_assert_eq!(&back, &q, "{}", xml);
        // A query that needs FetchXML goes through ?fetchXml= and comes back the same.
        if q.distinct || q.page_size.is_some() {
            let odata = query_to_odata(schema(), &q).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(odata.starts_with("?fetchXml="));
            let back = parse_odata(schema(), "account", &odata).map_err(|e| TestCaseError::fail(format!("{odata}: {e}")))?;
            prop_assert_eq!(back, q);
        }
    }

    #[test]
    fn odata_filter_round_trips(f in odata_filter()) {
        let text = filter_to_odata(schema(), "account", &f).map_err(|e| TestCaseError::fail(format!("{f:?}: {e}")))?;
        let q = Query { table: "account".into(), filter: Some(f.clone()), ..Query::default() };
        let options = query_to_odata(schema(), &q).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = parse_odata(schema(), "account", &options).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back.filter, Some(f), "{}", text);
    }

    #[test]
    fn odata_query_round_trips(
        f in prop::option::of(odata_filter()),
        cols in prop::option::of(prop::sample::subsequence(vec!["name", "revenue", "createdon", "primarycontactid"], 1..4)),
        orders in prop::collection::vec((prop::sample::select(vec!["name", "createdon", "primarycontactid"]), any::<bool>()), 0..3),
        top in prop::option::of(any::<u32>()),
        count in any::<bool>(),
        expand in prop::option::of((prop::option::of(odata_tree(contact_condition(), 2)), prop::option::of(0u32..10))),
    ) {
        let expands = expand.map(|(f, top)| vec![Expand {
            navigation: "contact_customer_accounts".into(),
            collection: true,
            from: "parentcustomerid".into(),
            to: "accountid".into(),
            query: Query { table: "contact".into(), filter: f, top, columns: Columns::Some(vec!["fullname".into()]), ..Query::default() },
        }]).unwrap_or_default();
        let q = Query {
            table: "account".into(),
            columns: cols.map(|c| Columns::Some(c.into_iter().map(String::from).collect())).unwrap_or(Columns::All),
            filter: f,
            orders: orders.into_iter().map(|(a, d)| Order { entity: None, attribute: a.into(), descending: d }).collect(),
            top,
            count,
            expands,
            ..Query::default()
        };
        let options = query_to_odata(schema(), &q).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = parse_odata(schema(), "account", &options).map_err(|e| TestCaseError::fail(format!("{options}: {e}")))?;
        prop_assert_eq!(back, q, "{}", options);
    }
}
