//! Passkeys over HTTP with a software authenticator (webauthn-authenticator-rs SoftPasskey)
//! standing in for Touch ID / Windows Hello: register, sign in, and every way a ceremony
//! can be misused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::factors::soft_register;
use common::hand_key::HandKey;
use common::*;
use serde_json::json;
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs_proto::{
    CreationChallengeResponse, RequestChallengeResponse, UserVerificationPolicy,
};

fn origin(app: &TestApp) -> Url {
    Url::parse(&app.origin()).unwrap()
}

/// Registers a passkey named `name` for the signed-in client; returns the finish answer.
async fn register(app: &TestApp, c: &Client, key: &mut SoftPasskey, name: &str) -> Answer {
    register_as(app, c, key, name, false).await
}

async fn register_as(
    app: &TestApp,
    c: &Client,
    key: &mut SoftPasskey,
    name: &str,
    without_uv: bool,
) -> Answer {
    let begin = c
        .call(
            "begin_passkey_registration",
            json!({"name": name, "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let options: CreationChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let selection = options.public_key.authenticator_selection.clone().unwrap();
    assert!(
        selection.require_resident_key,
        "a discoverable credential is requested"
    );
    assert_eq!(
        selection.user_verification,
        UserVerificationPolicy::Required
    );
    let credential = soft_register(key, origin(app), options, without_uv);
    c.call(
        "finish_passkey_registration",
        json!({"ceremony": begin.body["ceremony"], "credential": credential}),
    )
    .await
}

/// The second step with a passkey, from a half session.
async fn passkey_step(app: &TestApp, c: &Client, key: &mut SoftPasskey, at: &Url) -> Answer {
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let _ = app;
    match key.do_authentication(at.clone(), options) {
        Ok(credential) => {
            c.call(
                "second_step_passkey",
                json!({"ceremony": begin.body["ceremony"], "credential": credential}),
            )
            .await
        }
        Err(e) => panic!("the soft authenticator refused: {e:?}"),
    }
}

/// Begins a registration for the signed-in client: (ceremony, options).
async fn begin_registration(
    c: &Client,
    name: &str,
) -> (serde_json::Value, CreationChallengeResponse) {
    let begin = c
        .call(
            "begin_passkey_registration",
            json!({"name": name, "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let options = serde_json::from_value(begin.body["options"].clone()).unwrap();
    (begin.body["ceremony"].clone(), options)
}

/// The staff member registers `key` as a passkey named `name`, then signs in again with
/// the password: a half session that owes the second step.
async fn with_passkey_at_second_step(app: &TestApp, key: &mut SoftPasskey, name: &str) -> Client {
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(register(app, &c, key, name).await.status, 200);
    half(app).await
}

async fn half(app: &TestApp) -> Client {
    let c = app.client();
    let a = c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(a.body["next"], "/signin/verify", "{a:?}");
    c
}

#[tokio::test]
async fn register_a_passkey_then_sign_in_with_it() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let added = register(&app, &c, &mut key, "Work MacBook Touch ID").await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(
        added.body["backup_codes"].as_array().unwrap().len(),
        10,
        "first factor issues codes"
    );
    let list = c.call("list_passkeys", json!({})).await;
    assert_eq!(list.body[0]["name"], "Work MacBook Touch ID");
    assert_eq!(list.body[0]["last_used"], serde_json::Value::Null);
    app.wait_for_mail(&["A passkey named \"Work MacBook Touch ID\" was added", STAFF])
        .await;

    let stored_before: String = sqlx::query_scalar("SELECT passkey FROM passkeys")
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    let c = half(&app).await;
    let ok = passkey_step(&app, &c, &mut key, &origin(&app)).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(c.me().await.status, 200);
    let stored_after: String = sqlx::query_scalar("SELECT passkey FROM passkeys")
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    assert_ne!(
        stored_before, stored_after,
        "the sign counter is stored after use"
    );
    let list = c.call("list_passkeys", json!({})).await;
    assert!(list.body[0]["last_used"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn replayed_foreign_expired_and_wrong_origin_assertions_are_refused() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(register(&app, &c, &mut key, "Laptop").await.status, 200);

    // Replay: the same assertion twice.
    let c = half(&app).await;
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(&app), options).unwrap();
    let body = json!({"ceremony": begin.body["ceremony"], "credential": credential});
    assert_eq!(
        c.call("second_step_passkey", body.clone()).await.status,
        200
    );
    let c2 = half(&app).await;
    assert_eq!(
        c2.call("second_step_passkey", body).await.status,
        422,
        "replayed assertion"
    );

    // Wrong origin and RP id: a phishing site relays our challenge to the authenticator.
    let c = half(&app).await;
    let evil = Url::parse("https://evil.example").unwrap();
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    let mut options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    options.public_key.rp_id = "evil.example".into();
    let credential = key
        .do_authentication(evil, options)
        .expect("the authenticator signs for the site it is shown");
    let a = c
        .call(
            "second_step_passkey",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(a.status, 422, "wrong origin accepted: {a:?}");

    // Expired ceremony.
    let c = half(&app).await;
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(&app), options).unwrap();
    app.advance(5 * 60 + 1);
    let a = c
        .call(
            "second_step_passkey",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(a.status, 422, "expired ceremony: {a:?}");

    // Another user's ceremony: the admin (with a passkey of their own) answers the staff
    // member's challenge.
    let mut admin_key = SoftPasskey::new(true);
    let admin = app.client();
    admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let begin = admin
        .call(
            "begin_passkey_registration",
            json!({"name": "Admin key", "password": ADMIN_PASSWORD}),
        )
        .await;
    let options: CreationChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let credential = soft_register(&mut admin_key, origin(&app), options, false);
    let fin = admin
        .call(
            "finish_passkey_registration",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(fin.status, 200, "{fin:?}");
    app.advance(60);
    let staff = half(&app).await;
    let begin = staff.call("begin_passkey_sign_in", json!({})).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(&app), options).unwrap();
    let admin_half = app.client();
    let a = admin_half.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(a.body["next"], "/signin/verify");
    let a = admin_half
        .call(
            "second_step_passkey",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(a.status, 422, "another user's ceremony: {a:?}");
    assert_eq!(admin_half.me().await.status, 401, "still a half session");
    app.stop().await;
}

#[tokio::test]
async fn registration_without_user_verification_is_refused() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(false);
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let a = register_as(&app, &c, &mut key, "No UV key", true).await;
    assert_eq!(a.status, 422, "{a:?}");
    assert_eq!(c.call("list_passkeys", json!({})).await.body, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn registration_needs_the_password_and_a_sane_name() {
    let app = TestApp::demo().await;
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let wrong = c
        .call(
            "begin_passkey_registration",
            json!({"name": "Key", "password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    for name in ["", "   ", &"x".repeat(61)] {
        let a = c
            .call(
                "begin_passkey_registration",
                json!({"name": name, "password": STAFF_PASSWORD}),
            )
            .await;
        assert_eq!(a.status, 422, "{name:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn rename_and_remove_the_last_passkey_turns_two_factor_off() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(register(&app, &c, &mut key, "Old name").await.status, 200);
    let id = c.call("list_passkeys", json!({})).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c.call(
            "rename_passkey",
            json!({"id": id, "name": "Office YubiKey"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        c.call("list_passkeys", json!({})).await.body[0]["name"],
        "Office YubiKey"
    );

    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let refused = c
        .call(
            "remove_passkey",
            json!({"id": id, "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(
        refused.status, 422,
        "the last factor stays while 2FA is required"
    );
    sqlx::query("UPDATE organisation SET require_two_factor = 0")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let wrong = c
        .call(
            "remove_passkey",
            json!({"id": id, "password": "wrong password"}),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let removed = c
        .call(
            "remove_passkey",
            json!({"id": id, "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], false);
    assert_eq!(status.body["backup_codes_left"], 0);
    app.stop().await;
}

#[tokio::test]
async fn the_setup_wizard_can_enrol_a_passkey_and_finishes_sign_in() {
    let app = TestApp::demo().await;
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let c = app.client();
    assert_eq!(
        c.sign_in(STAFF, STAFF_PASSWORD).await.body["next"],
        "/setup-2fa"
    );
    assert_eq!(
        c.call("list_passkeys", json!({})).await.status,
        403,
        "nothing but the wizard"
    );
    let begin = c
        .call(
            "begin_passkey_registration",
            json!({"name": "Phone", "password": ""}),
        )
        .await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let options: CreationChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let mut key = SoftPasskey::new(true);
    let credential = soft_register(&mut key, origin(&app), options, false);
    let done = c
        .call(
            "finish_passkey_registration",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["next"], "/");
    assert!(
        session_cookie(&done.set_cookie).is_some(),
        "the session id rotates"
    );
    assert_eq!(c.me().await.status, 200);
    app.stop().await;
}

/// A credential id belongs to one account. A client that builds its own answer can claim
/// someone else's: "none" attestation signs nothing, so another user's authenticator data
/// (their credential id) can be sent back under a fresh challenge. The server refuses with
/// 409 and writes nothing.
#[tokio::test]
async fn a_credential_id_registered_to_another_account_is_refused_with_409() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let nurse = app.client();
    nurse.sign_in(STAFF, STAFF_PASSWORD).await;
    let (ceremony, options) = begin_registration(&nurse, "Nurse's key").await;
    let original = soft_register(&mut key, origin(&app), options, false);
    let ok = nurse
        .call(
            "finish_passkey_registration",
            json!({"ceremony": ceremony, "credential": original}),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");

    let other = app.client();
    other.sign_in(OTHER_STAFF, STAFF_PASSWORD).await;
    let (ceremony, options) = begin_registration(&other, "Not really mine").await;
    let mut forged = original.clone();
    forged.response.client_data_json = serde_json::to_vec(&json!({
        "type": "webauthn.create",
        "challenge": data_encoding::BASE64URL_NOPAD.encode(options.public_key.challenge.as_ref()),
        "origin": app.origin(),
        "crossOrigin": false,
    }))
    .unwrap();
    forged.response.attestation_object = as_none_attestation(&original.response.attestation_object);
    let (passkeys, audit, outbox) = (
        app.count("passkeys").await,
        app.count("audit_log").await,
        app.count("outbox").await,
    );

    let refused = other
        .call(
            "finish_passkey_registration",
            json!({"ceremony": ceremony, "credential": forged}),
        )
        .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("already registered")),
        "{refused:?}"
    );
    assert_eq!(app.count("passkeys").await, passkeys, "no second row");
    assert_eq!(
        app.count("audit_log").await,
        audit,
        "no 'passkey added' record"
    );
    assert_eq!(app.count("outbox").await, outbox, "no 'passkey added' mail");
    let status = other.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], false, "2FA stays off: {status:?}");
    let list = other.call("list_passkeys", json!({})).await;
    assert_eq!(list.body, json!([]));
    app.stop().await;
}

/// The same authenticator data with the attestation statement dropped (`fmt: "none"`).
fn as_none_attestation(attestation_object: &[u8]) -> Vec<u8> {
    use serde_cbor_2::Value;
    let Value::Map(mut map) = serde_cbor_2::from_slice::<Value>(attestation_object).unwrap() else {
        panic!("an attestation object is a CBOR map");
    };
    map.insert(Value::Text("fmt".into()), Value::Text("none".into()));
    map.insert(
        Value::Text("attStmt".into()),
        Value::Map(Default::default()),
    );
    serde_cbor_2::to_vec(&Value::Map(map)).unwrap()
}

/// A copied passkey: its signature is valid, but its counter is behind the one stored from
/// the original's last use. Refused, audited as a possible clone, and the user is told;
/// the stored counter is not moved back.
#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused_audited_and_mailed() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    assert_eq!(
        register(&app, &c, &mut key, "Clinic YubiKey").await.status,
        200
    );
    let c = half(&app).await;
    assert_eq!(
        passkey_step(&app, &c, &mut key, &origin(&app)).await.status,
        200
    );

    // The original has signed 1000 times elsewhere; this copy still counts from where it was.
    let (set, get) = if app.on_postgres() {
        (
            "UPDATE passkeys SET passkey = jsonb_set(passkey::jsonb, '{cred,counter}', '1000')::text",
            "SELECT (passkey::jsonb #>> '{cred,counter}')::bigint FROM passkeys",
        )
    } else {
        (
            "UPDATE passkeys SET passkey = json_set(passkey, '$.cred.counter', 1000)",
            "SELECT json_extract(passkey, '$.cred.counter') FROM passkeys",
        )
    };
    sqlx::query(set)
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let c = half(&app).await;
    let refused = passkey_step(&app, &c, &mut key, &origin(&app)).await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("passkey was not accepted")),
        "{refused:?}"
    );
    assert_eq!(c.me().await.status, 401, "still a half session");
    assert_eq!(
        app.audit_kinds().await.last().map(String::as_str),
        Some("passkey_possibly_cloned")
    );
    let counter: i64 = sqlx::query_scalar(get)
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    assert_eq!(counter, 1000, "the stored counter is not moved back");
    app.wait_for_mail(&["\"Clinic YubiKey\"", "may have been copied", STAFF])
        .await;
    app.stop().await;
}

/// Two removals at once while the organisation requires two-step authentication. Both
/// usually pass the early "is it the last method?" check (made before the password is
/// verified); the rule is checked again inside each removal's transaction, so exactly one
/// goes and one method remains.
#[tokio::test]
async fn racing_removals_cannot_remove_the_last_required_method() {
    let app = TestApp::demo().await;
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let (mut first, mut second) = (SoftPasskey::new(true), SoftPasskey::new(true));
    assert_eq!(register(&app, &c, &mut first, "Laptop").await.status, 200);
    assert_eq!(register(&app, &c, &mut second, "Phone").await.status, 200);
    sqlx::query("UPDATE organisation SET require_two_factor = 1")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let ids: Vec<String> = c
        .call("list_passkeys", json!({}))
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let answers = futures::future::join_all(ids.iter().map(|id| {
        c.call(
            "remove_passkey",
            json!({"id": id, "password": STAFF_PASSWORD}),
        )
    }))
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 422], "{answers:?}");
    let left = c.call("list_passkeys", json!({})).await;
    assert_eq!(left.body.as_array().unwrap().len(), 1);
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], true);
    app.stop().await;
}

/// The same check at the moment of recording: a prompt began before another use of the
/// passkey was recorded (here: with a counter far ahead), so the ceremony's own copy of
/// the counter is stale. Recording is a compare-and-set on the stored counter, so this use
/// is refused rather than moving the counter back. Two prompts answered at once look the
/// same, so it is a counted, audited failure without the "copied" alarm.
#[tokio::test]
async fn a_counter_behind_a_use_recorded_meanwhile_is_refused() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = with_passkey_at_second_step(&app, &mut key, "Desk key").await;
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    // Meanwhile the original key signed in elsewhere, many times.
    sqlx::query("UPDATE passkeys SET sign_count = 1000")
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
    let credential = key.do_authentication(origin(&app), options).unwrap();
    let refused = c
        .call(
            "second_step_passkey",
            json!({"ceremony": begin.body["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(c.me().await.status, 401, "still a half session");
    assert_eq!(
        app.audit_kinds().await.last().map(String::as_str),
        Some("second_factor_failed")
    );
    let stored: i64 = sqlx::query_scalar("SELECT sign_count FROM passkeys")
        .fetch_one(app.running().tessera.db().pool())
        .await
        .unwrap();
    assert_eq!(stored, 1000);
    app.stop().await;
}

/// Two first methods finished at the same moment (an app confirmed while a passkey
/// registration completes): both are added, but only the change that turned two-step
/// authentication on issued backup codes, so the codes the user is shown are the ones
/// that work.
#[tokio::test]
async fn two_first_methods_at_once_issue_one_set_of_backup_codes() {
    let app = TestApp::demo().await;
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let setup = c
        .call("begin_authenticator", json!({"password": STAFF_PASSWORD}))
        .await;
    let app_key = setup.body["key_grouped"].as_str().unwrap().to_string();
    let (ceremony, options) = begin_registration(&c, "Laptop").await;
    let mut key = SoftPasskey::new(true);
    let credential = soft_register(&mut key, origin(&app), options, false);
    let code = common::factors::totp(&app_key, app.clock_now());
    let (app_added, passkey_added) = futures::future::join(
        c.call("confirm_authenticator", json!({"code": code})),
        c.call(
            "finish_passkey_registration",
            json!({"ceremony": ceremony, "credential": credential}),
        ),
    )
    .await;
    assert_eq!(app_added.status, 200, "{app_added:?}");
    assert_eq!(passkey_added.status, 200, "{passkey_added:?}");
    let shown: Vec<&Answer> = [&app_added, &passkey_added]
        .into_iter()
        .filter(|a| a.body["backup_codes"].is_array())
        .collect();
    assert_eq!(
        shown.len(),
        1,
        "one set of codes: {app_added:?} {passkey_added:?}"
    );
    let codes = shown[0].body["backup_codes"].as_array().unwrap();
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["backup_codes_left"], 10);

    // A code from the set that was shown signs in.
    let c = half(&app).await;
    let ok = c
        .call(
            "second_step",
            json!({"method": "backup_code", "code": codes[3]}),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    app.stop().await;
}

/// Prompts opened and never answered do not pile up: a user keeps the newest few.
#[tokio::test]
async fn unanswered_prompts_do_not_pile_up() {
    let app = TestApp::demo().await;
    let mut key = SoftPasskey::new(true);
    let c = with_passkey_at_second_step(&app, &mut key, "Desk key").await;
    for _ in 0..30 {
        let begin = c.call("begin_passkey_sign_in", json!({})).await;
        assert_eq!(begin.status, 200);
    }
    assert_eq!(app.count("webauthn_ceremonies").await, 5);
    let ok = passkey_step(&app, &c, &mut key, &origin(&app)).await;
    assert_eq!(ok.status, 200, "the newest prompt still works: {ok:?}");
    app.stop().await;
}

/// The second step answered by a hand-made key whose client data says `cross_origin`.
async fn hand_step(app: &TestApp, c: &Client, key: &mut HandKey, cross_origin: bool) -> Answer {
    let begin = c.call("begin_passkey_sign_in", json!({})).await;
    assert_eq!(begin.status, 200, "{begin:?}");
    let options: RequestChallengeResponse =
        serde_json::from_value(begin.body["options"].clone()).unwrap();
    let credential = key.assert(&app.origin(), "localhost", &options, cross_origin);
    c.call(
        "second_step_passkey",
        json!({"ceremony": begin.body["ceremony"], "credential": credential}),
    )
    .await
}

async fn failed_second_steps(app: &TestApp) -> usize {
    app.audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "second_factor_failed")
        .count()
}

/// WebAuthn Level 3: a relying party that is not meant to be used inside other sites'
/// frames refuses an answer whose client data says `crossOrigin: true`. webauthn-rs
/// checks it at registration only; the sign-in checks it too. The key signs its answer
/// properly, and the same key's same-site answer is accepted, so the flag is the reason.
#[tokio::test]
async fn an_assertion_made_inside_another_sites_frame_is_refused() {
    let app = TestApp::demo().await;
    let mut key = HandKey::new();
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let (ceremony, options) = begin_registration(&c, "Hand-made key").await;
    let credential = key.register(&app.origin(), "localhost", &options, false);
    let added = c
        .call(
            "finish_passkey_registration",
            json!({"ceremony": ceremony, "credential": credential}),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");

    let c = half(&app).await;
    let before = failed_second_steps(&app).await;
    let framed = hand_step(&app, &c, &mut key, true).await;
    assert_eq!(
        framed.status, 422,
        "a cross-origin answer was accepted: {framed:?}"
    );
    assert_eq!(c.me().await.status, 401, "still a half session");
    assert_eq!(
        failed_second_steps(&app).await,
        before + 1,
        "audited as a failure"
    );

    let same_site = hand_step(&app, &c, &mut key, false).await;
    assert_eq!(same_site.status, 200, "{same_site:?}");
    assert_eq!(c.me().await.status, 200);
    app.stop().await;
}

/// The same at registration (where "none" attestation signs nothing, so the client data
/// is the browser's word alone): refused, nothing written.
#[tokio::test]
async fn a_registration_made_inside_another_sites_frame_is_refused() {
    let app = TestApp::demo().await;
    let key = HandKey::new();
    let c = app.client();
    c.sign_in(STAFF, STAFF_PASSWORD).await;
    let (ceremony, options) = begin_registration(&c, "Framed key").await;
    let (passkeys, audit) = (app.count("passkeys").await, app.count("audit_log").await);
    let refused = c
        .call(
            "finish_passkey_registration",
            json!({"ceremony": ceremony, "credential": key.register(&app.origin(), "localhost", &options, true)}),
        )
        .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(app.count("passkeys").await, passkeys, "no passkey saved");
    assert_eq!(
        app.count("audit_log").await,
        audit,
        "nothing recorded as added"
    );
    let status = c.call("two_factor_status", json!({})).await;
    assert_eq!(status.body["enabled"], false, "{status:?}");
    app.stop().await;
}
