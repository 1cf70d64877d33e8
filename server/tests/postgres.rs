//! What only PostgreSQL can show: the database going away under traffic and coming back,
//! and several instances sharing one database. Each test starts its own throwaway cluster
//! (see `common/postgres.rs`), so this file runs in the SQLite pass of the suite only.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::postgres::Cluster;
use common::*;

/// Whether this run is the suite's PostgreSQL pass (these tests ran in the first).
fn second_pass() -> bool {
    std::env::var_os("TESSERA_TEST_POSTGRES").is_some()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap()
}

/// The database stops in the middle of sign-ins: every answer is a success or a plain
/// 503 (nobody is let in without it, a signed-in person is not waved through), and when
/// it is back the same process serves again. Every sign-in that was answered 200 is in the
/// database with its audit record; none is half there.
#[tokio::test]
async fn the_database_stopping_mid_traffic_fails_closed_and_service_resumes() {
    if second_pass() {
        return;
    }
    let cluster = Cluster::start().unwrap();
    let app = TestApp::demo_on_postgres(cluster.create_database().unwrap()).await;
    let signed_in = app.client();
    assert_eq!(signed_in.sign_in(STAFF, STAFF_PASSWORD).await.status, 200);

    // Traffic: sign-ins one after another from several clients until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let clients: Vec<Client> = (0..2000).map(|_| app.client()).collect();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                // A new browser each time (signing in again replaces a browser's session).
                for c in clients {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let a = c.sign_in(OTHER_STAFF, STAFF_PASSWORD).await;
                    answers.push((a.status, session_cookie(&a.set_cookie).is_some()));
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    cluster.pause().unwrap();

    // Down: a new sign-in and a signed-in person's request both get a plain 503.
    let refused = app.client().sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.error(), "unavailable", "{refused:?}");
    assert!(refused.set_cookie.is_empty(), "no session handed out");
    let me = signed_in.me().await;
    assert_eq!(
        me.status, 503,
        "not waved through on a session it cannot check: {me:?}"
    );
    assert_eq!(app.client().get("/readyz").await.status(), 503);

    cluster.resume().unwrap();
    let back = Instant::now();
    loop {
        if signed_in.me().await.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "service did not resume"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("serving again {:?} after the database", back.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = Vec::new();
    for t in traffic {
        answers.extend(t.await.unwrap());
    }
    let ok = answers.iter().filter(|(s, _)| *s == 200).count() as i64;
    let unavailable = answers.iter().filter(|(s, _)| *s == 503).count();
    println!(
        "{} sign-ins: {ok} answered 200, {unavailable} answered 503",
        answers.len()
    );
    assert!(
        answers
            .iter()
            .all(|(s, cookie)| (*s == 200 && *cookie) || (*s == 503 && !*cookie)),
        "only successes with a session and plain 503s without: {answers:?}"
    );
    assert!(unavailable > 0, "the outage was seen");
    assert!(ok > 0, "sign-ins went through before and after");

    // Whole: one session and one audit record per sign-in that committed, and every 200
    // among them. (A sign-in cut off after its commit may have answered 503.)
    let sessions = count(
        &app,
        "SELECT COUNT(*) FROM sessions WHERE user_id = \
         (SELECT id FROM users WHERE email = 'dr.patel@riverside.example')",
    )
    .await;
    let audited = count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE kind = 'sign_in_succeeded' \
         AND subject = 'dr.patel@riverside.example'",
    )
    .await;
    assert_eq!(
        sessions, audited,
        "a session and its audit record, or neither"
    );
    assert!(
        sessions >= ok,
        "{sessions} sessions for {ok} answered sign-ins"
    );
    assert_eq!(
        app.running()
            .tessera
            .verify_audit(None)
            .await
            .unwrap()
            .broken,
        None
    );
    app.stop().await;
}
