//! Builders for EntityDefinitions JSON in the shape Dataverse returns, so the server's own tables and the columns
//! it maintains read exactly like the shipped schema.

use serde_json::{json, Value};

/// A deterministic GUID from a name (FNV-1a), for MetadataIds and seed ids.
pub fn guid_from(name: &str) -> String {
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    for b in name.bytes() {
        h1 = (h1 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        h2 = (h2 ^ b as u64).wrapping_mul(0x100_0000_01b3).rotate_left(5);
    }
    let hex = format!("{h1:016x}{h2:016x}");
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

fn label(text: &str) -> Value {
    json!({ "UserLocalizedLabel": { "Label": text, "LanguageCode": 1033 }, "LocalizedLabels": [{ "Label": text, "LanguageCode": 1033 }] })
}

fn schema_name(logical: &str) -> String {
    // msdyn_workorder -> msdyn_WorkOrder is not derivable; capitalise the part after the prefix.
    match logical.split_once('_') {
        Some((p, rest)) => format!("{p}_{}{}", rest[..1].to_ascii_uppercase(), &rest[1..]),
        None => format!("{}{}", logical[..1].to_ascii_uppercase(), &logical[1..]),
    }
}

/// One column.
pub fn attr(table: &str, logical: &str, ty: &str, extra: Value) -> Value {
    let odata_type = match ty {
        "String" => "StringAttributeMetadata",
        "Memo" => "MemoAttributeMetadata",
        "Integer" => "IntegerAttributeMetadata",
        "BigInt" => "BigIntAttributeMetadata",
        "Decimal" => "DecimalAttributeMetadata",
        "Double" => "DoubleAttributeMetadata",
        "Money" => "MoneyAttributeMetadata",
        "Boolean" => "BooleanAttributeMetadata",
        "DateTime" => "DateTimeAttributeMetadata",
        "Lookup" | "Customer" | "Owner" => "LookupAttributeMetadata",
        "Picklist" => "PicklistAttributeMetadata",
        "State" => "StateAttributeMetadata",
        "Status" => "StatusAttributeMetadata",
        "EntityName" => "EntityNameAttributeMetadata",
        _ => "AttributeMetadata",
    };
    let mut a = json!({
        "@odata.type": format!("#Microsoft.Dynamics.CRM.{odata_type}"),
        "MetadataId": guid_from(&format!("attr:{table}.{logical}")),
        "LogicalName": logical,
        "SchemaName": schema_name(logical),
        "EntityLogicalName": table,
        "AttributeType": ty,
        "AttributeTypeName": { "Value": format!("{ty}Type") },
        "DisplayName": label(logical),
        "RequiredLevel": { "Value": "None", "CanBeChanged": true },
        "IsValidForCreate": true,
        "IsValidForUpdate": true,
        "IsValidForRead": true,
        "IsPrimaryId": false,
        "IsPrimaryName": false,
    });
    if let (Some(obj), Value::Object(extra)) = (a.as_object_mut(), extra) {
        for (k, v) in extra {
            obj.insert(k, v);
        }
    }
    a
}

/// Option-set metadata from `(value, label)` pairs.
pub fn options(list: &[(i64, &str)]) -> Value {
    let opts: Vec<Value> = list.iter().map(|(v, l)| json!({ "Value": v, "Label": label(l) })).collect();
    json!({ "Options": opts })
}

/// Column spec used by the table lists: `(logical name, type, extra metadata)`.
pub type Col = (&'static str, &'static str, Value);

/// A string column.
pub fn s(name: &'static str, max: u32) -> Col {
    (name, "String", json!({ "MaxLength": max }))
}
/// A required string column.
pub fn s_req(name: &'static str, max: u32) -> Col {
    (name, "String", json!({ "MaxLength": max, "RequiredLevel": { "Value": "ApplicationRequired" } }))
}
/// A multi-line text column.
pub fn memo(name: &'static str, max: u32) -> Col {
    (name, "Memo", json!({ "MaxLength": max }))
}
/// A column of a type without extra metadata.
pub fn plain(name: &'static str, ty: &'static str) -> Col {
    (name, ty, json!({}))
}
/// A required column of a type without extra metadata.
pub fn plain_req(name: &'static str, ty: &'static str) -> Col {
    (name, ty, json!({ "RequiredLevel": { "Value": "ApplicationRequired" } }))
}
/// A lookup to one or more tables.
pub fn lk(name: &'static str, targets: &[&str]) -> Col {
    let ty = if targets.len() > 1 { "Customer" } else { "Lookup" };
    (name, ty, json!({ "Targets": targets }))
}
/// A required lookup.
pub fn lk_req(name: &'static str, targets: &[&str]) -> Col {
    let (n, t, mut v) = lk(name, targets);
    v["RequiredLevel"] = json!({ "Value": "ApplicationRequired" });
    (n, t, v)
}
/// A choice column.
pub fn pick(name: &'static str, opts: &[(i64, &str)]) -> Col {
    (name, "Picklist", json!({ "OptionSet": options(opts) }))
}

/// Table-level facts for [`table`].
pub struct TableSpec<'a> {
    /// Logical name.
    pub name: &'a str,
    /// Entity set name.
    pub set: &'a str,
    /// Primary name column, if any.
    pub primary_name: Option<&'a str>,
    /// `UserOwned`, `OrganizationOwned` or `BusinessOwned`.
    pub ownership: &'a str,
    /// Shown offline (`IsAvailableOffline`).
    pub offline: bool,
    /// Active/Inactive state and status columns.
    pub state: bool,
}

/// One EntityDefinition with its columns (relationships are added by [`link_relationships`]).
pub fn table(spec: &TableSpec<'_>, cols: Vec<Col>) -> Value {
    let t = spec.name;
    let pid = format!("{t}id");
    let mut attrs = vec![attr(t, &pid, "Uniqueidentifier", json!({ "IsPrimaryId": true, "IsValidForUpdate": false }))];
    for (name, ty, extra) in cols {
        let mut a = attr(t, name, ty, extra);
        if spec.primary_name == Some(name) {
            a["IsPrimaryName"] = json!(true);
        }
        attrs.push(a);
    }
    if spec.state {
        attrs.push(attr(t, "statecode", "State", json!({ "OptionSet": options(&[(0, "Active"), (1, "Inactive")]) })));
        attrs.push(attr(t, "statuscode", "Status", json!({ "OptionSet": options(&[(1, "Active"), (2, "Inactive")]) })));
    }
    json!({
        "@odata.type": "#Microsoft.Dynamics.CRM.EntityMetadata",
        "MetadataId": guid_from(&format!("table:{t}")),
        "LogicalName": t,
        "SchemaName": schema_name(t),
        "EntitySetName": spec.set,
        "LogicalCollectionName": spec.set,
        "PrimaryIdAttribute": pid,
        "PrimaryNameAttribute": spec.primary_name,
        "OwnershipType": spec.ownership,
        "IsAvailableOffline": spec.offline,
        "ChangeTrackingEnabled": true,
        "IsCustomEntity": false,
        "DisplayName": label(t),
        "Attributes": attrs,
        "ManyToOneRelationships": [],
        "OneToManyRelationships": [],
    })
}

/// Adds the columns Dataverse maintains on every row when the table lacks them: createdon, modifiedon,
/// createdby, modifiedby, versionnumber, and ownerid / owninguser / owningteam / owningbusinessunit on user-owned
/// tables.
pub fn add_system_columns(table: &mut Value) {
    let name = table["LogicalName"].as_str().unwrap_or_default().to_string();
    let user_owned = matches!(table["OwnershipType"].as_str(), Some("UserOwned") | Some("TeamOwned"));
    let mut wanted: Vec<(&str, &str, Value)> = vec![
        ("createdon", "DateTime", json!({ "IsValidForCreate": false, "IsValidForUpdate": false })),
        ("modifiedon", "DateTime", json!({ "IsValidForCreate": false, "IsValidForUpdate": false })),
        (
            "createdby",
            "Lookup",
            json!({ "Targets": ["systemuser"], "IsValidForCreate": false, "IsValidForUpdate": false }),
        ),
        (
            "modifiedby",
            "Lookup",
            json!({ "Targets": ["systemuser"], "IsValidForCreate": false, "IsValidForUpdate": false }),
        ),
        ("versionnumber", "BigInt", json!({ "IsValidForCreate": false, "IsValidForUpdate": false })),
    ];
    if user_owned {
        wanted.push(("ownerid", "Owner", json!({ "Targets": ["systemuser", "team"] })));
        wanted.push((
            "owninguser",
            "Lookup",
            json!({ "Targets": ["systemuser"], "IsValidForCreate": false, "IsValidForUpdate": false }),
        ));
        wanted.push((
            "owningteam",
            "Lookup",
            json!({ "Targets": ["team"], "IsValidForCreate": false, "IsValidForUpdate": false }),
        ));
        wanted.push((
            "owningbusinessunit",
            "Lookup",
            json!({ "Targets": ["businessunit"], "IsValidForCreate": false, "IsValidForUpdate": false }),
        ));
    }
    let Some(attrs) = table.get_mut("Attributes").and_then(Value::as_array_mut) else { return };
    for (logical, ty, extra) in wanted {
        let present = attrs.iter().any(|a| a["LogicalName"].as_str() == Some(logical));
        if !present {
            attrs.push(attr(&name, logical, ty, extra));
        }
    }
}

/// Fills ManyToOneRelationships / OneToManyRelationships from the lookup columns of every table, for tables that
/// do not list them already.
pub fn link_relationships(tables: &mut [Value], fixed_names: &[(&str, &str, &str, &str)]) {
    let mut rels: Vec<(String, Value)> = Vec::new(); // (referenced table, relationship)
    let mut own: Vec<(usize, Value)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let has = t["ManyToOneRelationships"].as_array().is_some_and(|a| !a.is_empty());
        if has {
            continue;
        }
        let tname = t["LogicalName"].as_str().unwrap_or_default();
        for a in t["Attributes"].as_array().into_iter().flatten() {
            let ty = a["AttributeType"].as_str().unwrap_or_default();
            if !matches!(ty, "Lookup" | "Customer" | "Owner") {
                continue;
            }
            let attr_name = a["LogicalName"].as_str().unwrap_or_default();
            let targets: Vec<&str> = a["Targets"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for target in &targets {
                let fixed =
                    fixed_names.iter().find(|f| f.0 == tname && f.1 == attr_name && f.2 == *target).map(|f| f.3);
                let schema = match fixed {
                    Some(n) => n.to_string(),
                    None => format!("{target}_{tname}_{attr_name}"),
                };
                let nav = if ty == "Owner" || targets.len() == 1 {
                    attr_name.to_string()
                } else {
                    format!("{attr_name}_{target}")
                };
                let r = json!({
                    "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
                    "MetadataId": guid_from(&format!("rel:{schema}")),
                    "SchemaName": schema,
                    "RelationshipType": "OneToManyRelationship",
                    "ReferencedEntity": target,
                    "ReferencedAttribute": format!("{target}id"),
                    "ReferencingEntity": tname,
                    "ReferencingAttribute": attr_name,
                    "ReferencedEntityNavigationPropertyName": schema,
                    "ReferencingEntityNavigationPropertyName": nav,
                    "IsValidForAdvancedFind": true,
                });
                own.push((i, r.clone()));
                rels.push((target.to_string(), r));
            }
        }
    }
    for (i, r) in own {
        if let Some(a) = tables[i]["ManyToOneRelationships"].as_array_mut() {
            a.push(r);
        }
    }
    for t in tables.iter_mut() {
        let has = t["OneToManyRelationships"].as_array().is_some_and(|a| !a.is_empty());
        if has {
            continue;
        }
        let tname = t["LogicalName"].as_str().unwrap_or_default().to_string();
        let mine: Vec<Value> = rels.iter().filter(|(target, _)| *target == tname).map(|(_, r)| r.clone()).collect();
        if let Some(a) = t["OneToManyRelationships"].as_array_mut() {
            a.extend(mine);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_deterministic_and_well_formed() {
        let g = guid_from("x");
        assert_eq!(g, guid_from("x"));
        assert_ne!(g, guid_from("y"));
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
