//! The schema model: tables, columns and relationships, looked up by logical name.

use std::collections::HashMap;

use crate::error::{Error, ErrorCode, Result};

/// Column types, as `AttributeType` in Dataverse metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeType {
    /// The primary key and other GUID columns.
    Uniqueidentifier,
    /// Single line of text.
    String,
    /// Multiple lines of text.
    Memo,
    /// Whole number (32 bit).
    Integer,
    /// Whole number (64 bit).
    BigInt,
    /// Decimal number.
    Decimal,
    /// Floating point number.
    Double,
    /// Currency.
    Money,
    /// Two options.
    Boolean,
    /// Date and time (stored in UTC).
    DateTime,
    /// A reference to one row of one of `targets`.
    Lookup,
    /// A reference to an account or a contact.
    Customer,
    /// A reference to a system user or a team.
    Owner,
    /// Choice (option set).
    Picklist,
    /// Status (statecode).
    State,
    /// Status reason (statuscode).
    Status,
    /// A table's logical name.
    EntityName,
    /// Anything else (Virtual, PartyList, Image, File...): kept, not queryable offline.
    Other(String),
}

impl AttributeType {
    /// Parses the `AttributeType` string of Dataverse metadata.
    pub fn parse(s: &str) -> AttributeType {
        match s {
            "Uniqueidentifier" => AttributeType::Uniqueidentifier,
            "String" => AttributeType::String,
            "Memo" => AttributeType::Memo,
            "Integer" => AttributeType::Integer,
            "BigInt" => AttributeType::BigInt,
            "Decimal" => AttributeType::Decimal,
            "Double" => AttributeType::Double,
            "Money" => AttributeType::Money,
            "Boolean" => AttributeType::Boolean,
            "DateTime" => AttributeType::DateTime,
            "Lookup" => AttributeType::Lookup,
            "Customer" => AttributeType::Customer,
            "Owner" => AttributeType::Owner,
            "Picklist" => AttributeType::Picklist,
            "State" => AttributeType::State,
            "Status" => AttributeType::Status,
            "EntityName" => AttributeType::EntityName,
            other => AttributeType::Other(other.to_string()),
        }
    }

    /// The `AttributeType` string of Dataverse metadata.
    pub fn as_str(&self) -> &str {
        match self {
            AttributeType::Uniqueidentifier => "Uniqueidentifier",
            AttributeType::String => "String",
            AttributeType::Memo => "Memo",
            AttributeType::Integer => "Integer",
            AttributeType::BigInt => "BigInt",
            AttributeType::Decimal => "Decimal",
            AttributeType::Double => "Double",
            AttributeType::Money => "Money",
            AttributeType::Boolean => "Boolean",
            AttributeType::DateTime => "DateTime",
            AttributeType::Lookup => "Lookup",
            AttributeType::Customer => "Customer",
            AttributeType::Owner => "Owner",
            AttributeType::Picklist => "Picklist",
            AttributeType::State => "State",
            AttributeType::Status => "Status",
            AttributeType::EntityName => "EntityName",
            AttributeType::Other(s) => s,
        }
    }

    /// Lookup, Customer and Owner columns: stored in Web API rows as `_name_value`.
    pub fn is_lookup(&self) -> bool {
        matches!(self, AttributeType::Lookup | AttributeType::Customer | AttributeType::Owner)
    }

    /// Integer, BigInt, Decimal, Double, Money and the option-set types, compared as numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            AttributeType::Integer
                | AttributeType::BigInt
                | AttributeType::Decimal
                | AttributeType::Double
                | AttributeType::Money
                | AttributeType::Picklist
                | AttributeType::State
                | AttributeType::Status
        )
    }

    /// String, Memo and EntityName: compared case-insensitively.
    pub fn is_text(&self) -> bool {
        matches!(self, AttributeType::String | AttributeType::Memo | AttributeType::EntityName)
    }

    /// Picklist, State and Status: have option values.
    pub fn is_option_set(&self) -> bool {
        matches!(self, AttributeType::Picklist | AttributeType::State | AttributeType::Status)
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    /// Logical name, lower case (`parentcustomerid`).
    pub logical_name: String,
    /// Column type.
    pub attribute_type: AttributeType,
    /// For lookups: the tables it may point at.
    pub targets: Vec<String>,
    /// `RequiredLevel.Value` is `ApplicationRequired` or `SystemRequired`.
    pub required: bool,
    /// For text columns: the longest value allowed.
    pub max_length: Option<u32>,
    /// For option-set columns: the values and their labels.
    pub options: Vec<(i64, String)>,
    /// `IsValidForCreate` (true when absent).
    pub valid_for_create: bool,
    /// `IsValidForUpdate` (true when absent).
    pub valid_for_update: bool,
}

impl AttributeDef {
    /// The key this column has in a Web API row: `_name_value` for lookups, the logical name otherwise.
    pub fn row_key(&self) -> String {
        if self.attribute_type.is_lookup() {
            format!("_{}_value", self.logical_name)
        } else {
            self.logical_name.clone()
        }
    }

    /// The label of an option value, for formatted values.
    pub fn option_label(&self, value: i64) -> Option<&str> {
        self.options.iter().find(|(v, _)| *v == value).map(|(_, l)| l.as_str())
    }
}

/// A one-to-many relationship seen from either side (Dataverse lists each on both tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    /// `SchemaName`, e.g. `contact_customer_accounts`.
    pub schema_name: String,
    /// `MetadataId` (what `mobileofflineprofileitemassociation.relationshipid` holds), lower case.
    pub metadata_id: String,
    /// The "one" side: the table pointed at.
    pub referenced_entity: String,
    /// The "one" side's key column (its primary id).
    pub referenced_attribute: String,
    /// The "many" side: the table with the lookup column.
    pub referencing_entity: String,
    /// The lookup column on the "many" side.
    pub referencing_attribute: String,
    /// Collection-valued navigation property on the "one" side (`contact_customer_accounts`).
    pub referenced_navigation: String,
    /// Single-valued navigation property on the "many" side (`parentcustomerid_account`).
    pub referencing_navigation: String,
}

/// Who owns a table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnershipType {
    /// Rows have an owner (user or team) and an owning business unit.
    UserOwned,
    /// Rows belong to the organisation.
    OrganizationOwned,
    /// Business-unit owned (the `businessunit` table itself).
    BusinessOwned,
    /// Anything else.
    None,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// Logical name (`account`).
    pub logical_name: String,
    /// Web API entity set (`accounts`).
    pub entity_set_name: String,
    /// Primary key column (`accountid`).
    pub primary_id_attribute: String,
    /// Primary name column (`name`), if any.
    pub primary_name_attribute: Option<String>,
    /// `IsAvailableOffline`.
    pub is_available_offline: bool,
    /// `ChangeTrackingEnabled`.
    pub change_tracking_enabled: bool,
    /// `OwnershipType`.
    pub ownership: OwnershipType,
    /// Columns, in metadata order.
    pub attributes: Vec<AttributeDef>,
    /// Relationships where this table holds the lookup.
    pub many_to_one: Vec<Relationship>,
    /// Relationships where other tables point at this one.
    pub one_to_many: Vec<Relationship>,
    attribute_index: HashMap<String, usize>,
}

impl TableDef {
    /// Builds a table and its column index.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        logical_name: String,
        entity_set_name: String,
        primary_id_attribute: String,
        primary_name_attribute: Option<String>,
        is_available_offline: bool,
        change_tracking_enabled: bool,
        ownership: OwnershipType,
        attributes: Vec<AttributeDef>,
        many_to_one: Vec<Relationship>,
        one_to_many: Vec<Relationship>,
    ) -> TableDef {
        let attribute_index = attributes.iter().enumerate().map(|(i, a)| (a.logical_name.clone(), i)).collect();
        TableDef {
            logical_name,
            entity_set_name,
            primary_id_attribute,
            primary_name_attribute,
            is_available_offline,
            change_tracking_enabled,
            ownership,
            attributes,
            many_to_one,
            one_to_many,
            attribute_index,
        }
    }

    /// The column of that logical name (case-insensitive), if any.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        if let Some(&i) = self.attribute_index.get(name) {
            return Some(&self.attributes[i]);
        }
        let lower = name.to_ascii_lowercase();
        self.attribute_index.get(&lower).map(|&i| &self.attributes[i])
    }

    /// The column of that logical name, or an `AttributeNotFound` error that names the table.
    pub fn require_attribute(&self, name: &str) -> Result<&AttributeDef> {
        self.attribute(name).ok_or_else(|| {
            Error::new(
                ErrorCode::AttributeNotFound,
                format!("'{}' entity doesn't contain attribute with Name = '{}'", self.logical_name, name),
            )
        })
    }

    /// Finds a column from a Web API row key: `name` or `_name_value`.
    pub fn attribute_by_row_key(&self, key: &str) -> Option<&AttributeDef> {
        if let Some(inner) = key.strip_prefix('_').and_then(|k| k.strip_suffix("_value")) {
            return self.attribute(inner).filter(|a| a.attribute_type.is_lookup());
        }
        self.attribute(key).filter(|a| !a.attribute_type.is_lookup())
    }

    /// A relationship of this table (either side) by schema name, case-insensitive.
    pub fn relationship(&self, schema_name: &str) -> Option<&Relationship> {
        self.many_to_one.iter().chain(self.one_to_many.iter()).find(|r| r.schema_name.eq_ignore_ascii_case(schema_name))
    }

    /// A navigation property of this table: a single-valued one (this table holds the lookup) or a
    /// collection-valued one (the other table does). Returns the relationship and whether it is a collection.
    pub fn navigation(&self, name: &str) -> Option<(&Relationship, bool)> {
        if let Some(r) = self.many_to_one.iter().find(|r| r.referencing_navigation.eq_ignore_ascii_case(name)) {
            return Some((r, false));
        }
        self.one_to_many.iter().find(|r| r.referenced_navigation.eq_ignore_ascii_case(name)).map(|r| (r, true))
    }
}

/// All tables, looked up by logical name or entity set name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    tables: Vec<TableDef>,
    by_name: HashMap<String, usize>,
    by_set: HashMap<String, usize>,
    /// Lower-case relationship schema name -> (table, is one-to-many, index), the first table listing it winning.
    by_relationship: HashMap<String, (usize, bool, usize)>,
    /// Lower-case relationship `MetadataId` -> the same, for the relationships that have one.
    by_relationship_id: HashMap<String, (usize, bool, usize)>,
}

impl Schema {
    /// Builds a schema from tables (later ones replace earlier ones of the same name).
    pub fn new(tables: Vec<TableDef>) -> Schema {
        let mut s = Schema::default();
        for t in tables {
            s.insert(t);
        }
        s
    }

    /// Adds or replaces a table.
    pub fn insert(&mut self, table: TableDef) {
        if let Some(&i) = self.by_name.get(&table.logical_name) {
            self.by_set.remove(&self.tables[i].entity_set_name);
            self.by_set.insert(table.entity_set_name.clone(), i);
            self.tables[i] = table;
            // A replaced table may have listed relationships others list too: index them all again.
            self.by_relationship.clear();
            self.by_relationship_id.clear();
            for t in 0..self.tables.len() {
                self.index_relationships(t);
            }
        } else {
            let i = self.tables.len();
            self.by_name.insert(table.logical_name.clone(), i);
            self.by_set.insert(table.entity_set_name.clone(), i);
            self.tables.push(table);
            self.index_relationships(i);
        }
    }

    /// Indexes the relationships of table `t` (look-ups were a scan of every table: quadratic over a profile of
    /// many items).
    fn index_relationships(&mut self, t: usize) {
        let def = &self.tables[t];
        let all = def.many_to_one.iter().enumerate().map(|(i, r)| (false, i, r));
        let all = all.chain(def.one_to_many.iter().enumerate().map(|(i, r)| (true, i, r)));
        for (one_to_many, i, r) in all {
            self.by_relationship.entry(r.schema_name.to_ascii_lowercase()).or_insert((t, one_to_many, i));
            if !r.metadata_id.is_empty() {
                self.by_relationship_id.entry(r.metadata_id.to_ascii_lowercase()).or_insert((t, one_to_many, i));
            }
        }
    }

    fn relationship_at(&self, (t, one_to_many, i): (usize, bool, usize)) -> Option<&Relationship> {
        let def = self.tables.get(t)?;
        if one_to_many {
            def.one_to_many.get(i)
        } else {
            def.many_to_one.get(i)
        }
    }

    /// All tables, in the order they were read.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// The table of that logical name (case-insensitive), if any.
    pub fn table(&self, logical_name: &str) -> Option<&TableDef> {
        self.by_name
            .get(logical_name)
            .or_else(|| self.by_name.get(&logical_name.to_ascii_lowercase()))
            .map(|&i| &self.tables[i])
    }

    /// The table of that logical name, or a `TableNotFound` error.
    pub fn require_table(&self, logical_name: &str) -> Result<&TableDef> {
        self.table(logical_name).ok_or_else(|| {
            Error::new(
                ErrorCode::TableNotFound,
                format!(
                    "The entity with a name = '{}' was not found in the schema (known tables: {}{})",
                    logical_name,
                    // The first 50: the message stays readable (and small) whatever the schema holds.
                    self.tables.iter().take(50).map(|t| t.logical_name.as_str()).collect::<Vec<_>>().join(", "),
                    if self.tables.len() > 50 {
                        format!(" and {} more", self.tables.len() - 50)
                    } else {
                        String::new()
                    }
                ),
            )
        })
    }

    /// The table whose Web API entity set is `set` (`accounts`).
    pub fn table_by_set(&self, set: &str) -> Option<&TableDef> {
        self.by_set.get(set).map(|&i| &self.tables[i])
    }

    /// A relationship by schema name, from whichever table lists it.
    pub fn relationship(&self, schema_name: &str) -> Option<&Relationship> {
        self.by_relationship.get(&schema_name.to_ascii_lowercase()).and_then(|&at| self.relationship_at(at))
    }

    /// A relationship by `MetadataId` (case-insensitive).
    pub fn relationship_by_id(&self, metadata_id: &str) -> Option<&Relationship> {
        if metadata_id.is_empty() {
            return None;
        }
        self.by_relationship_id.get(&metadata_id.to_ascii_lowercase()).and_then(|&at| self.relationship_at(at))
    }
}
