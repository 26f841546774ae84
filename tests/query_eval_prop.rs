//! Property tests of the evaluator: it never panics on arbitrary stored values and filters, and on a subset
//! (eq / ne / gt / lt / null / in, and / or / not, over an integer and a text column) it agrees with a
//! straightforward reference evaluator written independently below.

mod query_eval_fixture;

use proptest::prelude::*;
use query_eval_fixture::*;
use serde_json::{Map, Value};
use xrm_offline::query::plan::{Columns, Filter, Join, JoinKind, Literal, Operator, Order, Query};
use xrm_offline::query::{execute, MemorySource, Predicate, Row};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "2026-1[0-2]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](Z|[+-]0[0-9]:00)?)?".prop_map(Value::String),
        "[0-9a-fA-F-]{36}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

const KEYS: [&str; 10] = [
    "accountid",
    "name",
    "revenue",
    "numberofemployees",
    "industrycode",
    "donotemail",
    "createdon",
    "_ownerid_value",
    "_primarycontactid_value",
    "description",
];

const COLUMNS: [&str; 10] = [
    "accountid",
    "name",
    "revenue",
    "numberofemployees",
    "industrycode",
    "donotemail",
    "createdon",
    "ownerid",
    "primarycontactid",
    "description",
];

fn any_row() -> impl Strategy<Value = Row> {
    prop::collection::vec((0..KEYS.len(), any_json()), 0..8)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (KEYS[k].to_string(), v)).collect())
}

fn any_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>().prop_map(Literal::Number),
        ".{0,10}".prop_map(Literal::Text),
        "-?[0-9]{1,4}".prop_map(Literal::Text),
        "2026-11-2[0-9](T10:00:00Z)?".prop_map(Literal::Text),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(Literal::Guid),
        ".{0,10}".prop_map(Literal::DateTime),
    ]
}

fn any_filter() -> impl Strategy<Value = Filter> {
    let leaf = (0..COLUMNS.len(), 0..Operator::ALL.len(), prop::collection::vec(any_literal(), 0..3))
        .prop_map(|(c, o, v)| cond(COLUMNS[c], Operator::ALL[o], v));
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

// ------------------------------------------------------------------ the reference evaluator
// Three-valued logic written as SQL does it: None is UNKNOWN.

#[derive(Debug, Clone)]
enum RefCol {
    Int,
    Text,
}

#[derive(Debug, Clone)]
enum RefOp {
    Eq,
    Ne,
    Gt,
    Lt,
    Null,
    In,
}

fn ref_value(row: &Row, col: &RefCol) -> Option<Value> {
    let key = match col {
        RefCol::Int => "numberofemployees",
        RefCol::Text => "name",
    };
    match row.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    }
}

fn ref_compare(v: &Value, col: &RefCol, lit: &str) -> Option<std::cmp::Ordering> {
    match col {
        RefCol::Int => {
            let a = v.as_i64()?;
            let b: i64 = lit.parse().ok()?;
            Some(a.cmp(&b))
        }
        RefCol::Text => {
            let a = v.as_str()?.to_lowercase();
            Some(a.as_str().cmp(lit.to_lowercase().as_str()))
        }
    }
}

#[derive(Debug, Clone)]
enum RefFilter {
    Cond(RefCol, RefOp, Vec<String>),
    And(Vec<RefFilter>),
    Or(Vec<RefFilter>),
    Not(Box<RefFilter>),
}

fn reference(f: &RefFilter, row: &Row) -> Option<bool> {
    match f {
        RefFilter::Cond(col, RefOp::Null, _) => Some(ref_value(row, col).is_none()),
        RefFilter::Cond(col, op, lits) => {
            let v = ref_value(row, col)?;
            match op {
                RefOp::In => {
                    let mut any_unknown = false;
                    for l in lits {
                        match ref_compare(&v, col, l) {
                            Some(std::cmp::Ordering::Equal) => return Some(true),
                            None => any_unknown = true,
                            _ => {}
                        }
                    }
                    if any_unknown {
                        None
                    } else {
                        Some(false)
                    }
                }
                _ => {
                    let o = ref_compare(&v, col, &lits[0])?;
                    Some(match op {
                        RefOp::Eq => o.is_eq(),
                        RefOp::Ne => o.is_ne(),
                        RefOp::Gt => o.is_gt(),
                        _ => o.is_lt(),
                    })
                }
            }
        }
        RefFilter::And(items) => {
            let vals: Vec<Option<bool>> = items.iter().map(|i| reference(i, row)).collect();
            if vals.contains(&Some(false)) {
                Some(false)
            } else if vals.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        RefFilter::Or(items) => {
            if items.is_empty() {
                return Some(true);
            }
            let vals: Vec<Option<bool>> = items.iter().map(|i| reference(i, row)).collect();
            if vals.contains(&Some(true)) {
                Some(true)
            } else if vals.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        RefFilter::Not(inner) => reference(inner, row).map(|b| !b),
    }
}

fn to_plan(f: &RefFilter) -> Filter {
    match f {
        RefFilter::Cond(col, op, lits) => {
            let column = match col {
                RefCol::Int => "numberofemployees",
                RefCol::Text => "name",
            };
            let operator = match op {
                RefOp::Eq => Operator::Eq,
                RefOp::Ne => Operator::Ne,
                RefOp::Gt => Operator::Gt,
                RefOp::Lt => Operator::Lt,
                RefOp::Null => Operator::Null,
                RefOp::In => Operator::In,
            };
            let values = match op {
                RefOp::Null => vec![],
                RefOp::In => lits.iter().map(|l| Literal::Text(l.clone())).collect(),
                _ => lits.iter().take(1).map(|l| Literal::Text(l.clone())).collect(),
            };
            cond(column, operator, values)
        }
        RefFilter::And(items) => Filter::And(items.iter().map(to_plan).collect()),
        RefFilter::Or(items) => Filter::Or(items.iter().map(to_plan).collect()),
        RefFilter::Not(inner) => Filter::Not(Box::new(to_plan(inner))),
    }
}

fn ref_filter() -> impl Strategy<Value = RefFilter> {
    let op = prop_oneof![
        Just(RefOp::Eq),
        Just(RefOp::Ne),
        Just(RefOp::Gt),
        Just(RefOp::Lt),
        Just(RefOp::Null),
        Just(RefOp::In)
    ];
    let int_leaf = (op.clone(), prop::collection::vec(-3i64..4, 1..4))
        .prop_map(|(o, v)| RefFilter::Cond(RefCol::Int, o, v.iter().map(|i| i.to_string()).collect()));
    let text_leaf =
        (op, prop::collection::vec("[abAB ]{0,3}", 1..4)).prop_map(|(o, v)| RefFilter::Cond(RefCol::Text, o, v));
    let leaf = prop_oneof![int_leaf, text_leaf];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(RefFilter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(RefFilter::Or),
            inner.prop_map(|f| RefFilter::Not(Box::new(f))),
        ]
    })
}

fn ref_row() -> impl Strategy<Value = Row> {
    let int = prop_oneof![Just(Value::Null), (-3i64..4).prop_map(Value::from), Just(Value::from("2"))];
    let text = prop_oneof![Just(Value::Null), "[abAB ]{0,3}".prop_map(Value::String), Just(Value::from(1))];
    (prop::option::of(int), prop::option::of(text)).prop_map(|(i, t)| {
        let mut r = Map::new();
        if let Some(i) = i {
            r.insert("numberofemployees".into(), i);
        }
        if let Some(t) = t {
            r.insert("name".into(), t);
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_never_panics(filter in any_filter(), rows in prop::collection::vec(any_row(), 0..6),
                               contact in any_row(), now_ms in prop_oneof![Just(ctx().now_ms), any::<i64>()],
                               offset in prop_oneof![Just(120), -840i32..=840, any::<i32>()]) {
        let ctx = xrm_offline::query::EvalContext { now_ms, utc_offset_minutes: offset, ..ctx() };
        let mut src = MemorySource::new();
        src.extend("account", rows.clone());
        src.extend("contact", vec![contact]);
        // Compiling may fail (bad values); it must not panic, and a compiled predicate must test any row.
        if let Ok(p) = Predicate::compile(&schema(), "account", &filter, &src, &ctx) {
            for r in &rows {
                let _ = p.test(r);
            }
        }
    }

    #[test]
    fn compiled_predicate_agrees_with_the_reference(f in ref_filter(), rows in prop::collection::vec(ref_row(), 1..8)) {
        let plan = to_plan(&f);
        let src = MemorySource::new();
        let p = Predicate::compile(&schema(), "account", &plan, &src, &ctx()).expect("valid filter");
        for r in &rows {
            prop_assert_eq!(p.test(r), reference(&f, r) == Some(true), "row {:?} filter {:?}", r, plan);
        }
    }

    #[test]
    fn execution_never_panics(rows in prop::collection::vec(any_row(), 0..6), contacts in prop::collection::vec(any_row(), 0..4),
                              orders in prop::collection::vec((0..COLUMNS.len(), any::<bool>()), 0..3),
                              outer in any::<bool>(), distinct in any::<bool>(), top in prop::option::of(0u32..4),
                              page in prop::option::of(0u32..3), page_size in prop::option::of(0u32..3)) {
        let mut src = MemorySource::new();
        src.extend("account", rows);
        let contacts: Vec<Row> = contacts.into_iter().map(|mut c| {
            if let Some(v) = c.remove("_ownerid_value") { c.insert("_parentcustomerid_value".into(), v); }
            c
        }).collect();
        src.extend("contact", contacts);
        let query = Query {
            table: "account".into(),
            columns: if distinct { Columns::Some(vec!["name".into(), "primarycontactid".into()]) } else { Columns::All },
            orders: orders.into_iter().map(|(c, d)| Order { entity: None, attribute: COLUMNS[c].into(), descending: d }).collect(),
            top, page, page_size, distinct, count: true,
            joins: vec![Join { table: "contact".into(), from: "parentcustomerid".into(), to: "accountid".into(),
                alias: "c".into(), kind: if outer { JoinKind::Outer } else { JoinKind::Inner }, columns: Columns::All,
                filter: None, joins: vec![] }],
            ..Query::default()
        };
        let r = execute(&schema(), &query, &src, &ctx()).expect("a valid query runs on any stored values");
        prop_assert!(r.count.is_some_and(|n| n >= r.entities.len()));
    }

    #[test]
    fn dates_never_panic_and_round_trip(text in ".{0,40}", ms in -62_135_596_800_000i64..253_402_300_799_000,
                                        off in any::<i32>(), n in any::<i64>(), d in any::<i64>()) {
        use xrm_offline::dates::*;
        let _ = parse_datetime(&text, off);
        let _ = parse_datetime(&format!("2026-11-27T{text}"), off);
        let whole = ms - ms.rem_euclid(1000);
        prop_assert_eq!(parse_datetime(&format_datetime(whole), off), Some(whole));
        let day = local_day(ms, off);
        prop_assert_eq!(parse_date(&format_date(day)).map(|(y, m, dd)| days_from_civil(y, m, dd)), Some(day).filter(|_| {
            let (y, _, _) = civil_from_days(day);
            (0..=9999).contains(&y)
        }));
        for x in [d, day] {
            let _ = (add_months(x, n), add_years(x, n), add_days(x, n), week_start_day(x), month_start_day(x));
            let _ = (year_start_day(x), day_start_ms(x, off), format_date(x), weekday(x));
        }
    }
}
