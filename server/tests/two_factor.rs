//! Second factors over HTTP: the authenticator app (codes computed here by an independent
//! RFC 6238 implementation, not the server's library), backup codes, the second step, the
//! setup wizard, and the rules that make them safe under concurrency and restarts.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::factors::totp;
use common::*;
use serde_json::json;

/// Turns on 2FA for `email` with an authenticator app; returns the key and the codes.
async fn enrol(app: &TestApp, email: &str, password: &str) -> (String, Vec<String>) {
    let (_, key, codes) = enrol_with_client(app, email, password).await;
    (key, codes)
}

/// The same, also returning the (fully signed-in) client that did it.
async fn enrol_with_client(
    app: &TestApp,
    email: &str,
    password: &str,
) -> (Client, String, Vec<String>) {
    let c = app.client();
    assert_eq!(c.sign_in(email, password).await.status, 200);
    let setup = c
        .call("begin_authenticator", json!({"password": password}))
        .await;
    assert_eq!(setup.status, 200, "{setup:?}");
    assert!(setup.body["qr_data_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let key = setup.body["key_grouped"].as_str().unwrap().to_string();
    let now = app.clock_now();
    let added = c
        .call("confirm_authenticator", json!({"code": totp(&key, now)}))
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let codes: Vec<String> = added.body["backup_codes"]
        .as_array()
        .expect("the first factor issues backup codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (c, key, codes)
}

/// Signs in with the password only: a half session.
async fn half(app: &TestApp, email: &str, password: &str) -> Client {
    let c = app.client();
    let a = c.sign_in(email, password).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["next"], "/signin/verify");
    c
}

async fn second(c: &Client, method: &str, code: &str) -> Answer {
    c.call("second_step", json!({"method": method, "code": code}))
        .await
}

#[tokio::test]
async fn authenticator_app_turns_two_factor_on_and_signs_in() {
    let app = TestApp::demo().await;
    let (key, codes) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.split('-').count() == 4),
        "{codes:?}"
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM backup_codes")
        .fetch_all(app.running().tessera.db().pool())
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h.starts_with("$argon2id$")));
    assert!(
        codes
            .iter()
            .all(|c| stored.iter().all(|h| !h.contains(&c[5..]))),
        "only hashes stored"
    );
    let sealed: String = sqlx::query_scalar("SELECT key_sealed FROM totp_credentials")
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    assert!(
        !sealed.contains(&key.replace(' ', "")),
        "the key is encrypted at rest"
    );

    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(c.me().await.status, 401, "a half session is not signed in");
    // The code that confirmed the app cannot sign in: its step is spent.
    let now = app.clock_now();
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now)).await.status,
        422
    );
    app.advance(30);
    let spaced = {
        let code = totp(&key, app.clock_now());
        format!("{} {}", &code[..3], &code[3..])
    };
    let ok = second(&c, "authenticator", &spaced).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        session_cookie(&ok.set_cookie).is_some(),
        "the session id rotates"
    );
    assert_eq!(c.me().await.status, 200);
    app.wait_for_mail(&["An authenticator app was added", STAFF])
        .await;
    app.stop().await;
}

#[tokio::test]
async fn drift_window_and_replay() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    app.advance(120);
    let now = app.clock_now();
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now - 60))
            .await
            .status,
        422,
        "T-2"
    );
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now + 60))
            .await
            .status,
        422,
        "T+2"
    );
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now - 30))
            .await
            .status,
        200,
        "T-1"
    );
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now - 30))
            .await
            .status,
        422,
        "replay"
    );
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now)).await.status,
        200,
        "T after T-1"
    );
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now + 30))
            .await
            .status,
        200,
        "T+1"
    );
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&c, "authenticator", &totp(&key, now)).await.status,
        422,
        "older step after T+1"
    );
    app.stop().await;
}

#[tokio::test]
async fn fifty_parallel_sign_ins_with_one_code_let_exactly_one_in() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    app.advance(60);
    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(half(&app, STAFF, STAFF_PASSWORD).await);
    }
    let code = totp(&key, app.clock_now());
    let answers =
        futures::future::join_all(clients.iter().map(|c| second(c, "authenticator", &code))).await;
    let wins = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(
        wins,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    app.stop().await;
}

#[tokio::test]
async fn backup_codes_work_once_even_in_parallel_and_regenerating_kills_them() {
    let app = TestApp::demo().await;
    let (_, codes) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(half(&app, STAFF, STAFF_PASSWORD).await);
    }
    let answers =
        futures::future::join_all(clients.iter().map(|c| second(c, "backup_code", &codes[0])))
            .await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    let winner = clients
        .iter()
        .zip(&answers)
        .find(|(_, a)| a.status == 200)
        .unwrap()
        .0;
    let status = winner.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["backup_codes_left"], 9);
    app.wait_for_mail(&["A backup code was used", "9 unused"])
        .await;

    // Regenerating needs the password, and kills every old code at once.
    let wrong = winner
        .call(
            "regenerate_backup_codes",
            json!({"password": "not it at all"}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let fresh = winner
        .call(
            "regenerate_backup_codes",
            json!({"password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    let fresh: Vec<String> = serde_json::from_value(fresh.body).unwrap();
    assert_eq!(fresh.len(), 10);
    app.advance(31 * 60); // past any delay from the parallel attempts above
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&c, "backup_code", &codes[1]).await.status,
        422,
        "old codes are dead"
    );
    // The race's losers and the dead code were counted as failures: wait out the delay.
    app.advance(60);
    assert_eq!(
        second(&c, "backup_code", &fresh[0].to_lowercase())
            .await
            .status,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn second_step_failures_lock_across_new_sign_ins_and_restarts() {
    let mut app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    for _ in 0..10 {
        // A new sign-in each time: the counter belongs to the account, not the session.
        let c = half(&app, STAFF, STAFF_PASSWORD).await;
        let mut a = second(&c, "authenticator", "000000").await;
        while a.status == 429 {
            app.advance(a.body["retry_after_secs"].as_i64().unwrap());
            a = second(&c, "authenticator", "000000").await;
        }
        assert_eq!(a.status, 422);
    }
    app.wait_for_mail(&["Someone may know your Tessera password", STAFF])
        .await;
    app.wait_for_mail(&["Sign-in to your Tessera account was paused", STAFF])
        .await;
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "account_locked"), "{kinds:?}");
    assert!(
        kinds.iter().any(|k| k == "sign_in_throttled"),
        "held-back attempts are audited: {kinds:?}"
    );
    app.restart().await;
    app.advance(60);
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    let code = totp(&key, app.clock_now());
    assert_eq!(
        second(&c, "authenticator", &code).await.status,
        429,
        "locked after a restart"
    );
    app.advance(15 * 60);
    // The half session has expired meanwhile (it lives 10 minutes): sign in again.
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    let code = totp(&key, app.clock_now());
    assert_eq!(second(&c, "authenticator", &code).await.status, 200);
    app.stop().await;
}

/// A half session (password only) and a setup session (the organisation requires 2FA and
/// the user has none) call every server function the router has registered. What each may
/// reach is written out here by hand — the specification, not the guard's own table — so a
/// new endpoint is covered without editing the test, and a wrong entry in the table fails it.
#[tokio::test]
async fn half_and_setup_sessions_can_call_only_their_own_step() {
    let app = TestApp::demo().await;
    enrol(&app, STAFF, STAFF_PASSWORD).await;
    let half_session = half(&app, STAFF, STAFF_PASSWORD).await;
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let setup = app.client();
    let signed = setup.sign_in(OTHER_STAFF, STAFF_PASSWORD).await;
    assert_eq!(signed.body["next"], "/setup-2fa");

    // Open to anyone: sign-in, first-run setup and the mailed links' pages (they answer
    // 4xx to an empty body).
    let public = [
        "sign_in",
        "waiting_for",
        "setup_status",
        "complete_setup",
        "link_details",
        "accept_invitation",
        "reset_password_with_link",
        "confirm_email_change",
    ];
    let half_may = [
        "second_step",
        "second_step_passkey",
        "begin_passkey_sign_in",
        "second_step_methods",
        "sign_out",
    ];
    let setup_may = [
        "setup_wizard_status",
        "skip_setup",
        "begin_authenticator",
        "confirm_authenticator",
        "begin_passkey_registration",
        "finish_passkey_registration",
        "sign_out",
    ];
    let endpoints = app::ssr::guard::registered_endpoints();
    assert!(endpoints.len() >= 20, "{endpoints:?}");
    for path in &endpoints {
        let name = path.trim_start_matches("/api/");
        if public.contains(&name) || name == "sign_out" {
            continue;
        }
        for (who, client, allowed) in [
            ("half", &half_session, &half_may[..]),
            ("setup", &setup, &setup_may[..]),
        ] {
            let answer = client.call(name, json!({})).await;
            // A half session is not signed in yet (401); a setup session is, but may do
            // nothing else (403).
            let refused = if who == "half" { 401 } else { 403 };
            if allowed.contains(&name) {
                assert_ne!(
                    answer.status, refused,
                    "{path} refused a {who} session: {answer:?}"
                );
            } else {
                assert_eq!(
                    answer.status, refused,
                    "{path} answered {answer:?} to a {who} session"
                );
            }
        }
    }
    assert_eq!(
        half_session.get("/").await.headers()["location"],
        "/signin/verify"
    );
    assert_eq!(setup.get("/").await.headers()["location"], "/setup-2fa");
    app.stop().await;
}

#[tokio::test]
async fn required_two_factor_sends_users_to_the_wizard_and_cannot_be_turned_off() {
    let app = TestApp::demo().await;
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let c = app.client();
    let signed = c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(signed.body["next"], "/setup-2fa");
    assert_eq!(c.me().await.status, 403);
    assert_eq!(c.get("/").await.headers()["location"], "/setup-2fa");
    // The wizard needs no second password: it was just typed.
    let setup = c.call("begin_authenticator", json!({"password": ""})).await;
    assert_eq!(setup.status, 200, "{setup:?}");
    let key = setup.body["key_grouped"].as_str().unwrap().to_string();
    let done = c
        .call(
            "confirm_authenticator",
            json!({"code": totp(&key, app.clock_now())}),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["next"], "/");
    assert!(session_cookie(&done.set_cookie).is_some());
    assert_eq!(c.me().await.status, 200, "setup done: fully signed in");

    let off = c
        .call("disable_two_factor", json!({"password": STAFF_PASSWORD}))
        .await;
    assert_eq!(off.status, 422);
    assert!(off.body["message"].as_str().unwrap().contains("requires"));
    app.stop().await;
}

#[tokio::test]
async fn turning_two_factor_off_needs_the_password_and_removes_everything() {
    let app = TestApp::demo().await;
    let (c, _, _) = enrol_with_client(&app, STAFF, STAFF_PASSWORD).await;
    let wrong = c
        .call("disable_two_factor", json!({"password": "nope nope nope"}))
        .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(
        c.call("two_factor_status", json!({})).await.body["enabled"],
        true
    );
    let off = c
        .call("disable_two_factor", json!({"password": STAFF_PASSWORD}))
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], false);
    assert_eq!(status.body["backup_codes_left"], 0);
    assert_eq!(status.body["authenticator_added"], serde_json::Value::Null);
    let again = app.client().sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(again.body["next"], "/", "no second step any more");
    let kinds = app.audit_kinds().await;
    assert!(
        kinds.contains(&"two_factor_disabled".to_string()),
        "{kinds:?}"
    );
    app.wait_for_mail(&["Two-step authentication was turned off", STAFF])
        .await;
    app.stop().await;
}

/// Junk in the second step: a clear 4xx every time, never a 500, and the server keeps serving.
#[tokio::test]
async fn second_step_junk_gets_a_clear_4xx() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    let mut c = half(&app, STAFF, STAFF_PASSWORD).await;
    let big = "9".repeat(10 * 1024);
    let bodies = [
        json!({"method": "authenticator", "code": ""}).to_string(),
        json!({"method": "authenticator", "code": "12"}).to_string(),
        json!({"method": "authenticator", "code": big}).to_string(),
        json!({"method": "backup_code", "code": "'; DROP TABLE backup_codes; --"}).to_string(),
        json!({"method": "backup_code", "code": "<script>alert(1)</script>"}).to_string(),
        json!({"method": "authenticator", "code": 123456}).to_string(),
        json!({"method": "authenticator", "code": null}).to_string(),
        json!({"method": "authenticator", "code": ["123456"]}).to_string(),
        json!({"method": "sms", "code": "123456"}).to_string(),
        json!({"method": "authenticator", "code": "123456", "user": ADMIN}).to_string(),
        "[]".to_string(),
    ];
    for body in bodies {
        let mut a = c.raw("second_step", body.clone()).await;
        while a.status == 429 || a.status == 401 {
            if a.status == 429 {
                app.advance(a.body["retry_after_secs"].as_i64().unwrap());
            }
            // Waiting out a lock outlives the half session: sign in again.
            c = half(&app, STAFF, STAFF_PASSWORD).await;
            a = c.raw("second_step", body.clone()).await;
        }
        assert!((400..500).contains(&a.status), "{body:.60} → {a:?}");
        assert!(a.body.get("error").is_some(), "{body:.60} → {a:?}");
    }
    // The account is locked by now or close to it; after the lock the right code still works.
    app.advance(24 * 60 * 60);
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    let ok = second(&c, "authenticator", &totp(&key, app.clock_now())).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    app.stop().await;
}

#[tokio::test]
async fn removing_the_authenticator_app_when_it_is_the_last_method_turns_two_factor_off() {
    let app = TestApp::demo().await;
    let (c, _, _) = enrol_with_client(&app, STAFF, STAFF_PASSWORD).await;
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let refused = c
        .call("remove_authenticator", json!({"password": STAFF_PASSWORD}))
        .await;
    assert_eq!(
        refused.status, 422,
        "the last method stays while 2FA is required"
    );
    sqlx::query("UPDATE organisation SET require_two_factor = 0")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let wrong = c
        .call(
            "remove_authenticator",
            json!({"password": "wrong password!"}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let ok = c
        .call("remove_authenticator", json!({"password": STAFF_PASSWORD}))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], false);
    assert_eq!(status.body["authenticator_added"], serde_json::Value::Null);
    assert!(app
        .audit_kinds()
        .await
        .contains(&"authenticator_removed".to_string()));
    app.stop().await;
}

/// 500 wrong guesses at once, app codes and backup codes mixed, from several half
/// sessions: the account's counter is taken before anything is checked, so no more guesses
/// are checked than the lock allows, and then even the right code is refused.
#[tokio::test]
async fn five_hundred_parallel_wrong_guesses_get_no_more_tries_than_the_limit() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    app.advance(60);
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(half(&app, STAFF, STAFF_PASSWORD).await);
    }
    let guesses = (0..500).map(|i| {
        let c = &clients[i % clients.len()];
        async move {
            if i % 2 == 0 {
                second(c, "authenticator", &format!("{:06}", 100_000 + i)).await
            } else {
                second(c, "backup_code", "AAAA-BBBB-CCCC-DDDD").await
            }
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 422).count();
    let held_back = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + held_back, 500, "only 422 or 429");
    assert!(
        (1..=10).contains(&checked),
        "{checked} guesses were checked"
    );
    let failures = app
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "second_factor_failed")
        .count();
    assert_eq!(failures, checked, "one audit record per checked guess");
    let right = second(&clients[0], "authenticator", &totp(&key, app.clock_now())).await;
    assert_eq!(right.status, 429, "the right code waits too: {right:?}");
    app.stop().await;
}

/// The second step proves the session's own user: another user's valid code is refused.
#[tokio::test]
async fn another_users_code_does_not_work_in_my_half_session() {
    let app = TestApp::demo().await;
    enrol(&app, STAFF, STAFF_PASSWORD).await;
    let (other_key, other_codes) = enrol(&app, OTHER_STAFF, STAFF_PASSWORD).await;
    app.advance(60);
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    let code = totp(&other_key, app.clock_now());
    assert_eq!(second(&c, "authenticator", &code).await.status, 422);
    assert_eq!(second(&c, "backup_code", &other_codes[0]).await.status, 422);
    assert_eq!(c.me().await.status, 401, "still a half session");
    // The other user's code and backup code are untouched.
    let theirs = half(&app, OTHER_STAFF, STAFF_PASSWORD).await;
    assert_eq!(second(&theirs, "authenticator", &code).await.status, 200);
    app.stop().await;
}

/// The code that confirmed the app was used: it cannot sign in afterwards.
#[tokio::test]
async fn the_confirming_code_cannot_sign_in_again() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    let c = half(&app, STAFF, STAFF_PASSWORD).await;
    let same = totp(&key, app.clock_now());
    assert_eq!(second(&c, "authenticator", &same).await.status, 422);
    app.advance(30);
    let next = totp(&key, app.clock_now());
    assert_eq!(second(&c, "authenticator", &next).await.status, 200);
    app.stop().await;
}

/// Removing a method signs the account out everywhere else (whoever used that method on
/// another device is out), and keeps the session that made the change.
#[tokio::test]
async fn removing_a_method_ends_the_other_sessions() {
    let app = TestApp::demo().await;
    let (c, key, _) = enrol_with_client(&app, STAFF, STAFF_PASSWORD).await;
    app.advance(30);
    let elsewhere = half(&app, STAFF, STAFF_PASSWORD).await;
    let code = totp(&key, app.clock_now());
    assert_eq!(second(&elsewhere, "authenticator", &code).await.status, 200);
    assert_eq!(elsewhere.me().await.status, 200);
    let removed = c
        .call("remove_authenticator", json!({"password": STAFF_PASSWORD}))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(
        c.me().await.status,
        200,
        "the session that removed it stays"
    );
    assert_eq!(elsewhere.me().await.status, 401, "the other device is out");
    app.wait_for_mail(&["signed out everywhere else", STAFF])
        .await;
    app.stop().await;
}

/// Every page the router serves (its route list, not a hand list) against every kind of
/// session, spelled plainly and the other ways a router might still match it. A page
/// answers 200 only to the sessions it is for; a trailing slash is redirected to the plain
/// path (and guarded there); unclean spellings are 404 before routing.
#[tokio::test]
async fn every_page_and_every_spelling_of_it_is_guarded() {
    let app = TestApp::demo().await;
    let full = app.client();
    assert_eq!(full.sign_in(ADMIN, ADMIN_PASSWORD).await.status, 200);
    enrol(&app, STAFF, STAFF_PASSWORD).await;
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let half = half(&app, STAFF, STAFF_PASSWORD).await;
    let setup = app.client();
    let signed = setup.sign_in(OTHER_STAFF, STAFF_PASSWORD).await;
    assert_eq!(signed.body["next"], "/setup-2fa");
    let none = app.client();
    let sessions = [
        ("none", &none),
        ("half", &half),
        ("setup", &setup),
        ("full", &full),
    ];

    // Who may open each page; a new page must be added here (it is closed meanwhile).
    let open_to = |page: &str| -> &[&str] {
        match page {
            "/signin" => &["none", "half", "setup"],
            "/setup" | "/invitation" | "/reset-password" | "/confirm-email" => {
                &["none", "half", "setup", "full"]
            }
            "/signin/verify" => &["half"],
            "/setup-2fa" => &["setup"],
            // The full session here is the demo admin's: the console is open to it.
            "/" | "/password" | "/security" | "/admin" | "/admin/users" | "/admin/settings"
            | "/admin/apps" | "/admin/audit" | "/admin/report" => &["full"],
            page if page.starts_with("/admin/users/") => &["full"],
            other => panic!("page {other} has no expectation in this test"),
        }
    };
    let admin_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(ADMIN)
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    // Route parameters get a real value.
    let pages: Vec<String> = tessera_server::page_paths()
        .into_iter()
        .map(|p| p.replace("{id}", &admin_id))
        .collect();
    assert!(pages.len() >= 10, "{pages:?}");
    for page in &pages {
        for (who, c) in sessions {
            let plain = c.get(page).await;
            let allowed = open_to(page).contains(&who);
            let expected = if allowed { 200 } else { 303 };
            assert_eq!(plain.status().as_u16(), expected, "{who} GET {page}");
            if page != "/" {
                let slash = c.get(&format!("{page}/")).await;
                assert_eq!(slash.status().as_u16(), 308, "{who} GET {page}/");
                assert_eq!(slash.headers()["location"], page.as_str());
            }
        }
        // Sent as raw bytes: an HTTP client library would tidy these up first.
        for unclean in [
            format!("/{page}"),
            format!("/pkg/..{page}"),
            format!("{page}/."),
        ] {
            assert_eq!(raw_get_status(&app, &unclean).await, 404, "GET {unclean}");
        }
    }
    // Other spellings are other pages, and closed: a half session gets sent back.
    let shouted = half.get("/SECURITY").await;
    assert_eq!(shouted.status().as_u16(), 303);
    assert_eq!(shouted.headers()["location"], "/signin/verify");
    app.stop().await;
}

/// The status line of a GET sent byte for byte as given.
async fn raw_get_status(app: &TestApp, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// "Remember me" does not make a two-step account's session outlive the browser, and the
/// session id changes at each step: the id from before the second step is dead after it.
#[tokio::test]
async fn remember_me_is_ignored_for_two_step_accounts_and_each_step_rotates_the_id() {
    let app = TestApp::demo().await;
    let (key, _) = enrol(&app, STAFF, STAFF_PASSWORD).await;
    app.advance(30);
    let c = app.client();
    let signed = c
        .call(
            "sign_in",
            json!({"email": STAFF, "password": STAFF_PASSWORD, "remember": true}),
        )
        .await;
    assert_eq!(signed.body["next"], "/signin/verify");
    let half_cookie = signed
        .set_cookie
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(!half_cookie.contains("Max-Age"), "{half_cookie}");
    let half_id = session_cookie(&signed.set_cookie).unwrap();

    let done = second(&c, "authenticator", &totp(&key, app.clock_now())).await;
    assert_eq!(done.status, 200);
    let full_cookie = done
        .set_cookie
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(!full_cookie.contains("Max-Age"), "{full_cookie}");
    let full_id = session_cookie(&done.set_cookie).unwrap();
    assert_ne!(half_id, full_id, "the second step rotates the id");

    // The half-session id, replayed on its own, is dead.
    let replay = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header("origin", app.origin())
        .header("content-type", "application/json")
        .header("cookie", format!("tessera_session={half_id}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(c.me().await.status, 200);
    app.stop().await;
}

/// A dump of the database (its file and write-ahead log, byte for byte) and every mail
/// sent hold no password, no authenticator key, no backup code and no session id in
/// clear, after enrolment, sign-ins with each method, failures and regeneration.
#[tokio::test]
async fn no_secret_is_kept_in_clear_in_the_database_or_the_mail() {
    let app = TestApp::demo().await;
    let (c, key, codes) = enrol_with_client(&app, STAFF, STAFF_PASSWORD).await;
    let regenerated = c
        .call(
            "regenerate_backup_codes",
            json!({"password": STAFF_PASSWORD}),
        )
        .await;
    let new_codes: Vec<String> = regenerated
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    app.advance(30);
    let half_client = half(&app, STAFF, STAFF_PASSWORD).await;
    second(&half_client, "backup_code", &codes[0]).await; // an old code: refused
    second(&half_client, "authenticator", "123456").await;
    let used_code = totp(&key, app.clock_now());
    let signed = second(&half_client, "authenticator", &used_code).await;
    assert_eq!(signed.status, 200);
    let session_id = session_cookie(&signed.set_cookie).unwrap();
    let other = half(&app, STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        second(&other, "backup_code", &new_codes[0]).await.status,
        200
    );
    app.wait_for_mail(&["backup code was used", STAFF]).await;

    let mut secrets = vec![
        STAFF_PASSWORD.to_string(),
        key.replace(' ', ""),
        key.clone(),
        session_id,
    ];
    for code in codes.iter().chain(&new_codes) {
        secrets.push(code.clone());
        secrets.push(code.replace('-', ""));
    }
    let mut stored = Vec::new();
    if let Some(url) = &app.postgres {
        // Everything the database holds, as pg_dump writes it out.
        let bin = common::postgres::bin_dir().unwrap();
        let out = std::process::Command::new(bin.join("pg_dump"))
            .arg(url)
            .output()
            .unwrap();
        assert!(out.status.success());
        stored = out.stdout;
    }
    for file in ["tessera.db", "tessera.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(file)) {
            stored.extend(bytes);
        }
    }
    assert!(stored.len() > 10_000, "the database was read");
    let dump = String::from_utf8_lossy(&stored).to_lowercase();
    let mail: String = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    assert!(mail.contains("backup code"), "the mail was read");
    for secret in &secrets {
        let secret = secret.to_lowercase();
        assert!(
            !dump.contains(&secret),
            "the database holds {secret} in clear"
        );
        assert!(!mail.contains(&secret), "a mail contains {secret}");
    }
    app.stop().await;
}
