//! The admin console over HTTP: who may call what (every console endpoint from the
//! router, each role and kind of session), step-up, resets and their setup code, disabling,
//! roles and the last admin, reminders, and the users list's filters and pages.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::{Person, PASSWORD};
use common::factors::totp;
use common::*;
use serde_json::{json, Value};
use tessera_core::accounts::Role;

/// Every console server function, from the router (not a hand list).
fn console_endpoints() -> Vec<String> {
    app::ssr::guard::registered_endpoints()
        .into_iter()
        .filter(|p| p.starts_with("/api/admin/"))
        .map(|p| p.trim_start_matches("/api/").to_string())
        .collect()
}

/// What each console role may call, written out by hand (not read from the guard).
const AUDITOR_MAY: [&str; 6] = [
    "admin/console_me",
    "admin/list_users",
    "admin/count_users",
    "admin/user_details",
    "admin/audit_events",
    "admin/compliance_report",
];
const HELPDESK_MAY_ALSO: [&str; 11] = [
    "admin/begin_step_up_passkey",
    "admin/step_up_with_code",
    "admin/step_up_with_passkey",
    "admin/reset_two_factor",
    "admin/unlock_user",
    "admin/end_user_sessions",
    "admin/remind_users",
    "admin/remind_view",
    "admin/send_password_reset",
    "admin/grant_exception",
    "admin/end_exception",
];

#[tokio::test]
async fn every_console_endpoint_refuses_who_it_is_not_for() {
    let app = TestApp::demo().await;
    let endpoints = console_endpoints();
    assert!(endpoints.len() >= 14, "{endpoints:?}");
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let auditor = app.person("Ada Auditor", Role::Auditor, false).await;
    let helpdesk = app.person("Hal Helpdesk", Role::Helpdesk, false).await;
    let admin = app.person("Ann Admin", Role::Admin, false).await;
    let with_app = app.person("Tom Twostep", Role::Staff, true).await;
    let half = app.client();
    assert_eq!(
        half.sign_in(&with_app.email, PASSWORD).await.body["next"],
        "/signin/verify"
    );
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let setup = app.client();
    assert_eq!(
        setup.sign_in(&staff.email, PASSWORD).await.body["next"],
        "/setup-2fa"
    );
    let signed_out = app.client();

    for name in &endpoints {
        let call = |c| empty_call(c, name);
        assert_eq!(call(&signed_out).await.status, 401, "{name}, signed out");
        assert_eq!(call(&half).await.status, 401, "{name}, half session");
        assert_eq!(call(&setup).await.status, 403, "{name}, setup session");
        assert_eq!(call(&staff.client).await.status, 403, "{name}, staff");
        // Allowed means the guard let it through: an empty body is then a 400, not a 401/403.
        for (who, person, allowed) in [
            ("auditor", &auditor, AUDITOR_MAY.contains(&name.as_str())),
            (
                "helpdesk",
                &helpdesk,
                AUDITOR_MAY.contains(&name.as_str()) || HELPDESK_MAY_ALSO.contains(&name.as_str()),
            ),
            ("admin", &admin, true),
        ] {
            let status = call(&person.client).await.status;
            if allowed {
                assert!(
                    ![401, 403].contains(&status),
                    "{name} refused a(n) {who}: {status}"
                );
            } else {
                assert_eq!(status, 403, "{name} let a(n) {who} in");
            }
        }
    }
    app.stop().await;
}

async fn empty_call(c: &Client, name: &str) -> Answer {
    c.call(name, json!({})).await
}

async fn reset(c: &Client, id: &str) -> Answer {
    c.call(
        "admin/reset_two_factor",
        json!({"id": id, "reason": "lost phone"}),
    )
    .await
}

/// Console pages: staff get a 403 page whatever the UI shows; a half session goes to its
/// second step, a setup session to its wizard, the signed-out to sign-in.
#[tokio::test]
async fn console_pages_are_for_console_roles() {
    let app = TestApp::demo().await;
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let auditor = app.person("Ada Auditor", Role::Auditor, false).await;
    let with_app = app.person("Tom Twostep", Role::Staff, true).await;
    let half = app.client();
    half.sign_in(&with_app.email, PASSWORD).await;
    let signed_out = app.client();
    let pages = [
        "/admin/users",
        &format!("/admin/users/{}", staff.id),
        "/admin/settings",
    ];
    for page in pages {
        let status = staff.client.get(page).await.status().as_u16();
        assert_eq!(status, 403, "{page}, staff");
        let to = half.get(page).await;
        assert_eq!(to.headers()["location"], "/signin/verify", "{page}, half");
        let to = signed_out.get(page).await;
        assert_eq!(to.headers()["location"], "/signin", "{page}, signed out");
    }
    // An auditor reads the list and a user's page, but not an admin-only page.
    assert_eq!(auditor.client.get("/admin/users").await.status(), 200);
    assert_eq!(
        auditor
            .client
            .get(&format!("/admin/users/{}", staff.id))
            .await
            .status(),
        200
    );
    assert_eq!(auditor.client.get("/admin/settings").await.status(), 403);
    // Adding people is for admins, though the paths look like a user's page.
    let helpdesk = app.person("Hal Helpdesk", Role::Helpdesk, false).await;
    let admin = app.person("Ann Admin", Role::Admin, false).await;
    for page in ["/admin/users/new", "/admin/users/import"] {
        assert_eq!(auditor.client.get(page).await.status(), 403, "{page}");
        assert_eq!(helpdesk.client.get(page).await.status(), 403, "{page}");
        assert_eq!(admin.client.get(page).await.status(), 200, "{page}");
    }
    app.stop().await;
}

#[tokio::test]
async fn changes_need_a_fresh_step_up_of_the_same_session() {
    let app = TestApp::demo().await;
    let target = app.person("Sam Staff", Role::Staff, false).await;
    let no_app = app.person("Nia Noapp", Role::Admin, false).await;
    let id = target.id.as_str();
    // Without two-step authentication of their own an admin can look, not change.
    assert_eq!(
        no_app
            .client
            .call("admin/list_users", json!({"query": {}}))
            .await
            .status,
        200
    );
    let refused = reset(&no_app.client, id).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.error(), "two_factor_required");

    let admin = app.person("Ann Admin", Role::Admin, true).await;
    let refused = reset(&admin.client, id).await;
    assert_eq!(refused.error(), "step_up_required", "{refused:?}");

    // A wrong password or a wrong code does not step up, and counts as a failure.
    let wrong = admin
        .client
        .call(
            "admin/step_up_with_code",
            json!({"password": "not it at all", "method": "authenticator", "code": "000000"}),
        )
        .await;
    assert_eq!(wrong.status, 403, "{wrong:?}");
    app.advance(30);
    let wrong_code = admin
        .client
        .call(
            "admin/step_up_with_code",
            json!({"password": PASSWORD, "method": "authenticator", "code": "000000"}),
        )
        .await;
    assert_eq!(wrong_code.status, 422, "{wrong_code:?}");
    let kinds = app.audit_kinds().await;
    assert!(kinds.contains(&"sign_in_failed".to_string()));
    assert!(kinds.contains(&"second_factor_failed".to_string()));
    assert_eq!(reset(&admin.client, id).await.error(), "step_up_required");

    assert_eq!(app.step_up(&admin).await.status, 200);
    let other_session = app.client();
    other_session.sign_in(&admin.email, PASSWORD).await;
    app.advance(30);
    let code = totp(admin.key.as_deref().unwrap(), app.clock_now());
    other_session
        .call(
            "second_step",
            json!({"method": "authenticator", "code": code}),
        )
        .await;
    assert_eq!(
        reset(&other_session, id).await.error(),
        "step_up_required",
        "a step-up belongs to its session"
    );
    // Ten minutes later it has to be done again.
    app.advance(11 * 60);
    assert_eq!(reset(&admin.client, id).await.error(), "step_up_required");
    assert_eq!(app.step_up(&admin).await.status, 200);
    assert_eq!(reset(&admin.client, id).await.status, 200);
    app.stop().await;
}

/// Signs in with the password; returns the client and where it was sent.
async fn sign_in(app: &TestApp, email: &str) -> (Client, String) {
    let c = app.client();
    let a = c.sign_in(email, PASSWORD).await;
    assert_eq!(a.status, 200, "{a:?}");
    (c, a.body["next"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_reset_removes_everything_and_the_setup_code_is_needed_once() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let other_admin = app.person("Bea Admin", Role::Admin, false).await;
    let staff = app.person("Sam Staff", Role::Staff, true).await;
    let id = staff.id.clone();
    let empty_reason = admin
        .client
        .call("admin/reset_two_factor", json!({"id": id, "reason": "  "}))
        .await;
    assert_eq!(empty_reason.status, 422, "a reason is required");

    let reset = admin
        .client
        .call(
            "admin/reset_two_factor",
            json!({"id": id, "reason": "lost phone; identity checked by video call"}),
        )
        .await;
    assert_eq!(reset.status, 200, "{reset:?}");
    let code = reset.body["setup_code"].as_str().unwrap().to_string();
    // Everything is gone: methods, codes, sessions.
    let details = admin
        .client
        .call("admin/user_details", json!({"id": id}))
        .await;
    assert_eq!(details.body["user"]["two_step_on"], false);
    assert_eq!(details.body["user"]["passkeys"], 0);
    assert_eq!(details.body["user"]["has_app"], false);
    assert_eq!(details.body["user"]["backup_codes_left"], 0);
    assert_eq!(details.body["sessions"], json!([]));
    assert_eq!(details.body["owes_setup_code"], true);
    assert_eq!(staff.client.me().await.status, 401, "signed out everywhere");
    let events = details.body["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["kind"] == "two_factor_reset"
        && e["detail"]
            .as_str()
            .unwrap()
            .contains("identity checked by video call")));
    app.wait_for_mail(&[
        &staff.email,
        "reset the two-step authentication",
        "setup code",
    ])
    .await;
    app.wait_for_mail(&[
        &other_admin.email,
        "Sam Staff",
        "identity checked by video call",
    ])
    .await;

    // The next sign-in needs the setup code before anything else.
    let (c, next) = sign_in(&app, &staff.email).await;
    assert_eq!(next, "/setup-2fa");
    let begin = c.call("begin_authenticator", json!({"password": ""})).await;
    assert_eq!(begin.status, 403, "no enrolling before the code: {begin:?}");
    let status = c.call("setup_wizard_status", json!({})).await;
    assert_eq!(status.body["owes_setup_code"], true);
    let wrong = c
        .call("enter_setup_code", json!({"code": "AAAA-BBBB-CCCC-DDDD"}))
        .await;
    assert_eq!(wrong.status, 422);
    let right = c.call("enter_setup_code", json!({"code": code})).await;
    assert_eq!(right.status, 200, "{right:?}");
    let begin = c.call("begin_authenticator", json!({"password": ""})).await;
    assert_eq!(begin.status, 200, "the wizard is open now: {begin:?}");
    // Single use: a second sign-in does not owe it any more, and it does not work again.
    let (again, next) = sign_in(&app, &staff.email).await;
    assert_eq!(next, "/setup-2fa");
    let used = again.call("enter_setup_code", json!({"code": code})).await;
    assert_eq!(used.status, 403, "not owed any more: {used:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_setup_code_expires_after_a_day() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let staff = app.person("Sam Staff", Role::Staff, true).await;
    let reset = admin
        .client
        .call(
            "admin/reset_two_factor",
            json!({"id": staff.id, "reason": "new phone"}),
        )
        .await;
    let code = reset.body["setup_code"].as_str().unwrap().to_string();
    app.advance(24 * 60 * 60 + 1);
    let (c, next) = sign_in(&app, &staff.email).await;
    assert_eq!(next, "/setup-2fa");
    assert_eq!(
        c.call("setup_wizard_status", json!({})).await.body["setup_code_expired"],
        true
    );
    let late = c.call("enter_setup_code", json!({"code": code})).await;
    assert_eq!(late.status, 422);
    assert!(late.body["message"].as_str().unwrap().contains("expired"));
    app.stop().await;
}

#[tokio::test]
async fn helpdesk_looks_after_staff_only_and_nobody_acts_on_themselves() {
    let app = TestApp::demo().await;
    let helpdesk = app.stepped_up("Hal Helpdesk", Role::Helpdesk).await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let staff = app.person("Sam Staff", Role::Staff, true).await;
    let refused = reset(&helpdesk.client, &admin.id).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body["message"].as_str().unwrap().contains("staff"));
    assert_eq!(
        reset(&helpdesk.client, &helpdesk.id).await.status,
        403,
        "themselves"
    );
    assert_eq!(
        reset(&admin.client, &admin.id).await.status,
        403,
        "themselves"
    );
    assert_eq!(reset(&helpdesk.client, &staff.id).await.status, 200);
    // Roles and disabling are admins' alone (the guard's default for the console).
    for (name, args) in [
        (
            "admin/set_user_active",
            json!({"id": staff.id, "active": false}),
        ),
        (
            "admin/change_user_role",
            json!({"id": staff.id, "role": "admin"}),
        ),
    ] {
        assert_eq!(helpdesk.client.call(name, args).await.status, 403, "{name}");
    }
    let unknown = admin
        .client
        .call("admin/user_details", json!({"id": "not-an-id"}))
        .await;
    assert_eq!(unknown.status, 400, "{unknown:?}");
    let missing = admin
        .client
        .call("admin/user_details", json!({"id": uuid_like()}))
        .await;
    assert_eq!(missing.status, 404, "{missing:?}");
    app.stop().await;
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

#[tokio::test]
async fn disabling_ends_sessions_and_sign_in_fails_like_a_wrong_password() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let off = admin
        .client
        .call(
            "admin/set_user_active",
            json!({"id": staff.id, "active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(off.body, json!(true));
    assert_eq!(
        staff.client.me().await.status,
        401,
        "its sessions ended at once"
    );
    let again = app.client().sign_in(&staff.email, PASSWORD).await;
    assert_eq!(again.status, 401);
    assert_eq!(again.error(), "invalid_credentials", "the generic message");
    let on = admin
        .client
        .call(
            "admin/set_user_active",
            json!({"id": staff.id, "active": true}),
        )
        .await;
    assert_eq!(on.status, 200);
    assert_eq!(
        app.client().sign_in(&staff.email, PASSWORD).await.status,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn the_last_active_admin_stays_even_when_two_admins_demote_each_other() {
    let app = TestApp::demo().await;
    let ann = app.stepped_up("Ann Admin", Role::Admin).await;
    let bea = app.stepped_up("Bea Admin", Role::Admin).await;
    // The demo admin is disabled, so that Ann and Bea are the only two.
    sqlx::query("UPDATE users SET active = 0 WHERE email = $1")
        .bind(ADMIN)
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    async fn demote(who: &Person, whom: &Person) -> Answer {
        who.client
            .call(
                "admin/change_user_role",
                json!({"id": whom.id, "role": "staff"}),
            )
            .await
    }
    for _ in 0..3 {
        let (a, b) = futures::join!(demote(&ann, &bea), demote(&bea, &ann));
        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1")
                .fetch_one(app.running().tessera.db().pool())
                .await
                .unwrap();
        assert_eq!(admins, 1, "exactly one admin left: {a:?} {b:?}");
        assert!(
            [a.status, b.status].contains(&409) || [a.status, b.status].contains(&403),
            "one of them was refused: {a:?} {b:?}"
        );
        // Put things back for the next round.
        sqlx::query("UPDATE users SET role = 'admin' WHERE email IN ($1, $2)")
            .bind(&ann.email)
            .bind(&bea.email)
            .execute(app.running().tessera.db().pool())
            .await
            .unwrap();
    }
    let last = ann
        .client
        .call(
            "admin/set_user_active",
            json!({"id": bea.id, "active": false}),
        )
        .await;
    assert_eq!(last.status, 200, "two admins: one may be disabled");
    let refused = bea
        .client
        .call(
            "admin/set_user_active",
            json!({"id": ann.id, "active": false}),
        )
        .await;
    assert_eq!(
        refused.status, 401,
        "Bea was signed out when disabled: {refused:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn reminders_go_once_a_day_and_say_what_they_skipped() {
    let app = TestApp::demo().await;
    let helpdesk = app.stepped_up("Hal Helpdesk", Role::Helpdesk).await;
    let a = app.person("Amy Notset", Role::Staff, false).await;
    let b = app.person("Ben Notset", Role::Staff, false).await;
    let on = app.person("Cat Twostep", Role::Staff, true).await;
    let admin = app.person("Dan Admin", Role::Admin, false).await;
    let remind = |ids: Vec<&str>| {
        helpdesk.client.call(
            "admin/remind_users",
            json!({"ids": ids, "note": "Please do it before Friday's audit."}),
        )
    };
    let first = remind(vec![&a.id, &b.id, &on.id, &admin.id]).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["sent"], 2);
    assert_eq!(first.body["skipped_recent"], 0);
    assert_eq!(
        first.body["skipped_other"], 2,
        "two-step on; an admin is not helpdesk's"
    );
    assert!(first.body["queued"].as_i64().unwrap() >= 2);
    let mail = app
        .wait_for_mail(&[
            &a.email,
            "Please set up two-step authentication",
            "before Friday",
        ])
        .await;
    assert!(mail.contains("/signin"), "where to go: {mail}");
    let again = remind(vec![&a.id, &b.id]).await;
    assert_eq!(again.body["sent"], 0);
    assert_eq!(again.body["skipped_recent"], 2);
    // A day later (for the reminders; sessions would not last that long).
    let pool = app.running().tessera.db().pool().clone();
    let a_day_ago = || {
        sqlx::query(
            "UPDATE users SET last_reminded_at = last_reminded_at - 86401 WHERE last_reminded_at > 0",
        )
        .execute(&pool)
    };
    a_day_ago().await.unwrap();
    assert_eq!(remind(vec![&a.id]).await.body["sent"], 1, "a day later");
    let reminded = app
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "reminder_sent")
        .count();
    assert_eq!(reminded, 3);
    // The list shows when each was last reminded.
    let list = helpdesk
        .client
        .call("admin/list_users", json!({"query": {"q": "amy"}}))
        .await;
    assert!(
        list.body["rows"][0]["last_reminded"].is_string(),
        "{list:?}"
    );
    // Everyone "not set up" at once.
    a_day_ago().await.unwrap();
    let view = helpdesk
        .client
        .call(
            "admin/remind_view",
            json!({"query": {"two_step": "not_set_up", "role": "staff"}, "note": null}),
        )
        .await;
    assert_eq!(view.status, 200, "{view:?}");
    assert!(view.body["sent"].as_u64().unwrap() >= 2, "{view:?}");
    app.stop().await;
}

/// Walks every page of `query` forwards, then backwards from the end, and returns the
/// emails in order.
async fn walk(c: &Client, query: Value) -> Vec<String> {
    let mut emails = Vec::new();
    let mut cursor: Option<String> = None;
    let last_page_cursor;
    loop {
        let mut q = query.clone();
        if let Some(c) = &cursor {
            q["cursor"] = json!(c);
        }
        let page = c.call("admin/list_users", json!({"query": q})).await;
        assert_eq!(page.status, 200, "{page:?}");
        let rows = page.body["rows"].as_array().unwrap();
        assert!(rows.len() <= 50);
        emails.extend(
            rows.iter()
                .map(|r| r["email"].as_str().unwrap().to_string()),
        );
        match page.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                last_page_cursor = page.body["previous"].as_str().map(str::to_string);
                break;
            }
        }
    }
    // Backwards: each "previous" page is the one before, ending at the first.
    let mut backwards = Vec::new();
    let mut cursor = last_page_cursor;
    while let Some(c_) = cursor {
        let mut q = query.clone();
        q["cursor"] = json!(c_);
        let page = c.call("admin/list_users", json!({"query": q})).await;
        let rows: Vec<String> = page.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["email"].as_str().unwrap().to_string())
            .collect();
        backwards.splice(0..0, rows);
        cursor = page.body["previous"].as_str().map(str::to_string);
    }
    if !backwards.is_empty() {
        let tail = emails.len() - backwards.len();
        assert_eq!(
            backwards,
            emails[..emails.len() - tail].to_vec(),
            "backwards agrees"
        );
    }
    emails
}

#[tokio::test]
async fn the_users_list_filters_searches_sorts_and_pages_without_losing_a_row() {
    let app = TestApp::demo().await;
    let auditor = app.person("Ada Auditor", Role::Auditor, false).await;
    let tessera = &app.running().tessera;
    for i in 0..130 {
        let role = if i % 10 == 0 {
            Role::Helpdesk
        } else {
            Role::Staff
        };
        let password = (i % 7 != 0).then_some(PASSWORD);
        tessera
            .create_user(
                None,
                &format!("person{i:03}@riverside.example"),
                &format!("Person {:03}", 130 - i),
                role,
                password,
            )
            .await
            .unwrap();
        app.advance(1);
    }
    let pool = tessera.db().pool();
    sqlx::query("UPDATE users SET two_factor_enabled = 1 WHERE email LIKE 'person%' AND CAST(substr(email, 7, 3) AS INTEGER) % 3 = 0")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET active = 0 WHERE email LIKE 'person%' AND CAST(substr(email, 7, 3) AS INTEGER) % 11 = 0")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET last_sign_in_at = 1000 + CAST(substr(email, 7, 3) AS INTEGER) * 7 % 50 WHERE email LIKE 'person%'")
        .execute(pool)
        .await
        .unwrap();
    let c = &auditor.client;
    // Every user as SQL sees them, to compare with: (email, name_key, two-step on,
    // active, pending, role).
    let all: Vec<(String, String, i64, i64, i64, String)> = sqlx::query_as(
        "SELECT email, name_key, two_factor_enabled, active, \
         CASE WHEN password_hash IS NULL THEN 1 ELSE 0 END, role FROM users",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    type U = (String, String, i64, i64, i64, String);
    let expect = |pred: &dyn Fn(&U) -> bool| all.iter().filter(|u| pred(u)).count();
    for (query, expected) in [
        (json!({}), all.len()),
        (json!({"two_step": "on"}), expect(&|u| u.2 == 1)),
        (
            json!({"two_step": "not_set_up"}),
            expect(&|u| u.2 == 0 && u.3 == 1 && u.4 == 0),
        ),
        (json!({"status": "disabled"}), expect(&|u| u.3 == 0)),
        (
            json!({"status": "pending"}),
            expect(&|u| u.3 == 1 && u.4 == 1),
        ),
        (json!({"role": "helpdesk"}), expect(&|u| u.5 == "helpdesk")),
        (
            json!({"q": "PERSON 01"}),
            expect(&|u| u.1.starts_with("person 01")),
        ),
        (
            json!({"q": "person01"}),
            expect(&|u| u.0.starts_with("person01")),
        ),
        (
            json!({"two_step": "not_set_up", "role": "staff", "sort": "created"}),
            expect(&|u| u.2 == 0 && u.3 == 1 && u.4 == 0 && u.5 == "staff"),
        ),
    ] {
        for sort in ["name", "last_sign_in", "created"] {
            let mut q = query.clone();
            if q.get("sort").is_none() {
                q["sort"] = json!(sort);
            }
            let emails = walk(c, q.clone()).await;
            assert_eq!(emails.len(), expected, "{q}");
            let unique: std::collections::HashSet<_> = emails.iter().collect();
            assert_eq!(unique.len(), emails.len(), "no row twice: {q}");
        }
    }
    // Order: by name A–Z (ties by id).
    let by_name = walk(c, json!({"sort": "name", "q": "person"})).await;
    let mut expected: Vec<(String, String)> = all
        .iter()
        .filter(|u| u.1.starts_with("person"))
        .map(|u| (u.1.clone(), u.0.clone()))
        .collect();
    expected.sort();
    let names: Vec<String> = expected.into_iter().map(|(_, email)| email).collect();
    assert_eq!(by_name, names);
    let counts = c.call("admin/count_users", json!({})).await;
    assert_eq!(counts.body["all"], all.len());
    assert_eq!(counts.body["disabled"], expect(&|u| u.3 == 0));
    assert_eq!(counts.body["pending"], expect(&|u| u.3 == 1 && u.4 == 1));
    // The counts kept by triggers followed every UPDATE above.
    assert_eq!(counts.body["two_step_on"], expect(&|u| u.2 == 1));
    assert_eq!(
        counts.body["not_set_up"],
        expect(&|u| u.2 == 0 && u.3 == 1 && u.4 == 0)
    );
    let inactive: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL \
         AND last_sign_in_at < $1 AND created_at < $1",
    )
    .bind(app.clock_now() - 30 * 24 * 60 * 60)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(counts.body["inactive"], inactive);
    // Bad views are refused plainly.
    for bad in [
        json!({"two_step": "maybe"}),
        json!({"status": "asleep"}),
        json!({"sort": "shoe size"}),
        json!({"role": "janitor"}),
        json!({"cursor": "not a cursor"}),
    ] {
        let answer = c.call("admin/list_users", json!({"query": bad})).await;
        assert_eq!(answer.status, 422, "{bad} → {answer:?}");
    }
    app.stop().await;
}

/// Break-glass: the only admin lost every method; the operator resets them from the server's
/// command line (`tessera user reset-2fa`), which the audit trail shows as the operator's.
#[tokio::test]
async fn the_operator_can_reset_the_only_admin() {
    let app = TestApp::demo().await;
    let ann = app.person("Ann Admin", Role::Admin, true).await;
    let no_reason = app
        .running()
        .tessera
        .operator_reset_two_factor(&ann.email, " ")
        .await;
    assert!(no_reason.is_err(), "a reason is required");
    let outcome = app
        .running()
        .tessera
        .operator_reset_two_factor(&ann.email, "lost phone and backup codes; checked in person")
        .await
        .unwrap();
    let (c, next) = sign_in(&app, &ann.email).await;
    assert_eq!(next, "/setup-2fa");
    let entered = c
        .call(
            "enter_setup_code",
            json!({"code": outcome.setup_code.display()}),
        )
        .await;
    assert_eq!(entered.status, 200, "{entered:?}");
    let (actor, detail): (Option<String>, String) =
        sqlx::query_as("SELECT actor_id, detail FROM audit_log WHERE kind = 'two_factor_reset'")
            .fetch_one(app.running().tessera.db().pool())
            .await
            .unwrap();
    assert_eq!(actor, None, "the operator, not a user");
    assert!(
        detail.contains("command line") && detail.contains("checked in person"),
        "{detail}"
    );
    app.wait_for_mail(&[ADMIN, "Ann Admin", "checked in person"])
        .await;
    app.stop().await;
}

/// "Download CSV" sends every user in the view (not one page) with the list's columns, a
/// formula typed as a name arrives as text, the export is audited, and staff cannot have it.
#[tokio::test]
async fn the_csv_export_is_the_whole_view_escaped_and_audited() {
    let app = TestApp::demo().await;
    let auditor = app.person("Ada Auditor", Role::Auditor, false).await;
    let tessera = &app.running().tessera;
    for i in 0..120 {
        tessera
            .create_user(
                None,
                &format!("export{i:03}@riverside.example"),
                &format!("Export {i:03}"),
                Role::Staff,
                Some(PASSWORD),
            )
            .await
            .unwrap();
    }
    tessera
        .create_user(
            None,
            "formula@riverside.example",
            "=HYPERLINK(\"https://evil.example\",\"x\")",
            Role::Staff,
            Some(PASSWORD),
        )
        .await
        .unwrap();
    let query = json!({"two_step": "not_set_up", "role": "staff", "sort": "created"});
    let listed = walk(&auditor.client, query).await;
    assert!(listed.len() > 120, "more than two pages: {}", listed.len());

    let response = auditor
        .client
        .get("/admin/users.csv?two_step=not_set_up&role=staff&sort=created")
        .await;
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    let date: String = tessera_core::clock::format_utc(app.clock_now())
        .chars()
        .take(10)
        .collect();
    assert!(
        disposition.contains(&format!("tessera-users-{date}.csv")),
        "{disposition}"
    );
    let body = response.text().await.unwrap();
    let body = body
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark first, for spreadsheets");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, tessera_core::service::EXPORT_COLUMNS.to_vec());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let exported: Vec<String> = rows.iter().map(|r| r[1].to_string()).collect();
    assert_eq!(
        exported, listed,
        "the file is the view, in the view's order"
    );
    let formula = rows
        .iter()
        .find(|r| &r[1] == "formula@riverside.example")
        .unwrap();
    assert_eq!(&formula[0], "'=HYPERLINK(\"https://evil.example\",\"x\")");
    assert!(rows
        .iter()
        .all(|r| &r[4] == "Not set up" && &r[2] == "Staff"));

    let mut conn = tessera.db().pool().acquire().await.unwrap();
    let recent = tessera_core::audit::recent(&mut conn, 5).await.unwrap();
    let export = recent
        .iter()
        .find(|r| r.kind == "users_exported")
        .expect("the export is audited");
    let detail = &export.detail;
    assert!(
        detail.contains("two_step=not_set_up")
            && detail.contains(&format!("{} row(s)", listed.len())),
        "{detail}"
    );
    drop(conn);

    // A bad view is refused plainly; staff and signed-out callers get nothing.
    let bad = auditor.client.get("/admin/users.csv?two_step=maybe").await;
    assert_eq!(bad.status(), 422);
    let staff = app.client();
    assert_eq!(staff.sign_in(STAFF, STAFF_PASSWORD).await.status, 200);
    let refused = staff.get("/admin/users.csv").await;
    assert_eq!(refused.status(), 403);
    assert!(!refused.text().await.unwrap().contains("@riverside.example"));
    let nobody = app.client().get("/admin/users.csv").await;
    assert_eq!(nobody.status(), 303, "signed out: to the sign-in page");
    assert_eq!(nobody.headers()["location"], "/signin");
    app.stop().await;
}
