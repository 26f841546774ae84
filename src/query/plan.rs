//! The query plan: what an OData query or a FetchXML document asks for, in one shape.
//!
//! Both parsers check names against the [`Schema`](crate::schema::Schema) while they build a plan, so a plan only
//! holds logical names that exist: column names are attribute logical names (a lookup is `parentcustomerid`, never
//! `_parentcustomerid_value`), tables are logical names. Values stay as written ([`Literal`]); the evaluator converts
//! them to the column's type.

/// A query over one table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Logical name of the table queried.
    pub table: String,
    /// Columns to return.
    pub columns: Columns,
    /// Row filter; `None` selects every row.
    pub filter: Option<Filter>,
    /// Sort keys, most significant first.
    pub orders: Vec<Order>,
    /// Return at most this many rows (`$top`, `<fetch top>`).
    pub top: Option<u32>,
    /// Rows per page (`<fetch count>`; `maxPageSize` for OData is a call option, not part of the query).
    pub page_size: Option<u32>,
    /// One-based page number (`<fetch page>`).
    pub page: Option<u32>,
    /// Return the total count (`$count=true`, `<fetch returntotalrecordcount>`).
    pub count: bool,
    /// `<fetch distinct="true">`.
    pub distinct: bool,
    /// FetchXML `link-entity` joins (inner or outer) whose columns come back as `alias.column`.
    pub joins: Vec<Join>,
    /// OData `$expand`: related rows nested in each result row.
    pub expands: Vec<Expand>,
}

/// Which columns a query returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Columns {
    /// Every column (`<all-attributes/>`, or no `$select`).
    #[default]
    All,
    /// These columns (logical names); the primary id always comes back too.
    Some(Vec<String>),
}

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Alias of the join the column belongs to (`<order entityname>`), `None` for the queried table.
    pub entity: Option<String>,
    /// Column logical name.
    pub attribute: String,
    /// Descending order.
    pub descending: bool,
}

/// A row filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must hold (an empty list holds).
    And(Vec<Filter>),
    /// At least one must hold (an empty list holds, as an empty FetchXML filter does).
    Or(Vec<Filter>),
    /// OData `not`.
    Not(Box<Filter>),
    /// One comparison.
    Condition(Condition),
    /// A condition on related rows (FetchXML `link-entity` inside a filter, OData `any` / `all`).
    Related(Box<RelatedFilter>),
}

/// One comparison of a column with values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Alias of the join the column belongs to (`<condition entityname>`), `None` for the current table.
    pub entity: Option<String>,
    /// Column logical name.
    pub attribute: String,
    /// The operator.
    pub operator: Operator,
    /// Operands: none for `null`, `today`...; one for `eq`, `last-x-days`...; any number for `in`.
    pub values: Vec<Literal>,
}

/// A value as written in the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// OData `null`.
    Null,
    /// OData `true` / `false`.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A decimal or floating point literal.
    Number(f64),
    /// Quoted text in OData, or any FetchXML value (FetchXML values are text; the column type decides).
    Text(String),
    /// An OData GUID literal (unquoted).
    Guid(String),
    /// An OData date or date-time literal (unquoted), as written.
    DateTime(String),
}

/// How a related-row filter quantifies over the related rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedKind {
    /// Some related row matches (`link-type="any"`, OData `any`).
    Any,
    /// No related row matches (`link-type="not any"`).
    NotAny,
    /// Every related row matches (OData `all`; vacuously true without related rows).
    All,
    /// Some related row does not match (`link-type="not all"`).
    NotAll,
}

/// A filter over rows of another table, joined on `from` (column of `table`) = `to` (column of the outer table).
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedFilter {
    /// Quantifier.
    pub kind: RelatedKind,
    /// Logical name of the related table.
    pub table: String,
    /// Join column on the related table.
    pub from: String,
    /// Join column on the outer table.
    pub to: String,
    /// Condition on the related rows (`None`: any related row).
    pub filter: Option<Filter>,
}

/// The kind of a FetchXML join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Rows without a match are dropped.
    Inner,
    /// Rows without a match are kept with null columns.
    Outer,
}

/// A FetchXML `link-entity` join.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Logical name of the joined table.
    pub table: String,
    /// Join column on the joined table.
    pub from: String,
    /// Join column on the parent table.
    pub to: String,
    /// Alias; result columns are `alias.column` (FetchXML's default alias is the table name with a number).
    pub alias: String,
    /// Inner or outer.
    pub kind: JoinKind,
    /// Columns returned from the joined table.
    pub columns: Columns,
    /// Condition on the joined rows.
    pub filter: Option<Filter>,
    /// Joins nested under this one.
    pub joins: Vec<Join>,
}

/// An OData `$expand` of one navigation property.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// The navigation property as written (the key of the nested value in the result).
    pub navigation: String,
    /// Single-valued (this table holds the lookup) or collection-valued (the related table does).
    pub collection: bool,
    /// Join column on the related table (its primary id for single-valued, the lookup for collections).
    pub from: String,
    /// Join column on this table (the lookup for single-valued, the primary id for collections).
    pub to: String,
    /// The nested query over the related table: `$select`, `$filter`, `$orderby`, `$top`, `$expand`.
    pub query: Query,
}

/// Every comparison operator, named as in FetchXML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operator {
    Eq,
    Ne,
    Null,
    NotNull,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    Like,
    NotLike,
    BeginsWith,
    NotBeginWith,
    EndsWith,
    NotEndWith,
    EqUserId,
    NeUserId,
    EqUserTeams,
    EqUserOrUserTeams,
    EqBusinessId,
    NeBusinessId,
    On,
    OnOrAfter,
    OnOrBefore,
    Today,
    Tomorrow,
    Yesterday,
    NextSevenDays,
    LastSevenDays,
    ThisWeek,
    LastWeek,
    NextWeek,
    ThisMonth,
    LastMonth,
    NextMonth,
    ThisYear,
    LastYear,
    NextYear,
    LastXDays,
    NextXDays,
    LastXWeeks,
    NextXWeeks,
    LastXMonths,
    NextXMonths,
    LastXYears,
    NextXYears,
    OlderThanXDays,
}

/// How many operands an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// No value (`null`, `today`, `eq-userid`...).
    None,
    /// Exactly one value.
    One,
    /// One or more values (`in`, `not-in`).
    Many,
}

impl Operator {
    /// Every operator, in a fixed order (for tests and documentation).
    pub const ALL: [Operator; 48] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Null,
        Operator::NotNull,
        Operator::Gt,
        Operator::Ge,
        Operator::Lt,
        Operator::Le,
        Operator::In,
        Operator::NotIn,
        Operator::Like,
        Operator::NotLike,
        Operator::BeginsWith,
        Operator::NotBeginWith,
        Operator::EndsWith,
        Operator::NotEndWith,
        Operator::EqUserId,
        Operator::NeUserId,
        Operator::EqUserTeams,
        Operator::EqUserOrUserTeams,
        Operator::EqBusinessId,
        Operator::NeBusinessId,
        Operator::On,
        Operator::OnOrAfter,
        Operator::OnOrBefore,
        Operator::Today,
        Operator::Tomorrow,
        Operator::Yesterday,
        Operator::NextSevenDays,
        Operator::LastSevenDays,
        Operator::ThisWeek,
        Operator::LastWeek,
        Operator::NextWeek,
        Operator::ThisMonth,
        Operator::LastMonth,
        Operator::NextMonth,
        Operator::ThisYear,
        Operator::LastYear,
        Operator::NextYear,
        Operator::LastXDays,
        Operator::NextXDays,
        Operator::LastXWeeks,
        Operator::NextXWeeks,
        Operator::LastXMonths,
        Operator::NextXMonths,
        Operator::LastXYears,
        Operator::NextXYears,
        Operator::OlderThanXDays,
    ];

    /// The FetchXML name (`not-begin-with`). Aliases such as `neq`, `gte`, `lte` parse to the same operator.
    pub fn fetchxml_name(self) -> &'static str {
        use Operator::*;
        match self {
            Eq => "eq",
            Ne => "ne",
            Null => "null",
            NotNull => "not-null",
            Gt => "gt",
            Ge => "ge",
            Lt => "lt",
            Le => "le",
            In => "in",
            NotIn => "not-in",
            Like => "like",
            NotLike => "not-like",
            BeginsWith => "begins-with",
            NotBeginWith => "not-begin-with",
            EndsWith => "ends-with",
            NotEndWith => "not-end-with",
            EqUserId => "eq-userid",
            NeUserId => "ne-userid",
            EqUserTeams => "eq-userteams",
            EqUserOrUserTeams => "eq-useroruserteams",
            EqBusinessId => "eq-businessid",
            NeBusinessId => "ne-businessid",
            On => "on",
            OnOrAfter => "on-or-after",
            OnOrBefore => "on-or-before",
            Today => "today",
            Tomorrow => "tomorrow",
            Yesterday => "yesterday",
            NextSevenDays => "next-seven-days",
            LastSevenDays => "last-seven-days",
            ThisWeek => "this-week",
            LastWeek => "last-week",
            NextWeek => "next-week",
            ThisMonth => "this-month",
            LastMonth => "last-month",
            NextMonth => "next-month",
            ThisYear => "this-year",
            LastYear => "last-year",
            NextYear => "next-year",
            LastXDays => "last-x-days",
            NextXDays => "next-x-days",
            LastXWeeks => "last-x-weeks",
            NextXWeeks => "next-x-weeks",
            LastXMonths => "last-x-months",
            NextXMonths => "next-x-months",
            LastXYears => "last-x-years",
            NextXYears => "next-x-years",
            OlderThanXDays => "olderthan-x-days",
        }
    }

    /// Parses a FetchXML operator name, accepting the aliases `neq`, `gte`, `lte`.
    pub fn from_fetchxml(name: &str) -> Option<Operator> {
        match name {
            "neq" => return Some(Operator::Ne),
            "gte" => return Some(Operator::Ge),
            "lte" => return Some(Operator::Le),
            _ => {}
        }
        Operator::ALL.iter().copied().find(|o| o.fetchxml_name() == name)
    }

    /// Whether the operator's value counts units (`last-x-days`, `olderthan-x-days`...): a whole number.
    pub fn counts_units(self) -> bool {
        use Operator::*;
        matches!(
            self,
            LastXDays
                | NextXDays
                | LastXWeeks
                | NextXWeeks
                | LastXMonths
                | NextXMonths
                | LastXYears
                | NextXYears
                | OlderThanXDays
        )
    }

    /// How many values the operator takes.
    pub fn arity(self) -> Arity {
        use Operator::*;
        match self {
            Null | NotNull | EqUserId | NeUserId | EqUserTeams | EqUserOrUserTeams | EqBusinessId | NeBusinessId
            | Today | Tomorrow | Yesterday | NextSevenDays | LastSevenDays | ThisWeek | LastWeek | NextWeek
            | ThisMonth | LastMonth | NextMonth | ThisYear | LastYear | NextYear => Arity::None,
            In | NotIn => Arity::Many,
            _ => Arity::One,
        }
    }
}
