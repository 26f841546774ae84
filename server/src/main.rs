//! `xrm-offline`: the reference Dataverse Web API server (`serve`, `seed`) and the profile tools (`lint`, `query`).

#[cfg(has_cli)]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use xrm_offline_server::seed::users::{self, USERS};
use xrm_offline_server::{start, Config};

const USAGE: &str = "usage:
  xrm-offline serve [--port N] [--host ADDR] [--db PATH|:memory:] [--seed SCALE] [--static DIR] [--pkg DIR]
                    [--enable-faults] [--token NAME=TOKEN]...
  xrm-offline seed --db PATH [--scale N]
  xrm-offline lint ...     (profile linter)
  xrm-offline query ...    (run a query over local rows)

serve: the Dataverse Web API v9.2 subset at http://ADDR:PORT/api/data/v9.2/ over SQLite (default :memory:, port 5555,
       127.0.0.1). --port 0 picks a free port. --seed seeds the Field Service organisation when the database is empty.
       --static (default: ./www) is served at /, --pkg (default: ./pkg) at /pkg/. --enable-faults turns on /_admin/.
       --token NAME=TOKEN adds a bearer token for a user (NAME: a seeded user key such as tech1, a domain name, or an id).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("seed") => seed(&args[1..]),
        Some("lint") => sub("lint", &args[1..]),
        Some("query") => sub("query", &args[1..]),
        Some("help") | Some("--help") | Some("-h") => {
            println!("{USAGE}");
            0
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

#[cfg(has_cli)]
fn sub(name: &str, args: &[String]) -> i32 {
    match name {
        "lint" => cli::lint::run(args),
        _ => cli::query::run(args),
    }
}

#[cfg(not(has_cli))]
fn sub(name: &str, _args: &[String]) -> i32 {
    eprintln!("xrm-offline {name}: not available in this build");
    2
}

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i).map(String::as_str).ok_or_else(|| format!("{flag} needs a value"))
}

fn parse_serve(args: &[String]) -> Result<Config, String> {
    let mut c = Config { port: 5555, ..Config::default() };
    let mut static_dir: Option<PathBuf> = None;
    let mut pkg_dir: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--port" => c.port = value(args, &mut i, a)?.parse().map_err(|_| "--port needs a number (0..65535)")?,
            "--host" => c.host = value(args, &mut i, a)?.to_string(),
            "--db" => c.db = value(args, &mut i, a)?.to_string(),
            "--seed" => {
                c.seed =
                    Some(value(args, &mut i, a)?.parse().map_err(|_| "--seed needs a scale (1 = about 10,000 rows)")?)
            }
            "--static" => static_dir = Some(PathBuf::from(value(args, &mut i, a)?)),
            "--pkg" => pkg_dir = Some(PathBuf::from(value(args, &mut i, a)?)),
            "--enable-faults" => c.enable_faults = true,
            "--token" => {
                let v = value(args, &mut i, a)?;
                let (name, token) = v.split_once('=').ok_or("--token needs NAME=TOKEN")?;
                c.tokens.push((name.to_string(), token.to_string()));
            }
            other => return Err(format!("unknown option '{other}'")),
        }
        i += 1;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let pick = |given: Option<PathBuf>, name: &str| -> Option<PathBuf> {
        given.or_else(|| [PathBuf::from(name), repo.join(name)].into_iter().find(|p| p.is_dir()))
    };
    c.static_dir = pick(static_dir, "www");
    c.pkg_dir = pick(pkg_dir, "pkg");
    Ok(c)
}

fn serve(args: &[String]) -> i32 {
    let config = match parse_serve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xrm-offline serve: {e}\n{USAGE}");
            return 2;
        }
    };
    let running = match start(config.clone()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xrm-offline serve: {e}");
            return 1;
        }
    };
    if let Some(report) = &running.seed {
        if report.written {
            println!("seeded {} rows ({} tables)", report.total, report.tables.len());
        } else {
            println!("database already seeded ({} rows)", report.total);
        }
    }
    println!("xrm-offline reference server: http://{}:{}/api/data/v9.2/", config.host, running.port);
    println!("database: {}", config.db);
    if let Some(d) = &config.static_dir {
        println!("static files: {} at /", d.display());
    }
    if let Some(d) = &config.pkg_dir {
        println!("package: {} at /pkg/", d.display());
    }
    if config.enable_faults {
        println!("admin endpoints: /_admin/faults, /_admin/stats, /_admin/clock");
    }
    println!("users (Authorization: Bearer <token>):");
    for u in USERS {
        println!(
            "  {:<11} {:<28} {:<17} {:<30} {}",
            u.key,
            users::domain_name(u.key),
            u.token,
            u.role.name(),
            users::user_id(u.key)
        );
    }
    for (name, token) in &config.tokens {
        println!("  {name:<11} (extra token) {token}");
    }
    running.wait();
    0
}

fn seed(args: &[String]) -> i32 {
    let mut db: Option<String> = None;
    let mut scale = 1u32;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let r = match a {
            "--db" => value(args, &mut i, a).map(|v| db = Some(v.to_string())),
            "--scale" => value(args, &mut i, a)
                .and_then(|v| v.parse().map(|n| scale = n).map_err(|_| "--scale needs a number".into())),
            other => Err(format!("unknown option '{other}'")),
        };
        if let Err(e) = r {
            eprintln!("xrm-offline seed: {e}\n{USAGE}");
            return 2;
        }
        i += 1;
    }
    let Some(db) = db else {
        eprintln!("xrm-offline seed: --db PATH is required\n{USAGE}");
        return 2;
    };
    let started = std::time::Instant::now();
    let schema = xrm_offline_server::meta::ServerSchema::load();
    let store = match xrm_offline_server::store::Store::open(&db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xrm-offline seed: {e}");
            return 1;
        }
    };
    let now = xrm_offline_server::clock::Clock::default().now_ms();
    match xrm_offline_server::seed::seed(&store, &schema.schema, scale, now) {
        Ok(r) if r.written => {
            for (t, n) in &r.tables {
                println!("{t:<40} {n:>8}");
            }
            println!("seeded {} rows into {db} in {:.1}s", r.total, started.elapsed().as_secs_f64());
            0
        }
        Ok(r) => {
            println!("{db} is already seeded ({} rows); nothing written", r.total);
            0
        }
        Err(e) => {
            eprintln!("xrm-offline seed: {e}");
            1
        }
    }
}
