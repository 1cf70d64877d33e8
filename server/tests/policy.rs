//! The two-step policy over HTTP against the real server, with the injected clock: a
//! deadline (countdown, skipping the wizard, then only the wizard; moved earlier and
//! later), the enrolment period for newcomers, method rules ("admins must use a passkey",
//! apps no longer allowed) that never lock anyone out, temporary exceptions (start, end by
//! themselves, end early), the deadline's reminders with two workers racing, and every
//! change audited old → new.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::{Person, PASSWORD};
use common::factors::totp;
use common::*;
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::policy::DAY_SECS;
use tessera_core::service::{format_date, By, Settings};

/// Changes the settings as the operator would (the console's path is tested below).
async fn set(app: &TestApp, change: impl FnOnce(&mut Settings)) -> Vec<String> {
    let tessera = &app.running().tessera;
    let mut settings = tessera.settings().await.unwrap();
    change(&mut settings);
    tessera
        .update_settings(By::Operator, &settings)
        .await
        .unwrap()
}

/// Midnight (UTC) `days` from today.
fn day(app: &TestApp, days: i64) -> i64 {
    let now = app.clock_now();
    now - now.rem_euclid(DAY_SECS) + days * DAY_SECS
}

/// A fresh client signed in with the password; returns it and where sign-in sent it.
async fn sign_in(app: &TestApp, email: &str) -> (Client, String) {
    let c = app.client();
    let answer = c.sign_in(email, PASSWORD).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let next = answer.body["next"].as_str().unwrap().to_string();
    (c, next)
}

/// The second step with the person's app, a fresh code (the clock moves a step first).
async fn app_step(app: &TestApp, c: &Client, person: &Person) -> Answer {
    app.advance(30);
    let code = totp(person.key.as_deref().unwrap(), app.clock_now());
    c.call(
        "second_step",
        json!({"method": "authenticator", "code": code}),
    )
    .await
}

async fn second_factor_of_newest_session(app: &TestApp, email: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT s.second_factor FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.email = $1 AND s.state = 'full' ORDER BY s.last_seen_at DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(app.running().tessera.db().pool())
    .await
    .unwrap()
}

async fn newest_detail(app: &TestApp, kind: &str) -> String {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE kind = $1 ORDER BY id DESC LIMIT 1")
        .bind(kind)
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap()
}

async fn page_text(c: &Client, path: &str) -> String {
    c.get(path).await.text().await.unwrap()
}

#[tokio::test]
async fn a_deadline_gives_a_countdown_then_only_the_wizard_and_moves_for_everyone() {
    let app = TestApp::demo().await;
    let sam = app.person("Sam Staff", Role::Staff, false).await;
    set(&app, |s| {
        s.required = true;
        s.deadline = Some(day(&app, 14));
    })
    .await;

    // Before the deadline: the wizard, which may be put off; then a countdown banner.
    let (c, next) = sign_in(&app, &sam.email).await;
    assert_eq!(next, "/setup-2fa");
    let wizard = c.call("setup_wizard_status", json!({})).await;
    assert_eq!(wizard.body["days_left"], 14, "{wizard:?}");
    assert_eq!(wizard.body["skip"], "grace", "{wizard:?}");
    assert_eq!(c.me().await.status, 403, "not past the wizard yet");
    let skipped = c.call("skip_setup", json!({})).await;
    assert_eq!(skipped.status, 200, "{skipped:?}");
    assert_eq!(c.me().await.status, 200);
    let home = page_text(&c, "/").await;
    assert!(
        home.contains("Set up two-step authentication before"),
        "{home}"
    );
    assert!(home.contains("14 days left"), "{home}");
    assert_eq!(
        second_factor_of_newest_session(&app, &sam.email).await,
        None,
        "marked as password-only"
    );
    assert!(newest_detail(&app, "sign_in_succeeded")
        .await
        .contains("password only"));

    // Brought forward to tomorrow: everyone's countdown moves at once.
    set(&app, |s| s.deadline = Some(day(&app, 1))).await;
    let home = page_text(&c, "/").await;
    assert!(home.contains("1 day left"), "{home}");

    // Moved later again, then the clock passes it: the same person reaches only the wizard,
    // and the session they had open is sent there too.
    set(&app, |s| s.deadline = Some(day(&app, 3))).await;
    assert!(page_text(&c, "/").await.contains("3 days left"));
    let midnight = day(&app, 3);
    app.advance(midnight - app.clock_now() - 20 * 60);
    let (c, next) = sign_in(&app, &sam.email).await;
    assert_eq!(next, "/setup-2fa");
    assert_eq!(c.call("skip_setup", json!({})).await.status, 200);
    assert_eq!(c.me().await.status, 200);
    app.advance(25 * 60);
    let me = c.me().await;
    assert_eq!(me.status, 403, "past the deadline: {me:?}");
    assert_eq!(me.error(), "needs_setup");
    assert!(app.audit_kinds().await.contains(&"sent_to_setup".into()));
    let (c, next) = sign_in(&app, &sam.email).await;
    assert_eq!(next, "/setup-2fa");
    let wizard = c.call("setup_wizard_status", json!({})).await;
    assert!(wizard.body["skip"].is_null(), "{wizard:?}");
    let refused = c.call("skip_setup", json!({})).await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(c.me().await.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_newcomer_gets_the_enrolment_period_from_their_first_sign_in_and_nobody_else_does() {
    let app = TestApp::demo().await;
    let old = app.person("Olga Old", Role::Staff, false).await;
    app.advance(60);
    set(&app, |s| {
        s.required = true;
        s.enrolment_days = 7;
    })
    .await;
    // Created before the requirement: no enrolment period, the wizard only.
    let (c, next) = sign_in(&app, &old.email).await;
    assert_eq!(next, "/setup-2fa");
    assert_eq!(c.call("skip_setup", json!({})).await.status, 422);

    app.advance(2 * DAY_SECS);
    let new = "nina.new@riverside.example";
    app.running()
        .tessera
        .create_user(None, new, "Nina New", Role::Staff, Some(PASSWORD))
        .await
        .unwrap();
    app.advance(DAY_SECS);
    let (c, next) = sign_in(&app, new).await;
    assert_eq!(next, "/setup-2fa");
    let wizard = c.call("setup_wizard_status", json!({})).await;
    assert_eq!(
        wizard.body["days_left"], 7,
        "counted from today: {wizard:?}"
    );
    assert_eq!(c.call("skip_setup", json!({})).await.status, 200);
    app.advance(6 * DAY_SECS);
    let (c, _) = sign_in(&app, new).await;
    assert_eq!(
        c.call("setup_wizard_status", json!({})).await.body["days_left"],
        1
    );
    app.advance(DAY_SECS);
    let (c, _) = sign_in(&app, new).await;
    assert_eq!(c.call("skip_setup", json!({})).await.status, 422);
    app.stop().await;
}

#[tokio::test]
async fn admins_must_use_a_passkey_sends_an_app_only_admin_to_the_wizard() {
    let app = TestApp::demo().await;
    let ada = app.stepped_up("Ada Admin", Role::Admin).await;
    let ben = app.person("Ben Admin", Role::Admin, true).await;
    let sue = app.person("Sue Staff", Role::Staff, true).await;
    // Refused to an admin without a passkey of their own: it would shut them out too.
    let mut wanted = app.running().tessera.settings().await.unwrap();
    wanted.required = true;
    wanted.admins_need_passkey = true;
    let refused = ada
        .client
        .call("admin/save_settings", json!({"settings": form(&wanted)}))
        .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(refused.body["field"], "admins_need_passkey");
    set(&app, |s| {
        s.required = true;
        s.admins_need_passkey = true;
    })
    .await;

    // The app still proves who Ben is; then the wizard offers passkeys only, no way past.
    let (c, next) = sign_in(&app, &ben.email).await;
    assert_eq!(next, "/signin/verify");
    let step = app_step(&app, &c, &ben).await;
    assert_eq!(step.status, 200, "{step:?}");
    assert_eq!(step.body["next"], "/setup-2fa");
    let wizard = c.call("setup_wizard_status", json!({})).await;
    assert_eq!(wizard.body["passkeys"], true);
    assert_eq!(wizard.body["app"], false);
    assert!(wizard.body["explanation"]
        .as_str()
        .unwrap()
        .contains("passkey"));
    assert_eq!(c.call("skip_setup", json!({})).await.status, 422);
    assert_eq!(c.me().await.status, 403);
    // Nobody is locked out: the passkey can be added from the wizard.
    let begin = c
        .call(
            "begin_passkey_registration",
            json!({"name": "Laptop", "password": ""}),
        )
        .await;
    assert_eq!(begin.status, 200, "{begin:?}");
    // Staff with an app are satisfied as before.
    let (c, _) = sign_in(&app, &sue.email).await;
    let step = app_step(&app, &c, &sue).await;
    assert_eq!(step.body["next"], "/", "{step:?}");
    assert_eq!(
        second_factor_of_newest_session(&app, &sue.email)
            .await
            .as_deref(),
        Some("app")
    );
    // An exception never covers an admin under this rule (Ada's session and step-up are
    // from before it: a rule applies at the next sign-in).
    let grant = ada
        .client
        .call(
            "admin/grant_exception",
            json!({"id": ben.id, "last_day": format_date(day(&app, 2)), "reason": "phone died"}),
        )
        .await;
    assert_eq!(grant.status, 422, "{grant:?}");
    app.stop().await;
}

#[tokio::test]
async fn tightening_the_methods_never_locks_anyone_out() {
    let app = TestApp::demo().await;
    let sue = app.person("Sue Staff", Role::Staff, true).await;
    set(&app, |s| {
        s.required = true;
        s.allow_app = false;
    })
    .await;
    let (c, _) = sign_in(&app, &sue.email).await;
    let step = app_step(&app, &c, &sue).await;
    assert_eq!(
        step.status, 200,
        "their app still proves who they are: {step:?}"
    );
    assert_eq!(step.body["next"], "/setup-2fa");
    let wizard = c.call("setup_wizard_status", json!({})).await;
    assert_eq!(
        (wizard.body["passkeys"].clone(), wizard.body["app"].clone()),
        (json!(true), json!(false))
    );
    let app_again = c.call("begin_authenticator", json!({"password": ""})).await;
    assert_eq!(app_again.status, 422, "{app_again:?}");
    assert_eq!(
        c.call(
            "begin_passkey_registration",
            json!({"name": "Phone", "password": ""})
        )
        .await
        .status,
        200
    );
    // Both methods off at once is refused with a reason.
    let tessera = &app.running().tessera;
    let mut none = tessera.settings().await.unwrap();
    none.allow_passkeys = false;
    assert!(tessera.update_settings(By::Operator, &none).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn an_exception_lets_a_person_in_with_the_password_until_it_ends() {
    let app = TestApp::demo().await;
    let helpdesk = app.stepped_up("Hal Helpdesk", Role::Helpdesk).await;
    let nurse = app.person("Nora Nurse", Role::Staff, false).await;
    set(&app, |s| s.required = true).await;
    let (_, next) = sign_in(&app, &nurse.email).await;
    assert_eq!(next, "/setup-2fa");

    let grant = |who: &Person, id: &str, days: i64| {
        let (c, id) = (who.client.clone(), id.to_string());
        let last_day = format_date(day(&app, days));
        async move {
            c.call(
                "admin/grant_exception",
                json!({"id": id, "last_day": last_day, "reason": "phone died, new one on Monday"}),
            )
            .await
        }
    };
    assert_eq!(
        grant(&helpdesk, &nurse.id, 15).await.status,
        422,
        "at most 14 days"
    );
    assert_eq!(
        grant(&helpdesk, &helpdesk.id, 2).await.status,
        403,
        "not to oneself"
    );
    let granted = grant(&helpdesk, &nurse.id, 2).await;
    assert_eq!(granted.status, 200, "{granted:?}");

    let (c, next) = sign_in(&app, &nurse.email).await;
    assert_eq!(next, "/", "the password alone is enough now");
    assert_eq!(c.me().await.status, 200);
    assert!(page_text(&c, "/").await.contains("password alone"));
    assert_eq!(
        second_factor_of_newest_session(&app, &nurse.email).await,
        None
    );
    assert!(newest_detail(&app, "sign_in_succeeded")
        .await
        .contains("temporary exception"));
    let listed = helpdesk
        .client
        .call(
            "admin/list_users",
            json!({"query": {"two_step": "exception"}}),
        )
        .await;
    let rows = listed.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed:?}");
    assert!(rows[0]["policy_note"]
        .as_str()
        .unwrap()
        .starts_with("Exception until"));

    // It ends by itself: the policy stops counting it at once, housekeeping records it.
    app.advance(3 * DAY_SECS);
    let (_, next) = sign_in(&app, &nurse.email).await;
    assert_eq!(next, "/setup-2fa");
    let (ended, _) = app.running().tessera.housekeeping().await.unwrap();
    assert_eq!(ended, 1);
    assert_eq!(
        newest_detail(&app, "exception_ended").await,
        "ended by itself: its time was up"
    );
    assert_eq!(app.running().tessera.housekeeping().await.unwrap().0, 0);

    // Granted again, and ended early: their sessions end with it.
    let helpdesk = app.stepped_up("Hal Second", Role::Helpdesk).await;
    assert_eq!(grant(&helpdesk, &nurse.id, 1).await.status, 200);
    let (c, _) = sign_in(&app, &nurse.email).await;
    assert_eq!(c.me().await.status, 200);
    let end = helpdesk
        .client
        .call("admin/end_exception", json!({"id": nurse.id}))
        .await;
    assert_eq!(end.body, json!(true), "{end:?}");
    assert_eq!(c.me().await.status, 401);
    assert!(newest_detail(&app, "exception_ended")
        .await
        .starts_with("ended early"));
    app.stop().await;
}

#[tokio::test]
async fn the_deadline_reminders_go_once_each_with_two_workers_racing() {
    let app = TestApp::demo().await;
    for name in ["Rae One", "Rae Two", "Rae Three"] {
        app.person(name, Role::Staff, false).await;
    }
    let tessera = app.running().tessera.clone();
    let unsatisfied = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL \
             AND two_factor_enabled = 0",
        )
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap()
    };
    let people = unsatisfied().await;
    assert!(people >= 3);
    set(&app, |s| {
        s.required = true;
        s.deadline = Some(day(&app, 14));
    })
    .await;
    let pool = app.running().tessera.db().pool().clone();
    let reminders = |stage: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deadline_reminders WHERE stage = $1")
                .bind(stage)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let mails = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Set up two-step authentication before%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let race = || async {
        let (a, b) = tokio::join!(tessera.housekeeping(), tessera.housekeeping());
        a.unwrap().1 + b.unwrap().1
    };
    let first = race().await;
    // The server's own housekeeping task may have sent some already; together, once each.
    assert_eq!(reminders("start").await, people);
    assert!(first <= people as u64);
    assert_eq!(mails().await, people);
    assert_eq!(race().await, 0, "never twice for one deadline");

    app.advance(7 * DAY_SECS);
    race().await;
    assert_eq!(reminders("week").await, people);
    assert_eq!(race().await, 0);
    app.advance(6 * DAY_SECS);
    race().await;
    assert_eq!(reminders("day").await, people);
    assert_eq!(mails().await, 3 * people);
    // A moved deadline is a new date: a new set.
    set(&app, |s| s.deadline = Some(day(&app, 10))).await;
    race().await;
    assert_eq!(reminders("start").await, 2 * people);
    app.wait_for_mail(&["Rae Three", "Set up two-step authentication before"])
        .await;
    app.stop().await;
}

/// The settings as the console's form sends them.
fn form(s: &Settings) -> serde_json::Value {
    json!({
        "required": s.required,
        "deadline": s.deadline.map(format_date).unwrap_or_default(),
        "enrolment_days": s.enrolment_days,
        "allow_passkeys": s.allow_passkeys,
        "allow_app": s.allow_app,
        "admins_need_passkey": s.admins_need_passkey,
        "idle_minutes": s.idle_minutes,
        "absolute_hours": s.absolute_hours,
    })
}

#[tokio::test]
async fn every_settings_change_needs_a_step_up_is_audited_old_to_new_and_told_to_admins() {
    let app = TestApp::demo().await;
    let ada = app.person("Ada Admin", Role::Admin, true).await;
    let mut wanted = app.running().tessera.settings().await.unwrap();
    wanted.required = true;
    wanted.deadline = Some(day(&app, 12));
    wanted.enrolment_days = 5;

    // The preview is counted from the data and changes nothing.
    let not_set_up: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL AND two_factor_enabled = 0",
    )
    .fetch_one(app.running().tessera.db().pool())
    .await
    .unwrap();
    let preview = ada
        .client
        .call("admin/preview_settings", json!({"settings": form(&wanted)}))
        .await;
    assert_eq!(preview.status, 200, "{preview:?}");
    let first = preview.body[0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{not_set_up} people have not set up")),
        "{first}"
    );
    assert!(first.contains("may put it off until"), "{first}");
    assert!(!app.running().tessera.settings().await.unwrap().required);

    let save = |c: &Client, s: &Settings| {
        let (c, body) = (c.clone(), json!({"settings": form(s)}));
        async move { c.call("admin/save_settings", body).await }
    };
    assert_eq!(save(&ada.client, &wanted).await.error(), "step_up_required");
    assert_eq!(app.step_up(&ada).await.status, 200);
    let saved = save(&ada.client, &wanted).await;
    assert_eq!(saved.status, 200, "{saved:?}");
    let changes: Vec<String> = serde_json::from_value(saved.body).unwrap();
    assert_eq!(changes.len(), 3, "{changes:?}");
    let records: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, detail, actor_id FROM audit_log WHERE kind IN \
         ('two_factor_policy_changed', 'policy_changed') ORDER BY id",
    )
    .fetch_all(app.running().tessera.db().pool())
    .await
    .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0].1,
        "require two-step authentication: off → on (from the console)"
    );
    assert_eq!(
        records[1].1,
        format!(
            "deadline: none → {} (from the console)",
            format_date(day(&app, 12))
        )
    );
    assert_eq!(
        records[2].1,
        "enrolment period for new people (days): 0 → 5 (from the console)"
    );
    assert!(records
        .iter()
        .all(|r| r.2.as_deref() == Some(ada.id.as_str())));
    app.wait_for_mail(&[ADMIN, "Ada Admin", "deadline: none →"])
        .await;
    // Saving the same again changes nothing and records nothing.
    assert_eq!(save(&ada.client, &wanted).await.body, json!([]));
    // Bad input is refused and changes nothing.
    let mut bad = wanted.clone();
    bad.idle_minutes = 90;
    assert_eq!(save(&ada.client, &bad).await.status, 422);
    let mut past = wanted.clone();
    past.deadline = Some(day(&app, -1));
    assert_eq!(save(&ada.client, &past).await.body["field"], "deadline");
    assert_eq!(app.running().tessera.settings().await.unwrap(), wanted);
    // Turning it off says what stays.
    let mut off = wanted.clone();
    off.required = false;
    off.deadline = None;
    let preview = ada
        .client
        .call("admin/preview_settings", json!({"settings": form(&off)}))
        .await;
    assert!(preview.body[0]
        .as_str()
        .unwrap()
        .starts_with("Everyone keeps the two-step methods"));
    app.stop().await;
}

/// The nurse whose phone died still has her app on record: the exception lets her in with
/// the password alone all the same, and when it ends so does that session — the next
/// sign-in asks for the second step again.
#[tokio::test]
async fn an_exception_covers_someone_whose_app_is_on_the_phone_that_died() {
    let app = TestApp::demo().await;
    let helpdesk = app.stepped_up("Hal Helpdesk", Role::Helpdesk).await;
    let sue = app.person("Sue Staff", Role::Staff, true).await;
    set(&app, |s| s.required = true).await;
    let granted = helpdesk
        .client
        .call(
            "admin/grant_exception",
            json!({"id": sue.id, "last_day": format_date(day(&app, 0)), "reason": "phone died"}),
        )
        .await;
    assert_eq!(granted.status, 200, "{granted:?}");
    let (c, next) = sign_in(&app, &sue.email).await;
    assert_eq!(next, "/", "no second step under the exception");
    assert_eq!(c.me().await.status, 200);
    assert_eq!(
        second_factor_of_newest_session(&app, &sue.email).await,
        None
    );
    // At midnight it ends: that session ends, and signing in asks for the app again.
    app.advance(day(&app, 1) - app.clock_now());
    assert_eq!(c.me().await.status, 401);
    let (_, next) = sign_in(&app, &sue.email).await;
    assert_eq!(next, "/signin/verify");
    app.stop().await;
}

/// Removing a method may not leave only methods that do not count.
#[tokio::test]
async fn a_removal_that_would_leave_only_methods_that_do_not_count_is_refused() {
    use common::factors::soft_register;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    let app = TestApp::demo().await;
    let sue = app.person("Sue Staff", Role::Staff, true).await;
    let begin = sue
        .client
        .call(
            "begin_passkey_registration",
            json!({"name": "Laptop", "password": PASSWORD}),
        )
        .await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let mut key = SoftPasskey::new(true);
    let credential = soft_register(
        &mut key,
        url::Url::parse(&app.origin()).unwrap(),
        serde_json::from_value(begin.body["options"].clone()).unwrap(),
        false,
    );
    let finished = sue
        .client
        .call(
            "finish_passkey_registration",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(finished.status, 200, "{finished:?}");
    set(&app, |s| {
        s.required = true;
        s.allow_app = false;
    })
    .await;
    let passkeys = sue.client.call("list_passkeys", json!({})).await;
    let id = passkeys.body[0]["id"].as_str().unwrap().to_string();
    let refused = sue
        .client
        .call("remove_passkey", json!({"id": id, "password": PASSWORD}))
        .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("only method your organisation accepts"));
    assert_eq!(app.count("passkeys").await, 1);
    // The app, which no longer counts, may go.
    let removed = sue
        .client
        .call("remove_authenticator", json!({"password": PASSWORD}))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    app.stop().await;
}
