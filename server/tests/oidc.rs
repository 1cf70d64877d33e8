//! Tessera as an OpenID Connect provider, driven by a relying party nobody here wrote:
//! the `openidconnect` crate as a client (discovery, the code flow with PKCE, ID-token
//! signature/issuer/audience/nonce checks, userinfo, refresh). What it would never send
//! (a wrong verifier, a replayed code, another app's code) is sent by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::PASSWORD;
use common::factors::totp;
use common::rp::*;
use common::{Client, TestApp};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{OAuth2TokenResponse, PkceCodeVerifier, TokenResponse};
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::oidc::clients::NewClient;
use tessera_core::oidc::keys::Alg;
use tessera_core::service::By;

#[tokio::test]
async fn code_flow_with_pkce_signs_a_two_step_user_in_to_the_app() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let (browser, person) = two_step_staff(&tessera, "Amy Wong").await;

    let started = wiki.start(&[]);
    let res = follow(&browser, &started.url).await;
    let back = location(&res);
    // RFC 9207: the response names its issuer; state comes back as sent.
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(tessera.origin().as_str())
    );
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    let code = param(&back, "code").unwrap();

    let tokens = wiki.exchange(&code, started.verifier).await.unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    // Signature (RS256, from the JWKS), issuer, audience, expiry and nonce.
    let claims = id_token
        .claims(&wiki.rp.id_token_verifier(), &started.nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.subject().as_str(), person.id);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some(person.email.as_str())
    );
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Amy Wong")
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"], "an app code is otp");
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:tessera:acr:two-step")
    );
    assert!(claims.auth_time().is_some());
    // The access token's hash is in the ID token, and matches.
    assert!(claims.access_token_hash().is_some());

    let info = wiki.userinfo(tokens.access_token()).await.unwrap();
    assert_eq!(info.subject().as_str(), person.id);
    assert_eq!(
        info.email().map(|e| e.as_str()),
        Some(person.email.as_str())
    );

    // Refresh: rotated on use. The new one works; the old one coming back revokes the
    // whole family, the new one included.
    let first = tokens.refresh_token().expect("a refresh token").clone();
    let renewed = wiki.refresh(&first).await.unwrap();
    let second = renewed.refresh_token().unwrap().clone();
    assert_ne!(second.secret(), first.secret());
    wiki.userinfo(renewed.access_token()).await.unwrap();
    let reused = wiki.refresh(&first).await.unwrap_err();
    assert!(reused.contains("invalid_grant"), "{reused}");
    let after = wiki.refresh(&second).await.unwrap_err();
    assert!(
        after.contains("invalid_grant"),
        "the family is revoked: {after}"
    );
    assert!(
        wiki.userinfo(renewed.access_token()).await.is_err(),
        "its access tokens too"
    );

    let kinds = tessera.audit_kinds().await;
    for kind in ["app_sign_in", "app_tokens_renewed", "app_tokens_revoked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    tessera.stop().await;
}

#[tokio::test]
async fn es256_public_app_and_backup_code_named_honestly() {
    let tessera = TestApp::demo().await;
    let app = register(
        &tessera,
        NewClient {
            name: "Rota app".into(),
            confidential: false,
            id_token_alg: Alg::Es256,
            refresh_tokens: false,
            ..wiki_app()
        },
    )
    .await;
    assert!(app.secret.is_none());
    // Enrol, keep a backup code, sign in with it.
    let person = tessera.person("Ben Ode", Role::Staff, false).await;
    let setup = person
        .client
        .call("begin_authenticator", json!({"password": PASSWORD}))
        .await;
    let key = setup.body["key_grouped"].as_str().unwrap().to_string();
    let added = person
        .client
        .call(
            "confirm_authenticator",
            json!({"code": totp(&key, tessera.clock_now())}),
        )
        .await;
    let backup = added.body["backup_codes"][0].as_str().unwrap().to_string();
    let browser = tessera.client();
    browser.sign_in(&person.email, PASSWORD).await;
    let b = browser
        .call(
            "second_step",
            json!({"method": "backup_code", "code": backup}),
        )
        .await;
    assert_eq!(b.status, 200, "{b:?}");

    let started = app.start(&[]);
    let code = code_for(&browser, &started).await;
    let tokens = app.exchange(&code, started.verifier).await.unwrap();
    assert!(tokens.refresh_token().is_none(), "this app has none");
    let verifier = app
        .rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&verifier, &started.nonce)
        .expect("an ES256 ID token verifies");
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd", "backup_code", "mfa"]);
    tessera.stop().await;
}

#[tokio::test]
async fn codes_are_single_use_short_lived_bound_to_their_app_and_verifier() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let other = register(
        &tessera,
        NewClient {
            name: "Scheduling".into(),
            ..wiki_with_refresh(false)
        },
    )
    .await;
    let (browser, _) = two_step_staff(&tessera, "Cy Dee").await;

    // A wrong verifier, then the right one: the code is gone after the first try.
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let (status, body) = wiki
        .raw_token(
            &tessera,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &"x".repeat(43)),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(wiki.exchange(&code, started.verifier).await.is_err());

    // No verifier at all.
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let (status, body) = wiki
        .raw_token(
            &tessera,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Another app's code: refused, and it does not burn the code for its own app.
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let stolen = other
        .exchange(
            &code,
            PkceCodeVerifier::new(started.verifier.secret().clone()),
        )
        .await
        .unwrap_err();
    assert!(stolen.contains("invalid_grant"), "{stolen}");
    // Replay: the first exchange works; the second fails and revokes what the first got.
    let tokens = wiki.exchange(&code, started.verifier).await.unwrap();
    wiki.userinfo(tokens.access_token()).await.unwrap();
    let (status, _) = wiki
        .raw_token(
            &tessera,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &"y".repeat(43)),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        wiki.userinfo(tokens.access_token()).await.is_err(),
        "a replayed code revokes the tokens it gave"
    );
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());

    // Expired: a code lives 60 seconds.
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    tessera.advance(61);
    let late = wiki.exchange(&code, started.verifier).await.unwrap_err();
    assert!(late.contains("invalid_grant"), "{late}");

    // Housekeeping drops what can no longer be used, a day on; the audit trail stays.
    let codes = tessera.count("oidc_codes").await;
    assert_eq!(codes, 4, "one per authorization above");
    tessera.advance(2 * 24 * 3600);
    tessera.running().tessera.housekeeping().await.unwrap();
    assert_eq!(tessera.count("oidc_codes").await, 0);
    assert_eq!(tessera.count("oidc_access_tokens").await, 0);
    assert!(
        tessera.count("oidc_grants").await > 0,
        "grants with refresh tokens stay"
    );
    assert_eq!(tessera.count("oidc_empty_grants").await, 0);

    // The wrong secret: the app is not authenticated.
    let res = reqwest::Client::new()
        .post(tessera.url("/oauth2/token"))
        .basic_auth(&wiki.client_id, Some("not the secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    tessera.stop().await;
}

fn wiki_with_refresh(refresh_tokens: bool) -> NewClient {
    NewClient {
        refresh_tokens,
        ..wiki_app()
    }
}

#[tokio::test]
async fn bad_requests_get_a_page_or_an_error_back_never_an_open_redirect() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let (browser, _) = two_step_staff(&tessera, "Di Eve").await;

    // An unregistered redirect address: a page, no Location, nothing sent anywhere.
    let started = wiki.start(&[]);
    let evil = started.url.replace(
        &url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    assert_ne!(evil, started.url);
    let res = follow(&browser, &evil).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("not registered"));
    // An unknown app: a page too.
    let res = follow(
        &browser,
        &tessera.url("/oauth2/authorize?client_id=nope&redirect_uri=https%3A%2F%2Fevil.example%2F"),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    // No PKCE: an error back to the (registered) app, with state and iss.
    let started = wiki.start(&[]);
    let no_pkce: String = started
        .url
        .split('&')
        .filter(|p| !p.starts_with("code_challenge"))
        .collect::<Vec<_>>()
        .join("&");
    let to = location(&follow(&browser, &no_pkce).await);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(
        param(&to, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert!(param(&to, "iss").is_some());
    tessera.stop().await;
}

#[tokio::test]
async fn sign_in_first_then_back_to_the_app_and_prompts_are_honoured() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let person = tessera.person("Eve Fox", Role::Staff, true).await;

    // Not signed in: to the sign-in page, the request kept; prompt=none says so instead.
    let browser = tessera.client();
    let silent = wiki.start(&[("prompt", "none")]);
    let to = location(&follow(&browser, &silent.url).await);
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));
    let started = wiki.start(&[]);
    let res = follow(&browser, &started.url).await;
    assert_eq!(location(&res), "/signin");
    // The sign-in page says where the person is going.
    let page = browser.get("/signin").await.text().await.unwrap();
    assert!(page.contains("Signing you in to Procedures wiki"), "{page}");
    // A half session is not enough either.
    tessera.advance(30);
    browser.sign_in(&person.email, PASSWORD).await;
    let res = follow(&browser, &started.url).await;
    assert_eq!(location(&res), "/signin/verify");
    let code = totp(person.key.as_deref().unwrap(), tessera.clock_now());
    browser
        .call(
            "second_step",
            json!({"method": "authenticator", "code": code}),
        )
        .await;
    // Where the second step sends the browser, `/`, resumes the app's request.
    let res = browser.get("/").await;
    assert_eq!(location(&res), "/oauth2/authorize?resume=1");
    let res = browser.get("/oauth2/authorize?resume=1").await;
    let back = location(&res);
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    let tokens = wiki
        .exchange(&param(&back, "code").unwrap(), started.verifier)
        .await
        .unwrap();
    tokens
        .id_token()
        .unwrap()
        .claims(&wiki.rp.id_token_verifier(), &started.nonce)
        .unwrap();
    // Used up: `/` is the account page again.
    assert_eq!(browser.get("/").await.status(), 200);

    // max_age: a sign-in older than asked for must be done again (the session ends).
    tessera.advance(120);
    let started = wiki.start(&[("max_age", "60")]);
    let res = follow(&browser, &started.url).await;
    assert_eq!(location(&res), "/signin");
    assert_eq!(browser.me().await.status, 401, "the old session ended");
    let fresh = wiki.start(&[("prompt", "login")]);
    let again = signed_in_with_app(&tessera, &person).await;
    // A full session from before the request: prompt=login asks for a new one.
    tessera.advance(1);
    let res = follow(&again, &fresh.url).await;
    assert_eq!(location(&res), "/signin");
    tessera.stop().await;
}

#[tokio::test]
async fn the_apps_rules_refuse_with_an_explanation() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let admins_only = register(
        &tessera,
        NewClient {
            name: "Billing".into(),
            roles: vec![Role::Admin],
            ..wiki_app()
        },
    )
    .await;
    let relaxed = register(
        &tessera,
        NewClient {
            name: "Canteen menu".into(),
            password_enough: true,
            ..wiki_app()
        },
    )
    .await;

    // The password alone (no two-step set up, none required): refused by a two-step app,
    // with a page that says why and a link back carrying interaction_required.
    let person = tessera.person("Fay Gil", Role::Staff, false).await;
    let started = wiki.start(&[]);
    let res = follow(&person.client, &started.url).await;
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("needs two-step sign-in"), "{page}");
    assert!(page.contains("error=interaction_required"), "{page}");
    let silent = wiki.start(&[("prompt", "none")]);
    let to = location(&follow(&person.client, &silent.url).await);
    assert_eq!(param(&to, "error").as_deref(), Some("interaction_required"));
    // An app where the password is enough lets the same session in, and says so.
    let started = relaxed.start(&[]);
    let code = code_for(&person.client, &started).await;
    let tokens = relaxed.exchange(&code, started.verifier).await.unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&relaxed.rp.id_token_verifier(), &started.nonce)
        .unwrap();
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);

    // A role the app is not open to.
    let (browser, _) = two_step_staff(&tessera, "Gus Hart").await;
    let started = admins_only.start(&[]);
    let res = follow(&browser, &started.url).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("error=access_denied"));

    // A switched-off app: a page, and its tokens stop working.
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let tokens = wiki.exchange(&code, started.verifier).await.unwrap();
    tessera
        .running()
        .tessera
        .set_app_enabled(By::Operator, "Procedures wiki", false)
        .await
        .unwrap();
    let res = follow(&browser, &wiki.start(&[]).url).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("switched off"));
    assert!(wiki.userinfo(tokens.access_token()).await.is_err());
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());

    let kinds = tessera.audit_kinds().await;
    assert!(
        kinds.iter().filter(|k| *k == "app_refused").count() >= 3,
        "{kinds:?}"
    );
    tessera.stop().await;
}

#[tokio::test]
async fn ending_the_tessera_session_ends_the_apps_tokens() {
    let tessera = TestApp::demo().await;
    let wiki = register(&tessera, wiki_app()).await;
    let (browser, person) = two_step_staff(&tessera, "Hal Ives").await;
    let grant = |browser: Client| {
        let wiki = &wiki;
        async move {
            let started = wiki.start(&[]);
            let code = code_for(&browser, &started).await;
            (
                browser,
                wiki.exchange(&code, started.verifier).await.unwrap(),
            )
        }
    };

    // Sign-out.
    let (browser, tokens) = grant(browser).await;
    assert_eq!(browser.call("sign_out", json!({})).await.status, 200);
    assert!(wiki.userinfo(tokens.access_token()).await.is_err());
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());

    // Idle: the session's idle limit passes without Tessera seeing the person.
    let (_, tokens) = grant(signed_in_with_app(&tessera, &person).await).await;
    tessera.advance(13 * 3600);
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());

    // A reset of the person's two-step sign-in, then disabled, by an admin.
    let admin = tessera.stepped_up("Ann Admin", Role::Admin).await;
    let (_, tokens) = grant(signed_in_with_app(&tessera, &person).await).await;
    let reset = admin
        .client
        .call(
            "admin/reset_two_factor",
            json!({"id": person.id, "reason": "lost phone"}),
        )
        .await;
    assert_eq!(reset.status, 200, "{reset:?}");
    assert!(wiki.userinfo(tokens.access_token()).await.is_err());
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());

    let other = tessera.person("Ivy Jay", Role::Staff, true).await;
    let (_, tokens) = grant(signed_in_with_app(&tessera, &other).await).await;
    let off = admin
        .client
        .call(
            "admin/set_user_active",
            json!({"id": other.id, "active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    assert!(wiki.userinfo(tokens.access_token()).await.is_err());
    assert!(wiki.refresh(tokens.refresh_token().unwrap()).await.is_err());
    tessera.stop().await;
}

#[tokio::test]
async fn discovery_and_keys_follow_the_specs_and_rotate() {
    let tessera = TestApp::demo().await;
    let http = reqwest::Client::new();
    let doc: serde_json::Value = http
        .get(tessera.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], tessera.origin());
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    let jwks = |http: reqwest::Client| {
        let url = tessera.url("/oauth2/jwks");
        async move {
            let set: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
            set["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let before = jwks(http.clone()).await;
    assert_eq!(before.len(), 2, "one RS256 and one ES256 key");
    let wiki = register(&tessera, wiki_app()).await;
    let (browser, _) = two_step_staff(&tessera, "Ida Jones").await;
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let verifier = PkceCodeVerifier::new(started.verifier.secret().clone());
    let old_token = wiki.exchange(&code, verifier).await.unwrap();

    tessera
        .running()
        .tessera
        .rotate_signing_keys(By::Operator)
        .await
        .unwrap();
    let after = jwks(http.clone()).await;
    assert_eq!(after.len(), 4, "the old keys are still published");
    for kid in &before {
        assert!(after.contains(kid));
    }
    // A token signed before the rotation still verifies against the keys published now;
    // a new one is signed with a new key.
    let again = discover(
        &tessera,
        wiki.client_id.clone(),
        wiki.secret.clone(),
        Alg::Rs256,
    )
    .await;
    old_token
        .id_token()
        .unwrap()
        .claims(&again.rp.id_token_verifier(), &started.nonce)
        .expect("the retired key still verifies its tokens");
    let started = again.start(&[]);
    let code = code_for(&browser, &started).await;
    let new_token = again.exchange(&code, started.verifier).await.unwrap();
    let new_kid = kid_of(&new_token.id_token().unwrap().to_string());
    assert!(!before.contains(&new_kid), "signed with the new key");
    // A day later the retired keys are no longer published.
    tessera.advance(25 * 3600);
    let later = jwks(http).await;
    assert_eq!(later.len(), 2);
    assert!(later.contains(&new_kid));
    tessera.stop().await;
}

#[tokio::test]
async fn the_command_line_registers_lists_and_removes_apps() {
    let tessera = TestApp::demo().await;
    if tessera.on_postgres() {
        // The command line reads the data folder's settings: SQLite only here.
        tessera.stop().await;
        return;
    }
    let dir = tessera.dir.path().to_path_buf();
    let (ok, out) = common::cli(
        &dir,
        &[
            "app",
            "add",
            "--name",
            "File share",
            "--redirect-uri",
            CALLBACK,
            "--role",
            "staff",
            "--alg",
            "ES256",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(out.contains("client_secret"), "{out}");
    let (ok, out) = common::cli(&dir, &["app", "list"], None);
    assert!(
        ok && out.contains("File share") && out.contains("two steps required"),
        "{out}"
    );
    let (ok, out) = common::cli(
        &dir,
        &[
            "app",
            "add",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    );
    assert!(!ok && out.contains("https"), "{out}");
    let (ok, out) = common::cli(&dir, &["app", "new-secret", "File share"], None);
    assert!(ok && out.contains("old one no longer works"), "{out}");
    let (ok, out) = common::cli(&dir, &["app", "remove", "File share"], None);
    assert!(ok, "{out}");
    let (_, out) = common::cli(&dir, &["app", "list"], None);
    assert!(!out.contains("File share"), "{out}");
    // The demo data's example app is there from the start: public, two steps required.
    assert!(
        out.contains("demo-notes  Demo notes (example app)"),
        "{out}"
    );
    assert!(
        out.contains("public; for admin, helpdesk, auditor, staff; two steps required"),
        "{out}"
    );
    let kinds = tessera.audit_kinds().await;
    for kind in ["app_registered", "app_changed", "app_removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    tessera.stop().await;
}
