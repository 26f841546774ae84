//! Reads EntityDefinitions JSON as the Web API returns it.

use serde_json::Value;

use super::model::{AttributeDef, AttributeType, OwnershipType, Relationship, Schema, TableDef};
use crate::error::{Error, Result};

impl Schema {
    /// Reads `GET EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships` output:
    /// `{"value": [...]}`, a bare array, or a single table object. Unknown fields are ignored.
    pub fn from_json(text: &str) -> Result<Schema> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| Error::schema(format!("the schema is not valid JSON: {e}")))?;
        Schema::from_value(&doc)
    }

    /// As [`Schema::from_json`], from parsed JSON.
    pub fn from_value(doc: &Value) -> Result<Schema> {
        let items: Vec<&Value> = match doc {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) => match o.get("value") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(_) => return Err(Error::schema("the schema's \"value\" must be an array of EntityDefinitions")),
                None => vec![doc],
            },
            _ => return Err(Error::schema("the schema must be an EntityDefinitions response: {\"value\": [...]}")),
        };
        let mut tables = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            tables.push(read_table(item).map_err(|e| Error::schema(format!("EntityDefinitions[{i}]: {}", e.message)))?);
        }
        Ok(Schema::new(tables))
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn req_str(v: &Value, key: &str, what: &str) -> Result<String> {
    str_field(v, key).map(str::to_string).ok_or_else(|| Error::schema(format!("{what} has no string \"{key}\"")))
}

fn bool_field(v: &Value, key: &str, default: bool) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        // Managed properties come as {"Value": true, ...}.
        Some(Value::Object(o)) => o.get("Value").and_then(Value::as_bool).unwrap_or(default),
        _ => default,
    }
}

fn read_table(v: &Value) -> Result<TableDef> {
    if !v.is_object() {
        return Err(Error::schema("each EntityDefinition must be an object"));
    }
    let logical_name = req_str(v, "LogicalName", "an EntityDefinition")?.to_ascii_lowercase();
    let what = format!("table '{logical_name}'");
    let entity_set_name = req_str(v, "EntitySetName", &what)?;
    let primary_id_attribute = req_str(v, "PrimaryIdAttribute", &what)?.to_ascii_lowercase();
    let primary_name_attribute = str_field(v, "PrimaryNameAttribute").map(str::to_ascii_lowercase);
    let ownership = match str_field(v, "OwnershipType") {
        Some("UserOwned") | Some("TeamOwned") => OwnershipType::UserOwned,
        Some("OrganizationOwned") => OwnershipType::OrganizationOwned,
        Some("BusinessOwned") => OwnershipType::BusinessOwned,
        _ => OwnershipType::None,
    };
    let mut attributes = Vec::new();
    if let Some(list) = v.get("Attributes") {
        let list = list.as_array().ok_or_else(|| Error::schema(format!("{what}: \"Attributes\" must be an array")))?;
        for a in list {
            attributes.push(read_attribute(a, &what)?);
        }
    }
    let many_to_one = read_relationships(v, "ManyToOneRelationships", &what)?;
    let one_to_many = read_relationships(v, "OneToManyRelationships", &what)?;
    Ok(TableDef::new(
        logical_name,
        entity_set_name,
        primary_id_attribute,
        primary_name_attribute,
        bool_field(v, "IsAvailableOffline", true),
        bool_field(v, "ChangeTrackingEnabled", true),
        ownership,
        attributes,
        many_to_one,
        one_to_many,
    ))
}

fn read_attribute(a: &Value, table: &str) -> Result<AttributeDef> {
    let logical_name = req_str(a, "LogicalName", &format!("an attribute of {table}"))?.to_ascii_lowercase();
    let what = format!("attribute '{logical_name}' of {table}");
    let attribute_type = AttributeType::parse(&req_str(a, "AttributeType", &what)?);
    let targets = match a.get("Targets") {
        Some(Value::Array(t)) => t.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect(),
        _ => Vec::new(),
    };
    let required = matches!(
        a.get("RequiredLevel").and_then(|r| r.get("Value")).and_then(Value::as_str),
        Some("ApplicationRequired") | Some("SystemRequired")
    );
    let max_length = a.get("MaxLength").and_then(Value::as_u64).map(|n| n as u32);
    let mut options = Vec::new();
    if let Some(list) = a.get("OptionSet").and_then(|o| o.get("Options")).and_then(Value::as_array) {
        for o in list {
            let Some(value) = o.get("Value").and_then(Value::as_i64) else { continue };
            let label = o
                .get("Label")
                .and_then(|l| l.get("UserLocalizedLabel"))
                .and_then(|l| l.get("Label"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            options.push((value, label));
        }
    }
    Ok(AttributeDef {
        logical_name,
        attribute_type,
        targets,
        required,
        max_length,
        options,
        valid_for_create: bool_field(a, "IsValidForCreate", true),
        valid_for_update: bool_field(a, "IsValidForUpdate", true),
    })
}

fn read_relationships(v: &Value, key: &str, table: &str) -> Result<Vec<Relationship>> {
    let Some(list) = v.get(key) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| Error::schema(format!("{table}: \"{key}\" must be an array")))?;
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let schema_name = req_str(r, "SchemaName", &format!("a relationship of {table}"))?;
        let what = format!("relationship '{schema_name}' of {table}");
        out.push(Relationship {
            metadata_id: str_field(r, "MetadataId").unwrap_or("").to_ascii_lowercase(),
            referenced_entity: req_str(r, "ReferencedEntity", &what)?.to_ascii_lowercase(),
            referenced_attribute: req_str(r, "ReferencedAttribute", &what)?.to_ascii_lowercase(),
            referencing_entity: req_str(r, "ReferencingEntity", &what)?.to_ascii_lowercase(),
            referencing_attribute: req_str(r, "ReferencingAttribute", &what)?.to_ascii_lowercase(),
            referenced_navigation: str_field(r, "ReferencedEntityNavigationPropertyName")
                .unwrap_or(&schema_name)
                .to_string(),
            referencing_navigation: str_field(r, "ReferencingEntityNavigationPropertyName")
                .unwrap_or(&schema_name)
                .to_string(),
            schema_name,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_web_api_response_and_ignores_unknown_fields() {
        let json = r##"{"@odata.context":"x","value":[{"@odata.type":"#Microsoft.Dynamics.CRM.EntityMetadata",
          "LogicalName":"account","EntitySetName":"accounts","PrimaryIdAttribute":"accountid","PrimaryNameAttribute":"name",
          "IsAvailableOffline":true,"ChangeTrackingEnabled":{"Value":true},"OwnershipType":"UserOwned","MetadataId":"abc",
          "Attributes":[{"@odata.type":"#Microsoft.Dynamics.CRM.LookupAttributeMetadata","LogicalName":"primarycontactid",
             "AttributeType":"Lookup","Targets":["contact"],"RequiredLevel":{"Value":"None"}},
             {"LogicalName":"name","AttributeType":"String","MaxLength":160,"RequiredLevel":{"Value":"ApplicationRequired"}}],
          "ManyToOneRelationships":[{"SchemaName":"account_primary_contact","MetadataId":"ABC-1","ReferencedEntity":"contact",
             "ReferencedAttribute":"contactid","ReferencingEntity":"account","ReferencingAttribute":"primarycontactid",
             "ReferencedEntityNavigationPropertyName":"account_primary_contact","ReferencingEntityNavigationPropertyName":"primarycontactid"}],
          "OneToManyRelationships":[]}]}"##;
        let s = Schema::from_json(json).unwrap();
        let t = s.table("Account").unwrap();
        assert_eq!(t.entity_set_name, "accounts");
        assert!(t.change_tracking_enabled);
        assert_eq!(t.attribute("primarycontactid").unwrap().row_key(), "_primarycontactid_value");
        assert!(t.attribute("name").unwrap().required);
        assert_eq!(t.attribute_by_row_key("_primarycontactid_value").unwrap().logical_name, "primarycontactid");
        assert!(!t.navigation("primarycontactid").unwrap().1);
        assert_eq!(s.relationship_by_id("abc-1").unwrap().schema_name, "account_primary_contact");
    }

    #[test]
    fn errors_name_the_item() {
        let e = Schema::from_json(r#"{"value":[{"LogicalName":"x"}]}"#).unwrap_err();
        assert!(e.message.contains("table 'x'") && e.message.contains("EntitySetName"), "{}", e.message);
        assert!(Schema::from_json("nope").is_err());
    }
}
