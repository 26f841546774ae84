//! What a query is evaluated against besides the rows: the clock, the user's time zone and identity.

/// The evaluation context of the relative-date and user operators.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalContext {
    /// Now, in milliseconds since 1970-01-01T00:00:00Z.
    pub now_ms: i64,
    /// The user's offset from UTC in minutes (`+120` for UTC+2). Day, week, month and year boundaries of the
    /// relative operators (`today`, `this-week`, `last-x-days`...) are the user's local ones.
    pub utc_offset_minutes: i32,
    /// The signed-in user's `systemuserid` (for `eq-userid`, `eq-useroruserteams`...).
    pub user_id: Option<String>,
    /// The ids of the teams the user belongs to (for `eq-userteams`, `eq-useroruserteams`).
    pub team_ids: Vec<String>,
    /// The user's business unit id (for `eq-businessid`, `ne-businessid`).
    pub business_unit_id: Option<String>,
}
