//! Create, retrieve, update (upsert) and delete of single rows, with etags and `If-Match` / `If-None-Match`.
//!
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api
//! - https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api

use serde_json::{json, Map, Value};
use xrm_offline::schema::TableDef;

use super::error::{ApiError, ApiResult};
use super::shape::{Cols, Shaper};
use super::{new_guid, normalize_guid, source, write, Ctx};
use crate::http::{Request, Response};
use crate::store::{Db, StoredRow};

/// The JSON body of a request.
pub fn body_json(req: &Request) -> ApiResult<Value> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("The request body is empty: send the entity as a JSON object."));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}

/// The stored row with `@odata.etag`, as the engine and the shaper read it.
pub fn with_etag(row: &StoredRow) -> Map<String, Value> {
    let mut m = Map::with_capacity(row.data.len() + 1);
    m.insert("@odata.etag".into(), Value::from(etag(row.version)));
    for (k, v) in &row.data {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// [`with_etag`] taking the row: its values are moved, not cloned (collection reads load thousands of rows).
pub fn into_etag(row: StoredRow) -> Map<String, Value> {
    let mut m = Map::with_capacity(row.data.len() + 1);
    m.insert("@odata.etag".into(), Value::from(etag(row.version)));
    m.extend(row.data);
    m
}

/// `W/"<version>"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn entity_url(ctx: &Ctx<'_>, table: &TableDef, id: &str) -> String {
    format!("{}{}({id})", ctx.base, table.entity_set_name)
}

/// `$select` as logical names (`_x_value` accepted for lookups), checked against the table.
pub fn select_list(table: &TableDef, select: Option<&str>) -> ApiResult<Option<Vec<String>>> {
    let Some(select) = select else { return Ok(None) };
    let mut out = Vec::new();
    for name in select.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let a = table.attribute_by_row_key(name).or_else(|| table.attribute(name)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'.",
                table.logical_name
            ))
        })?;
        out.push(a.logical_name.clone());
    }
    Ok(Some(out))
}

/// `@odata.context` of a row or collection: `$metadata#accounts(name,accountid)`.
pub fn context_url(ctx: &Ctx<'_>, table: &TableDef, select: Option<&[String]>, suffix: &str) -> String {
    let cols = match select {
        Some(list) if !list.is_empty() => {
            // As Dataverse: the selected columns only (rows carry the primary key, the context does not list it).
            let keys: Vec<String> =
                list.iter().map(|n| table.attribute(n).map(|a| a.row_key()).unwrap_or_else(|| n.clone())).collect();
            format!("({})", keys.join(","))
        }
        _ => String::new(),
    };
    format!("{}$metadata#{}{cols}{suffix}", ctx.base, table.entity_set_name)
}

fn representation(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    row: &StoredRow,
    req: &Request,
    status: u16,
) -> ApiResult<Response> {
    let select = select_list(table, req.param("$select").as_deref())?;
    let shaper = Shaper::new(ctx, db);
    let cols = match &select {
        Some(l) => Cols::Some(l),
        None => Cols::All,
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::from(context_url(ctx, table, select.as_deref(), "/$entity")));
    body.extend(shaper.row(table, &with_etag(row), cols));
    let mut r = Response::json(status, &Value::Object(body));
    r.set("OData-EntityId", &entity_url(ctx, table, &row.id));
    r.set("ETag", &etag(row.version));
    Ok(r)
}

fn written(
    ctx: &Ctx<'_>,
    db: &Db,
    table: &TableDef,
    id: &str,
    req: &Request,
    status_with_body: u16,
) -> ApiResult<Response> {
    if ctx.prefer.return_representation {
        let row = db.get(&table.logical_name, id)?.ok_or_else(|| ApiError::not_found(&table.logical_name, id))?;
        let mut r = representation(ctx, db, table, &row, req, status_with_body)?;
        r.set("Preference-Applied", "return=representation");
        return Ok(r);
    }
    let mut r = Response::no_content();
    r.set("OData-EntityId", &entity_url(ctx, table, id));
    Ok(r)
}

/// `POST <set>`.
pub fn create(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, req: &Request) -> ApiResult<Response> {
    let body = body_json(req)?;
    let id = match body.get(&table.primary_id_attribute) {
        Some(Value::String(s)) => normalize_guid(s).ok_or_else(|| {
            ApiError::bad_request(format!("Cannot convert the literal '{s}' to the expected type 'Edm.Guid'."))
        })?,
        Some(Value::Null) | None => new_guid(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Cannot convert the literal '{other}' to the expected type 'Edm.Guid'."
            )))
        }
    };
    let id = create_row(ctx, db, table, &id, &body)?;
    written(ctx, db, table, &id, req, 201)
}

/// Creates a row with a known id (create and upsert).
pub fn create_row(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, id: &str, body: &Value) -> ApiResult<String> {
    if db.exists(&table.logical_name, id)? {
        return Err(ApiError::duplicate());
    }
    let mut p = write::prepare(ctx, db, table, id, body, None)?;
    ctx.user.check_write(table, p.owner.as_deref(), p.business_unit.as_deref(), "prvCreate")?;
    db.put(&table.logical_name, id, &mut p.data, p.owner.as_deref(), p.business_unit.as_deref())?;
    Ok(id.to_string())
}

/// Reads a row the caller may see: 404 when missing, 403 when outside the caller's access.
pub fn readable_row(ctx: &Ctx<'_>, db: &Db, table: &TableDef, id: &str) -> ApiResult<StoredRow> {
    let row = db.get(&table.logical_name, id)?.ok_or_else(|| ApiError::not_found(&table.logical_name, id))?;
    if !ctx.user.read_access(table).allows(row.owner.as_deref(), row.business_unit.as_deref()) {
        return Err(ApiError::privilege(&ctx.user.id, &format!("prvRead{}", table.logical_name), &table.logical_name));
    }
    Ok(row)
}

/// `GET <set>(<id>)` with `$select` and `$expand`; `If-None-Match: W/"n"` answers 304 when unchanged.
pub fn retrieve(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, id: &str, req: &Request) -> ApiResult<Response> {
    let row = readable_row(ctx, db, table, id)?;
    if req.header("if-none-match").is_some_and(|v| v.trim() == etag(row.version)) {
        return Ok(Response::new(304));
    }
    for (k, _) in req.params() {
        if !matches!(k.as_str(), "$select" | "$expand") {
            return Err(ApiError::bad_request(format!(
                "The query option '{k}' is not supported when retrieving a single record: use $select and $expand."
            )));
        }
    }
    let Some(expand) = req.param("$expand") else {
        return representation(ctx, db, table, &row, req, 200);
    };
    let select = select_list(table, req.param("$select").as_deref())?;
    let mut options = format!("$expand={expand}");
    if let Some(s) = req.param("$select") {
        options = format!("$select={s}&{options}");
    }
    let rows = source::expand_rows(ctx, db, table, vec![with_etag(&row)], &options)?;
    let shaper = Shaper::new(ctx, db);
    let cols = match &select {
        Some(l) => Cols::Some(l),
        None => Cols::All,
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::from(context_url(ctx, table, select.as_deref(), "/$entity")));
    if let Some(r) = rows.first() {
        body.extend(shaper.row(table, r, cols));
    }
    let mut r = Response::json(200, &Value::Object(body));
    r.set("ETag", &etag(row.version));
    Ok(r)
}

/// `If-Match` against a row: `*` needs the row, `W/"n"` needs that version.
fn check_if_match(req: &Request, table: &TableDef, id: &str, row: Option<&StoredRow>) -> ApiResult<()> {
    let Some(v) = req.header("if-match") else { return Ok(()) };
    let v = v.trim();
    let Some(row) = row else { return Err(ApiError::not_found(&table.logical_name, id)) };
    if v == "*" || v.split(',').any(|e| e.trim() == etag(row.version)) {
        Ok(())
    } else {
        Err(ApiError::version_mismatch())
    }
}

/// `PATCH <set>(<id>)`: update, or create when missing (upsert) unless `If-Match` is set.
pub fn update(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, id: &str, req: &Request) -> ApiResult<Response> {
    let body = body_json(req)?;
    let existing = db.get(&table.logical_name, id)?;
    check_if_match(req, table, id, existing.as_ref())?;
    if req.header("if-none-match").is_some_and(|v| v.trim() == "*") && existing.is_some() {
        return Err(ApiError::duplicate());
    }
    match existing {
        None => {
            create_row(ctx, db, table, id, &body)?;
            written(ctx, db, table, id, req, 201)
        }
        Some(row) => {
            update_row(ctx, db, table, &row, &body)?;
            written(ctx, db, table, id, req, 200)
        }
    }
}

/// Applies an update body to an existing row.
pub fn update_row(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, row: &StoredRow, body: &Value) -> ApiResult<()> {
    if !ctx.user.read_access(table).allows(row.owner.as_deref(), row.business_unit.as_deref()) {
        return Err(ApiError::privilege(&ctx.user.id, &format!("prvWrite{}", table.logical_name), &table.logical_name));
    }
    ctx.user.check_write(table, row.owner.as_deref(), row.business_unit.as_deref(), "prvWrite")?;
    let mut p = write::prepare(ctx, db, table, &row.id, body, Some(row))?;
    if p.owner != row.owner {
        ctx.user.check_write(table, p.owner.as_deref(), p.business_unit.as_deref(), "prvAssign")?;
    }
    db.put(&table.logical_name, &row.id, &mut p.data, p.owner.as_deref(), p.business_unit.as_deref())?;
    Ok(())
}

/// `DELETE <set>(<id>)`.
pub fn delete(ctx: &Ctx<'_>, db: &mut Db, table: &TableDef, id: &str, req: &Request) -> ApiResult<Response> {
    let row = db.get(&table.logical_name, id)?.ok_or_else(|| ApiError::not_found(&table.logical_name, id))?;
    check_if_match(req, table, id, Some(&row))?;
    if !ctx.user.read_access(table).allows(row.owner.as_deref(), row.business_unit.as_deref()) {
        return Err(ApiError::privilege(
            &ctx.user.id,
            &format!("prvDelete{}", table.logical_name),
            &table.logical_name,
        ));
    }
    ctx.user.check_write(table, row.owner.as_deref(), row.business_unit.as_deref(), "prvDelete")?;
    db.delete(&table.logical_name, id)?;
    Ok(Response::no_content())
}

/// `GET <set>(<id>)/<column>`: `{"@odata.context": ..., "value": ...}`.
pub fn property(
    ctx: &Ctx<'_>,
    db: &mut Db,
    table: &TableDef,
    id: &str,
    prop: &str,
    req: &Request,
) -> ApiResult<Response> {
    if req.method != "GET" {
        return Err(ApiError::method(&req.method));
    }
    let row = readable_row(ctx, db, table, id)?;
    let a = table
        .attribute_by_row_key(prop)
        .or_else(|| table.attribute(prop))
        .ok_or_else(|| ApiError::no_resource(prop))?;
    let key = a.row_key();
    let value = row.data.get(&key).cloned().unwrap_or(Value::Null);
    if value.is_null() {
        return Ok(Response::no_content());
    }
    Ok(Response::json(
        200,
        &json!({
            "@odata.context": format!("{}$metadata#{}({id})/{key}", ctx.base, table.entity_set_name),
            "value": value,
        }),
    ))
}
