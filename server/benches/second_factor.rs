//! Second-factor throughput: `cargo xtask bench` (or `cargo bench -p server --bench second_factor`).
//!
//! Starts the real server (release build, production argon2 cost, SQLite in a temp folder)
//! on 127.0.0.1 and measures the second step of sign-in over HTTP — an authenticator-app
//! code, a passkey (challenge + signed assertion: two requests) and a backup code — at 1, 8
//! and 64 concurrent clients, beside a no-op authenticated request (`me`) in the same run.
//!
//! Every measured verification succeeds and turns a fresh half session (a correct password,
//! made untimed before the storm) into a full one, so each includes the session rotation,
//! the audit record and the counters it writes. The server's clock is held still and moved
//! 90 s between rounds: each account's app then accepts exactly three codes per round (the
//! steps -1, 0, +1), each once, as in real use. Prints numbers; asserts only that every
//! verification succeeded.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/factors.rs"]
mod factors;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use support::{free_port, ms, percentile};
use tessera_core::accounts::Role;
use tessera_core::{Clock, ManualClock};
use tessera_server::config::ServerConfig;
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

const ACCOUNTS: usize = 128;
const CLIENTS: [usize; 3] = [1, 8, 64];
const NOOP_STORM: Duration = Duration::from_secs(3);
const PASSWORD: &str = "benchmark passphrase 2026";

/// One benchmark account and the devices its owner holds.
struct Account {
    email: String,
    app_key: String,
    backup_codes: Vec<String>,
    passkey: SoftPasskey,
    /// A full session, for the no-op request.
    full_session: String,
}

#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
    origin: Url,
}

impl Http {
    /// Calls a server function with `session` as the cookie; returns status, body and the
    /// new session cookie if one was set.
    async fn call(
        &self,
        session: Option<&str>,
        name: &str,
        args: Value,
    ) -> (u16, Value, Option<String>) {
        let mut req = self
            .client
            .post(format!("{}/api/{name}", self.base))
            .header("content-type", "application/json")
            .body(args.to_string());
        if let Some(cookie) = session {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| !pair.ends_with('='))
            .map(str::to_string);
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body, cookie)
    }

    async fn sign_in(&self, email: &str) -> String {
        let (status, body, cookie) = self
            .call(
                None,
                "sign_in",
                json!({"email": email, "password": PASSWORD, "remember": false}),
            )
            .await;
        assert_eq!(status, 200, "sign-in failed: {body}");
        cookie.expect("sign-in sets the session cookie")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Noop,
    App,
    Passkey,
    BackupCode,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Noop => "no-op (me)",
            Method::App => "authenticator app",
            Method::Passkey => "passkey",
            Method::BackupCode => "backup code",
        }
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let clock = Arc::new(ManualClock::starting_now());
    let config = ServerConfig::loopback(dir.path(), port, true).unwrap();
    let running = tessera_server::start(config, clock.clone()).await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "origin",
        format!("http://localhost:{port}").parse().unwrap(),
    );
    let http = Http {
        client: reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(128)
            .build()
            .unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        origin: Url::parse(&format!("http://localhost:{port}")).unwrap(),
    };
    println!(
        "Tessera second-factor benchmark — {cores} cores, SQLite, argon2id m=19456 KiB t=2 p=1, {ACCOUNTS} accounts"
    );

    let started = Instant::now();
    print!(
        "setting up {ACCOUNTS} accounts (password, authenticator app, passkey, 10 backup codes)… "
    );
    let tessera = &running.tessera;
    let mut accounts: Vec<Account> = stream::iter(0..ACCOUNTS)
        .map(|i| {
            let http = http.clone();
            let clock = clock.clone();
            async move {
                let email = format!("bench{i}@riverside.example");
                tessera
                    .create_user(None, &email, "Bench", Role::Staff, Some(PASSWORD))
                    .await
                    .unwrap();
                enrol(&http, &clock, email).await
            }
        })
        .buffer_unordered(cores * 2)
        .collect()
        .await;
    println!("{:.1} s", started.elapsed().as_secs_f64());

    println!();
    println!(
        "{:>8}  {:<18} {:>16} {:>10} {:>10} {:>7}",
        "clients", "method", "verifications/s", "p50", "p99", "n"
    );
    for (round, &clients) in CLIENTS.iter().enumerate() {
        clock.advance(90);
        let now = clock.now();
        for method in [
            Method::Noop,
            Method::App,
            Method::Passkey,
            Method::BackupCode,
        ] {
            // Each client owns the accounts i ≡ client (mod clients), so one account's
            // codes and passkey counter are used in order, as by one person.
            let mut owned: Vec<Vec<Account>> = (0..clients).map(|_| Vec::new()).collect();
            for (i, account) in accounts.drain(..).enumerate() {
                owned[i % clients].push(account);
            }
            let uses_per_account = match method {
                Method::Noop => 0,
                Method::App | Method::Passkey => 3,
                Method::BackupCode => 1,
            };
            let halves = half_sessions(&http, &owned, uses_per_account, cores * 2).await;
            let storm_started = Instant::now();
            let tasks: Vec<_> = owned
                .into_iter()
                .zip(halves)
                .map(|(mine, halves)| {
                    let http = http.clone();
                    tokio::spawn(storm(http, method, mine, halves, now, round))
                })
                .collect();
            let mut latencies = Vec::new();
            for task in tasks {
                let (mine, times) = task.await.unwrap();
                accounts.extend(mine);
                latencies.extend(times);
            }
            let elapsed = storm_started.elapsed().as_secs_f64();
            latencies.sort();
            println!(
                "{:>8}  {:<18} {:>16.1} {:>8.1}ms {:>8.1}ms {:>7}",
                clients,
                method.label(),
                latencies.len() as f64 / elapsed,
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0)),
                latencies.len(),
            );
        }
    }
    running.stop().await;
}

/// Turns on two-step authentication for `email` the way a person does: sign in, add an
/// authenticator app (confirming a code), then a passkey.
async fn enrol(http: &Http, clock: &ManualClock, email: String) -> Account {
    let session = http.sign_in(&email).await;
    let (status, setup, _) = http
        .call(
            Some(&session),
            "begin_authenticator",
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    let app_key = setup["key_grouped"].as_str().unwrap().to_string();
    let code = factors::totp(&app_key, clock.now());
    let (status, added, rotated) = http
        .call(
            Some(&session),
            "confirm_authenticator",
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let session = rotated.unwrap_or(session);
    let backup_codes = added["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let (status, begin, _) = http
        .call(
            Some(&session),
            "begin_passkey_registration",
            json!({"name": "Bench key", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{begin}");
    let options: CreationChallengeResponse =
        serde_json::from_value(begin["options"].clone()).unwrap();
    let mut passkey = SoftPasskey::new(true);
    let credential = factors::soft_register(&mut passkey, http.origin.clone(), options, false);
    let (status, body, _) = http
        .call(
            Some(&session),
            "finish_passkey_registration",
            json!({"ceremony": begin["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Account {
        email,
        app_key,
        backup_codes,
        passkey,
        full_session: session,
    }
}

/// `uses` half sessions (a correct password, second factor owed) per account, per client.
async fn half_sessions(
    http: &Http,
    owned: &[Vec<Account>],
    uses: usize,
    parallel: usize,
) -> Vec<Vec<String>> {
    let mut out = Vec::with_capacity(owned.len());
    for mine in owned {
        let emails: Vec<&str> = mine
            .iter()
            .flat_map(|a| std::iter::repeat_n(a.email.as_str(), uses))
            .collect();
        let sessions: Vec<String> = stream::iter(emails)
            .map(|email| http.sign_in(email))
            .buffered(parallel)
            .collect()
            .await;
        out.push(sessions);
    }
    out
}

/// One client's storm: every verification it owes, in order; returns the accounts (with
/// their passkeys' counters moved on) and each verification's latency.
async fn storm(
    http: Http,
    method: Method,
    mut mine: Vec<Account>,
    halves: Vec<String>,
    now: i64,
    round: usize,
) -> (Vec<Account>, Vec<Duration>) {
    let mut latencies = Vec::new();
    if method == Method::Noop {
        let Some(session) = mine.first().map(|a| a.full_session.clone()) else {
            return (mine, latencies);
        };
        let until = Instant::now() + NOOP_STORM;
        while Instant::now() < until {
            let started = Instant::now();
            let (status, body, _) = http.call(Some(&session), "me", json!({})).await;
            assert_eq!(status, 200, "{body}");
            latencies.push(started.elapsed());
        }
        return (mine, latencies);
    }
    let mut halves = halves.into_iter();
    for account in &mut mine {
        let uses: Vec<i64> = match method {
            Method::App | Method::Passkey => vec![-30, 0, 30],
            _ => vec![0],
        };
        for offset in uses {
            let session = halves.next().expect("a half session per use");
            let started = Instant::now();
            let (status, body, _) = match method {
                Method::App => {
                    let code = factors::totp(&account.app_key, now + offset);
                    let args = json!({"method": "authenticator", "code": code});
                    http.call(Some(&session), "second_step", args).await
                }
                Method::BackupCode => {
                    let args =
                        json!({"method": "backup_code", "code": account.backup_codes[round]});
                    http.call(Some(&session), "second_step", args).await
                }
                Method::Passkey => {
                    let (status, begin, _) = http
                        .call(Some(&session), "begin_passkey_sign_in", json!({}))
                        .await;
                    assert_eq!(status, 200, "{begin}");
                    let options: RequestChallengeResponse =
                        serde_json::from_value(begin["options"].clone()).unwrap();
                    let credential = account
                        .passkey
                        .do_authentication(http.origin.clone(), options)
                        .expect("the soft passkey signs");
                    let args = json!({"ceremony": begin["ceremony"], "credential": credential});
                    http.call(Some(&session), "second_step_passkey", args).await
                }
                Method::Noop => unreachable!(),
            };
            assert_eq!(
                status,
                200,
                "{} failed for {}: {body}",
                method.label(),
                account.email
            );
            latencies.push(started.elapsed());
        }
    }
    (mine, latencies)
}
