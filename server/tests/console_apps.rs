//! The console's Apps page over HTTP: registering an app (its secret shown once and then
//! working at the token endpoint), a new secret killing the old, switching off, removing,
//! protecting a site; step-up and bad input refused with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rp::*;
use common::TestApp;
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::oidc::keys::Alg;

fn form(name: &str, redirect: &str) -> serde_json::Value {
    json!({"form": {
        "name": name,
        "public": false,
        "redirect_uris": redirect,
        "post_logout_uris": "",
        "roles": ["staff", "admin"],
        "password_enough": false,
        "refresh_tokens": true,
        "access_token_secs": 300,
        "alg": "RS256",
        "backchannel_logout_uri": ""
    }})
}

#[tokio::test]
async fn admins_register_and_look_after_apps_from_the_console() {
    let tessera = TestApp::demo().await;
    let admin = tessera.stepped_up("Ann Admin", Role::Admin).await;

    // Bad input: a clear error, nothing stored.
    let bad = admin
        .client
        .call("admin/register_app", form("Wiki", "http://wiki.example/cb"))
        .await;
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(bad.body["field"], "redirect_uris");
    assert!(bad.body.to_string().contains("https"), "{bad:?}");
    let names = |listed: &common::Answer| -> Vec<String> {
        listed.body["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = admin.client.call("admin/apps", json!({})).await;
    assert_eq!(
        names(&listed),
        ["Demo notes (example app)"],
        "only the demo's"
    );

    // Registered: the credentials once, and they work for a real relying party.
    let made = admin
        .client
        .call("admin/register_app", form("Procedures wiki", CALLBACK))
        .await;
    assert_eq!(made.status, 200, "{made:?}");
    let client_id = made.body["client_id"].as_str().unwrap().to_string();
    let secret = made.body["client_secret"].as_str().unwrap().to_string();
    let listed = admin.client.call("admin/apps", json!({})).await;
    assert!(names(&listed).contains(&"Procedures wiki".to_string()));
    let wiki_row = |listed: &common::Answer| {
        listed.body["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["client_id"] == client_id.as_str())
            .cloned()
    };
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is not shown again"
    );
    let wiki = discover(
        &tessera,
        client_id.clone(),
        Some(secret.clone()),
        Alg::Rs256,
    )
    .await;
    let (browser, bea) = two_step_staff(&tessera, "Bea Cole").await;
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    wiki.exchange(&code, started.verifier).await.unwrap();
    // Her page in the console says when and how she last signed in to it.
    let details = admin
        .client
        .call("admin/user_details", json!({"id": bea.id}))
        .await;
    assert_eq!(details.status, 200, "{details:?}");
    let last = &details.body["app_sign_ins"][0];
    assert_eq!(last[0], "Procedures wiki", "{details:?}");
    assert_eq!(last[2], "pwd otp mfa");
    let page = admin.client.get(&format!("/admin/users/{}", bea.id)).await;
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("with password and authenticator code"));

    // A new secret: the old one stops working, the new one works.
    let fresh = admin
        .client
        .call("admin/new_app_secret", json!({"client_id": client_id}))
        .await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    let new_secret = fresh.body.as_str().unwrap().to_string();
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    let old = wiki.exchange(&code, started.verifier).await.unwrap_err();
    assert!(old.contains("invalid_client"), "{old}");
    let wiki = discover(&tessera, client_id.clone(), Some(new_secret), Alg::Rs256).await;
    let started = wiki.start(&[]);
    let code = code_for(&browser, &started).await;
    wiki.exchange(&code, started.verifier).await.unwrap();

    // Switched off, then removed.
    let off = admin
        .client
        .call(
            "admin/set_app_enabled",
            json!({"client_id": client_id, "enabled": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    let listed = admin.client.call("admin/apps", json!({})).await;
    assert_eq!(wiki_row(&listed).unwrap()["enabled"], false);
    let gone = admin
        .client
        .call("admin/remove_app", json!({"client_id": client_id}))
        .await;
    assert_eq!(gone.status, 200, "{gone:?}");
    let listed = admin.client.call("admin/apps", json!({})).await;
    assert!(wiki_row(&listed).is_none());

    // A protected site.
    let site = admin
        .client
        .call(
            "admin/add_gate_site",
            json!({"name": "Rota", "host": "rota.riverside.example", "roles": ["staff"], "password_enough": false}),
        )
        .await;
    assert_eq!(site.status, 200, "{site:?}");
    let listed = admin.client.call("admin/apps", json!({})).await;
    assert_eq!(listed.body["sites"][0]["host"], "rota.riverside.example");
    let removed = admin
        .client
        .call(
            "admin/remove_gate_site",
            json!({"host": "rota.riverside.example"}),
        )
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");

    // The page: admins see it; every change above is in the trail.
    let page = admin.client.get("/admin/apps").await;
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Apps that sign in through Tessera"));
    let kinds = tessera.audit_kinds().await;
    for kind in ["app_registered", "app_changed", "app_removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}");
    }
    tessera.stop().await;
}

#[tokio::test]
async fn changes_need_a_fresh_step_up_and_an_admin() {
    let tessera = TestApp::demo().await;
    // An admin with two-step sign-in who has not stepped up.
    let admin = tessera.person("Al Admin", Role::Admin, true).await;
    let refused = admin
        .client
        .call("admin/register_app", form("Wiki", CALLBACK))
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.error(), "step_up_required", "{refused:?}");
    // Helpdesk members do not even see the list.
    let helpdesk = tessera.stepped_up("Hal Help", Role::Helpdesk).await;
    assert_eq!(
        helpdesk.client.call("admin/apps", json!({})).await.status,
        403
    );
    assert_eq!(helpdesk.client.get("/admin/apps").await.status(), 403);
    assert_eq!(
        tessera.running().tessera.apps().await.unwrap().len(),
        1,
        "the demo's only"
    );
    tessera.stop().await;
}
