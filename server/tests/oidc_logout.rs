//! Signing out of the apps: back-channel logout tokens reach an app (a small receiver
//! started here) when the Tessera session its sign-in came from ends, by any path; and
//! RP-initiated logout at the end-session endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::rp::*;
use common::{Client, TestApp};
use openidconnect::core::{CoreGenderClaim, CoreJweContentEncryptionAlgorithm};
use openidconnect::{IdToken, Nonce, TokenResponse};
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::oidc::clients::NewClient;
use tessera_core::service::LogoutClaims;

type LogoutToken = IdToken<
    LogoutClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJwsSigningAlgorithm,
>;

const POST_LOGOUT: &str = "https://wiki.riverside.example/signed-out";

/// An app's back-channel logout address: keeps every token posted to it; answers 500 to
/// the first `fail_first` posts.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(fail_first));
    let kept = tokens.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(
            move |axum::extract::Form(form): axum::extract::Form<
                std::collections::HashMap<String, String>,
            >| {
                let kept = kept.clone();
                let failures = failures.clone();
                async move {
                    let mut left = failures.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    kept.lock().unwrap().push(form["logout_token"].clone());
                    http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, tokens }
}

impl Receiver {
    /// Waits (up to 10 s) for the `n`th token.
    async fn nth(&self, n: usize) -> String {
        for _ in 0..100 {
            if let Some(token) = self.tokens.lock().unwrap().get(n - 1) {
                return token.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no logout token number {n} arrived");
    }

    fn count(&self) -> usize {
        self.tokens.lock().unwrap().len()
    }
}

fn payload(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(part.as_bytes())
            .unwrap(),
    )
    .unwrap()
}

/// Signs in to the app: the ID token's `sid`, and the ID token itself.
async fn sign_in_to(wiki: &App, browser: &Client) -> (String, String) {
    let started = wiki.start(&[]);
    let code = code_for(browser, &started).await;
    let tokens = wiki.exchange(&code, started.verifier).await.unwrap();
    let id_token = tokens.id_token().unwrap().to_string();
    (
        payload(&id_token)["sid"].as_str().unwrap().to_string(),
        id_token,
    )
}

/// The token verifies as the relying party would: our keys, our issuer, its audience,
/// and no nonce (a logout token must not carry one); then its own claims.
fn check_logout_token(wiki: &App, token: &str, sid: &str, sub: &str) {
    let parsed: LogoutToken = token.parse().unwrap();
    let claims = parsed
        .claims(&wiki.rp.id_token_verifier(), |nonce: Option<&Nonce>| {
            nonce.map_or(Ok(()), |_| {
                Err("a logout token carries no nonce".to_string())
            })
        })
        .expect("the logout token verifies");
    assert_eq!(claims.additional_claims().sid, sid);
    assert_eq!(claims.subject().as_str(), sub);
    let body = payload(token);
    assert!(body["events"]
        .as_object()
        .unwrap()
        .contains_key("http://schemas.openid.net/event/backchannel-logout"));
    assert!(body["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(body.get("nonce").is_none());
}

#[tokio::test]
async fn back_channel_logout_reaches_the_app_when_the_session_ends() {
    let tessera = TestApp::demo().await;
    let inbox = receiver(1).await;
    let wiki = register(
        &tessera,
        NewClient {
            backchannel_logout_uri: Some(inbox.url.clone()),
            ..wiki_app()
        },
    )
    .await;
    // An app without a logout address is not told (and is not in the way).
    let quiet = register(
        &tessera,
        NewClient {
            name: "Quiet".into(),
            ..wiki_app()
        },
    )
    .await;
    let (browser, person) = two_step_staff(&tessera, "Jo King").await;
    let (sid, _) = sign_in_to(&wiki, &browser).await;
    sign_in_to(&quiet, &browser).await;

    // Sign-out. The receiver refuses the first post: it is tried again later.
    assert_eq!(browser.call("sign_out", json!({})).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(inbox.count(), 0, "the first try was refused");
    tessera.advance(31);
    let token = inbox.nth(1).await;
    check_logout_token(&wiki, &token, &sid, &person.id);

    // A reset by an admin.
    let admin = tessera.stepped_up("Kim Lee", Role::Admin).await;
    let browser = signed_in_with_app(&tessera, &person).await;
    let (sid, _) = sign_in_to(&wiki, &browser).await;
    let reset = admin
        .client
        .call(
            "admin/reset_two_factor",
            json!({"id": person.id, "reason": "lost phone"}),
        )
        .await;
    assert_eq!(reset.status, 200, "{reset:?}");
    check_logout_token(&wiki, &inbox.nth(2).await, &sid, &person.id);

    // Disabled.
    let other = tessera.person("Lou Moss", Role::Staff, true).await;
    let browser = signed_in_with_app(&tessera, &other).await;
    let (sid, _) = sign_in_to(&wiki, &browser).await;
    let off = admin
        .client
        .call(
            "admin/set_user_active",
            json!({"id": other.id, "active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    check_logout_token(&wiki, &inbox.nth(3).await, &sid, &other.id);

    // The idle limit: housekeeping ends the session, and the app is told.
    let third = tessera.person("May North", Role::Staff, true).await;
    let browser = signed_in_with_app(&tessera, &third).await;
    let (sid, _) = sign_in_to(&wiki, &browser).await;
    tessera.advance(13 * 3600);
    tessera.running().tessera.housekeeping().await.unwrap();
    check_logout_token(&wiki, &inbox.nth(4).await, &sid, &third.id);

    // Sessions that never signed in to the app send nothing: the four above only. (The
    // console sessions of the people made here ended too, by the reset, disabling and
    // idle limit.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(inbox.count(), 4);
    tessera.stop().await;
}

#[tokio::test]
async fn an_app_that_never_answers_is_given_up_on_and_that_is_audited() {
    let tessera = TestApp::demo().await;
    let inbox = receiver(usize::MAX).await;
    let wiki = register(
        &tessera,
        NewClient {
            backchannel_logout_uri: Some(inbox.url.clone()),
            ..wiki_app()
        },
    )
    .await;
    let (browser, _) = two_step_staff(&tessera, "Ned Oak").await;
    sign_in_to(&wiki, &browser).await;
    assert_eq!(browser.call("sign_out", json!({})).await.status, 200);
    // Each try waits longer; the clock is moved past each wait.
    for _ in 0..40 {
        tessera.advance(1000);
        tokio::time::sleep(Duration::from_millis(250)).await;
        if tessera
            .audit_kinds()
            .await
            .iter()
            .any(|k| k == "app_logout_failed")
        {
            assert_eq!(inbox.count(), 0);
            tessera.stop().await;
            return;
        }
    }
    panic!("the notice was never given up on");
}

#[tokio::test]
async fn rp_initiated_logout_signs_out_and_returns_only_to_registered_addresses() {
    let tessera = TestApp::demo().await;
    let wiki = register(
        &tessera,
        NewClient {
            post_logout_uris: vec![POST_LOGOUT.into()],
            ..wiki_app()
        },
    )
    .await;
    let doc: serde_json::Value = reqwest::get(tessera.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{}/oauth2/logout", tessera.origin())
    );
    assert_eq!(doc["backchannel_logout_supported"], true);
    let logout_url = |pairs: &[(&str, &str)]| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        tessera.url(&format!("/oauth2/logout?{query}"))
    };

    // With the app's ID token as the hint: signed out at once, back to the registered
    // address with the state.
    let (browser, _) = two_step_staff(&tessera, "Oda Park").await;
    let (_, id_token) = sign_in_to(&wiki, &browser).await;
    let res = browser
        .http
        .get(logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", "s1"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&res),
        format!("{POST_LOGOUT}?state=s1"),
        "back to the app"
    );
    assert_eq!(browser.me().await.status, 401, "signed out");

    // An address that is not registered: signed out, but not sent there.
    let (browser, _) = two_step_staff(&tessera, "Pia Quin").await;
    let (_, id_token) = sign_in_to(&wiki, &browser).await;
    let res = browser
        .http
        .get(logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("location").is_none());
    assert_eq!(browser.me().await.status, 401);

    // No hint: the person is asked first; the session lives until they confirm.
    let (browser, _) = two_step_staff(&tessera, "Quin Ross").await;
    let res = browser
        .http
        .get(logout_url(&[
            ("client_id", &wiki.client_id),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Procedures wiki asks to sign you out"),
        "{page}"
    );
    assert_eq!(browser.me().await.status, 200, "not signed out yet");
    // Another site cannot press the button for them.
    let forged = browser
        .http
        .post(tessera.url("/oauth2/logout"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("confirm=1")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(browser.me().await.status, 200);
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", wiki.client_id.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("confirm", "1"),
        ])
        .finish();
    let res = browser
        .http
        .post(tessera.url("/oauth2/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), POST_LOGOUT);
    assert_eq!(browser.me().await.status, 401);
    tessera.stop().await;
}
