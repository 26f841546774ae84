//! Actions for the demo's business processes
//! (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-actions):
//!
//! - `POST msdyn_CompleteWorkOrder` `{"WorkOrderId": "<guid>", "Summary": "..."}`, or bound:
//!   `POST msdyn_workorders(<id>)/Microsoft.Dynamics.CRM.msdyn_CompleteWorkOrder` `{"Summary": "..."}`:
//!   sets the work order to Completed (the completion-note rule applies) and its bookings to the Completed
//!   booking status. Returns `msdyn_CompleteWorkOrderResponse`.
//! - `POST msdyn_ValidateInventory` `{"WorkOrderId": "<guid>"}` or `{"ProductId": "<guid>", "Quantity": n}`:
//!   compares the quantities the work order's products need with `msdyn_productinventory.msdyn_qtyavailable`
//!   summed over warehouses. Returns `{"IsValid": bool, "Shortages": [...]}`. Online only, as in Field Service.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use xrm_offline::schema::TableDef;

use super::crud::{body_json, readable_row, update_row};
use super::error::{ApiError, ApiResult};
use super::{normalize_guid, write, Ctx};
use crate::http::{Request, Response};
use crate::seed::data::booking_status_id;
use crate::store::Db;

/// An unbound action handler.
pub type Action = fn(&Ctx<'_>, &mut Db, &Request) -> ApiResult<Response>;

/// The unbound action of that name.
pub fn unbound(name: &str) -> Option<Action> {
    match name {
        "msdyn_CompleteWorkOrder" => Some(complete_unbound),
        "msdyn_ValidateInventory" => Some(validate_inventory),
        _ => None,
    }
}

/// `POST <set>(<id>)/Microsoft.Dynamics.CRM.<action>`.
pub fn bound(
    ctx: &Ctx<'_>,
    db: &mut Db,
    table: &TableDef,
    id: &str,
    action: &str,
    req: &Request,
) -> ApiResult<Response> {
    match (table.logical_name.as_str(), action) {
        ("msdyn_workorder", "msdyn_CompleteWorkOrder") => {
            let body = optional_body(req)?;
            complete(ctx, db, id, body.get("Summary").and_then(Value::as_str))
        }
        _ => Err(ApiError::no_resource(&format!("Microsoft.Dynamics.CRM.{action}"))),
    }
}

fn optional_body(req: &Request) -> ApiResult<Value> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(json!({}))
    } else {
        body_json(req)
    }
}

/// A GUID parameter, written as a string or as an entity reference
/// (`{"@odata.type": "Microsoft.Dynamics.CRM.msdyn_workorder", "msdyn_workorderid": "<guid>"}`).
fn guid_param(body: &Value, name: &str) -> ApiResult<String> {
    let v = body.get(name);
    let text = match v {
        Some(Value::Object(o)) => {
            o.iter().find(|(k, _)| k.ends_with("id") && !k.starts_with('@')).and_then(|(_, v)| v.as_str())
        }
        Some(other) => other.as_str(),
        None => None,
    };
    text.and_then(normalize_guid)
        .ok_or_else(|| ApiError::bad_request(format!("The action parameter '{name}' is missing or is not a GUID.")))
}

fn complete_unbound(ctx: &Ctx<'_>, db: &mut Db, req: &Request) -> ApiResult<Response> {
    let body = body_json(req)?;
    let id = guid_param(&body, "WorkOrderId")?;
    complete(ctx, db, &id, body.get("Summary").and_then(Value::as_str))
}

fn complete(ctx: &Ctx<'_>, db: &mut Db, id: &str, summary: Option<&str>) -> ApiResult<Response> {
    let wo_table = ctx.schema().require_table("msdyn_workorder")?.clone();
    let row = readable_row(ctx, db, &wo_table, id)?;
    let mut patch = json!({ "msdyn_systemstatus": write::WO_COMPLETED });
    if let Some(s) = summary {
        patch["msdyn_workordersummary"] = Value::from(s);
    }
    update_row(ctx, db, &wo_table, &row, &patch)?;
    let mut bookings_completed = 0;
    if let Some(bt) = ctx.schema().table("bookableresourcebooking").cloned() {
        let completed = booking_status_id("Completed");
        if db.exists("bookingstatus", &completed)? {
            for b in db.find_by("bookableresourcebooking", "_msdyn_workorder_value", id)? {
                let patch = json!({ "bookingstatus@odata.bind": format!("/bookingstatuses({completed})") });
                update_row(ctx, db, &bt, &b, &patch)?;
                bookings_completed += 1;
            }
        }
    }
    Ok(Response::json(
        200,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.msdyn_CompleteWorkOrderResponse", ctx.base),
            "WorkOrderId": id,
            "SystemStatus": write::WO_COMPLETED,
            "BookingsCompleted": bookings_completed,
        }),
    ))
}

fn validate_inventory(ctx: &Ctx<'_>, db: &mut Db, req: &Request) -> ApiResult<Response> {
    let body = body_json(req)?;
    let mut needed: BTreeMap<String, f64> = BTreeMap::new();
    if body.get("WorkOrderId").is_some() {
        let id = guid_param(&body, "WorkOrderId")?;
        let wo_table = ctx.schema().require_table("msdyn_workorder")?.clone();
        readable_row(ctx, db, &wo_table, &id)?;
        for line in db.find_by("msdyn_workorderproduct", "_msdyn_workorder_value", &id)? {
            let Some(product) = line.data.get("_msdyn_product_value").and_then(Value::as_str) else { continue };
            let qty = line
                .data
                .get("msdyn_quantity")
                .and_then(Value::as_f64)
                .filter(|q| *q > 0.0)
                .or_else(|| line.data.get("msdyn_estimatequantity").and_then(Value::as_f64))
                .unwrap_or(0.0);
            *needed.entry(product.to_string()).or_default() += qty;
        }
    } else {
        let product = guid_param(&body, "ProductId")?;
        let qty = body.get("Quantity").and_then(Value::as_f64).ok_or_else(|| {
            ApiError::bad_request(
                "The action parameter 'Quantity' is missing: send WorkOrderId, or ProductId and Quantity.",
            )
        })?;
        needed.insert(product, qty);
    }
    let mut shortages = Vec::new();
    for (product, qty) in &needed {
        let available: f64 = db
            .find_by("msdyn_productinventory", "_msdyn_product_value", product)?
            .iter()
            .filter_map(|r| r.data.get("msdyn_qtyavailable").and_then(Value::as_f64))
            .sum();
        if available < *qty {
            shortages.push(json!({ "ProductId": product, "Requested": qty, "Available": available }));
        }
    }
    Ok(Response::json(
        200,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.msdyn_ValidateInventoryResponse", ctx.base),
            "IsValid": shortages.is_empty(),
            "Shortages": shortages,
        }),
    ))
}
