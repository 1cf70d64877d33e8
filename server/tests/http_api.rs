//! The foundation, driven over HTTP against the real server: first-run setup, password
//! sign-in, sessions, throttling, the guard, origin checks and bad input.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

/// One setup link waits at a time: a restart (or a second instance starting) does not
/// print another while it is valid, issuers racing on the empty database make one between
/// them, and `setup-link` replaces it — the old link stops working.
#[tokio::test]
async fn one_setup_link_waits_at_a_time() {
    use tessera_core::setup::SetupLink;
    let mut app = TestApp::fresh().await;
    let first = app
        .running()
        .setup_token
        .clone()
        .expect("a link is printed");
    app.restart().await;
    assert_eq!(
        app.running().setup_token,
        None,
        "the printed link is still the one"
    );
    let tessera = app.running().tessera.clone();
    assert!(tessera.setup_token_valid(&first).await.unwrap());

    // Racing issuers (two instances starting together) while none waits: one link.
    let second = tessera.replace_setup_token().await.unwrap().unwrap();
    assert!(
        !tessera.setup_token_valid(&first).await.unwrap(),
        "replaced"
    );
    sqlx::query("DELETE FROM setup_tokens")
        .execute(tessera.db().pool())
        .await
        .unwrap();
    let racing = futures::future::join_all((0..8).map(|_| tessera.issue_setup_token())).await;
    let issued: Vec<String> = racing
        .into_iter()
        .filter_map(|r| match r.unwrap() {
            Some(SetupLink::Issued(token)) => Some(token),
            Some(SetupLink::Waiting { .. }) => None,
            None => panic!("no organisation yet"),
        })
        .collect();
    assert_eq!(issued.len(), 1, "one link between eight issuers");
    assert!(tessera.setup_token_valid(&issued[0]).await.unwrap());
    assert!(!tessera.setup_token_valid(&second).await.unwrap());
    app.stop().await;
}

#[tokio::test]
async fn setup_token_creates_the_organisation_once() {
    let app = TestApp::fresh().await;
    let token = app
        .running()
        .setup_token
        .clone()
        .expect("a fresh database prints a setup token");
    let c = app.client();

    let status = c.call("setup_status", json!({"token": token})).await;
    assert_eq!(status.body, json!({"needed": true, "token_valid": true}));
    let wrong = c
        .call("setup_status", json!({"token": "not-the-token"}))
        .await;
    assert_eq!(wrong.body["token_valid"], json!(false));

    let form = |token: &str| {
        json!({"token": token, "organisation_name": "Harbour Dental", "display_name": "Dana Reyes",
               "email": "Dana@Harbour.example", "password": "harbour dental admin 2026"})
    };
    let bad = c.call("complete_setup", form("forged-token")).await;
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(app.count("organisation").await, 0);

    let ok = c.call("complete_setup", form(&token)).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let again = c.call("complete_setup", form(&token)).await;
    assert!(again.status == 422 || again.status == 409, "{again:?}");
    assert_eq!(app.count("users").await, 1);

    let signed_in = c
        .sign_in("dana@harbour.example", "harbour dental admin 2026")
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let me = c.me().await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["organisation"], "Harbour Dental");
    let kinds = app.audit_kinds().await;
    assert!(
        kinds.starts_with(&["organisation_created".into(), "user_created".into()]),
        "{kinds:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_in_right_wrong_and_unknown() {
    let app = TestApp::demo().await;
    let c = app.client();
    let wrong = c.sign_in(ADMIN, "not the password").await;
    let unknown = c
        .sign_in("nobody@riverside.example", "not the password")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "wrong password and unknown email must look alike"
    );
    assert_eq!(wrong.body["error"], "invalid_credentials");
    assert!(session_cookie(&wrong.set_cookie).is_none());

    let ok = c.sign_in(&ADMIN.to_uppercase(), ADMIN_PASSWORD).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["next"], "/");
    let cookie = ok
        .set_cookie
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(
        !cookie.contains("Max-Age"),
        "without remember-me the cookie ends with the browser"
    );
    assert_eq!(session_cookie(&ok.set_cookie).unwrap().len(), 43);

    let me = c.me().await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], ADMIN);

    let kinds = app.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "sign_in_failed").count(), 2);
    assert_eq!(kinds.last().unwrap(), "sign_in_succeeded");
    app.stop().await;
}

#[tokio::test]
async fn remember_me_makes_the_cookie_persistent() {
    let app = TestApp::demo().await;
    let ok = app
        .client()
        .call(
            "sign_in",
            json!({"email": STAFF, "password": STAFF_PASSWORD, "remember": true}),
        )
        .await;
    let cookie = ok
        .set_cookie
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_across_a_restart() {
    let mut app = TestApp::demo().await;
    let c = app.client();
    let mut refused_early = 0;
    for _ in 0..10 {
        let mut answer = c.sign_in(STAFF, "wrong guess").await;
        while answer.status == 429 {
            // A growing delay: come back when told to.
            refused_early += 1;
            let wait = answer.body["retry_after_secs"].as_i64().unwrap();
            app.advance(wait);
            answer = c.sign_in(STAFF, "wrong guess").await;
        }
        assert_eq!(answer.status, 401);
    }
    assert!(
        refused_early >= 5,
        "delays should have grown before the lock"
    );
    let locked = c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        locked.status, 429,
        "the right password is refused while locked"
    );
    assert!(
        locked.body["message"].as_str().unwrap().contains("paused"),
        "{locked:?}"
    );
    assert!(app
        .audit_kinds()
        .await
        .contains(&"account_locked".to_string()));

    app.restart().await;
    let c = app.client();
    assert_eq!(
        c.sign_in(STAFF, STAFF_PASSWORD).await.status,
        429,
        "the lock survives a restart"
    );

    app.advance(15 * 60);
    assert_eq!(c.sign_in(STAFF, STAFF_PASSWORD).await.status, 200);
    // The user was told.
    app.wait_for_mail(&["Sign-in to your Tessera account was paused", STAFF])
        .await;
    app.stop().await;
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_throttled() {
    let app = TestApp::demo().await;
    let c = app.client();
    let mut first_refusal = None;
    for i in 0..80 {
        let a = c
            .sign_in(&format!("user{i}@riverside.example"), "Summer2026!")
            .await;
        if a.status == 429 {
            first_refusal = Some(i);
            break;
        }
        assert_eq!(a.status, 401);
    }
    let n = first_refusal.expect("one address guessing across accounts must be throttled");
    assert!(n <= 25, "throttled only after {n} attempts");
    app.stop().await;
}

#[tokio::test]
async fn session_id_rotates_at_sign_in_and_old_ids_die() {
    let app = TestApp::demo().await;
    let c = app.client();
    let first = session_cookie(&c.sign_in(ADMIN, ADMIN_PASSWORD).await.set_cookie).unwrap();
    let second = session_cookie(&c.sign_in(ADMIN, ADMIN_PASSWORD).await.set_cookie).unwrap();
    assert_ne!(first, second);

    let stale = reqwest::Client::new();
    let with_first = stale
        .post(app.url("/api/me"))
        .header("cookie", format!("tessera_session={first}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(with_first.status(), 401, "the pre-rotation id must be dead");
    assert_eq!(c.me().await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn idle_sessions_end_and_activity_keeps_them_alive() {
    let app = TestApp::demo().await;
    let c = app.client();
    c.sign_in(ADMIN, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        app.advance(20 * 60);
        assert_eq!(c.me().await.status, 200, "20 minutes apart is not idle");
    }
    app.advance(30 * 60 + 1);
    assert_eq!(c.me().await.status, 401, "30 minutes idle ends the session");
    // The page sends the browser to sign in, saying why.
    let page = c.get("/").await;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/signin?ended=1");
    app.stop().await;
}

#[tokio::test]
async fn absolute_lifetime_ends_even_an_active_session() {
    let app = TestApp::demo().await;
    let c = app.client();
    c.sign_in(ADMIN, ADMIN_PASSWORD).await;
    for _ in 0..(12 * 60 / 25) {
        app.advance(25 * 60);
        assert_eq!(c.me().await.status, 200);
    }
    app.advance(25 * 60);
    assert_eq!(
        c.me().await.status,
        401,
        "12 hours is the most any session lives"
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::demo().await;
    let c = app.client();
    let cookie = session_cookie(&c.sign_in(ADMIN, ADMIN_PASSWORD).await.set_cookie).unwrap();
    let out = c.call("sign_out", json!({})).await;
    assert_eq!(out.status, 200);
    assert!(out.set_cookie.iter().any(|c| c.contains("Max-Age=0")));
    assert_eq!(c.me().await.status, 401);
    let replay = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header("cookie", format!("tessera_session={cookie}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(app.audit_kinds().await.last().unwrap(), "signed_out");
    app.stop().await;
}

/// Every server function the router knows, called without a session: only the public
/// ones answer; the rest say 401. The list comes from the registry, not from this file.
#[tokio::test]
async fn every_endpoint_without_a_session_is_refused_unless_public() {
    let app = TestApp::demo().await;
    let c = app.client();
    let endpoints = app::ssr::guard::registered_endpoints();
    assert!(endpoints.len() >= 6, "{endpoints:?}");
    for path in endpoints {
        let name = path.trim_start_matches("/api/");
        let access = app::ssr::guard::access_for_endpoint(&path);
        let answer = c.call(name, json!({})).await;
        if access == tessera_core::session::Access::Public {
            assert_ne!(answer.status, 401, "{path} is public");
        } else {
            assert_eq!(
                answer.status, 401,
                "{path} answered {answer:?} without a session"
            );
            assert_eq!(answer.error(), "signed_out");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn protected_pages_redirect_to_sign_in() {
    let app = TestApp::demo().await;
    let c = app.client();
    for path in ["/", "/password"] {
        let r = c.get(path).await;
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/signin");
    }
    let signin = c.get("/signin").await;
    assert_eq!(signin.status(), 200);
    let headers = signin.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'nonce-"),
        "{csp}"
    );
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS on plain http"
    );
    let html = signin.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("id=\"email\""));
    // The page's scripts carry the very nonce its policy allows.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry {nonce}"
    );
    app.stop().await;
}

/// Every page, signed in, many at once: each response carries its own page policy (with
/// the nonce its scripts carry), never the allow-nothing fallback. A page once lost its
/// policy under load and could then run no script at all.
#[tokio::test]
async fn every_page_carries_its_own_script_policy_under_load() {
    let app = TestApp::demo().await;
    let c = app.client();
    assert_eq!(c.sign_in(ADMIN, ADMIN_PASSWORD).await.status, 200);
    let pages = [
        "/",
        "/security",
        "/password",
        "/admin/users",
        "/admin/users?q=alex",
    ];
    let answers = futures::future::join_all((0..60).map(|i| c.get(pages[i % pages.len()]))).await;
    for response in answers {
        let url = response.url().to_string();
        assert_eq!(response.status(), 200, "{url}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap_or_else(|| panic!("{url} has no page policy: {csp}"))
            .split('\'')
            .next()
            .unwrap()
            .to_string();
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{url}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let app = TestApp::demo().await;
    let body = json!({"email": ADMIN, "password": ADMIN_PASSWORD, "remember": false}).to_string();
    let post = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut req = reqwest::Client::new()
            .post(app.url("/api/sign_in"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = fetch_site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    assert_eq!(
        post(Some("https://evil.example"), None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(post(Some("null"), None).await.unwrap().status(), 403);
    assert_eq!(
        post(Some(&app.origin()), Some("cross-site"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        app.count("sessions").await,
        0,
        "a refused request changes nothing"
    );
    assert_eq!(
        post(Some(&app.origin()), Some("same-origin"))
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::demo().await;
    let c = app.client();
    let audit_before = app.count("audit_log").await;
    let big = "x".repeat(10 * 1024);
    let cases: Vec<(String, u16)> = vec![
        (
            json!({"email": "not-an-email", "password": "x", "remember": false}).to_string(),
            422,
        ),
        (
            json!({"email": "", "password": "", "remember": false}).to_string(),
            422,
        ),
        (
            json!({"email": ADMIN, "password": "", "remember": false}).to_string(),
            422,
        ),
        (
            json!({"email": big, "password": big, "remember": false}).to_string(),
            422,
        ),
        (
            json!({"email": 42, "password": "x", "remember": false}).to_string(),
            400,
        ),
        (
            json!({"email": ADMIN, "password": null, "remember": false}).to_string(),
            400,
        ),
        (
            json!({"email": ADMIN, "password": ["a"], "remember": "yes"}).to_string(),
            400,
        ),
        (
            json!({"email": ADMIN, "password": ADMIN_PASSWORD, "remember": false, "role": "admin"})
                .to_string(),
            400,
        ),
        (json!({"email": ADMIN}).to_string(), 400),
        ("email=a&password=b".to_string(), 400),
        (
            "{\"email\": \"' OR 1=1 --\", \"password\": \"<script>\", \"remember\": false}"
                .to_string(),
            422,
        ),
        ("[]".to_string(), 400),
        (String::new(), 400),
    ];
    for (body, expected) in cases {
        let a = c.raw("sign_in", body.clone()).await;
        assert_eq!(a.status, expected, "body {:.80} → {a:?}", body);
        assert!(
            a.body.get("error").is_some(),
            "a typed error body for {body:.80}: {a:?}"
        );
    }
    // A body over the limit is refused before it is read.
    let huge =
        json!({"email": "x".repeat(100_000), "password": "y", "remember": false}).to_string();
    assert_eq!(c.raw("sign_in", huge).await.status, 413);
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(
        app.count("audit_log").await,
        audit_before,
        "nothing written"
    );
    // Still serving.
    assert_eq!(c.sign_in(ADMIN, ADMIN_PASSWORD).await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::demo().await;
    let (laptop, phone) = (app.client(), app.client());
    laptop.sign_in(STAFF, STAFF_PASSWORD).await;
    phone.sign_in(STAFF, STAFF_PASSWORD).await;

    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let wrong = laptop
        .call(
            "change_password",
            change("nope nope nope", "a new long passphrase"),
        )
        .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.error(), "wrong_current_password");
    let weak = laptop
        .call("change_password", change(STAFF_PASSWORD, "password123"))
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body["message"]
        .as_str()
        .unwrap()
        .contains("commonly used"));
    let short = laptop
        .call("change_password", change(STAFF_PASSWORD, "short"))
        .await;
    assert_eq!(short.status, 422);

    let ok = laptop
        .call(
            "change_password",
            change(STAFF_PASSWORD, "a new long passphrase"),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        laptop.me().await.status,
        200,
        "the session that changed it stays"
    );
    assert_eq!(phone.me().await.status, 401, "other sessions end");
    let other = app.client();
    assert_eq!(other.sign_in(STAFF, STAFF_PASSWORD).await.status, 401);
    assert_eq!(
        other.sign_in(STAFF, "a new long passphrase").await.status,
        200
    );
    assert!(app
        .audit_kinds()
        .await
        .contains(&"password_changed".to_string()));

    // The mail goes out through the outbox.
    app.wait_for_mail(&["Your Tessera password was changed", STAFF])
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_password_change_without_a_session_is_refused() {
    let app = TestApp::demo().await;
    let a = app
        .client()
        .call(
            "change_password",
            json!({"current_password": STAFF_PASSWORD, "new_password": "whatever long pass"}),
        )
        .await;
    assert_eq!(a.status, 401);
    app.stop().await;
}

/// Parallel guesses against one account get no more tries than sequential ones: the
/// attempt is counted before the password is checked.
#[tokio::test]
async fn parallel_guesses_get_no_extra_tries() {
    let app = TestApp::demo().await;
    let c = app.client();
    let answers =
        futures::future::join_all((0..30).map(|_| c.sign_in(STAFF, "parallel guess"))).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let throttled = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + throttled, 30, "{answers:?}");
    assert!(
        checked <= 4,
        "{checked} guesses were checked; the policy allows 4 before a delay"
    );
    app.stop().await;
}

/// The same spray sent all at once: failures are recorded after the (slow) password check,
/// so the address may only have a few checks in flight; the rest wait their turn and then
/// meet the lock. No more passwords are checked than the lock allows plus that handful.
#[tokio::test]
async fn one_address_spraying_in_parallel_gets_no_extra_checks() {
    let app = TestApp::demo().await;
    let c = app.client();
    let answers = futures::future::join_all(
        (0..1000).map(|i| c.sign_in_status(format!("user{i}@riverside.example"), "Summer2026!")),
    )
    .await;
    assert!(
        answers.iter().all(|s| *s == 401 || *s == 429),
        "only 401 or 429"
    );
    let checked = app
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "sign_in_failed")
        .count();
    assert!(checked > 0);
    assert!(checked <= 50 + 16, "{checked} passwords were checked");
    app.stop().await;
}

/// A clinic behind one address (NAT) signing in at the same moment: everyone gets in;
/// the places per address only make them queue.
#[tokio::test]
async fn a_clinic_behind_one_address_signs_in_together() {
    let app = TestApp::demo().await;
    for i in 0..60 {
        app.running()
            .tessera
            .create_user(
                None,
                &format!("staff{i}@riverside.example"),
                "Staff",
                tessera_core::accounts::Role::Staff,
                Some(STAFF_PASSWORD),
            )
            .await
            .unwrap();
    }
    let clients: Vec<Client> = (0..60).map(|_| app.client()).collect();
    let statuses = futures::future::join_all(
        clients
            .iter()
            .enumerate()
            .map(|(i, c)| c.sign_in_status(format!("staff{i}@riverside.example"), STAFF_PASSWORD)),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    app.stop().await;
}

/// The database cannot take writes (another process holds its lock past the busy
/// timeout; on PostgreSQL, the account's row lock past the lock timeout): sign-in fails closed with a plain 503 — nobody is let in — and works again
/// as soon as the database does, without a restart.
#[tokio::test]
async fn a_locked_database_fails_closed_with_503_and_recovers() {
    use sqlx::Connection as _;
    let app = TestApp::demo().await;
    // Another session holds what the sign-in must write: SQLite's file lock past the busy
    // timeout, or on PostgreSQL the account's row lock past the lock timeout (10 s). (The
    // PostgreSQL outage is `postgres.rs`'s database-stopped test.)
    let mut other = match app.postgres.clone() {
        Some(url) => {
            let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut other).await.unwrap();
            sqlx::query("UPDATE users SET role = role WHERE email = $1")
                .bind(STAFF)
                .execute(&mut other)
                .await
                .unwrap();
            other
        }
        None => {
            let url = format!("sqlite://{}", app.db_path().display());
            let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut other)
                .await
                .unwrap();
            other
        }
    };
    let c = app.client();
    let refused = c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    // The page words it: "Tessera cannot reach its database right now…".
    assert_eq!(refused.error(), "unavailable", "{refused:?}");
    assert!(refused.set_cookie.is_empty(), "no session was handed out");
    assert_eq!(c.me().await.status, 401);

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(c.sign_in(STAFF, STAFF_PASSWORD).await.status, 200);
    assert_eq!(c.me().await.status, 200);
    app.stop().await;
}

/// Right passwords for one account at the same moment (a shared front-desk login at shift
/// start, one person on two devices) all get in: attempts still running are not read as
/// failures, because the account's checks take turns. Past the short queue an attempt is
/// refused as busy — unchecked, uncounted, and without blaming anyone for failures.
#[tokio::test]
async fn right_passwords_at_the_same_moment_all_get_in() {
    let app = TestApp::demo().await;
    let clients: Vec<Client> = (0..9).map(|_| app.client()).collect();
    let answers =
        futures::future::join_all(clients.iter().map(|c| c.sign_in(STAFF, STAFF_PASSWORD))).await;
    assert!(
        answers.iter().all(|a| a.status == 200),
        "one running and eight waiting all get in: {answers:?}"
    );

    // Far more at once: each either gets in or is told the account is busy.
    let clients: Vec<Client> = (0..40).map(|_| app.client()).collect();
    let answers =
        futures::future::join_all(clients.iter().map(|c| c.sign_in(STAFF, STAFF_PASSWORD))).await;
    let signed_in = answers.iter().filter(|a| a.status == 200).count();
    assert!(signed_in >= 9, "{signed_in} of 40 got in");
    for refused in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(refused.status, 429, "{refused:?}");
        let message = refused.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("several times at once"), "{message}");
        assert!(
            !message.contains("failed"),
            "nobody failed anything: {message}"
        );
    }
    let failures = app.audit_kinds().await;
    assert!(
        !failures
            .iter()
            .any(|k| k == "sign_in_failed" || k == "account_locked"),
        "no failure was recorded: {failures:?}"
    );
    app.stop().await;
}

/// NIST 800-63B: a password is compared in one Unicode normal form, so "é" typed as one
/// code point (macOS, most keyboards) or as "e" + a combining accent (some input methods)
/// is the same password.
#[tokio::test]
async fn a_password_typed_in_another_unicode_form_signs_in() {
    let app = TestApp::demo().await;
    let nfc = "ma cl\u{e9} secr\u{e8}te \u{e0} moi";
    let nfd = "ma cle\u{301} secre\u{300}te a\u{300} moi";
    app.running()
        .tessera
        .create_user(
            None,
            "amelie@riverside.example",
            "Amélie",
            tessera_core::accounts::Role::Staff,
            Some(nfc),
        )
        .await
        .unwrap();
    let c = app.client();
    assert_eq!(c.sign_in("amelie@riverside.example", nfd).await.status, 200);
    assert_eq!(c.sign_in("amelie@riverside.example", nfc).await.status, 200);
    assert_eq!(
        c.sign_in("amelie@riverside.example", "ma cle secrete a moi")
            .await
            .status,
        401,
        "accents still count"
    );
    app.stop().await;
}

/// Sends `request` on `stream` and reads one response: its status and whether it said
/// `Connection: close`.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &str) -> (u16, bool) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "the connection was closed: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend(&buf[..n]);
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("refusals carry a content-length");
    while seen.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the body was cut short");
        seen.extend(&buf[..n]);
    }
    (status, head.contains("connection: close"))
}

/// A request refused before its body mattered (signed out, from another site) still
/// leaves the keep-alive connection usable for the client's next request; a body over the
/// limit is refused with `Connection: close`, said out loud.
#[tokio::test]
async fn a_refusal_leaves_the_connection_usable() {
    let app = TestApp::demo().await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let post = |origin: &str, body: &str| {
        format!(
            "POST /api/me HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // Larger than what the server reads along with the headers, so most of it is still
    // unread when the refusal is decided.
    let body = format!("{{\"padding\":\"{}\"}}", "x".repeat(40_000));
    let (status, closing) = exchange(&mut stream, &post(&app.origin(), &body)).await;
    assert_eq!((status, closing), (401, false), "signed out");
    let (status, closing) = exchange(&mut stream, &post("https://evil.example", &body)).await;
    assert_eq!((status, closing), (403, false), "cross-site");
    let (status, _) = exchange(&mut stream, &post(&app.origin(), "{}")).await;
    assert_eq!(status, 401, "the connection still serves");

    // Only the start of a 100 KB body is sent: the answer must not wait for the rest.
    let huge = post(&app.origin(), &"x".repeat(100_000));
    let mut fresh = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let (status, closing) = exchange(&mut fresh, &huge[..2000]).await;
    assert_eq!((status, closing), (413, true));
    app.stop().await;
}

/// `tessera organisation session-limits`: out-of-range values are refused; new limits
/// apply to a session that is already open, from its next request; the change is audited
/// and every admin told.
#[tokio::test]
async fn session_limits_set_by_the_operator_apply_to_open_sessions() {
    let app = TestApp::demo().await;
    let person = app
        .person("Sam Staff", tessera_core::accounts::Role::Staff, false)
        .await;
    let c = &person.client;
    assert_eq!(c.me().await.status, 200);
    let tessera = &app.running().tessera;
    assert!(tessera
        .operator_set_session_limits(Some(4), None)
        .await
        .is_err());
    assert!(tessera
        .operator_set_session_limits(None, Some(25))
        .await
        .is_err());
    assert_eq!(
        tessera
            .operator_set_session_limits(Some(5), Some(2))
            .await
            .unwrap(),
        (300, 7200)
    );
    // Active every four minutes: still signed in; then six minutes idle: signed out.
    for _ in 0..3 {
        app.advance(4 * 60);
        assert_eq!(c.me().await.status, 200);
    }
    app.advance(6 * 60);
    assert_eq!(c.me().await.status, 401, "idle past the new 5 minutes");
    // The longest session: kept busy, it still ends after two hours.
    let busy = app.client();
    assert_eq!(
        busy.sign_in(&person.email, common::console::PASSWORD)
            .await
            .status,
        200
    );
    for minutes in (4..=116).step_by(4) {
        app.advance(4 * 60);
        assert_eq!(busy.me().await.status, 200, "{minutes} min");
    }
    app.advance(8 * 60);
    assert_eq!(busy.me().await.status, 401, "past two hours");
    assert!(app
        .audit_kinds()
        .await
        .contains(&"session_limits_changed".to_string()));
    app.wait_for_mail(&[ADMIN, "idle timeout (minutes): 30 → 5"])
        .await;
    app.stop().await;
}
