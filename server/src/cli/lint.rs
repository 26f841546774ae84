//! `xrm-offline lint [--schema FILE] [--json] PROFILE`: validates a mobile offline profile (plain JSON form or the
//! Dataverse representation, detected) against a schema and prints its errors and best-practice warnings.
//!
//! Exit status: 0 when the profile has no errors (warnings allowed), 1 when it has errors, 2 on a usage error or a
//! file that cannot be read.

use std::io::Write;

use serde_json::json;
use xrm_offline::profile::Profile;
use xrm_offline::schema::{self, Schema};
use xrm_offline::Error;

/// Usage text.
pub const USAGE: &str = "usage: xrm-offline lint [--schema ENTITYDEFINITIONS.json] [--json] PROFILE.json
  Validates a mobile offline profile (plain JSON form or the Dataverse mobileofflineprofile representation) and
  prints its errors and warnings. Without --schema the shipped Field Service schema is used.
  Exit status: 0 valid (warnings allowed), 1 errors, 2 usage or unreadable file.";

/// Runs `lint` with the arguments after the subcommand name, printing to stdout / stderr.
pub fn run(args: &[String]) -> i32 {
    run_to(args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock())
}

/// As [`run`], writing the report to `out` and usage problems to `err`.
pub fn run_to(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut schema_path = None;
    let mut profile_path = None;
    let mut as_json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--schema" => match it.next() {
                Some(p) => schema_path = Some(p.clone()),
                None => return usage(err, "--schema needs a file"),
            },
            "--json" => as_json = true,
            "-h" | "--help" => {
                let _ = writeln!(out, "{USAGE}");
                return 0;
            }
            s if s.starts_with('-') && s.len() > 1 => return usage(err, &format!("unknown option {s}")),
            s => {
                if profile_path.replace(s.to_string()).is_some() {
                    return usage(err, "give one profile file");
                }
            }
        }
    }
    let Some(profile_path) = profile_path else { return usage(err, "no profile file given") };
    let schema = match &schema_path {
        None => schema::field_service(),
        Some(p) => match read(p).and_then(|text| Schema::from_json(&text)) {
            Ok(s) => s,
            Err(e) => return fail(out, err, as_json, &profile_path, &e),
        },
    };
    let text = match read(&profile_path) {
        Ok(t) => t,
        Err(e) => return fail(out, err, as_json, &profile_path, &e),
    };
    let (errors, warnings) = check(&text, &schema);
    if as_json {
        let report = json!({
            "file": profile_path,
            "valid": errors.is_empty(),
            "errors": errors.iter().map(Error::to_json).collect::<Vec<_>>(),
            "warnings": warnings.iter().map(|w| w.to_json()).collect::<Vec<_>>(),
        });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        for e in &errors {
            let _ = writeln!(out, "error[{}]: {}", e.code.name(), e.message);
        }
        for w in &warnings {
            let _ = writeln!(out, "warning[{}]: {}", w.code, w.message);
        }
        let _ = writeln!(
            out,
            "{profile_path}: {} error{}, {} warning{}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        );
    }
    i32::from(!errors.is_empty())
}

/// Loads, validates and lints. A profile that does not load has no warnings.
fn check(text: &str, schema: &Schema) -> (Vec<Error>, Vec<xrm_offline::profile::Warning>) {
    let doc: serde_json::Value = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let e = Error::new(xrm_offline::ErrorCode::InvalidJson, format!("the profile is not valid JSON: {e}"));
            return (vec![e], Vec::new());
        }
    };
    let mut profile = match Profile::from_any_value(&doc, schema) {
        Ok(p) => p,
        Err(errors) => return (errors, Vec::new()),
    };
    let errors = profile.prepare(schema).err().unwrap_or_default();
    let warnings = profile.lint(schema);
    (errors, warnings)
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::argument(format!("cannot read '{path}': {e}")))
}

fn fail(out: &mut dyn Write, err: &mut dyn Write, as_json: bool, file: &str, e: &Error) -> i32 {
    if as_json {
        let report = json!({ "file": file, "valid": false, "errors": [e.to_json()], "warnings": [] });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        let _ = writeln!(err, "xrm-offline lint: {}", e.message);
    }
    2
}

fn usage(err: &mut dyn Write, msg: &str) -> i32 {
    let _ = writeln!(err, "xrm-offline lint: {msg}\n{USAGE}");
    2
}
