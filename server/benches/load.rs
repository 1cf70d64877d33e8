//! Load: `cargo xtask bench load` (or `cargo bench -p server --bench load`).
//!
//! Full sign-ins — password, then a 6-digit app code computed by the test's own RFC 6238
//! code — from 200 concurrent clients for 60 s, each client with accounts of its own and
//! its own address (its own 127.0.0.x source address, so nothing is shared between
//! clients but the server). Against the release binary, in two set-ups:
//!
//! 1. one instance on SQLite;
//! 2. two instances on one PostgreSQL (a throwaway cluster) behind Debian's nginx running
//!    `deploy/nginx/tessera.conf` (TLS, round-robin).
//!
//! Prints throughput beside the raw argon2 rate measured in the same run, p50/p99 of a
//! whole sign-in, and every answer by kind. The target is all 2xx. Asserts nothing.

// Benchmark code: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/common/factors.rs"]
mod factors;
#[allow(dead_code)]
#[path = "../tests/common/nginx.rs"]
mod nginx;
#[allow(dead_code)]
#[path = "../tests/common/postgres.rs"]
mod postgres;
mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Connection as _;
use support::{free_port, ms, percentile, raw_hash_rate};
use tessera_core::password::{HashCost, PasswordHasher};
use tessera_core::secret_box::ServerKey;
use tessera_core::totp::TotpKey;

const CLIENTS: usize = 200;
/// Accounts per client: an app code is good once per 30-second step, so a client that
/// signs in more often than that takes turns between its accounts. Twelve each (2,400 in
/// all) is more than this machine can sign in within one step, so no client ever waits
/// for a fresh code and the server, not the clock, sets the pace.
const ACCOUNTS_EACH: usize = 12;
const RUN: Duration = Duration::from_secs(60);
const PASSWORD: &str = "load test passphrase 2026";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn tessera(dir: &Path, url: &str, key: &str, public: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_DATABASE_URL", url)
        .env("TESSERA_SECRET_KEY", key)
        .env("TESSERA_PUBLIC_URL", public)
        .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("RUST_LOG", "error");
    c
}

/// `tessera serve` on 127.0.0.1:`port`, once it listens.
fn serve(dir: &Path, url: &str, key: &str, public: &str, port: u16, proxied: bool) -> Server {
    let child = tessera(dir, url, key, public)
        .arg("serve")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TESSERA_TRUST_FORWARDED_FOR", proxied.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child)
}

/// The organisation (through the operator's command line) and the clients' accounts,
/// each with a password and an authenticator app (written straight into the database,
/// the app key sealed with the server key as the server would). Returns the app keys,
/// grouped per client.
async fn seed(dir: &Path, url: &str, key: &str, public: &str) -> Vec<Vec<(String, String)>> {
    let mut create = tessera(dir, url, key, public)
        .args([
            "user",
            "create",
            "--email",
            "boss@load.example",
            "--name",
            "Boss",
        ])
        .args(["--role", "admin", "--organisation", "Load Test Clinic"])
        .args(["--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(create.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(create.wait().unwrap().success());

    let server_key = ServerKey::from_base64(key).unwrap();
    let hash = PasswordHasher::new(HashCost::standard(), 1)
        .unwrap()
        .hash(PASSWORD)
        .await
        .unwrap();
    let mut db = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut keys = Vec::new();
    for c in 0..CLIENTS {
        let mut own = Vec::new();
        for a in 0..ACCOUNTS_EACH {
            let id = uuid::Uuid::new_v4().to_string();
            let email = format!("client{c}.account{a}@load.example");
            let app = TotpKey::generate();
            sqlx::query(
                "INSERT INTO users (id, email, display_name, name_key, role, active, password_hash, \
                 two_factor_enabled, created_at) VALUES ($1, $2, 'Load', 'load', 'staff', 1, $3, 1, 0)",
            )
            .bind(&id)
            .bind(&email)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO totp_credentials (user_id, key_sealed, last_step, created_at) \
                 VALUES ($1, $2, 0, 0)",
            )
            .bind(&id)
            .bind(server_key.seal(app.as_bytes(), &id).unwrap())
            .execute(&mut *tx)
            .await
            .unwrap();
            own.push((email, app.grouped()));
        }
        keys.push(own);
    }
    tx.commit().await.unwrap();
    db.close().await.unwrap();
    keys
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    answers: BTreeMap<String, usize>,
}

/// Runs the clients against `base` for [`RUN`]; each from 127.0.0.(2 + its number).
async fn storm(base: &str, origin: &str, keys: Vec<Vec<(String, String)>>) -> Tally {
    let stop_at = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for (i, accounts) in keys.into_iter().enumerate() {
        let (base, origin) = (base.to_string(), origin.to_string());
        let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
        tasks.push(tokio::spawn(async move {
            let from: IpAddr = [127, 0, (i / 250) as u8, (i % 250 + 2) as u8].into();
            let mut tally = Tally::default();
            let mut last_step = vec![0i64; accounts.len()];
            let mut next = 0;
            while Instant::now() < stop_at {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                // An account whose code for this step is still unused.
                let Some(turn) = (0..accounts.len())
                    .map(|k| (next + k) % accounts.len())
                    .find(|&k| last_step[k] < now / 30)
                else {
                    *tally.answers.entry("waited for a code".into()).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                };
                next = turn + 1;
                last_step[turn] = now / 30;
                let (email, key) = &accounts[turn];
                let http = reqwest::Client::builder()
                    .local_address(from)
                    .cookie_store(true)
                    .danger_accept_invalid_certs(true)
                    .resolve("localhost", ([127, 0, 0, 1], port).into())
                    .build()
                    .unwrap();
                let post = |name: &str, body: Value| {
                    http.post(format!("{base}/api/{name}"))
                        .header("origin", &origin)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                };
                let started = Instant::now();
                let first = post(
                    "sign_in",
                    json!({"email": email, "password": PASSWORD, "remember": false}),
                )
                .await;
                let kind = match first {
                    Ok(r) if r.status().is_success() => {
                        let code = factors::totp(key, now);
                        match post(
                            "second_step",
                            json!({"method": "authenticator", "code": code}),
                        )
                        .await
                        {
                            Ok(r) if r.status().is_success() => {
                                tally.latencies.push(started.elapsed());
                                "2xx".to_string()
                            }
                            Ok(r) => format!("second step {}", r.status().as_u16()),
                            Err(_) => "second step: no answer".to_string(),
                        }
                    }
                    Ok(r) => format!("password {}", r.status().as_u16()),
                    Err(_) => "password: no answer".to_string(),
                };
                *tally.answers.entry(kind).or_default() += 1;
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.unwrap();
        all.latencies.extend(t.latencies);
        for (k, n) in t.answers {
            *all.answers.entry(k).or_default() += n;
        }
    }
    all.latencies.sort();
    all
}

fn report(setup: &str, tally: &Tally, hash_rate: f64) {
    let done = tally.latencies.len() as f64 / RUN.as_secs_f64();
    println!(
        "{setup:<44} {done:>8.1}/s {:>7.0}% {:>9.0}ms {:>9.0}ms   {}",
        100.0 * done / hash_rate,
        ms(percentile(&tally.latencies, 50.0)),
        ms(percentile(&tally.latencies, 99.0)),
        tally
            .answers
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[tokio::main]
async fn main() {
    sqlx::any::install_default_drivers();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let key = ServerKey::generate().to_base64();
    let hash_rate = raw_hash_rate(cores * 2).await;
    println!(
        "Tessera load — {CLIENTS} clients × {}s, full sign-ins (password + app code), {cores} cores, \
         argon2id m=19456 KiB t=2 p=1; raw argon2id: {hash_rate:.1} hashes/s",
        RUN.as_secs()
    );
    println!(
        "{:<44} {:>10} {:>8} {:>11} {:>11}   answers",
        "set-up", "sign-ins", "vs hash", "p50", "p99"
    );

    // One instance on SQLite.
    {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
        let port = free_port();
        let public = format!("http://localhost:{port}");
        let keys = seed(dir.path(), &url, &key, &public).await;
        let instance = serve(dir.path(), &url, &key, &public, port, false);
        let tally = storm(&format!("http://localhost:{port}"), &public, keys).await;
        report("one instance, SQLite", &tally, hash_rate);
        drop(instance);
    }

    // Two instances on PostgreSQL behind nginx.
    {
        let cluster = postgres::Cluster::start().unwrap();
        let url = cluster.create_database().unwrap();
        let nginx_port = free_port();
        let public = format!("https://localhost:{nginx_port}");
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let keys = seed(dirs[0].path(), &url, &key, &public).await;
        let (a_port, b_port) = (free_port(), free_port());
        let a = serve(dirs[0].path(), &url, &key, &public, a_port, true);
        let b = serve(dirs[1].path(), &url, &key, &public, b_port, true);
        let front = nginx::start_nginx(&[a_port, b_port], nginx_port);
        let tally = storm(&public, &public, keys).await;
        report("two instances, PostgreSQL, behind nginx", &tally, hash_rate);
        drop((front, a, b, cluster));
    }
    let after = raw_hash_rate(cores * 2).await;
    println!("raw argon2id measured again after the runs: {after:.1} hashes/s");
}
