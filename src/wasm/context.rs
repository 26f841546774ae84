//! Reads the evaluation context a JS caller passes: `{ now, utcOffsetMinutes, userId, teamIds, businessUnitId }`.

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use super::error::bad_argument;
use crate::query::EvalContext;
use crate::read::{self, Fields, Read};

#[derive(Default)]
struct ContextInput {
    now: Option<f64>,
    utc_offset_minutes: Option<i32>,
    user_id: Option<String>,
    team_ids: Vec<String>,
    business_unit_id: Option<String>,
}

impl ContextInput {
    fn read(v: &Value) -> Read<ContextInput> {
        let known = ["now", "utcOffsetMinutes", "userId", "teamIds", "businessUnitId"];
        let f = Fields::only(v, "ContextInput", &known)?;
        Ok(ContextInput {
            now: f.opt("now", read::f64)?,
            utc_offset_minutes: f.opt("utcOffsetMinutes", read::i32)?,
            user_id: f.opt("userId", read::string)?,
            team_ids: f.or_default("teamIds", |v| read::list(v, read::string))?,
            business_unit_id: f.opt("businessUnitId", read::string)?,
        })
    }
}

/// Builds an [`EvalContext`]. `now` is milliseconds since the epoch (a `Date` is accepted and read with
/// `getTime()`); it defaults to the current time, and the offset to the browser's.
pub fn read(value: &JsValue) -> Result<EvalContext, JsValue> {
    let now_js = js_sys::Date::new_0();
    let mut input = ContextInput::default();
    if !value.is_undefined() && !value.is_null() {
        // Accept a Date for `now` by converting it to a number first.
        let copy = js_sys::Object::assign(&js_sys::Object::new(), &js_sys::Object::from(value.clone()));
        if let Ok(now) = js_sys::Reflect::get(&copy, &"now".into()) {
            let ms = now.dyn_ref::<js_sys::Date>().map(js_sys::Date::get_time).or_else(|| now.as_f64());
            if let Some(ms) = ms {
                // NaN (an invalid Date) would read as null, and so as "now": refuse it here instead.
                if !ms.is_finite() {
                    return Err(bad_argument("context.now", "must be a finite number of milliseconds or a valid Date"));
                }
                let _ = js_sys::Reflect::set(&copy, &"now".into(), &JsValue::from_f64(ms));
            }
        }
        let copy = crate::wasm::convert::from_js("context", copy.into())?;
        input = ContextInput::read(&copy).map_err(|e| bad_argument("context", e))?;
    }
    let now_ms = input.now.unwrap_or_else(|| now_js.get_time());
    if !now_ms.is_finite() {
        return Err(bad_argument("context.now", "must be a finite number of milliseconds or a valid Date"));
    }
    Ok(EvalContext {
        now_ms: now_ms as i64,
        // getTimezoneOffset is minutes *behind* UTC (UTC+2 gives -120).
        utc_offset_minutes: input.utc_offset_minutes.unwrap_or(-(now_js.get_timezone_offset() as i32)),
        user_id: input.user_id,
        team_ids: input.team_ids,
        business_unit_id: input.business_unit_id,
    })
}
