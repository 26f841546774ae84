//! The wasm binding in headless Chromium (wasm-bindgen-test): errors cross the boundary as JS `Error`s with
//! `errorCode`, and queries run over rows passed as plain JS objects.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use xrm_offline::wasm::Engine;

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON parses")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &key.into()).expect("object property")
}

fn field_service() -> Engine {
    Engine::from_schema(JsValue::from_str(include_str!("../schema/fieldservice.json"))).expect("shipped schema loads")
}

#[wasm_bindgen_test]
fn field_service_schema_is_shipped() {
    let tables: Vec<String> =
        js_sys::Array::from(&field_service().tables()).iter().filter_map(|t| t.as_string()).collect();
    for t in ["account", "msdyn_workorder", "bookableresourcebooking", "msdyn_rma"] {
        assert!(tables.iter().any(|x| x == t), "missing table {t}: {tables:?}");
    }
}

#[wasm_bindgen_test]
fn a_bad_schema_is_a_js_error_with_an_error_code() {
    let err = Engine::from_schema(JsValue::from_str("{not json")).err().expect("bad schema is refused");
    let e: &js_sys::Error = err.dyn_ref().expect("a real Error object");
    assert!(String::from(e.message()).contains("not valid JSON"));
    assert_eq!(get(&err, "errorCode").as_f64(), Some(0x80A0_0003u32 as f64));
    assert_eq!(get(&err, "errorName").as_string().as_deref(), Some("InvalidSchema"));
}

#[wasm_bindgen_test]
fn retrieve_multiple_filters_orders_and_limits() {
    let engine = field_service();
    let rows = js(r#"{"account": [
        {"accountid": "00000000-0000-0000-0000-000000000001", "name": "Contoso Pharma", "address1_city": "Oslo"},
        {"accountid": "00000000-0000-0000-0000-000000000002", "name": "Fabrikam", "address1_city": "Bergen"},
        {"accountid": "00000000-0000-0000-0000-000000000003", "name": "contoso labs", "address1_city": "Oslo"}
    ]}"#);
    let result = engine
        .retrieve_multiple(
            "account",
            "?$select=name&$filter=contains(name,'CONTOSO')&$orderby=name desc&$top=5",
            rows,
            JsValue::UNDEFINED,
        )
        .expect("query runs");
    let entities: js_sys::Array = get(&result, "entities").dyn_into().expect("entities is an array");
    let names: Vec<String> = entities.iter().map(|r| get(&r, "name").as_string().unwrap_or_default()).collect();
    // Case-insensitive: "contoso pharma" sorts after "contoso labs", so descending puts it first.
    assert_eq!(names, vec!["Contoso Pharma".to_string(), "contoso labs".to_string()]);
}

#[wasm_bindgen_test]
fn an_unknown_column_is_attribute_not_found() {
    let engine = field_service();
    let err = engine
        .retrieve_multiple("account", "?$filter=nosuchcolumn eq 1", js(r#"{"account": []}"#), JsValue::UNDEFINED)
        .expect_err("unknown column is refused");
    assert_eq!(get(&err, "errorCode").as_f64(), Some(0x8004_1103u32 as f64));
}

/// In the wasm build `parse_f64` reads decimals with the browser's `parseFloat` (the standard library's parser is
/// left out for size): it must accept the same strings as `str::parse::<f64>` and give bit-identical values.
#[wasm_bindgen_test]
fn parse_f64_matches_str_parse_in_wasm() {
    xrm_offline::num::assert_parses_like_std(xrm_offline::num::PARSE_SAMPLES);
}

/// In the wasm build `lowercase` lowers non-ASCII text with the browser's `toLowerCase` (the standard library's
/// case tables are left out for size): it must give what `str::to_lowercase` gives, for every code point alone and
/// for texts where the mapping depends on the neighbours (final sigma); `lowercase_chars` what lowering each
/// character alone gives.
#[wasm_bindgen_test]
fn lowercase_matches_str_to_lowercase_in_wasm() {
    let mut differ = Vec::new();
    // Blocks of code points joined by spaces (a space gives no case context, so each maps as it does alone; one
    // call per block keeps the renderer responsive), then the characters of a block that differs one by one.
    let all: Vec<char> = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
    for block in all.chunks(4096) {
        let text: String = block.iter().flat_map(|&c| [c, ' ']).collect();
        let chars = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
        if xrm_offline::lower::lowercase(&text) == text.to_lowercase()
            && xrm_offline::lower::lowercase_chars(&text) == chars(&text)
        {
            continue;
        }
        for &c in block {
            let s = c.to_string();
            if xrm_offline::lower::lowercase(&s) != s.to_lowercase()
                || xrm_offline::lower::lowercase_chars(&s) != chars(&s)
            {
                differ.push(format!("U+{:04X}", c as u32));
            }
        }
    }
    for s in xrm_offline::lower::LOWERCASE_SAMPLES {
        if xrm_offline::lower::lowercase(s) != s.to_lowercase() {
            differ.push(format!("{s:?}"));
        }
        if xrm_offline::lower::lowercase_chars(s) != s.chars().flat_map(char::to_lowercase).collect::<String>() {
            differ.push(format!("chars {s:?}"));
        }
    }
    assert!(differ.is_empty(), "{} differ: {:?}", differ.len(), &differ[..differ.len().min(40)]);
}
