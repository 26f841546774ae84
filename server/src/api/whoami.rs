//! `GET WhoAmI`: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami

use serde_json::json;

use super::Ctx;
use crate::http::Response;
use crate::seed::users;

/// `{"@odata.context": ".../$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", "BusinessUnitId", "UserId", "OrganizationId"}`.
pub fn handle(ctx: &Ctx<'_>) -> Response {
    Response::json(
        200,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", ctx.base),
            "BusinessUnitId": ctx.user.business_unit,
            "UserId": ctx.user.id,
            "OrganizationId": users::organization_id(),
        }),
    )
}
