//! The runner of the input suite: seeds, case counts, the per-input time limit, the hang watchdog, the stack the
//! inputs run on, and the "every error is typed" check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use xrm_offline::{Error, ErrorCode};

/// The default seed (`XRM_SEED` overrides it).
pub const DEFAULT_SEED: u64 = 8_2026_1127;

/// Total inputs of a soak run (`XRM_SOAK=1`) unless `XRM_TRIALS` says otherwise.
pub const SOAK_TOTAL: u64 = 1_000_000;

/// One input may take this long (debug build, busy machine: generous), plus [`PER_KB`] for each KB of input
/// (the work is linear in the input: a 200 KB document may take 2 s, a quadratic blow-up on it would take hours).
/// An input over its limit is timed again once (to rule out the machine pausing the thread) and fails if it is
/// over again.
pub fn input_limit() -> Duration {
    Duration::from_millis(env_u64("XRM_INPUT_LIMIT_MS").unwrap_or(1_000))
}

/// The allowance per KB of input on top of [`input_limit`].
pub const PER_KB: Duration = Duration::from_millis(5);

fn limit_for(len: usize) -> Duration {
    input_limit() + PER_KB * u32::try_from(len / 1024).unwrap_or(u32::MAX)
}

/// An input still running after this long is a hang: the watchdog prints it and aborts the process.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// The stack the inputs run on: wasm32's default stack (1 MiB), so a recursion that would overflow in the
/// browser overflows here too (debug frames are larger than release wasm frames, which makes this conservative).
const STACK_BYTES: usize = 1 << 20;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The run's settings, from the environment.
pub struct Settings {
    pub seed: u64,
    pub soak: bool,
    /// `XRM_TRIALS`: total inputs over all targets (overrides the bounded and soak defaults).
    pub trials: Option<u64>,
}

pub fn settings() -> Settings {
    Settings {
        seed: env_u64("XRM_SEED").unwrap_or(DEFAULT_SEED),
        soak: std::env::var("XRM_SOAK").is_ok_and(|v| !v.is_empty() && v != "0"),
        trials: env_u64("XRM_TRIALS"),
    }
}

/// Each target and its bounded number of cases.
pub const TARGETS: &[(&str, u64)] = &[
    ("fetchxml", 3000),
    ("fetchxml_filter", 2000),
    ("odata", 3000),
    ("profile_json", 600),
    ("profile_dataverse", 500),
    ("schema", 500),
    ("server_pages", 2000),
    ("server_answers", 2000),
    ("checkpoints", 2000),
    ("schedule", 1000),
    ("stored_rows", 1000),
];

/// The number of cases for `target` under `s`.
pub fn cases(target: &str, s: &Settings) -> u64 {
    let bounded = TARGETS.iter().find(|t| t.0 == target).map(|t| t.1).unwrap_or(100);
    let total = match (s.trials, s.soak) {
        (Some(n), _) => n,
        (None, true) => SOAK_TOTAL,
        (None, false) => return bounded,
    };
    let all: u64 = TARGETS.iter().map(|t| t.1).sum();
    (total * bounded).div_ceil(all).max(1)
}

/// A seed per target, derived from the run's seed (FNV-1a of the name), so targets are independent.
fn target_seed(seed: u64, target: &str) -> [u8; 32] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in target.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        // splitmix64 steps
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

type Running = Mutex<HashMap<ThreadId, (Instant, String, String)>>;

/// The inputs being checked right now, per thread, for the watchdog.
fn running() -> &'static Running {
    static R: OnceLock<Running> = OnceLock::new();
    R.get_or_init(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
            let map = running().lock().unwrap_or_else(|e| e.into_inner());
            for (start, target, input) in map.values() {
                if start.elapsed() > HANG_LIMIT {
                    eprintln!(
                        "HANG: target {target} has been running one input for {:?} (limit {HANG_LIMIT:?}); input \
                         ({} bytes, first 2000 shown): {:?}",
                        start.elapsed(),
                        input.len(),
                        input.chars().take(2000).collect::<String>()
                    );
                    std::process::abort();
                }
            }
        });
        Mutex::new(HashMap::new())
    })
}

/// A short, printable form of an input for failure messages.
pub fn show(input: &str) -> String {
    let n = input.chars().count();
    if n <= 600 {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(300).collect();
        let tail: String = input.chars().skip(n - 200).collect();
        format!("{head:?} ... ({n} chars) ... {tail:?}")
    }
}

/// Checks that `e` is typed: a code of `allowed` and a message that says something.
pub fn typed(what: &str, e: &Error, allowed: &[ErrorCode]) -> Result<(), String> {
    if !allowed.contains(&e.code) {
        return Err(format!(
            "{what}: unexpected error code {} ({}): {}",
            e.code.name(),
            e.code.hex_string(),
            e.message
        ));
    }
    if e.message.trim().is_empty() {
        return Err(format!("{what}: error {} with an empty message", e.code.name()));
    }
    Ok(())
}

/// Runs `check` over `cases(target)` inputs drawn from `strategy` (a seeded proptest run: panics are caught and
/// shrunk), each bounded in time. `describe` renders an input for the watchdog and messages.
pub fn run<S, D, C>(target: &'static str, strategy: S, describe: D, check: C)
where
    S: Strategy + Send + 'static,
    S::Value: Send,
    D: Fn(&S::Value) -> String + Send + Sync + 'static,
    C: Fn(&S::Value) -> Result<(), String> + Send + Sync + 'static,
{
    let s = settings();
    let n = cases(target, &s);
    let run_seed = s.seed;
    println!(
        "reliability_input target={target} seed={} cases={n} soak={} (reproduce: XRM_SEED={}{} cargo test --test \
         reliability_input {target})",
        s.seed,
        s.soak,
        s.seed,
        match (s.trials, s.soak) {
            (Some(t), _) => format!(" XRM_TRIALS={t}"),
            (None, true) => " XRM_SOAK=1".to_string(),
            (None, false) => String::new(),
        }
    );
    let seed = target_seed(s.seed, target);
    let started = Instant::now();
    let tried = std::sync::Arc::new(AtomicU64::new(0));
    let counter = tried.clone();
    let handle = std::thread::Builder::new()
        .name(format!("input-{target}"))
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let config = Config {
                cases: u32::try_from(n).unwrap_or(u32::MAX),
                failure_persistence: None,
                max_shrink_iters: 2_000,
                max_global_rejects: 1_000_000,
                ..Config::default()
            };
            let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
            let result = runner.run(&strategy, |value| {
                counter.fetch_add(1, Ordering::Relaxed);
                let text = describe(&value);
                let limit = limit_for(text.len());
                let me = std::thread::current().id();
                running().lock().unwrap_or_else(|e| e.into_inner()).insert(me, (Instant::now(), target.into(), text));
                let timed = |v: &S::Value| {
                    let t = Instant::now();
                    let r = check(v);
                    (r, t.elapsed())
                };
                let (mut r, mut took) = timed(&value);
                if r.is_ok() && took > limit {
                    (r, took) = timed(&value);
                }
                running().lock().unwrap_or_else(|e| e.into_inner()).remove(&me);
                r.map_err(TestCaseError::fail)?;
                if took > limit {
                    return Err(TestCaseError::fail(format!("one input took {took:?} (limit {limit:?})")));
                }
                Ok(())
            });
            // A shrunk failure: show the minimal input.
            match result {
                Ok(()) => Ok(()),
                Err(TestError::Fail(why, value)) => {
                    // The whole minimal input, for a regression test (messages show it shortened).
                    let text = describe(&value);
                    let file = std::env::temp_dir().join(format!("reliability_input-{target}-{run_seed}.txt"));
                    let saved = match std::fs::write(&file, &text) {
                        Ok(()) => format!(" (whole input in {})", file.display()),
                        Err(_) => String::new(),
                    };
                    Err(format!("{why}\nminimal input{saved}: {}", show(&text)))
                }
                Err(TestError::Abort(why)) => Err(format!("aborted: {why}")),
            }
        })
        .expect("spawn the input thread");
    let outcome = handle.join().unwrap_or_else(|_| Err("the input thread panicked outside a case".into()));
    let took = started.elapsed();
    let tried = tried.load(Ordering::Relaxed);
    println!(
        "reliability_input target={target} inputs={tried} took={:.1}s ({:.0} inputs/s)",
        took.as_secs_f64(),
        tried as f64 / took.as_secs_f64().max(1e-9)
    );
    if let Err(e) = outcome {
        panic!("target {target} (seed {}): {e}", s.seed);
    }
}

/// Runs a single value through `check` on the suite's stack (for regression tests of minimised inputs), within
/// the time limit of an input of `bytes` bytes.
pub fn once<T: Send + 'static>(value: T, bytes: usize, check: impl FnOnce(&T) -> Result<(), String> + Send + 'static) {
    let r = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let t = Instant::now();
            let r = check(&value);
            (r, t.elapsed())
        })
        .expect("spawn")
        .join();
    match r {
        Ok((Ok(()), took)) => assert!(took < limit_for(bytes) * 2, "took {took:?} (limit {:?})", limit_for(bytes) * 2),
        Ok((Err(e), _)) => panic!("{e}"),
        Err(_) => panic!("panicked"),
    }
}
