//! `EntityDefinitions` (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api)
//! and a minimal `$metadata` CSDL document.

use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::Ctx;
use crate::http::{Request, Response};

const NAVS: [&str; 3] = ["Attributes", "ManyToOneRelationships", "OneToManyRelationships"];

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let (mut depth, mut cur, mut out) = (0i32, String::new(), Vec::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// `$select` / `$filter` options of one level.
#[derive(Default)]
struct Level {
    select: Option<Vec<String>>,
    filter: Vec<(String, Value)>,
    expand: Vec<(String, Level)>,
}

fn parse_level(options: &[(String, String)]) -> ApiResult<Level> {
    let mut l = Level::default();
    for (k, v) in options {
        match k.as_str() {
            "$select" => l.select = Some(split_top(v)),
            "$filter" => l.filter = parse_filter(v)?,
            "$expand" => {
                for item in split_top(v) {
                    let (name, inner) = match item.split_once('(') {
                        Some((n, rest)) => (n.trim().to_string(), rest.strip_suffix(')').unwrap_or(rest).to_string()),
                        None => (item.clone(), String::new()),
                    };
                    if !NAVS.contains(&name.as_str()) {
                        return Err(ApiError::bad_request(format!(
                            "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
                        )));
                    }
                    let opts: Vec<(String, String)> = inner
                        .split(';')
                        .filter(|p| !p.trim().is_empty())
                        .filter_map(|p| p.split_once('=').map(|(a, b)| (a.trim().to_string(), b.trim().to_string())))
                        .collect();
                    l.expand.push((name, parse_level(&opts)?));
                }
            }
            _ => {}
        }
    }
    Ok(l)
}

/// `A eq 'x' and B eq true`.
fn parse_filter(f: &str) -> ApiResult<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for clause in f.split(" and ") {
        let parts: Vec<&str> = clause.trim().splitn(3, ' ').collect();
        let [prop, op, val] = parts[..] else {
            return Err(ApiError::bad_request(format!(
                "The metadata filter clause '{clause}' is not supported: use Property eq value."
            )));
        };
        if op != "eq" {
            return Err(ApiError::bad_request(format!(
                "The metadata filter operator '{op}' is not supported: use eq."
            )));
        }
        let v = match val.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            s if s.starts_with('\'') && s.ends_with('\'') && s.len() >= 2 => Value::from(&s[1..s.len() - 1]),
            s => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(s)),
        };
        out.push((prop.to_string(), v));
    }
    Ok(out)
}

fn matches(item: &Value, filter: &[(String, Value)]) -> bool {
    filter.iter().all(|(k, v)| {
        let got = &item[k.as_str()];
        let got = got.get("Value").unwrap_or(got);
        match (got, v) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    })
}

fn project(item: &Value, level: &Level, navs_default_off: bool) -> Value {
    let Some(obj) = item.as_object() else { return item.clone() };
    let mut out = Map::new();
    for (k, v) in obj {
        let is_nav = NAVS.contains(&k.as_str());
        if is_nav {
            continue;
        }
        let keep =
            k.starts_with('@') || k == "MetadataId" || level.select.as_ref().is_none_or(|s| s.iter().any(|x| x == k));
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    for (name, inner) in &level.expand {
        let list: Vec<Value> = obj
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|x| matches(x, &inner.filter))
            .map(|x| project(x, inner, true))
            .collect();
        out.insert(name.clone(), Value::Array(list));
    }
    let _ = navs_default_off;
    Value::Object(out)
}

/// `GET EntityDefinitions...`.
pub fn handle(ctx: &Ctx<'_>, key: Option<&str>, tail: Option<&str>, req: &Request) -> ApiResult<Response> {
    let level = parse_level(&req.params())?;
    let defs = &ctx.app.schema.definitions;
    let base = format!("{}$metadata#EntityDefinitions", ctx.base);
    let Some(key) = key else {
        if tail.is_some() {
            return Err(ApiError::no_resource(tail.unwrap_or_default()));
        }
        let value: Vec<Value> =
            defs.iter().filter(|d| matches(d, &level.filter)).map(|d| project(d, &level, true)).collect();
        return Ok(Response::json(200, &json!({ "@odata.context": base, "value": value })));
    };
    let key = key.trim();
    let found = if let Some(name) = key.strip_prefix("LogicalName=") {
        let name = name.trim_matches('\'');
        defs.iter().find(|d| d["LogicalName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    } else {
        let id = key.trim_matches(['{', '}']).to_ascii_lowercase();
        defs.iter().find(|d| d["MetadataId"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&id)))
    };
    let Some(def) = found else {
        return Err(ApiError::new(404, "0x80040217", format!("Could not find an entity with the key {key}.")));
    };
    match tail {
        None => {
            let mut v = project(def, &level, true);
            if let Some(o) = v.as_object_mut() {
                o.insert("@odata.context".into(), Value::from(format!("{base}/$entity")));
            }
            Ok(Response::json(200, &v))
        }
        Some(t) => {
            let (nav, sub) = match t.split_once('(') {
                Some((n, rest)) => (n, Some(rest.trim_end_matches(')'))),
                None => (t, None),
            };
            if !NAVS.contains(&nav) {
                return Err(ApiError::no_resource(t));
            }
            let list = def[nav].as_array().cloned().unwrap_or_default();
            let ctx_url = format!("{base}({key})/{nav}");
            match sub {
                None => {
                    let value: Vec<Value> =
                        list.iter().filter(|x| matches(x, &level.filter)).map(|x| project(x, &level, true)).collect();
                    Ok(Response::json(200, &json!({ "@odata.context": ctx_url, "value": value })))
                }
                Some(k) => {
                    let (field, want) = match k.split_once('=') {
                        Some((f, v)) => (f.trim(), v.trim().trim_matches('\'')),
                        None => ("MetadataId", k.trim()),
                    };
                    let item = list
                        .iter()
                        .find(|x| x[field].as_str().is_some_and(|n| n.eq_ignore_ascii_case(want)))
                        .ok_or_else(|| {
                            ApiError::new(404, "0x80040217", format!("Could not find {nav} with the key {k}."))
                        })?;
                    let mut v = project(item, &level, true);
                    if let Some(o) = v.as_object_mut() {
                        o.insert("@odata.context".into(), Value::from(format!("{ctx_url}/$entity")));
                    }
                    Ok(Response::json(200, &v))
                }
            }
        }
    }
}

/// `GET /api/data/v9.2/`: the entity sets
/// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents).
pub fn service_document(ctx: &Ctx<'_>) -> Response {
    let value: Vec<Value> = ctx
        .schema()
        .tables()
        .iter()
        .map(|t| json!({ "name": t.entity_set_name, "kind": "EntitySet", "url": t.entity_set_name }))
        .collect();
    Response::json(200, &json!({ "@odata.context": format!("{}$metadata", ctx.base), "value": value }))
}

fn edm(ty: &str) -> &'static str {
    match ty {
        "Integer" | "Picklist" | "State" | "Status" => "Edm.Int32",
        "BigInt" => "Edm.Int64",
        "Decimal" | "Money" => "Edm.Decimal",
        "Double" => "Edm.Double",
        "Boolean" => "Edm.Boolean",
        "DateTime" => "Edm.DateTimeOffset",
        "Uniqueidentifier" | "Lookup" | "Customer" | "Owner" => "Edm.Guid",
        _ => "Edm.String",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

/// `GET $metadata`: entity types with their properties and navigation properties, and the entity sets.
pub fn csdl(ctx: &Ctx<'_>) -> Response {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\
         <edmx:DataServices><Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">",
    );
    for t in ctx.schema().tables() {
        x.push_str(&format!(
            "<EntityType Name=\"{}\"><Key><PropertyRef Name=\"{}\" /></Key>",
            esc(&t.logical_name),
            esc(&t.primary_id_attribute)
        ));
        for a in &t.attributes {
            x.push_str(&format!(
                "<Property Name=\"{}\" Type=\"{}\" />",
                esc(&a.row_key()),
                edm(a.attribute_type.as_str())
            ));
        }
        for r in &t.many_to_one {
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"mscrm.{}\" Partner=\"{}\"><ReferentialConstraint Property=\"_{}_value\" ReferencedProperty=\"{}\" /></NavigationProperty>",
                esc(&r.referencing_navigation),
                esc(&r.referenced_entity),
                esc(&r.referenced_navigation),
                esc(&r.referencing_attribute),
                esc(&r.referenced_attribute)
            ));
        }
        for r in &t.one_to_many {
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"Collection(mscrm.{})\" Partner=\"{}\" />",
                esc(&r.referenced_navigation),
                esc(&r.referencing_entity),
                esc(&r.referencing_navigation)
            ));
        }
        x.push_str("</EntityType>");
    }
    x.push_str("<EntityContainer Name=\"System\">");
    for t in ctx.schema().tables() {
        x.push_str(&format!(
            "<EntitySet Name=\"{}\" EntityType=\"Microsoft.Dynamics.CRM.{}\" />",
            esc(&t.entity_set_name),
            esc(&t.logical_name)
        ));
    }
    x.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    let mut r = Response::bytes(200, "application/xml", x.into_bytes());
    r.set("OData-Version", "4.0");
    r
}
