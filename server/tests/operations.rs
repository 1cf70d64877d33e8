//! What an operator relies on: health checks without a session, an online backup while the
//! server runs, a restore that brings the old state back and ends every session, and a
//! clean exit on SIGTERM.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn health_checks_answer_without_a_session_and_readiness_fails_closed() {
    let app = TestApp::demo().await;
    let c = app.client();
    let health = c.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = c.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    // The database gone: not ready (the process itself still answers /healthz).
    app.running().tessera.db().close().await;
    assert_eq!(c.get("/readyz").await.status(), 503);
    assert_eq!(c.get("/healthz").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_backup_is_taken_while_the_server_runs() {
    let app = TestApp::demo().await;
    let tessera = app.running().tessera.clone();
    let copy = app.dir.path().join("backup.db");
    if app.on_postgres() {
        // PostgreSQL is backed up with its own tools; the command says so.
        let refused = tessera.backup_to(&copy).await.unwrap_err().to_string();
        assert!(refused.contains("pg_dump"), "{refused}");
        return app.stop().await;
    }
    // Writes go on while the copy is taken.
    let writer = {
        let t = tessera.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                t.create_user(
                    None,
                    &format!("during{i}@riverside.example"),
                    "During Backup",
                    tessera_core::accounts::Role::Staff,
                    None,
                )
                .await
                .unwrap();
            }
        })
    };
    tessera.backup_to(&copy).await.unwrap();
    writer.await.unwrap();
    assert!(
        tessera.backup_to(&copy).await.is_err(),
        "an existing file is kept"
    );
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    let now: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(tessera.db().pool())
        .await
        .unwrap();
    assert!(users > 0 && users <= now, "{users} of {now}");
    pool.close().await;
    app.stop().await;
}

/// The real binary: back up, change, restore, and see the old state — with every session
/// ended and the restore in the audit trail, its chain intact.
#[test]
fn a_restore_brings_back_the_old_state_and_ends_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let tessera = |args: &[&str], input: Option<&str>| cli(dir.path(), args, input);
    let sql = |statement: &str| {
        let db = dir.path().join("tessera.db");
        let out = Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r)")
            .arg(&db)
            .arg(statement)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (ok, out) = tessera(
        &[
            "user",
            "create",
            "--email",
            "boss@clinic.example",
            "--name",
            "Boss",
            "--role",
            "admin",
            "--organisation",
            "Hillside Clinic",
            "--password-stdin",
        ],
        Some("a long boss passphrase\n"),
    );
    assert!(ok, "{out}");
    let boss: String = sql("SELECT id FROM users")
        .trim_matches(|c| "[]()',".contains(c))
        .to_string();
    sql(&format!(
        "INSERT INTO sessions (id_hash, user_id, state, created_at, last_seen_at, client_addr, user_agent, sid) \
         VALUES ('h1', '{boss}', 'full', 1, 1, '', '', 's1')"
    ));
    let backup = dir.path().join("monday.db");
    let (ok, out) = tessera(&["backup", "--to", backup.to_str().unwrap()], None);
    assert!(ok && out.contains("backed up to"), "{out}");

    // A change after the backup.
    let (ok, out) = tessera(
        &[
            "user",
            "create",
            "--email",
            "later@clinic.example",
            "--name",
            "Later",
            "--role",
            "staff",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(tessera(&["user", "list"], None)
        .1
        .contains("later@clinic.example"));

    let (ok, out) = tessera(&["restore", backup.to_str().unwrap()], None);
    assert!(ok, "{out}");
    assert!(out.contains("1 session(s) ended"), "{out}");
    let (_, list) = tessera(&["user", "list"], None);
    assert!(list.contains("boss@clinic.example"), "{list}");
    assert!(
        !list.contains("later@clinic.example"),
        "the old state: {list}"
    );
    assert_eq!(sql("SELECT COUNT(*) FROM sessions"), "[(0,)]");
    assert!(
        sql("SELECT kind FROM audit_log ORDER BY id DESC LIMIT 1").contains("database_restored")
    );
    let (ok, out) = tessera(&["audit", "verify"], None);
    assert!(ok && out.contains("chain intact"), "{out}");
    assert!(dir.path().join("tessera.db.before-restore").exists());
    // Not a backup: refused, and nothing replaced.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, out) = tessera(&["restore", junk.to_str().unwrap()], None);
    assert!(!ok, "{out}");
    assert!(tessera(&["user", "list"], None)
        .1
        .contains("boss@clinic.example"));
}

/// SIGTERM (systemd, containers) stops the server cleanly: exit status 0.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--demo"])
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tessera did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// Logs as JSON lines (`TESSERA_LOG_FORMAT=json`), at the most talkative level, hold no
/// secret: not the password, the app's key or a code from it, a backup code, or a session
/// id — after a wrong and a right sign-in, adding an app, and the second step.
#[tokio::test]
async fn json_logs_are_json_lines_without_secrets() {
    use serde_json::{json, Value};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--demo"])
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
        .env("TESSERA_LOG_FORMAT", "json")
        .env("RUST_LOG", "trace")
        // Files, not pipes: at this level a pipe nobody reads yet would fill and stall it.
        .stdout(std::fs::File::create(dir.path().join("out.log")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let call = |name: &'static str, args: Value| {
        let http = http.clone();
        async move {
            let res = http
                .post(format!("http://127.0.0.1:{port}/api/{name}"))
                .header("origin", format!("http://localhost:{port}"))
                .header("content-type", "application/json")
                .body(args.to_string())
                .send()
                .await
                .unwrap();
            let cookie = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| c.strip_prefix("tessera_session="))
                .map(|c| c.split(';').next().unwrap_or_default().to_string());
            (res.json::<Value>().await.unwrap_or(Value::Null), cookie)
        }
    };
    let password = "demo staff passphrase";
    let email = "nurse.jones@riverside.example";
    call(
        "sign_in",
        json!({"email": email, "password": "a wrong passphrase", "remember": false}),
    )
    .await;
    let (_, first) = call(
        "sign_in",
        json!({"email": email, "password": password, "remember": false}),
    )
    .await;
    let (setup, _) = call("begin_authenticator", json!({"password": password})).await;
    let key = setup["key_grouped"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = common::factors::totp(&key, now);
    let (added, second) = call("confirm_authenticator", json!({"code": code})).await;
    let codes: Vec<String> = added["backup_codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert!(!key.is_empty() && codes.len() == 10, "{setup} {added}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut child = child;
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(dir.path().join("out.log")).unwrap()
        + &std::fs::read_to_string(dir.path().join("err.log")).unwrap();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .collect();
    assert!(lines.len() > 10, "the server logged JSON lines: {logs}");
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    // Six digits also occur inside timestamps' fractions (".131873Z") and counters: the
    // code counts as logged where it stands on its own.
    let alone = |text: &str, code: &str| {
        text.match_indices(code).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + code.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
                && !after.is_some_and(|c| c.is_ascii_digit())
        })
    };
    let logged = lines.join("\n");
    assert!(!alone(&logged, &code), "the app code {code} in the logs");
    let mut secrets = vec![password.to_string(), key.replace(' ', ""), key.clone()];
    secrets.extend(codes);
    secrets.extend(first);
    secrets.extend(second);
    // Every log line (the demo's sign-in details are printed for people, not logged).
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !logged.contains(secret.as_str()),
            "a secret in the logs: {secret}"
        );
    }
}

/// `/metrics` on its own address: the Prometheus text format (read by an independent
/// parser), with sign-ins and second steps by outcome and method, the argon2 queue, request
/// latency by route, the outbox backlog and the database pool — and nothing from the
/// requests themselves (no address, no email).
#[tokio::test]
async fn metrics_are_served_apart_in_the_prometheus_text_format() {
    let mut app = TestApp::demo().await;
    assert!(app.running().metrics_addr.is_none(), "off by default");
    app.metrics = true;
    app.pool = Some(5); // TESSERA_DATABASE_POOL, shown by the pool gauge
    app.restart().await;
    let addr = app.running().metrics_addr.expect("metrics on");
    assert_ne!(addr.port(), app.port, "a listener of its own");

    let c = app.client();
    assert_eq!(c.sign_in(STAFF, "not the passphrase").await.status, 401);
    let signed = c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(signed.status, 200, "{signed:?}");
    // A second step refused, then one that goes through.
    let person = app
        .person("Metric Person", tessera_core::accounts::Role::Staff, true)
        .await;
    let key = person.key.clone().unwrap();
    let half = app.client();
    let password = common::console::PASSWORD;
    assert_eq!(half.sign_in(&person.email, password).await.status, 200);
    app.advance(30);
    let right = common::factors::totp(&key, app.clock_now());
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let step = |code: String| {
        let half = half.clone();
        async move {
            half.call(
                "second_step",
                serde_json::json!({"method": "authenticator", "code": code}),
            )
            .await
            .status
        }
    };
    assert_eq!(step(wrong.to_string()).await, 422);
    assert_eq!(step(right).await, 200);
    assert_eq!(c.get("/security").await.status(), 200);

    // Only /metrics, and not on the app's own port.
    assert_eq!(c.get("/metrics").await.status(), 404);
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            })
            .sum()
    };
    // The recorder is the process's: other tests in this binary may add to the counts.
    assert!(
        value("tessera_sign_ins_total", &[("outcome", "ok")]) >= 2.0,
        "{text}"
    );
    assert!(
        value("tessera_sign_ins_total", &[("outcome", "refused")]) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "tessera_second_steps_total",
            &[("method", "app"), ("outcome", "refused")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "tessera_second_steps_total",
            &[("method", "app"), ("outcome", "ok")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value("tessera_argon2_queue_wait_seconds_count", &[]) >= 3.0,
        "{text}"
    );
    assert!(
        value(
            "tessera_http_request_duration_seconds_count",
            &[("route", "/security"), ("method", "GET"), ("status", "200")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "tessera_http_request_duration_seconds_count",
            &[("route", "/api/sign_in"), ("status", "401")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(value("tessera_db_pool_max_connections", &[]), 5.0, "{text}");
    assert!(text.contains("tessera_outbox_backlog"), "{text}");
    assert!(
        text.contains("tessera_db_pool_connections{state=\"in_use\"}"),
        "{text}"
    );
    for private in [STAFF, &person.email, "127.0.0.1", "passphrase"] {
        assert!(!text.contains(private), "{private} in the metrics");
    }
    app.stop().await;
}
