//! Every operator of the filter evaluator, with hand-computed expected rows.
//!
//! The clock: now = 2026-11-25T23:30:00Z for a user at UTC+2, so the user's local date is already Thursday
//! 2026-11-26 (01:30) while the UTC date is still the 25th. Weeks start on Sunday (2026-11-22).

mod query_eval_fixture;

use query_eval_fixture::*;
use serde_json::json;
use xrm_offline::query::plan::{Condition, Filter, Literal, Operator, RelatedFilter, RelatedKind};
use xrm_offline::query::{matches, EvalContext, MemorySource, Predicate, Row};
use xrm_offline::ErrorCode;

use Operator::*;

fn ids_in(table: &str, id: &str, rows: &[Row], src: &MemorySource, ctx: &EvalContext, f: &Filter) -> Vec<u32> {
    let p = Predicate::compile(&schema(), table, f, src, ctx).unwrap_or_else(|e| panic!("{f:?}: {e}"));
    let mut out: Vec<u32> = rows.iter().filter(|r| p.test(r)).map(|r| num(r, id)).collect();
    out.sort_unstable();
    out
}

fn accts(f: Filter) -> Vec<u32> {
    ids_in("account", "accountid", &accounts(), &source(), &ctx(), &f)
}

fn c1(attribute: &str, op: Operator, v: Literal) -> Vec<u32> {
    accts(cond(attribute, op, vec![v]))
}

fn c0(attribute: &str, op: Operator) -> Vec<u32> {
    accts(cond(attribute, op, vec![]))
}

fn err(attribute: &str, op: Operator, values: Vec<Literal>) -> xrm_offline::Error {
    match Predicate::compile(&schema(), "account", &cond(attribute, op, values), &source(), &ctx()) {
        Ok(_) => panic!("expected an error for {attribute} {op:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- text

#[test]
fn text_eq_ne_is_case_insensitive_and_skips_nulls() {
    assert_eq!(c1("name", Eq, t("ALPHA")), vec![1, 2]);
    // 6 has no name (null), 8 holds a number (wrong type): neither matches `ne`.
    assert_eq!(c1("name", Ne, t("alpha")), vec![3, 4, 5, 7]);
    assert_eq!(c1("name", Eq, t("élan")), vec![4]);
}

#[test]
fn text_ordering() {
    assert_eq!(c1("name", Gt, t("beta")), vec![3, 4, 7]);
    assert_eq!(c1("name", Ge, t("beta corp")), vec![3, 4, 7]);
    assert_eq!(c1("name", Lt, t("b")), vec![1, 2, 5]);
    assert_eq!(c1("name", Le, t("ALPHA")), vec![1, 2, 5]);
}

#[test]
fn text_like_and_wildcards() {
    assert_eq!(c1("name", Like, t("%a")), vec![1, 2]);
    assert_eq!(c1("name", Like, t("a_p%")), vec![1, 2]);
    assert_eq!(c1("name", Like, t("100[%]%")), vec![5]);
    assert_eq!(c1("name", Like, t("%[_]%")), vec![7]);
    assert_eq!(c1("name", Like, t("ÉLAN")), vec![4]);
    assert_eq!(c1("name", Like, t("[b-g]%")), vec![3, 7]);
    assert_eq!(c1("name", NotLike, t("%a%")), vec![5]);
}

#[test]
fn begins_and_ends_with() {
    assert_eq!(c1("name", BeginsWith, t("be")), vec![3]);
    assert_eq!(c1("name", NotBeginWith, t("be")), vec![1, 2, 4, 5, 7]);
    // Wildcards work inside begins-with as in Dataverse.
    assert_eq!(c1("name", BeginsWith, t("1_0")), vec![5]);
    assert_eq!(c1("name", EndsWith, t("RAY")), vec![7]);
    assert_eq!(c1("name", NotEndWith, t("ray")), vec![1, 2, 3, 4, 5]);
    assert_eq!(c1("description", BeginsWith, t("first")), vec![1]);
}

#[test]
fn text_in_not_in() {
    assert_eq!(accts(cond("name", In, vec![t("alpha"), t("BETA CORP")])), vec![1, 2, 3]);
    assert_eq!(accts(cond("name", NotIn, vec![t("alpha")])), vec![3, 4, 5, 7]);
    // A null in the list matches nothing (SQL IN).
    assert_eq!(accts(cond("name", In, vec![Literal::Null, t("élan")])), vec![4]);
}

#[test]
fn null_and_not_null() {
    assert_eq!(c0("name", Null), vec![6]);
    assert_eq!(c0("name", NotNull), vec![1, 2, 3, 4, 5, 7, 8]);
    assert_eq!(c0("revenue", Null), vec![3]);
    assert_eq!(c0("primarycontactid", Null), vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(c0("primarycontactid", NotNull), vec![1, 2]);
    // `eq null` / `ne null` literals.
    assert_eq!(c1("name", Eq, Literal::Null), vec![6]);
    assert_eq!(c1("name", Ne, Literal::Null), vec![1, 2, 3, 4, 5, 7, 8]);
    assert_eq!(c1("revenue", Gt, Literal::Null), Vec::<u32>::new());
}

// ---------------------------------------------------------------- numbers, options, booleans

#[test]
fn numbers_compare_numerically_from_text_values() {
    assert_eq!(c1("revenue", Gt, t("99.99")), vec![1, 2, 4]);
    assert_eq!(c1("revenue", Ge, t("99.99")), vec![1, 2, 4, 8]);
    assert_eq!(c1("revenue", Eq, Literal::Int(42)), vec![6]);
    assert_eq!(c1("revenue", Lt, Literal::Number(1.0)), vec![5]);
    // 3 is null, 7 holds text: neither matches `ne`.
    assert_eq!(c1("revenue", Ne, t("100")), vec![2, 4, 5, 6, 8]);
    assert_eq!(c1("revenue", Le, t(" 100 ")), vec![1, 5, 6, 8]);
    assert_eq!(accts(cond("revenue", In, vec![t("0"), t("42")])), vec![5, 6]);
    assert_eq!(accts(cond("revenue", NotIn, vec![t("0"), t("42")])), vec![1, 2, 4, 8]);
    assert_eq!(c1("numberofemployees", Le, t("10")), vec![1, 5, 7, 8]);
}

#[test]
fn option_sets_compare_as_numbers() {
    assert_eq!(c1("industrycode", Eq, t("1")), vec![1, 3, 7]);
    assert_eq!(c1("industrycode", Ne, Literal::Int(1)), vec![2, 4, 6]);
    assert_eq!(accts(cond("industrycode", In, vec![t("2"), t("3")])), vec![2, 4, 6]);
}

#[test]
fn booleans() {
    assert_eq!(c1("donotemail", Eq, Literal::Bool(true)), vec![1, 3, 6]);
    assert_eq!(c1("donotemail", Eq, t("0")), vec![2, 5]);
    assert_eq!(c1("donotemail", Eq, t("TRUE")), vec![1, 3, 6]);
    assert_eq!(c1("donotemail", Ne, t("1")), vec![2, 5]);
    assert_eq!(c1("donotemail", Eq, Literal::Int(0)), vec![2, 5]);
}

#[test]
fn unconvertible_values_are_errors_naming_the_column() {
    for (col, op, v) in [
        ("revenue", Eq, t("abc")),
        ("numberofemployees", Gt, t("")),
        ("industrycode", Eq, t("one")),
        ("donotemail", Eq, t("maybe")),
        ("primarycontactid", Eq, t("not-a-guid")),
        ("createdon", Eq, t("yesterday-ish")),
        ("createdon", On, t("2026-02-30")),
        ("createdon", LastXDays, t("abc")),
        ("createdon", NextXDays, Literal::Int(-1)),
    ] {
        let e = err(col, op, vec![v]);
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{col} {op:?}");
        assert!(e.message.contains(col), "{}", e.message);
    }
    let e = err("revenue", In, vec![t("1"), t("x")]);
    assert_eq!(e.code, ErrorCode::InvalidArgument);
}

#[test]
fn operators_on_the_wrong_column_type_are_errors() {
    assert_eq!(err("name", Today, vec![]).code, ErrorCode::InvalidArgument);
    assert_eq!(err("name", EqUserId, vec![]).code, ErrorCode::InvalidArgument);
    assert_eq!(err("revenue", Like, vec![t("1%")]).code, ErrorCode::InvalidArgument);
    assert_eq!(err("name", Eq, vec![]).code, ErrorCode::InvalidArgument);
    assert_eq!(err("name", In, vec![]).code, ErrorCode::InvalidArgument);
    assert_eq!(err("nosuchcolumn", Eq, vec![t("x")]).code, ErrorCode::AttributeNotFound);
    let e = Predicate::compile(&schema(), "nosuchtable", &Filter::And(vec![]), &source(), &ctx());
    assert_eq!(e.map(|_| ()).unwrap_err().code, ErrorCode::TableNotFound);
}

// ---------------------------------------------------------------- GUIDs, users, teams, business units

#[test]
fn guids_compare_case_insensitively_through_lookup_keys() {
    let upper_braced = format!("{{{}}}", c(1).to_uppercase());
    assert_eq!(c1("primarycontactid", Eq, t(&upper_braced)), vec![1]);
    assert_eq!(c1("primarycontactid", Eq, Literal::Guid(c(2))), vec![2]);
    assert_eq!(c1("primarycontactid", Ne, Literal::Guid(c(1))), vec![2]);
    assert_eq!(accts(cond("primarycontactid", In, vec![Literal::Guid(c(1)), t(&c(2))])), vec![1, 2]);
    assert_eq!(accts(cond("primarycontactid", NotIn, vec![Literal::Guid(c(1))])), vec![2]);
    assert_eq!(c1("accountid", Eq, t(&g(3).to_uppercase())), vec![3]);
    // Many values use a hash set.
    let many: Vec<Literal> = (1..=20).map(|n| Literal::Guid(g(n).to_uppercase())).collect();
    assert_eq!(accts(cond("accountid", In, many.clone())), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(accts(cond("accountid", NotIn, many)), Vec::<u32>::new());
}

#[test]
fn user_team_and_business_unit_operators() {
    // Row 5 stores the user id in upper case.
    assert_eq!(c0("ownerid", EqUserId), vec![1, 5]);
    assert_eq!(c0("ownerid", NeUserId), vec![2, 3, 4, 6, 7]);
    assert_eq!(c0("ownerid", EqUserTeams), vec![2, 3, 6]);
    assert_eq!(c0("ownerid", EqUserOrUserTeams), vec![1, 2, 3, 5, 6]);
    assert_eq!(c0("owningbusinessunit", EqBusinessId), vec![1]);
    assert_eq!(c0("owningbusinessunit", NeBusinessId), vec![4]);
}

#[test]
fn user_operators_without_a_signed_in_user() {
    let anon = EvalContext { user_id: None, team_ids: vec![], business_unit_id: None, ..ctx() };
    let run = |op| ids_in("account", "accountid", &accounts(), &source(), &anon, &cond("ownerid", op, vec![]));
    assert_eq!(run(EqUserId), Vec::<u32>::new());
    assert_eq!(run(EqUserTeams), Vec::<u32>::new());
    assert_eq!(run(EqUserOrUserTeams), Vec::<u32>::new());
    assert_eq!(run(NeUserId), vec![1, 2, 3, 4, 5, 6, 7]);
}

// ---------------------------------------------------------------- logic

#[test]
fn and_or_not_with_three_valued_logic() {
    let alpha = || cond("name", Eq, vec![t("alpha")]);
    assert_eq!(accts(Filter::Or(vec![alpha(), cond("revenue", Gt, vec![t("500")])])), vec![1, 2, 4]);
    assert_eq!(
        accts(Filter::And(vec![cond("donotemail", Eq, vec![t("true")]), cond("numberofemployees", Gt, vec![t("5")])])),
        vec![1, 3, 6]
    );
    // not (name eq 'alpha'): rows with a null or non-text name stay out, as in SQL.
    assert_eq!(accts(Filter::Not(Box::new(alpha()))), vec![3, 4, 5, 7]);
    assert_eq!(accts(Filter::Not(Box::new(cond("name", Null, vec![])))), vec![1, 2, 3, 4, 5, 7, 8]);
    // unknown OR true is true; unknown AND false is false; not(unknown AND true) stays unknown.
    let unknown_or_true = Filter::Or(vec![alpha(), cond("accountid", Eq, vec![t(&g(6))])]);
    assert_eq!(accts(unknown_or_true), vec![1, 2, 6]);
    let not_and = Filter::Not(Box::new(Filter::And(vec![alpha(), cond("revenue", NotNull, vec![])])));
    assert_eq!(accts(not_and), vec![3, 4, 5, 7]);
    assert_eq!(accts(Filter::And(vec![])), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(accts(Filter::Or(vec![])), vec![1, 2, 3, 4, 5, 6, 7, 8]);
}

// ---------------------------------------------------------------- related rows

fn related(kind: RelatedKind, filter: Option<Filter>) -> Filter {
    Filter::Related(Box::new(RelatedFilter {
        kind,
        table: "contact".into(),
        from: "parentcustomerid".into(),
        to: "accountid".into(),
        filter,
    }))
}

#[test]
fn related_any_not_any_all_not_all() {
    let bob = || Some(cond("fullname", Eq, vec![t("bob")]));
    let starts_a = || Some(cond("fullname", BeginsWith, vec![t("a")]));
    assert_eq!(accts(related(RelatedKind::Any, None)), vec![1, 2]);
    assert_eq!(accts(related(RelatedKind::Any, bob())), vec![1]);
    assert_eq!(accts(related(RelatedKind::NotAny, None)), vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(accts(related(RelatedKind::NotAny, bob())), vec![2, 3, 4, 5, 6, 7, 8]);
    // All: vacuously true without related rows; account 1 has Bob, account 2 has Cid.
    assert_eq!(accts(related(RelatedKind::All, starts_a())), vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(accts(related(RelatedKind::NotAll, starts_a())), vec![1, 2]);
    let any_kid = Some(cond("numberofchildren", Ge, vec![t("0")]));
    // Contact 3 (account 2) has no numberofchildren: it does not match, so account 2 is not "all".
    assert_eq!(accts(related(RelatedKind::All, any_kid)), vec![1, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn related_from_the_many_side() {
    // Contacts whose parent account is named alpha (case-insensitively joined on GUIDs).
    let f = Filter::Related(Box::new(RelatedFilter {
        kind: RelatedKind::Any,
        table: "account".into(),
        from: "accountid".into(),
        to: "parentcustomerid".into(),
        filter: Some(cond("name", Eq, vec![t("ALPHA")])),
    }));
    assert_eq!(ids_in("contact", "contactid", &contacts(), &source(), &ctx(), &f), vec![1, 2, 3]);
}

#[test]
fn alias_conditions_need_a_join() {
    let f = Filter::Condition(Condition {
        entity: Some("pc".into()),
        attribute: "fullname".into(),
        operator: Eq,
        values: vec![t("Ann")],
    });
    let e = Predicate::compile(&schema(), "account", &f, &source(), &ctx()).map(|_| ()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    assert!(e.message.contains("pc"));
}

#[test]
fn matches_tests_one_row() {
    let f = cond("name", BeginsWith, vec![t("al")]);
    let row = row(json!({"accountid": g(9), "name": "Aloha"}));
    assert_eq!(matches(&schema(), "account", &f, &row, &source(), &ctx()), Ok(true));
    let other = query_eval_fixture::row(json!({"accountid": g(9), "name": "Hola"}));
    assert_eq!(matches(&schema(), "account", &f, &other, &source(), &ctx()), Ok(false));
}

// ---------------------------------------------------------------- dates

/// Date rows: `createdon` in UTC, with the user's local time (UTC+2) in the comment.
fn date_rows() -> Vec<Row> {
    let d = |n: u32, v: serde_json::Value| row(json!({"accountid": g(n), "createdon": v}));
    vec![
        d(1, json!("2026-11-25T21:59:59Z")),  // Wed 11-25 23:59:59 (yesterday)
        d(2, json!("2026-11-25T22:00:00Z")),  // Thu 11-26 00:00 (today, first instant)
        d(3, json!("2026-11-25T23:00:00Z")),  // Thu 11-26 01:00 (today, before now)
        d(4, json!("2026-11-26T12:00:00Z")),  // Thu 11-26 14:00 (today, after now)
        d(5, json!("2026-11-26T21:59:59Z")),  // Thu 11-26 23:59:59 (today, last second)
        d(6, json!("2026-11-26T22:00:00Z")),  // Fri 11-27 00:00 (tomorrow)
        d(7, json!("2026-11-28T21:59:59Z")),  // Sat 11-28 23:59:59 (end of this week)
        d(8, json!("2026-11-28T22:00:00Z")),  // Sun 11-29 00:00 (start of next week)
        d(9, json!("2026-12-03T21:59:59Z")),  // Thu 12-03 23:59:59 (today + 7)
        d(10, json!("2026-12-03T22:00:00Z")), // Fri 12-04 00:00 (today + 8)
        d(11, json!("2026-11-18T22:00:00Z")), // Thu 11-19 00:00 (today - 7)
        d(12, json!("2026-11-18T21:59:59Z")), // Wed 11-18 23:59:59
        d(13, json!("2026-10-31T21:59:59Z")), // Sat 10-31 23:59:59 (last month)
        d(14, json!("2026-10-31T22:00:00Z")), // Sun 11-01 00:00 (this month)
        d(15, json!("2026-12-31T22:00:00Z")), // 2027-01-01 00:00 (next year)
        d(16, json!("2025-06-15T10:00:00Z")), // 2025-06-15 12:00 (last year)
        d(17, json!(null)),
        d(18, json!(12345)),                  // wrong type: never compares
        d(19, json!("2026-11-30T22:00:00Z")), // Tue 12-01 00:00 (next month)
        d(20, json!("2026-11-26")),           // date only: local midnight of 11-26
        d(21, json!("2026-11-21T22:00:00Z")), // Sun 11-22 00:00 (start of this week)
        d(22, json!("2026-11-21T21:59:59Z")), // Sat 11-21 23:59:59 (end of last week)
        d(23, json!("2026-11-14T22:00:00Z")), // Sun 11-15 00:00 (start of last week)
        d(24, json!("2026-11-14T21:59:59Z")), // Sat 11-14 23:59:59
        d(25, json!("2026-12-05T22:00:00Z")), // Sun 12-06 00:00 (after next week)
        d(26, json!("2026-12-05T21:59:59Z")), // Sat 12-05 23:59:59 (end of next week)
        d(27, json!("2025-12-31T21:59:59Z")), // 2025-12-31 23:59:59 (last year)
        d(28, json!("2025-12-31T22:00:00Z")), // 2026-01-01 00:00 (this year)
        d(29, json!("garbage")),
    ]
}

fn dates_with(ctx: &EvalContext, op: Operator, values: Vec<Literal>) -> Vec<u32> {
    ids_in("account", "accountid", &date_rows(), &source(), ctx, &cond("createdon", op, values))
}

fn dt(op: Operator, values: Vec<Literal>) -> Vec<u32> {
    dates_with(&ctx(), op, values)
}

fn x(n: i64) -> Vec<Literal> {
    vec![t(&n.to_string())]
}

#[test]
fn today_tomorrow_yesterday_use_the_local_date() {
    assert_eq!(dt(Today, vec![]), vec![2, 3, 4, 5, 20]);
    assert_eq!(dt(Tomorrow, vec![]), vec![6]);
    assert_eq!(dt(Yesterday, vec![]), vec![1]);
    // The same clock in UTC: today is the 25th.
    let utc = EvalContext { utc_offset_minutes: 0, ..ctx() };
    assert_eq!(dates_with(&utc, Today, vec![]), vec![1, 2, 3]);
}

#[test]
fn seven_day_windows() {
    // Start of today to the end of today + 7.
    assert_eq!(dt(NextSevenDays, vec![]), vec![2, 3, 4, 5, 6, 7, 8, 9, 19, 20]);
    // Start of today - 7 to the end of today.
    assert_eq!(dt(LastSevenDays, vec![]), vec![1, 2, 3, 4, 5, 11, 20, 21, 22]);
}

#[test]
fn weeks_start_on_sunday() {
    assert_eq!(dt(ThisWeek, vec![]), vec![1, 2, 3, 4, 5, 6, 7, 20, 21]);
    assert_eq!(dt(LastWeek, vec![]), vec![11, 12, 22, 23]);
    assert_eq!(dt(NextWeek, vec![]), vec![8, 9, 10, 19, 26]);
}

#[test]
fn calendar_months_and_years() {
    assert_eq!(dt(ThisMonth, vec![]), vec![1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 20, 21, 22, 23, 24]);
    assert_eq!(dt(LastMonth, vec![]), vec![13]);
    assert_eq!(dt(NextMonth, vec![]), vec![9, 10, 19, 25, 26]);
    assert_eq!(
        dt(ThisYear, vec![]),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26, 28]
    );
    assert_eq!(dt(LastYear, vec![]), vec![16, 27]);
    assert_eq!(dt(NextYear, vec![]), vec![15]);
}

#[test]
fn on_on_or_after_on_or_before() {
    assert_eq!(dt(On, vec![t("2026-11-26")]), vec![2, 3, 4, 5, 20]);
    // A date-time value means its local date: 2026-11-26T23:30Z is 11-27 01:30 at UTC+2.
    assert_eq!(dt(On, vec![Literal::DateTime("2026-11-26T23:30:00Z".into())]), vec![6]);
    assert_eq!(dt(OnOrAfter, vec![t("2026-11-29")]), vec![8, 9, 10, 15, 19, 25, 26]);
    assert_eq!(dt(OnOrBefore, vec![t("2026-11-15")]), vec![13, 14, 16, 23, 24, 27, 28]);
}

#[test]
fn last_x_and_next_x() {
    // [start of today - x days, now]
    assert_eq!(dt(LastXDays, x(7)), vec![1, 2, 3, 11, 20, 21, 22]);
    assert_eq!(dt(LastXDays, x(0)), vec![2, 3, 20]);
    assert_eq!(dt(LastXWeeks, x(1)), vec![1, 2, 3, 11, 20, 21, 22]);
    assert_eq!(dt(LastXMonths, x(1)), vec![1, 2, 3, 11, 12, 13, 14, 20, 21, 22, 23, 24]);
    assert_eq!(dt(LastXYears, vec![Literal::Int(1)]), vec![1, 2, 3, 11, 12, 13, 14, 20, 21, 22, 23, 24, 27, 28]);
    // [now, end of today + x days]
    assert_eq!(dt(NextXDays, x(2)), vec![4, 5, 6, 7]);
    assert_eq!(dt(NextXWeeks, x(1)), vec![4, 5, 6, 7, 8, 9, 19]);
    assert_eq!(dt(NextXMonths, x(1)), vec![4, 5, 6, 7, 8, 9, 10, 19, 25, 26]);
    assert_eq!(dt(NextXYears, x(1)), vec![4, 5, 6, 7, 8, 9, 10, 15, 19, 25, 26]);
}

#[test]
fn older_than_x_days() {
    // Before the start of today - 7 (11-19 00:00 local).
    assert_eq!(dt(OlderThanXDays, x(7)), vec![12, 13, 14, 16, 23, 24, 27, 28]);
}

#[test]
fn date_comparisons_are_instants() {
    assert_eq!(dt(Eq, vec![Literal::DateTime("2026-11-26T14:00:00+02:00".into())]), vec![4]);
    assert_eq!(dt(Gt, vec![t("2026-12-03T21:59:59Z")]), vec![10, 15, 25, 26]);
    // A date-only value is the user's local midnight.
    assert_eq!(dt(Lt, vec![t("2026-11-19")]), vec![12, 13, 14, 16, 23, 24, 27, 28]);
    assert_eq!(dt(Null, vec![]), vec![17]);
    assert_eq!(dt(NotNull, vec![]).len(), 28);
    // 2026-11-26 is local midnight, 2026-11-25T22:00:00Z: row 2 holds that instant, row 20 the same date only.
    assert_eq!(dt(In, vec![t("2026-11-26T12:00:00Z"), t("2026-11-26")]), vec![2, 4, 20]);
}

#[test]
fn every_operator_compiles_on_a_suitable_column() {
    for op in Operator::ALL {
        let (col, values) = match op {
            EqUserId | NeUserId | EqUserTeams | EqUserOrUserTeams | EqBusinessId | NeBusinessId => ("ownerid", vec![]),
            Like | NotLike | BeginsWith | NotBeginWith | EndsWith | NotEndWith => ("name", vec![t("a")]),
            Null | NotNull => ("name", vec![]),
            Eq | Ne | Gt | Ge | Lt | Le | In | NotIn => ("numberofemployees", vec![t("1")]),
            _ => match op.arity() {
                xrm_offline::query::plan::Arity::None => ("createdon", vec![]),
                _ => ("createdon", vec![t(if matches!(op, On | OnOrAfter | OnOrBefore) { "2026-11-26" } else { "3" })]),
            },
        };
        let f = cond(col, op, values);
        assert!(Predicate::compile(&schema(), "account", &f, &source(), &ctx()).is_ok(), "{op:?}");
    }
}
