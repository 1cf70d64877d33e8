//! Two instances of the real binary on one PostgreSQL database, Debian's nginx in front
//! with the configuration operators are given (`deploy/nginx/tessera.conf`, with this
//! test's ports and a throwaway certificate put in): the instances act as one portal, and
//! losing one to kill -9 under load loses no answered change and half-applies none.
//!
//! Starts its own PostgreSQL cluster and nginx, so it runs in the suite's SQLite pass only.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::factors::{soft_register, totp};
use common::nginx::start_nginx;
use common::postgres::Cluster;
use common::{free_port, STAFF, STAFF_PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sqlx::Connection as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

const COOKIE: &str = "__Host-tessera_session";

/// One `tessera serve` process; killed (SIGKILL) when dropped.
struct Instance {
    child: Child,
    port: u16,
    metrics: u16,
    dir: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every instance shares: the database, the key, the public address.
#[derive(Clone)]
struct Shared {
    url: String,
    key: String,
    public: String,
}

impl Shared {
    fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.env("TESSERA_DATA_DIR", dir)
            .env("TESSERA_DATABASE_URL", &self.url)
            .env("TESSERA_SECRET_KEY", &self.key)
            .env("TESSERA_PUBLIC_URL", &self.public)
            .env("TESSERA_TRUST_FORWARDED_FOR", "true")
            .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
            .env("LEPTOS_SITE_ROOT", dir.join("site"))
            .env("RUST_LOG", "error");
        c
    }

    fn spawn(&self) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let (port, metrics) = (free_port(), free_port());
        let child = self
            .command(dir.path())
            .args(["serve", "--demo"])
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("TESSERA_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Instance {
            child,
            port,
            metrics,
            dir,
        }
    }

    /// The operator's command line against the shared database.
    fn cli(&self, args: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = self.command(dir.path()).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        text
    }
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A browser: its own session cookie, sent to whichever instance (or nginx) it is told.
#[derive(Clone)]
struct Browser {
    http: reqwest::Client,
    origin: String,
    cookie: Arc<Mutex<Option<String>>>,
}

impl Browser {
    fn new(shared: &Shared, nginx_port: u16) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .resolve("localhost", ([127, 0, 0, 1], nginx_port).into())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            origin: shared.public.clone(),
            cookie: Arc::default(),
        }
    }

    /// Calls server function `name` at `base` (`https://localhost:…` for nginx, or an
    /// instance's `http://127.0.0.1:…`): status and body; 0 when the connection failed.
    async fn call(&self, base: &str, name: &str, args: Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{base}/api/{name}"))
            .header("origin", &self.origin)
            .header("content-type", "application/json")
            .body(args.to_string());
        if let Some(c) = self.cookie.lock().unwrap().clone() {
            req = req.header("cookie", format!("{COOKIE}={c}"));
        }
        let Ok(res) = req.send().await else {
            return (0, Value::Null);
        };
        let status = res.status().as_u16();
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            if let Some(rest) = v.strip_prefix(&format!("{COOKIE}=")) {
                let value = rest.split(';').next().unwrap().to_string();
                *self.cookie.lock().unwrap() = (!value.is_empty()).then_some(value);
            }
        }
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn sign_in(&self, base: &str, email: &str) -> (u16, Value) {
        self.call(
            base,
            "sign_in",
            json!({"email": email, "password": STAFF_PASSWORD, "remember": false}),
        )
        .await
    }
}

fn direct(i: &Instance) -> String {
    format!("http://127.0.0.1:{}", i.port)
}

/// `name{labels}` summed over the instance's scrape (0 when absent).
async fn metric(i: &Instance, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", i.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => *v,
            _ => 0.0,
        })
        .sum()
}

async fn scalar(db: &mut sqlx::AnyConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_instances_behind_nginx_act_as_one_and_survive_losing_one() {
    if std::env::var_os("TESSERA_TEST_POSTGRES").is_some() {
        return; // ran in the SQLite pass, on a cluster of its own
    }
    sqlx::any::install_default_drivers();
    let cluster = Cluster::start().unwrap();
    let nginx_port = free_port();
    let shared = Shared {
        url: cluster.create_database().unwrap(),
        key: tessera_core::secret_box::ServerKey::generate().to_base64(),
        public: format!("https://localhost:{nginx_port}"),
    };
    // Both start at once on the empty database: the migrations run once (sqlx holds
    // PostgreSQL's advisory lock), and one of them seeds the demo organisation.
    let a = shared.spawn();
    let b = shared.spawn();
    wait_for(a.port);
    wait_for(b.port);
    let nginx = start_nginx(&[a.port, b.port], nginx_port);
    let front = format!("https://localhost:{}", nginx.port);
    let mut db = sqlx::AnyConnection::connect(&shared.url).await.unwrap();
    assert_eq!(
        scalar(&mut db, "SELECT COUNT(*) FROM organisation").await,
        1
    );
    assert_eq!(
        scalar(
            &mut db,
            "SELECT COUNT(*) FROM users WHERE email = 'nurse.jones@riverside.example'"
        )
        .await,
        1
    );

    // Through nginx: round-robin, so an app's setup begun on one instance is confirmed on
    // the other; both instances answered.
    let nurse = Browser::new(&shared, nginx.port);
    assert_eq!(nurse.sign_in(&front, STAFF).await.0, 200);
    let (status, setup) = nurse
        .call(
            &front,
            "begin_authenticator",
            json!({"password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    let key = setup["key_grouped"].as_str().unwrap().to_string();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let (status, added) = nurse
        .call(
            &front,
            "confirm_authenticator",
            json!({"code": totp(&key, now())}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    for _ in 0..4 {
        assert_eq!(nurse.call(&front, "me", json!({})).await.0, 200);
    }
    for i in [&a, &b] {
        let served = metric(
            i,
            "tessera_http_request_duration_seconds_count",
            &[("route", "/api/me")],
        )
        .await;
        assert!(served >= 1.0, "each instance served some of the requests");
    }

    // Sign in through A, the second step through B (the next app code: each is good once).
    let half = Browser::new(&shared, nginx.port);
    assert_eq!(half.sign_in(&direct(&a), STAFF).await.0, 200);
    let next_step = (now() / 30 + 1) * 30;
    tokio::time::sleep(Duration::from_secs((next_step - now()).max(0) as u64 + 1)).await;
    let (status, body) = half
        .call(
            &direct(&b),
            "second_step",
            json!({"method": "authenticator", "code": totp(&key, now())}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(half.call(&direct(&a), "me", json!({})).await.0, 200);

    // A passkey: registration begun on A, finished on B; then a sign-in whose ceremony is
    // begun on B and finished on A.
    let origin = url::Url::parse(&shared.public).unwrap();
    let mut passkey = SoftPasskey::new(true);
    let (status, begin) = half
        .call(
            &direct(&a),
            "begin_passkey_registration",
            json!({"name": "Desk key", "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{begin}");
    let options = serde_json::from_value(begin["options"].clone()).unwrap();
    let credential = soft_register(&mut passkey, origin.clone(), options, false);
    let (status, body) = half
        .call(
            &direct(&b),
            "finish_passkey_registration",
            json!({"ceremony": begin["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let again = Browser::new(&shared, nginx.port);
    assert_eq!(again.sign_in(&direct(&a), STAFF).await.0, 200);
    let (status, begin) = again
        .call(&direct(&b), "begin_passkey_sign_in", json!({}))
        .await;
    assert_eq!(status, 200, "{begin}");
    let options = serde_json::from_value(begin["options"].clone()).unwrap();
    let credential = passkey.do_authentication(origin, options).unwrap();
    let (status, body) = again
        .call(
            &direct(&a),
            "second_step_passkey",
            json!({"ceremony": begin["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Failed passwords count on both: four wrong ones, alternating, make one count of four
    // (the fifth attempt then waits a second, whichever instance it reaches).
    let guesser = Browser::new(&shared, nginx.port);
    for i in [&a, &b, &a, &b] {
        let (status, _) = guesser
            .call(
                &direct(i),
                "sign_in",
                json!({"email": "reception@riverside.example", "password": "wrong guess", "remember": false}),
            )
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        scalar(
            &mut db,
            "SELECT failures FROM throttle WHERE scope = 'password_account' \
             AND key = 'reception@riverside.example'"
        )
        .await,
        4,
        "one count, fed by both instances"
    );

    // Mail: forty invitations at once, and both instances' outbox workers drain the same
    // queue. Every message is sent once, by one of them.
    let csv = tempfile::NamedTempFile::new().unwrap();
    let rows: String = (0..40)
        .map(|i| format!("invitee{i}@riverside.example,Invitee {i},staff\n"))
        .collect();
    std::fs::write(csv.path(), rows).unwrap();
    shared.cli(&["user", "import", &csv.path().display().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(&mut db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await > 0 {
        assert!(Instant::now() < deadline, "the outbox drained");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let files: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|i| {
            std::fs::read_dir(i.dir.path().join("outbox"))
                .into_iter()
                .flatten()
        })
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let sent = scalar(
        &mut db,
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL",
    )
    .await;
    assert_eq!(files.len() as i64, sent, "one file per message sent");
    for i in 0..40 {
        let to = format!("To: invitee{i}@riverside.example");
        assert_eq!(
            files.iter().filter(|f| f.contains(&to)).count(),
            1,
            "{to} got exactly one mail"
        );
    }

    // Kill -9 one instance under load. Sign-ins through nginx (each a new browser, as
    // someone of the demo's crowd): those in flight on the dying instance may fail (502),
    // the other keeps serving, and every sign-in answered 200 is in the database, whole.
    let crowd: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM users WHERE role = 'staff' AND active = 1 AND two_factor_enabled = 0 \
         AND password_hash IS NOT NULL AND email LIKE '%.%@riverside.example' \
         AND email NOT LIKE 'invitee%' ORDER BY email LIMIT 12",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(crowd.len(), 12);
    let started = Instant::now();
    let load: Vec<_> = crowd
        .iter()
        .cloned()
        .map(|email| {
            let (shared, front) = (shared.clone(), front.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while started.elapsed() < Duration::from_secs(5) {
                    let browser = Browser::new(&shared, nginx_port);
                    let (status, _) = browser.sign_in(&front, &email).await;
                    let cookie = browser.cookie.lock().unwrap().clone();
                    answers.push((started.elapsed(), status, cookie));
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = started.elapsed();
    drop(a); // SIGKILL
    let mut answers = Vec::new();
    for task in load {
        answers.extend(task.await.unwrap());
    }
    let ok: Vec<&String> = answers
        .iter()
        .filter(|(_, s, _)| *s == 200)
        .filter_map(|(_, _, c)| c.as_ref())
        .collect();
    let failed = answers.iter().filter(|(_, s, _)| *s != 200).count();
    let after = answers
        .iter()
        .filter(|(at, s, _)| *at > killed_at + Duration::from_secs(1) && *s == 200)
        .count();
    println!(
        "{} sign-ins under load: {} answered 200, {failed} failed; {after} succeeded a second or more after the kill",
        answers.len(),
        ok.len()
    );
    assert!(
        answers.iter().all(|(_, s, _)| *s == 200 || *s == 502),
        "a success or nginx's 502: {:?}",
        answers.iter().map(|(_, s, _)| *s).collect::<Vec<_>>()
    );
    assert!(after > 0, "the other instance kept serving");
    assert_eq!(
        half.call(&direct(&b), "me", json!({})).await.0,
        200,
        "sessions live on in the database"
    );
    for cookie in &ok {
        let hash = hex::encode(Sha256::digest(cookie.as_bytes()));
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = $1")
            .bind(hash)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(found, 1, "an answered sign-in's session is in the database");
    }
    let list = crowd
        .iter()
        .map(|e| format!("'{e}'"))
        .collect::<Vec<_>>()
        .join(",");
    let sessions = scalar(
        &mut db,
        &format!(
            "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email IN ({list})"
        ),
    )
    .await;
    let audited = scalar(
        &mut db,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'sign_in_succeeded' AND subject IN ({list})"
        ),
    )
    .await;
    assert_eq!(
        sessions, audited,
        "each sign-in whole: its session and its record"
    );
    assert!(sessions >= ok.len() as i64);
    drop(b);
    drop(nginx);
    drop(cluster);
}
