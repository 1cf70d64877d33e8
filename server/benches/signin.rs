//! Sign-in throughput: `cargo xtask bench` (or `cargo bench -p server --bench signin`).
//!
//! Starts the real server (release build, production argon2 cost, SQLite in a temp
//! folder) on 127.0.0.1 and drives sign-ins over HTTP at 1, 2, 8 and 32 concurrent
//! clients, each with its own account. Beside it, in the same run, the raw argon2 hash
//! rate on this machine: the ratio of the two is the figure that matters (how much of
//! the hash budget the rest of the request costs). During each storm a probe loads the
//! sign-in page and reports its p50/p99 latency. Prints numbers; asserts nothing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{free_port, ms, percentile, raw_hash_rate};
use tessera_core::accounts::Role;
use tessera_core::SystemClock;
use tessera_server::config::ServerConfig;

const STORM: Duration = Duration::from_secs(6);
const PASSWORD: &str = "benchmark passphrase 2026";

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut config = ServerConfig::loopback(dir.path(), port, true).unwrap();
    config.core.max_concurrent_hashes = cores * 2;
    // Each client signs in from its own address (X-Forwarded-For, as behind a proxy), as
    // real staff would; one address gets only a few password checks at once.
    config.web.trust_forwarded_for = true;
    let running = tessera_server::start(config, Arc::new(SystemClock))
        .await
        .unwrap();
    println!("Tessera sign-in benchmark — {cores} cores, argon2id m=19456 KiB t=2 p=1, SQLite");
    for i in 0..32 {
        running
            .tessera
            .create_user(
                None,
                &format!("bench{i}@riverside.example"),
                "Bench",
                Role::Staff,
                Some(PASSWORD),
            )
            .await
            .unwrap();
    }

    let hash_rate = raw_hash_rate(cores * 2).await;
    println!(
        "raw argon2id hashes/s ({} at once): {hash_rate:.1}",
        cores * 2
    );
    println!();
    println!(
        "{:>8} {:>12} {:>14} {:>12} {:>12} {:>12}",
        "clients", "sign-ins/s", "vs raw hash", "p50 sign-in", "p99 page", "p50 page"
    );
    let base = format!("http://127.0.0.1:{port}");
    for clients in [1usize, 2, 8, 32] {
        let stop_at = Instant::now() + STORM;
        let mut tasks = Vec::new();
        for i in 0..clients {
            let base = base.clone();
            tasks.push(tokio::spawn(async move {
                let http = client(&base, port);
                let from = format!("10.0.{}.{}", i / 250, i % 250 + 1);
                let mut latencies = Vec::new();
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    let res = http
                        .post(format!("{base}/api/sign_in"))
                        .header("content-type", "application/json")
                        .header("x-forwarded-for", &from)
                        .body(json!({"email": format!("bench{i}@riverside.example"), "password": PASSWORD, "remember": false}).to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200, "sign-in failed during the benchmark");
                    latencies.push(started.elapsed());
                }
                latencies
            }));
        }
        let probe = {
            let base = base.clone();
            tokio::spawn(async move {
                let http = client(&base, port);
                let mut latencies = Vec::new();
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    let res = http.get(format!("{base}/signin")).send().await.unwrap();
                    let _ = res.bytes().await;
                    latencies.push(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                latencies
            })
        };
        let mut signins = Vec::new();
        for t in tasks {
            signins.extend(t.await.unwrap());
        }
        let mut page = probe.await.unwrap();
        let rate = signins.len() as f64 / STORM.as_secs_f64();
        signins.sort();
        page.sort();
        println!(
            "{:>8} {:>12.1} {:>13.0}% {:>10.0}ms {:>10.1}ms {:>10.1}ms",
            clients,
            rate,
            100.0 * rate / hash_rate,
            ms(percentile(&signins, 50.0)),
            ms(percentile(&page, 99.0)),
            ms(percentile(&page, 50.0)),
        );
    }
    let after = raw_hash_rate(cores * 2).await;
    println!("raw argon2id hashes/s measured again after the storms: {after:.1}");
    running.stop().await;
}

fn client(_base: &str, port: u16) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "origin",
        format!("http://localhost:{port}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}
