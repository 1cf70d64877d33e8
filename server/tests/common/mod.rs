//! `TestApp`: the real server on 127.0.0.1 with a fresh database, a clock the test moves,
//! minimum-cost password hashing, and a cookie-jar client.
//!
//! The database is a SQLite file in the test's folder, or — when `TESSERA_TEST_POSTGRES`
//! names a PostgreSQL server (`cargo xtask test` starts a throwaway one for the suite's
//! second pass) — a new database on it: the same tests on both backends.

#![allow(dead_code)] // each test binary uses its own part of this harness

pub mod console;
pub mod factors;
pub mod hand_key;
mod net;
pub mod nginx;
pub mod postgres;
pub mod rp;

pub use net::free_port;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use tessera_core::mail::Transport;
use tessera_core::password::HashCost;
use tessera_core::ManualClock;
use tessera_server::config::ServerConfig;
use tessera_server::Running;

pub const ADMIN: &str = "admin@riverside.example";
pub const ADMIN_PASSWORD: &str = "demo admin passphrase";
pub const STAFF: &str = "nurse.jones@riverside.example";
pub const STAFF_PASSWORD: &str = "demo staff passphrase";
/// A second staff account with the same demo password.
pub const OTHER_STAFF: &str = "dr.patel@riverside.example";

pub struct TestApp {
    pub running: Option<Running>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub demo: bool,
    pub transport: Transport,
    /// Kept across restarts, as the key file would be.
    pub server_key: tessera_core::secret_box::ServerKey,
    /// The PostgreSQL database this app runs on; `None`: SQLite in `dir`.
    pub postgres: Option<String>,
    /// Serve `/metrics` on a port of its own.
    pub metrics: bool,
    /// The most database connections (`None`: the default).
    pub pool: Option<u32>,
}

impl TestApp {
    /// A server with the demo organisation.
    pub async fn demo() -> TestApp {
        Self::start_with(true, None).await
    }

    /// A server on an empty database (first-run setup).
    pub async fn fresh() -> TestApp {
        Self::start_with(false, None).await
    }

    pub async fn with_transport(transport: Transport) -> TestApp {
        Self::start_with(true, Some(transport)).await
    }

    /// A server with the demo organisation on the PostgreSQL database `url`.
    pub async fn demo_on_postgres(url: String) -> TestApp {
        Self::start_on(true, None, Some(url)).await
    }

    async fn start_with(demo: bool, transport: Option<Transport>) -> TestApp {
        Self::start_on(demo, transport, postgres::database_from_env()).await
    }

    async fn start_on(
        demo: bool,
        transport: Option<Transport>,
        postgres: Option<String>,
    ) -> TestApp {
        // The server's log, when RUST_LOG asks for it (debugging a failing test).
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let transport = transport.unwrap_or_else(|| Transport::Folder(dir.path().join("outbox")));
        let clock = Arc::new(ManualClock::starting_now());
        let mut app = TestApp {
            running: None,
            clock,
            dir,
            port,
            demo,
            transport,
            server_key: tessera_core::secret_box::ServerKey::generate(),
            postgres,
            metrics: false,
            pool: None,
        };
        app.boot().await;
        app
    }

    fn config(&self) -> ServerConfig {
        let mut config = ServerConfig::loopback(self.dir.path(), self.port, self.demo).unwrap();
        config.core.server_key = self.server_key.clone();
        config.core.hash_cost = HashCost::danger_test_minimum();
        config.core.max_concurrent_hashes = 4;
        config.mail.transport = self.transport.clone();
        config.mail.poll_every = std::time::Duration::from_millis(100);
        if let Some(url) = &self.postgres {
            config.core.database_url = url.clone();
        }
        if self.metrics {
            config.metrics_addr = Some(([127, 0, 0, 1], 0).into());
        }
        config.core.database_pool = self.pool;
        config
    }

    /// Whether this app runs on PostgreSQL (the suite's second pass).
    pub fn on_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The SQLite file (tests that handle the file itself run on SQLite only).
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("tessera.db")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    async fn boot(&mut self) {
        let running = tessera_server::start(self.config(), self.clock.clone())
            .await
            .unwrap();
        self.running = Some(running);
    }

    /// Stops the server and starts it again on the same database (a restart).
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.boot().await;
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// A browser-like client with its own cookie jar that sends our Origin.
    pub fn client(&self) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.origin().parse().unwrap());
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                // A request that gets no answer fails its test, naming the request, rather
                // than holding the whole run (CI once waited on one for twelve minutes).
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            base: self.url(""),
        }
    }

    pub fn clock_now(&self) -> i64 {
        use tessera_core::Clock as _;
        self.clock.now()
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    pub async fn audit_kinds(&self) -> Vec<String> {
        let mut conn = self.running().tessera.db().pool().acquire().await.unwrap();
        tessera_core::audit::recent(&mut conn, 1000)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|r| r.kind)
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "users" => "SELECT COUNT(*) FROM users",
            "sessions" => "SELECT COUNT(*) FROM sessions",
            "audit_log" => "SELECT COUNT(*) FROM audit_log",
            "outbox" => "SELECT COUNT(*) FROM outbox",
            "organisation" => "SELECT COUNT(*) FROM organisation",
            "passkeys" => "SELECT COUNT(*) FROM passkeys",
            "webauthn_ceremonies" => "SELECT COUNT(*) FROM webauthn_ceremonies",
            "oidc_codes" => "SELECT COUNT(*) FROM oidc_codes",
            "oidc_access_tokens" => "SELECT COUNT(*) FROM oidc_access_tokens",
            "oidc_grants" => "SELECT COUNT(*) FROM oidc_grants",
            // Grants with no refresh token left: nothing can be done with them.
            "oidc_empty_grants" => {
                "SELECT COUNT(*) FROM oidc_grants g WHERE NOT EXISTS \
                 (SELECT 1 FROM oidc_refresh_tokens r WHERE r.grant_id = g.id)"
            }
            other => panic!("no count for {other}"),
        };
        sqlx::query_scalar(sql)
            .fetch_one(self.running().tessera.db().pool())
            .await
            .unwrap()
    }

    /// Waits (up to 10 s) for the outbox worker to deliver a mail containing all of
    /// `needles`, and returns it.
    pub async fn wait_for_mail(&self, needles: &[&str]) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let found = std::fs::read_dir(self.outbox_dir())
                .into_iter()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .map(|m| readable(&m))
                .find(|m| needles.iter().all(|n| m.contains(n)));
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail with {needles:?} in the outbox"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// A mail as its reader sees it: lettre sends long lines quoted-printable (soft line
/// breaks, `=XX` escapes), which is undone here.
pub fn readable(message: &str) -> String {
    if !message.contains("quoted-printable") {
        return message.to_string();
    }
    let bytes = message.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match &bytes[i..] {
            [b'=', b'\r', b'\n', ..] => i += 3,
            [b'=', b'\n', ..] => i += 2,
            [b'=', a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            [byte, ..] => {
                out.push(*byte);
                i += 1;
            }
            [] => unreachable!(),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

/// A server function's answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub set_cookie: Vec<String>,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl Client {
    /// Calls a server function with a JSON body.
    pub async fn call(&self, name: &str, args: Value) -> Answer {
        self.raw(name, args.to_string()).await
    }

    pub async fn raw(&self, name: &str, body: String) -> Answer {
        let res = self
            .http
            .post(format!("{}/api/{name}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let set_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let text = res.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            set_cookie,
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Answer {
        self.call(
            "sign_in",
            json!({"email": email, "password": password, "remember": false}),
        )
        .await
    }

    /// A sign-in's status only (for storms of them).
    pub async fn sign_in_status(&self, email: String, password: &str) -> u16 {
        self.sign_in(&email, password).await.status
    }

    pub async fn me(&self) -> Answer {
        self.call("me", json!({})).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
}

/// The session cookie's value in a Set-Cookie list.
pub fn session_cookie(set_cookie: &[String]) -> Option<String> {
    set_cookie
        .iter()
        .find_map(|c| c.strip_prefix("tessera_session="))
        .map(|rest| rest.split(';').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
}

pub fn json_args(pairs: &[(&str, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.insert(k.to_string(), json!(v));
    }
    Value::Object(map)
}

/// Runs the real `tessera` binary on the data folder `dir` (with `input` on standard
/// input): whether it succeeded, and what it printed (stdout, then stderr).
pub fn cli(dir: &std::path::Path, args: &[&str], input: Option<&str>) -> (bool, String) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}
