//! Kill -9 during state changes. The real `tessera` binary runs as a child process on a
//! SQLite file (or, in the suite's PostgreSQL pass, a PostgreSQL database); requests that change state (new backup codes, a backup-code sign-in) are
//! sent and the process is killed at a random moment while they run. After each kill the
//! database must hold one whole state: each change's rows, its audit record, its mail and
//! the session it grants together, or none of them.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::factors::totp;
use common::{free_port, session_cookie, STAFF, STAFF_PASSWORD};
use serde_json::{json, Value};
use sqlx::Connection as _;

/// The running binary; killed when dropped too, so a failing assertion leaves no process
/// behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the binary keeps its state: a data folder, and the database in it (SQLite) or
/// on the suite's PostgreSQL server, with the key every start shares.
struct Place {
    dir: tempfile::TempDir,
    url: String,
    key: String,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let url = common::postgres::database_from_env()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("tessera.db").display()));
        let key = tessera_core::secret_box::ServerKey::generate().to_base64();
        Place { dir, url, key }
    }
}

/// The binary, started on `place` and `port`.
fn start(place: &Place, port: u16) -> Server {
    let dir = place.dir.path();
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--demo"])
        .env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_DATABASE_URL", &place.url)
        .env("TESSERA_SECRET_KEY", &place.key)
        .env("TESSERA_LEPTOS_CONFIG", "../Leptos.toml")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tessera binary starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = Server(child);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// SIGKILL: no shutdown code runs.
fn kill(server: Server) {
    drop(server);
}

/// Calls a server function: status (0 if the process died first), body, new session id.
async fn call(
    port: u16,
    session: Option<&str>,
    name: &str,
    args: Value,
) -> (u16, Value, Option<String>) {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/{name}"))
        .header("origin", format!("http://localhost:{port}"))
        .header("content-type", "application/json")
        .body(args.to_string());
    if let Some(id) = session {
        req = req.header("cookie", format!("tessera_session={id}"));
    }
    let Ok(res) = req.send().await else {
        return (0, Value::Null, None);
    };
    let status = res.status().as_u16();
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, session_cookie(&set))
}

async fn sign_in(port: u16) -> String {
    let args = json!({"email": STAFF, "password": STAFF_PASSWORD, "remember": false});
    let (status, body, session) = call(port, None, "sign_in", args).await;
    assert_eq!(status, 200, "{body}");
    session.expect("a session cookie")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// Kill delays from a small generator, seeded from the clock and printed.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn count(db: &mut sqlx::AnyConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// What must agree after any crash: what one transaction writes together. (The demo's
/// crowd has codes of its own; the counts of codes are the staff member's.) Returns how
/// many sets of codes were made and how many codes were used, so far.
async fn assert_whole(place: &Place) -> (i64, i64) {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&place.url).await.unwrap();
    assert_eq!(
        count(&mut db, "SELECT COUNT(*) FROM backup_codes WHERE user_id = (SELECT id FROM users WHERE email = 'nurse.jones@riverside.example')").await,
        10,
        "one whole set of codes, never none or two"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'backup_codes_regenerated'"
        )
        .await,
        count(
            &mut db,
            "SELECT COUNT(*) FROM outbox WHERE subject LIKE 'New backup codes were created%'"
        )
        .await,
        "each new set has its audit record and its mail"
    );
    let used = count(
        &mut db,
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'backup_code_used'",
    )
    .await;
    assert_eq!(
        used,
        count(
            &mut db,
            "SELECT COUNT(*) FROM outbox WHERE subject LIKE 'A backup code was used%'"
        )
        .await,
        "each use has its mail"
    );
    assert_eq!(
        count(&mut db, "SELECT COUNT(*) FROM backup_codes WHERE used_at IS NOT NULL \
            AND user_id = (SELECT id FROM users WHERE email = 'nurse.jones@riverside.example')").await,
        count(&mut db,
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'backup_code_used' AND id > \
             (SELECT MAX(id) FROM audit_log WHERE kind IN ('backup_codes_regenerated', 'authenticator_added'))"
        )
        .await,
        "a code of the current set is spent exactly when its use was recorded"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM sessions WHERE state = 'full'"
        )
        .await,
        used + 1,
        "a full session for each spent code (and the one that set things up), never one without"
    );
    let made = count(
        &mut db,
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'backup_codes_regenerated'",
    )
    .await;
    db.close().await.unwrap();
    (made, used)
}

#[tokio::test]
async fn killed_mid_change_the_database_holds_one_whole_state() {
    let place = Place::new();
    let port = free_port();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("kill delays seeded with {seed}");
    let mut delays = Delays(seed);

    // Set up an authenticator app: the first factor issues ten codes.
    let mut server = start(&place, port);
    let full = sign_in(port).await;
    let (_, setup, _) = call(
        port,
        Some(&full),
        "begin_authenticator",
        json!({"password": STAFF_PASSWORD}),
    )
    .await;
    let key = setup["key_grouped"].as_str().unwrap().to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = totp(&key, now);
    let (status, added, _) = call(
        port,
        Some(&full),
        "confirm_authenticator",
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_whole(&place).await;

    // How long each change takes when left alone, so the kills can be aimed at its end,
    // where the transaction runs.
    let started = Instant::now();
    let args = json!({"password": STAFF_PASSWORD});
    let (status, body, _) = call(port, Some(&full), "regenerate_backup_codes", args).await;
    assert_eq!(status, 200);
    let regenerate_ms = started.elapsed().as_millis() as u64;
    let mut unused = strings(&body);
    let half = sign_in(port).await;
    let started = Instant::now();
    let args = json!({"method": "backup_code", "code": unused.remove(0)});
    assert_eq!(call(port, Some(&half), "second_step", args).await.0, 200);
    let redeem_ms = started.elapsed().as_millis() as u64;
    println!("undisturbed: new codes {regenerate_ms} ms, backup-code sign-in {redeem_ms} ms");
    let (mut made, mut used) = assert_whole(&place).await;

    let (mut committed, mut not_committed) = (0, 0);
    for round in 0..8 {
        // New codes (ten hashes: a wide window), killed at a random moment.
        let delay = regenerate_ms / 2 + delays.next_ms(regenerate_ms * 2 + 1);
        let regenerate = tokio::spawn({
            let full = full.clone();
            async move {
                let args = json!({"password": STAFF_PASSWORD});
                call(port, Some(&full), "regenerate_backup_codes", args).await
            }
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(server);
        let (status, body, _) = regenerate.await.unwrap();
        let done = assert_whole(&place).await.0 > made;
        println!("round {round}: new codes, killed after {delay} ms, answered {status}, committed: {done}");
        server = start(&place, port);
        if status == 200 {
            unused = strings(&body);
        } else if done || unused.len() < 3 {
            // Made, but the answer was lost with the process (or running low): the codes in
            // hand are dead either way, so get a set we know, undisturbed.
            let args = json!({"password": STAFF_PASSWORD});
            let (status, body, _) = call(port, Some(&full), "regenerate_backup_codes", args).await;
            assert_eq!(status, 200, "{body}");
            unused = strings(&body);
        }

        // A sign-in with a backup code, killed at a random moment.
        let half = sign_in(port).await;
        let code = unused.remove(0);
        let delay = redeem_ms / 2 + delays.next_ms(redeem_ms * 2 + 1);
        let redeem = tokio::spawn(async move {
            let args = json!({"method": "backup_code", "code": code});
            call(port, Some(&half), "second_step", args).await
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(server);
        let (status, _, _) = redeem.await.unwrap();
        let done = assert_whole(&place).await.1 > used;
        if done {
            committed += 1
        } else {
            not_committed += 1
        }
        println!("round {round}: backup-code sign-in, killed after {delay} ms, answered {status}, committed: {done}");
        server = start(&place, port);

        // After the crash an unused code still signs in (which also clears the failure
        // counted for a sign-in that died before it finished).
        let half = sign_in(port).await;
        let args = json!({"method": "backup_code", "code": unused.remove(0)});
        let (status, body, _) = call(port, Some(&half), "second_step", args).await;
        assert_eq!(status, 200, "a code still works after the crash: {body}");
        (made, used) = assert_whole(&place).await;
    }
    println!("backup-code sign-ins killed: {committed} had committed, {not_committed} had not");
    kill(server);
}
