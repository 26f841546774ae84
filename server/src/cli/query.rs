//! `xrm-offline query`: runs an OData or FetchXML query over rows in a file, as `Xrm.WebApi.offline`
//! `retrieveMultipleRecords` would over the offline store.
//!
//! ```text
//! xrm-offline query --schema FILE --data ROWS.json --table NAME (--options '?$filter=...' | --fetchxml FILE)
//!                   [--now RFC3339] [--user GUID] [--teams GUID,GUID] [--business-unit GUID] [--utc-offset MINUTES]
//! ```
//!
//! Prints `{"entities": [...]}` (with `"@odata.count"` when the query asks for a count) and exits 0, or prints the
//! error as JSON (`{"errorCode", "name", "message"}`) and exits 2.

use std::io::Write;

use serde_json::{json, Map, Value};
use xrm_offline::dates::parse_datetime_parts;
use xrm_offline::query::{execute, parse_fetchxml, parse_odata, EvalContext, MemorySource};
use xrm_offline::schema::{self, Schema};
use xrm_offline::Error;

/// Usage text.
pub const USAGE: &str = "usage: xrm-offline query [--schema ENTITYDEFINITIONS.json] --data ROWS.json
         (--table NAME --options '?$filter=...' | [--table NAME] --fetchxml FETCH.xml)
         [--now RFC3339] [--user GUID] [--teams GUID,GUID] [--business-unit GUID] [--utc-offset MINUTES]
  ROWS.json maps table logical names to arrays of Web API rows. Prints {\"entities\": [...]} in result order.
  --now defaults to the system clock; an offset in --now (e.g. +02:00) is the user's UTC offset unless
  --utc-offset is given. Without --schema the shipped Field Service schema is used.
  Exit status: 0 results printed, 2 error (printed as JSON).";

/// Runs `query` with the arguments after the subcommand name, printing to stdout.
pub fn run(args: &[String]) -> i32 {
    run_to(args, &mut std::io::stdout().lock())
}

/// As [`run`], writing the result or the JSON error to `out`.
pub fn run_to(args: &[String], out: &mut dyn Write) -> i32 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        let _ = writeln!(out, "{USAGE}");
        return 0;
    }
    match query(args) {
        Ok(v) => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            0
        }
        Err(e) => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&e.to_json()).unwrap_or_default());
            2
        }
    }
}

#[derive(Default)]
struct Args {
    schema: Option<String>,
    data: Option<String>,
    table: Option<String>,
    options: Option<String>,
    fetchxml: Option<String>,
    now: Option<String>,
    user: Option<String>,
    teams: Vec<String>,
    business_unit: Option<String>,
    utc_offset: Option<i32>,
}

fn parse_args(args: &[String]) -> Result<Args, Error> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| Error::argument(format!("{flag} needs a value\n{USAGE}")));
        match flag.as_str() {
            "--schema" => a.schema = Some(value()?),
            "--data" => a.data = Some(value()?),
            "--table" => a.table = Some(value()?),
            "--options" => a.options = Some(value()?),
            "--fetchxml" => a.fetchxml = Some(value()?),
            "--now" => a.now = Some(value()?),
            "--user" => a.user = Some(value()?),
            "--teams" => {
                a.teams = value()?.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
            }
            "--business-unit" => a.business_unit = Some(value()?),
            "--utc-offset" => {
                let v = value()?;
                let n: i32 = v.trim().parse().map_err(|_| {
                    Error::argument(format!("--utc-offset must be a whole number of minutes, not '{v}'"))
                })?;
                if !(-14 * 60..=14 * 60).contains(&n) {
                    return Err(Error::argument(format!("--utc-offset {n} is outside -840..840 minutes")));
                }
                a.utc_offset = Some(n);
            }
            other => return Err(Error::argument(format!("unknown argument '{other}'\n{USAGE}"))),
        }
    }
    Ok(a)
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::argument(format!("cannot read '{path}': {e}")))
}

/// The evaluation context from the flags: clock, offset and user.
fn context(a: &Args) -> Result<EvalContext, Error> {
    let (now_ms, written_offset) = match &a.now {
        Some(text) => {
            let p = parse_datetime_parts(text).ok_or_else(|| {
                Error::argument(format!(
                    "--now must be an RFC 3339 date-time (2026-11-27T09:30:00+02:00), not '{text}'"
                ))
            })?;
            (p.instant(a.utc_offset.unwrap_or(0)), p.offset_minutes)
        }
        None => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            (ms, None)
        }
    };
    Ok(EvalContext {
        now_ms,
        utc_offset_minutes: a.utc_offset.or(written_offset).unwrap_or(0),
        user_id: a.user.clone(),
        team_ids: a.teams.clone(),
        business_unit_id: a.business_unit.clone(),
    })
}

fn query(args: &[String]) -> Result<Value, Error> {
    let a = parse_args(args)?;
    let schema = match &a.schema {
        Some(p) => Schema::from_json(&read(p)?)?,
        None => schema::field_service(),
    };
    let data_path = a.data.as_deref().ok_or_else(|| Error::argument(format!("--data is required\n{USAGE}")))?;
    let source = MemorySource::from_json(&read(data_path)?)?;
    let ctx = context(&a)?;
    let q = match (&a.options, &a.fetchxml) {
        (Some(_), Some(_)) => return Err(Error::argument("give either --options or --fetchxml, not both")),
        (Some(options), None) => {
            let table = a.table.as_deref().ok_or_else(|| Error::argument("--options needs --table"))?;
            parse_odata(&schema, table, options)?
        }
        (None, Some(path)) => {
            let q = parse_fetchxml(&schema, &read(path)?)?;
            if let Some(t) = &a.table {
                if !t.eq_ignore_ascii_case(&q.table) {
                    return Err(Error::argument(format!("--table {t} but the FetchXML queries '{}'", q.table)));
                }
            }
            q
        }
        (None, None) => match &a.table {
            // No options: every row of the table, as retrieveMultipleRecords(table) returns.
            Some(table) => parse_odata(&schema, table, "")?,
            None => return Err(Error::argument(format!("give --table with --options, or --fetchxml\n{USAGE}"))),
        },
    };
    let result = execute(&schema, &q, &source, &ctx)?;
    let mut out = Map::new();
    out.insert("entities".into(), Value::Array(result.entities.into_iter().map(Value::Object).collect()));
    if let Some(n) = result.count {
        out.insert("@odata.count".into(), json!(n));
    }
    Ok(Value::Object(out))
}
