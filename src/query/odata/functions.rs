//! The Dataverse Web API query functions (`Microsoft.Dynamics.CRM.<Name>(PropertyName=...)`) that map to a
//! FetchXML operator. Dataverse has no query function for `like` and the `begins-with` / `ends-with` families:
//! those are written with `contains`, `startswith` and `endswith`.

use crate::query::plan::Operator;

/// The namespace prefix of the query functions.
pub(crate) const PREFIX: &str = "Microsoft.Dynamics.CRM.";

/// Query function names and their operators.
pub(crate) const FUNCTIONS: &[(&str, Operator)] = &[
    ("In", Operator::In),
    ("NotIn", Operator::NotIn),
    ("EqualUserId", Operator::EqUserId),
    ("NotEqualUserId", Operator::NeUserId),
    ("EqualUserTeams", Operator::EqUserTeams),
    ("EqualUserOrUserTeams", Operator::EqUserOrUserTeams),
    ("EqualBusinessId", Operator::EqBusinessId),
    ("NotEqualBusinessId", Operator::NeBusinessId),
    ("On", Operator::On),
    ("OnOrAfter", Operator::OnOrAfter),
    ("OnOrBefore", Operator::OnOrBefore),
    ("Today", Operator::Today),
    ("Tomorrow", Operator::Tomorrow),
    ("Yesterday", Operator::Yesterday),
    ("Next7Days", Operator::NextSevenDays),
    ("Last7Days", Operator::LastSevenDays),
    ("ThisWeek", Operator::ThisWeek),
    ("LastWeek", Operator::LastWeek),
    ("NextWeek", Operator::NextWeek),
    ("ThisMonth", Operator::ThisMonth),
    ("LastMonth", Operator::LastMonth),
    ("NextMonth", Operator::NextMonth),
    ("ThisYear", Operator::ThisYear),
    ("LastYear", Operator::LastYear),
    ("NextYear", Operator::NextYear),
    ("LastXDays", Operator::LastXDays),
    ("NextXDays", Operator::NextXDays),
    ("LastXWeeks", Operator::LastXWeeks),
    ("NextXWeeks", Operator::NextXWeeks),
    ("LastXMonths", Operator::LastXMonths),
    ("NextXMonths", Operator::NextXMonths),
    ("LastXYears", Operator::LastXYears),
    ("NextXYears", Operator::NextXYears),
    ("OlderThanXDays", Operator::OlderThanXDays),
];

/// The operator of a query function name (without the prefix).
pub(crate) fn operator_of(name: &str) -> Option<Operator> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, op)| *op)
}

/// The query function name of an operator, if it has one.
pub(crate) fn function_of(op: Operator) -> Option<&'static str> {
    FUNCTIONS.iter().find(|(_, o)| *o == op).map(|(n, _)| *n)
}

/// Dataverse query functions with no offline operator, and what to use instead.
pub(crate) fn unsupported_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "Between" | "NotBetween" => "use ge and le",
        "Above" | "AboveOrEqual" | "Under" | "UnderOrEqual" | "NotUnder" => "hierarchy queries are online only",
        "ContainValues" | "DoesNotContainValues" => "multi-select choices are not queryable offline",
        "Contains" | "DoesNotContain" => "full-text search is online only: use contains() or startswith()",
        "EqualUserLanguage"
        | "EqualUserOrUserHierarchy"
        | "EqualUserOrUserHierarchyAndTeams"
        | "EqualRoleBusinessId" => "this function is online only",
        n if n.contains("Fiscal") => "fiscal periods are online only",
        n if n.contains("Hours") || n.contains("Minutes") || n.starts_with("OlderThanX") => {
            "use LastXDays, NextXDays or OlderThanXDays"
        }
        _ => return None,
    })
}
