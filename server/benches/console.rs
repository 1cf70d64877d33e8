//! The admin console at scale: `cargo xtask bench console` (or `cargo bench -p server
//! --bench console`).
//!
//! For 1,000, 10,000 and 100,000 people (`TESSERA_BENCH_SIZES=1000,10000` to choose), starts
//! the real server (release build, SQLite in a temp folder), seeds a clinic-like mix in
//! one transaction — about 60 % with two-step on (passkeys, apps or both, ten backup codes,
//! some used), a third not set up, a few pending and disabled, helpdesk, auditors and
//! admins among them, ten audit records per person (a million at 100,000) — and times over
//! HTTP, one request at a time as an admin's browser makes them:
//! the users list's first page, the "not set up" filter, a name-prefix search, the page 200
//! pages deep (the last one for smaller sizes), and the counts; then the CSV export of
//! everyone (seconds, and how far the process's memory rose above where it stood: flat as
//! the rows grow, because it streams) and a reminder to everyone "not set up" (the outbox
//! held to one mail a minute, so the drain does not run beside it).
//!
//! Prints numbers; asserts only that the answers were the expected ones.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/factors.rs"]
#[allow(dead_code)]
mod factors;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, ms, percentile};
use tessera_core::accounts::Role;
use tessera_core::{Clock, ManualClock};
use tessera_server::config::ServerConfig;

const PASSWORD: &str = "benchmark passphrase 2026";
const ROUNDS: usize = 100;
const WARM_UP: usize = 5;

const FIRST: [&str; 30] = [
    "Maria", "James", "Aisha", "Mark", "Chen", "Olivia", "Tomasz", "Marta", "Noah", "Fatima",
    "Liam", "Sofia", "Ibrahim", "Emma", "Lucas", "Amara", "Kenji", "Grace", "Mateo", "Priya",
    "Ethan", "Zoe", "Daniel", "Hannah", "Yusuf", "Chloe", "Arjun", "Elena", "Samuel", "Leah",
];
const LAST: [&str; 30] = [
    "Smith", "Okafor", "Nguyen", "Kowalski", "Garcia", "Müller", "Patel", "Johnson", "Rossi",
    "Kim", "Brown", "Haddad", "Silva", "Jones", "Novak", "Ahmed", "Taylor", "Ivanova", "Martin",
    "Lee", "Wilson", "Costa", "Schmidt", "Davies", "Moreau", "Tanaka", "Evans", "Khan", "Walker",
    "Hughes",
];

fn sizes() -> Vec<usize> {
    std::env::var("TESSERA_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000])
}

#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Http {
    async fn post(&self, name: &str, args: Value) -> (u16, Value, Option<String>) {
        let res = self
            .client
            .post(format!("{}/api/{name}", self.base))
            .header("content-type", "application/json")
            .header("cookie", &self.cookie)
            .body(args.to_string())
            .send()
            .await
            .expect("the server answers");
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| !pair.ends_with('='))
            .map(str::to_string);
        (status, res.json().await.unwrap_or(Value::Null), cookie)
    }

    /// Times `name(args)` ROUNDS times after a warm-up; every answer must be 200.
    async fn time(&self, name: &str, args: Value) -> Vec<Duration> {
        let mut times = Vec::with_capacity(ROUNDS);
        for round in 0..WARM_UP + ROUNDS {
            let started = Instant::now();
            let (status, body, _) = self.post(name, args.clone()).await;
            let took = started.elapsed();
            assert_eq!(status, 200, "{name}: {body}");
            if round >= WARM_UP {
                times.push(took);
            }
        }
        times.sort();
        times
    }
}

/// The process's resident memory now, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The seed's SQL (SQLite's dialect: this benchmark runs on the embedded default).
/// `n(i)` counts the people; `r` spreads them over the mix.
fn seed_statements(count: usize, now: i64) -> Vec<String> {
    let names = |list: &[&str]| {
        list.iter()
            .enumerate()
            .map(|(k, name)| format!("({k}, '{name}')"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let n = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {})",
        count - 1
    );
    let id = |prefix: &str| format!("printf('{prefix}-0000-4000-8000-%012d', i)");
    let r = "((i * 37) % 100)";
    let two_step = format!("{r} < 60");
    let has_passkey = format!("({r} < 25 OR {r} >= 45) AND {r} < 60");
    let has_app = format!("{r} >= 25 AND {r} < 60");
    vec![
        format!(
            "{n}, first(k, name) AS (VALUES {first}), last(k, name) AS (VALUES {last}) \
             INSERT INTO users (id, email, display_name, name_key, role, active, password_hash, \
               two_factor_enabled, created_at, last_sign_in_at, last_reminded_at) \
             SELECT {uid}, printf('%s.%s.%d@riverside.example', lower(f.name), lower(l.name), i), f.name || ' ' || l.name, \
               lower(f.name || ' ' || l.name), \
               CASE WHEN i % 1000 = 0 THEN 'admin' WHEN i % 200 = 1 THEN 'helpdesk' \
                    WHEN i % 300 = 2 THEN 'auditor' ELSE 'staff' END, \
               CASE WHEN {r} >= 96 THEN 0 ELSE 1 END, \
               CASE WHEN {r} BETWEEN 93 AND 95 THEN NULL ELSE '$argon2id$benchmark' END, \
               CASE WHEN {two_step} THEN 1 ELSE 0 END, \
               {now} - ({count} - i) * 60, \
               CASE WHEN {r} < 93 AND i % 7 != 0 THEN {now} - (i * 7919) % 5184000 ELSE 0 END, \
               0 \
             FROM n JOIN first f ON f.k = i % 30 JOIN last l ON l.k = (i / 30) % 30",
            first = names(&FIRST),
            last = names(&LAST),
            uid = id("00000000"),
        ),
        format!(
            "{n} INSERT INTO passkeys (id, user_id, credential_id, name, passkey, aaguid, \
               backup_eligible, backup_state, created_at, last_used_at) \
             SELECT {pid}, {uid}, 'credential-' || i, 'MacBook Touch ID', '{{}}', NULL, 1, 1, \
               {now} - 86400, {now} - 3600 FROM n WHERE {has_passkey}",
            pid = id("10000000"),
            uid = id("00000000"),
        ),
        format!(
            "{n} INSERT INTO totp_credentials (user_id, key_sealed, last_step, created_at, last_used_at) \
             SELECT {uid}, 'sealed', 0, {now} - 86400, NULL FROM n WHERE {has_app}",
            uid = id("00000000"),
        ),
        format!(
            "{n}, k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < 9) \
             INSERT INTO backup_codes (user_id, lookup, code_hash, created_at, used_at) \
             SELECT {uid}, printf('%04d', k), '$argon2id$benchmark', {now} - 86400, \
               CASE WHEN k < i % 4 THEN {now} - 3600 ELSE NULL END \
             FROM n, k WHERE {two_step}",
            uid = id("00000000"),
        ),
        format!(
            "{n}, k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < 9) \
             INSERT INTO audit_log (at, kind, actor_id, subject_id, subject, client_addr, detail) \
             SELECT {now} - ({count} - i) * 60 + k * 3600, \
               CASE k % 4 WHEN 0 THEN 'sign_in_succeeded' WHEN 1 THEN 'second_factor_succeeded' \
                          WHEN 2 THEN 'signed_out' ELSE 'sign_in_failed' END, \
               {uid}, {uid}, printf('person%06d@riverside.example', i), '10.0.0.' || (i % 250), '' \
             FROM n, k",
            uid = id("00000000"),
        ),
    ]
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("Tessera console benchmark — {cores} cores, SQLite, release build, {ROUNDS} requests per query after {WARM_UP} to warm up");
    let mut rows = Vec::new();
    let mut exports = Vec::new();
    for size in sizes() {
        let (measured, export) = one_size(size).await;
        rows.extend(measured);
        exports.push(export);
    }
    println!();
    println!(
        "{:>8}  {:<28} {:>9} {:>9}",
        "people", "console request", "p50", "p95"
    );
    for (size, label, times) in &rows {
        println!(
            "{:>8}  {:<28} {:>7.2}ms {:>7.2}ms",
            size,
            label,
            ms(percentile(times, 50.0)),
            ms(percentile(times, 95.0))
        );
    }
    println!();
    println!(
        "{:>8}  {:>10} {:>9} {:>14}   {:>10} {:>9}",
        "people", "CSV rows", "seconds", "memory rise", "reminded", "seconds"
    );
    for e in &exports {
        println!(
            "{:>8}  {:>10} {:>9.2} {:>11} MiB   {:>10} {:>9.2}",
            e.size,
            e.rows,
            e.seconds,
            format!("{:.1}", e.rise_kib as f64 / 1024.0),
            e.reminded,
            e.remind_seconds
        );
    }
}

struct Export {
    size: usize,
    rows: u64,
    seconds: f64,
    rise_kib: u64,
    reminded: u64,
    remind_seconds: f64,
}

async fn one_size(size: usize) -> (Vec<(usize, String, Vec<Duration>)>, Export) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = ServerConfig::loopback(dir.path(), port, false).unwrap();
    config.mail.per_minute = Some(1);
    let running = tessera_server::start(config, clock.clone()).await.unwrap();
    let tessera = &running.tessera;
    tessera
        .create_organisation("Riverside Clinic")
        .await
        .unwrap();
    tessera
        .create_user(
            None,
            "bench-admin@riverside.example",
            "Bench Admin",
            Role::Admin,
            Some(PASSWORD),
        )
        .await
        .unwrap();

    let started = Instant::now();
    let now = clock.now();
    {
        let mut tx = tessera.db().write().await.unwrap();
        for statement in seed_statements(size, now) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        sqlx::query("ANALYZE")
            .execute(tessera.db().pool())
            .await
            .unwrap();
    }
    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(tessera.db().pool())
        .await
        .unwrap();
    println!(
        "{size} people, {audit} audit records seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The admin signs in (password; then an app, so they can step up for the reminder).
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "origin",
        format!("http://localhost:{port}").parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let mut http = Http {
        client,
        base: format!("http://127.0.0.1:{port}"),
        cookie: String::new(),
    };
    let (status, body, cookie) = http
        .post(
            "sign_in",
            json!({"email": "bench-admin@riverside.example", "password": PASSWORD, "remember": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    http.cookie = cookie.unwrap();
    let (status, setup, _) = http
        .post("begin_authenticator", json!({"password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "{setup}");
    let key = setup["key_grouped"].as_str().unwrap().to_string();
    let (status, body, rotated) = http
        .post(
            "confirm_authenticator",
            json!({"code": factors::totp(&key, clock.now())}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    if let Some(c) = rotated {
        http.cookie = c;
    }

    let mut measured = Vec::new();
    let list = |query: Value| json!({ "query": query });
    for (label, query) in [
        ("first page", json!({})),
        ("\"not set up\" filter", json!({"two_step": "not_set_up"})),
        ("name prefix \"mar\"", json!({"q": "mar"})),
    ] {
        let times = http.time("admin/list_users", list(query)).await;
        measured.push((size, label.to_string(), times));
    }
    // Page 200 (or the last page when there are fewer): walk there, then time it.
    let mut cursor: Option<String> = None;
    let mut depth = 1;
    while depth < 200 {
        let (status, page, _) = http
            .post("admin/list_users", list(json!({ "cursor": cursor })))
            .await;
        assert_eq!(status, 200, "{page}");
        match page["next"].as_str() {
            Some(next) => {
                cursor = Some(next.to_string());
                depth += 1;
            }
            None => break,
        }
    }
    let times = http
        .time("admin/list_users", list(json!({ "cursor": cursor })))
        .await;
    measured.push((size, format!("page {depth}"), times));
    let times = http.time("admin/count_users", json!({})).await;
    measured.push((size, "counts".to_string(), times));

    // The audit trail's page (ten records per person) and the compliance report.
    let someone = format!("person{:06}@riverside.example", size / 2);
    let week_ago = tessera_core::service::format_date(now - 7 * 24 * 60 * 60);
    for (label, query) in [
        ("audit: newest 50", json!({})),
        ("audit: one person", json!({ "user": someone })),
        (
            "audit: \"Sign-in failed\"",
            json!({"kind": "sign_in_failed"}),
        ),
        (
            "audit: one day, a week ago",
            json!({"from": week_ago, "to": week_ago}),
        ),
    ] {
        let times = http
            .time("admin/audit_events", json!({ "query": query }))
            .await;
        measured.push((size, label.to_string(), times));
    }
    let times = http
        .time("admin/compliance_report", json!({"query": {}}))
        .await;
    measured.push((size, "compliance report".to_string(), times));

    // The CSV export of everyone, read as it arrives; memory sampled while it runs.
    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let response = http
        .client
        .get(format!("{}/admin/users.csv", http.base))
        .header("cookie", &http.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = 0u64;
    let mut response = response;
    while let Some(chunk) = response.chunk().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    sampling.abort();
    let rise_kib = peak.load(Ordering::Relaxed).saturating_sub(before);
    let rows = lines - 1;
    assert_eq!(rows as usize, size + 1, "everyone (and the admin) exported");

    // A reminder to everyone not set up, after a step-up with a fresh app code.
    clock.advance(30);
    let (status, body, _) = http
        .post(
            "admin/step_up_with_code",
            json!({"password": PASSWORD, "method": "authenticator", "code": factors::totp(&key, clock.now())}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    let (status, body, _) = http
        .post(
            "admin/remind_view",
            json!({"query": {"two_step": "not_set_up"}, "note": null}),
        )
        .await;
    let remind_seconds = started.elapsed().as_secs_f64();
    assert_eq!(status, 200, "{body}");
    let reminded = body["sent"].as_u64().unwrap();
    running.stop().await;
    (
        measured,
        Export {
            size,
            rows,
            seconds,
            rise_kib,
            reminded,
            remind_seconds,
        },
    )
}
