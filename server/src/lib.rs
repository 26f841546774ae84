//! The xrm-offline reference server: the Dataverse Web API v9.2 subset the client uses, over SQLite.
//!
//! [`start`] binds, seeds if asked, and serves on a background thread; the binary (`xrm-offline serve`) and the
//! HTTP tests both use it.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod faults;
pub mod fxhash;
pub mod http;
pub mod meta;
pub mod seed;
pub mod store;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use app::App;

/// `serve` options.
#[derive(Debug, Clone)]
pub struct Config {
    /// Interface to bind (127.0.0.1 by default).
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Database file or `:memory:`.
    pub db: String,
    /// Seed at this scale when the database is not seeded yet.
    pub seed: Option<u32>,
    /// Static files at `/` (None: none).
    pub static_dir: Option<PathBuf>,
    /// The built package at `/pkg/`.
    pub pkg_dir: Option<PathBuf>,
    /// The `/_admin/` endpoints (faults, stats, clock).
    pub enable_faults: bool,
    /// Extra tokens: (user name or id, token).
    pub tokens: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            db: ":memory:".into(),
            seed: None,
            static_dir: None,
            pkg_dir: None,
            enable_faults: false,
            tokens: Vec::new(),
        }
    }
}

/// A running server.
pub struct Running {
    /// The bound port.
    pub port: u16,
    /// The shared state (tests read the store and the clock).
    pub app: Arc<App>,
    /// What the seed wrote, when asked to seed.
    pub seed: Option<seed::SeedReport>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the server stops (the binary's main thread).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

/// Opens the database, seeds it if asked, binds, and serves on a background thread.
pub fn start(config: Config) -> Result<Running, String> {
    let schema = meta::ServerSchema::load();
    let store = store::Store::open(&config.db)?;
    let clock = clock::Clock::default();
    let seed = match config.seed {
        Some(scale) => Some(seed::seed(&store, &schema.schema, scale, clock.now_ms())?),
        None => None,
    };
    let auth = auth::Auth::new();
    {
        let db = store.lock();
        for (name, token) in &config.tokens {
            auth.add(name, token, &db)?;
        }
    }
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .map_err(|e| format!("cannot bind {}:{}: {e}", config.host, config.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let app = Arc::new(App {
        schema,
        store,
        clock,
        auth,
        faults: faults::Faults::default(),
        admin_enabled: config.enable_faults,
        static_dir: config.static_dir,
        pkg_dir: config.pkg_dir,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let handler: Arc<dyn http::Handler> = app.clone();
    let stop2 = stop.clone();
    let thread = thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || http::server::run(listener, handler, stop2))
        .map_err(|e| e.to_string())?;
    Ok(Running { port, app, seed, stop, thread: Some(thread) })
}
