//! Adding people and changing who they are, over HTTP against the real server: invitations
//! (single use, opening is not using, resend kills the old link, expiry, the second step
//! never skipped), CSV imports (preview, same-file hash, all or nothing, limits), a new
//! email address confirmed by link, and a password-reset link.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::console::PASSWORD;
use common::*;
use serde_json::json;
use tessera_core::accounts::Role;

/// The token of the newest mailed link to `path` in a mail to `to`.
async fn link_token(app: &TestApp, to: &str, path: &str) -> String {
    let mail = app.wait_for_mail(&[to, path]).await;
    newest_token(app, to, path).unwrap_or_else(|| panic!("no {path} link in {mail}"))
}

/// Every mail to `to` that carries a `path` link, oldest first, as tokens.
fn tokens(app: &TestApp, to: &str, path: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(app.outbox_dir())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let needle = format!("{path}?token=");
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|m| readable(&m))
        .filter(|m| m.contains(&format!("To: {to}")) || m.contains(&format!("<{to}>")))
        .filter_map(|m| {
            let start = m.find(&needle)? + needle.len();
            Some(
                m[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect(),
            )
        })
        .collect()
}

fn newest_token(app: &TestApp, to: &str, path: &str) -> Option<String> {
    tokens(app, to, path).pop()
}

fn message(answer: &Answer) -> String {
    answer.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn details(c: &Client, token: &str, kind: &str) -> Answer {
    c.call("link_details", json!({"token": token, "kind": kind}))
        .await
}

#[tokio::test]
async fn an_invitation_is_used_once_by_its_form_and_leads_into_the_wizard() {
    let app = TestApp::demo().await;
    app.running()
        .tessera
        .operator_require_two_factor(true)
        .await
        .unwrap();
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let email = "new.nurse@riverside.example";
    let sent = admin
        .client
        .call(
            "admin/invite_user",
            json!({"email": email, "name": "New Nurse", "role": "staff"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let token = link_token(&app, email, "/invitation").await;

    // Opening the link (the page, and its details) uses nothing, however often.
    let visitor = app.client();
    for _ in 0..2 {
        let page = visitor.get(&format!("/invitation?token={token}")).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("New Nurse"));
        assert_eq!(details(&visitor, &token, "invitation").await.status, 200);
    }
    // No password yet: signing in fails like any wrong password.
    assert_eq!(
        visitor
            .sign_in_status(email.into(), "anything at all")
            .await,
        401
    );
    // A refused password leaves the link usable.
    let weak = visitor
        .call(
            "accept_invitation",
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(weak.status, 422, "{weak:?}");
    let accepted = visitor
        .call(
            "accept_invitation",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert_eq!(accepted.body["next"], "/setup-2fa", "required: the wizard");
    // Only the wizard: not a full session.
    assert_eq!(visitor.me().await.status, 403);
    assert_eq!(
        visitor.call("setup_wizard_status", json!({})).await.status,
        200
    );
    // Used up.
    let again = app
        .client()
        .call(
            "accept_invitation",
            json!({"token": token, "password": "another fine passphrase"}),
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(message(&again).contains("already used"), "{again:?}");
    // The password chosen is the one that works; the second step is still owed.
    let later = app.client();
    let signed = later.sign_in(email, PASSWORD).await;
    assert_eq!(signed.body["next"], "/setup-2fa");
    let kinds = app.audit_kinds().await;
    assert!(kinds.contains(&"user_invited".to_string()));
    assert!(kinds.contains(&"invitation_accepted".to_string()));
    app.stop().await;
}

#[tokio::test]
async fn resending_kills_the_old_link_one_account_per_address_and_links_expire() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let email = "late.joiner@riverside.example";
    let sent = admin
        .client
        .call(
            "admin/invite_user",
            json!({"email": email, "name": "Late Joiner", "role": "auditor"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let id = sent.body["id"].as_str().unwrap().to_string();
    let first = link_token(&app, email, "/invitation").await;
    let twice = admin
        .client
        .call(
            "admin/invite_user",
            json!({"email": "Late.Joiner@riverside.example", "name": "Late Again", "role": "staff"}),
        )
        .await;
    assert_eq!(twice.status, 409, "one account per address: {twice:?}");

    let resent = admin
        .client
        .call("admin/resend_invitation", json!({"id": id}))
        .await;
    assert_eq!(resent.status, 200, "{resent:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokens(&app, email, "/invitation").len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second invitation");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = newest_token(&app, email, "/invitation").unwrap();
    assert_ne!(first, second);
    let c = app.client();
    let old = details(&c, &first, "invitation").await;
    assert_eq!(old.status, 422);
    assert!(message(&old).contains("newer"), "{old:?}");
    assert_eq!(details(&c, &second, "invitation").await.status, 200);
    // Wrong kind of link, junk, and the clock past 72 hours.
    assert_eq!(details(&c, &second, "password_reset").await.status, 422);
    assert_eq!(details(&c, "junk", "invitation").await.status, 422);
    app.advance(72 * 60 * 60 + 1);
    let late = c
        .call(
            "accept_invitation",
            json!({"token": second, "password": PASSWORD}),
        )
        .await;
    assert_eq!(late.status, 422);
    assert!(message(&late).contains("expired"), "{late:?}");

    // Staff cannot invite; an admin without a fresh step-up is asked to confirm.
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let refused = staff
        .client
        .call(
            "admin/invite_user",
            json!({"email": "x@riverside.example", "name": "X", "role": "staff"}),
        )
        .await;
    assert_eq!(refused.status, 403);
    let other = app.person("Bo Admin", Role::Admin, true).await;
    let stale = other
        .client
        .call(
            "admin/invite_user",
            json!({"email": "y@riverside.example", "name": "Y", "role": "staff"}),
        )
        .await;
    assert_eq!(stale.status, 403, "{stale:?}");
    assert_eq!(stale.error(), "step_up_required");
    app.stop().await;
}

#[tokio::test]
async fn an_import_previews_every_problem_and_adds_everyone_or_no_one() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let c = &admin.client;
    let before = app.count("users").await;

    // Excel's way: a byte-order mark, semicolons, a header; three problems.
    let bad = "\u{feff}Email;Name;Role\r\nrita@riverside.example;Rita Ray;staff\r\n\
               not-an-address;Zed;staff\r\nRITA@riverside.example;Rita Twice;staff\r\n\
               omar@riverside.example;Omar Ali;janitor\r\nnurse.jones@riverside.example;Already Here;staff\r\n";
    let preview = c.call("admin/preview_import", json!({"file": bad})).await;
    assert_eq!(preview.status, 200, "{preview:?}");
    assert_eq!(preview.body["valid"], 1);
    assert_eq!(preview.body["problems"], 4);
    let problems: Vec<(u64, String)> = preview.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["problem"].is_null())
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![3, 4, 5, 6]
    );
    assert!(problems[1].1.contains("earlier in the file"));
    assert!(problems[3].1.contains("already exists"));
    let hash = preview.body["hash"].as_str().unwrap().to_string();
    let refused = c
        .call("admin/import_users", json!({"file": bad, "hash": hash}))
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(app.count("users").await, before, "nothing written");

    // A good file, but another file is sent than the one previewed: refused.
    let good: String = (0..40)
        .map(|i| format!("person{i:02}@import.example,Imported Person {i:02},staff\n"))
        .collect();
    let preview = c.call("admin/preview_import", json!({"file": good})).await;
    assert_eq!(preview.body["valid"], 40);
    let hash = preview.body["hash"].as_str().unwrap().to_string();
    let other = format!("{good}extra@import.example,Extra,staff\n");
    let swapped = c
        .call("admin/import_users", json!({"file": other, "hash": hash}))
        .await;
    assert_eq!(swapped.status, 422);
    assert!(message(&swapped).contains("previewed"), "{swapped:?}");

    // An address taken between preview and import: nobody is added.
    app.running()
        .tessera
        .create_user(
            None,
            "person07@import.example",
            "Got There First",
            Role::Staff,
            None,
        )
        .await
        .unwrap();
    let raced = c
        .call("admin/import_users", json!({"file": good, "hash": hash}))
        .await;
    assert_eq!(raced.status, 422, "{raced:?}");
    assert_eq!(app.count("users").await, before + 1, "all or nothing");

    // Without the taken address: everyone, each with an invitation.
    let good: String = good
        .lines()
        .filter(|l| !l.starts_with("person07"))
        .map(|l| format!("{l}\n"))
        .collect();
    let preview = c.call("admin/preview_import", json!({"file": good})).await;
    let hash = preview.body["hash"].as_str().unwrap().to_string();
    let done = c
        .call("admin/import_users", json!({"file": good, "hash": hash}))
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body, 39);
    assert_eq!(app.count("users").await, before + 40);
    link_token(&app, "person39@import.example", "/invitation").await;
    let pending = c
        .call(
            "admin/list_users",
            json!({"query": {"status": "pending", "q": "imported person"}}),
        )
        .await;
    assert_eq!(pending.body["rows"].as_array().unwrap().len(), 39);

    // Limits: more than 10,000 people, a 10 MB file, an auditor.
    let many: String = (0..10_001)
        .map(|i| format!("p{i}@big.example,P {i},staff\n"))
        .collect();
    let over = c.call("admin/preview_import", json!({"file": many})).await;
    assert_eq!(over.status, 422);
    assert!(message(&over).contains("10000"), "{over:?}");
    let huge = "a".repeat(10 * 1024 * 1024);
    let too_big = c.call("admin/preview_import", json!({"file": huge})).await;
    assert_eq!(too_big.status, 413);
    let auditor = app.person("Ada Auditor", Role::Auditor, false).await;
    let looked = auditor
        .client
        .call("admin/preview_import", json!({"file": good}))
        .await;
    assert_eq!(looked.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_new_address_counts_once_confirmed_and_a_reset_link_sets_a_password() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let staff = app.person("Sam Staff", Role::Staff, true).await;
    let new_email = "sam.new@riverside.example";
    let edited = admin
        .client
        .call(
            "admin/edit_user",
            json!({"id": staff.id, "name": "Samantha Staff", "email": new_email}),
        )
        .await;
    assert_eq!(edited.status, 200, "{edited:?}");
    assert_eq!(edited.body, "confirmation_sent");
    let token = link_token(&app, new_email, "/confirm-email").await;
    app.wait_for_mail(&[&staff.email, "is changing"]).await;
    // Until confirmed, the old address is the one that signs in.
    assert_eq!(
        app.client()
            .sign_in_status(staff.email.clone(), PASSWORD)
            .await,
        200
    );
    let page = details(&app.client(), &token, "email_change").await;
    assert_eq!(page.body["new_email"], new_email);
    let confirmed = app
        .client()
        .call("confirm_email_change", json!({"token": token}))
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(
        app.client()
            .sign_in_status(staff.email.clone(), PASSWORD)
            .await,
        401
    );
    assert_eq!(
        app.client()
            .sign_in_status(new_email.into(), PASSWORD)
            .await,
        200
    );
    let detail = admin
        .client
        .call("admin/user_details", json!({"id": staff.id}))
        .await;
    assert_eq!(detail.body["user"]["name"], "Samantha Staff");
    assert_eq!(detail.body["user"]["email"], new_email);
    // Another account's address is refused.
    let taken = admin
        .client
        .call(
            "admin/edit_user",
            json!({"id": staff.id, "name": "Samantha Staff", "email": STAFF}),
        )
        .await;
    assert_eq!(taken.status, 422);

    // A password-reset link: sessions end, the new password works, the second step stays.
    let sent = admin
        .client
        .call("admin/send_password_reset", json!({"id": staff.id}))
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let token = link_token(&app, new_email, "/reset-password").await;
    let fresh = "a brand new passphrase for sam";
    let reset = app
        .client()
        .call(
            "reset_password_with_link",
            json!({"token": token, "password": fresh}),
        )
        .await;
    assert_eq!(reset.status, 200, "{reset:?}");
    assert_eq!(staff.client.me().await.status, 401, "signed out everywhere");
    let again = app.client();
    let signed = again.sign_in(new_email, fresh).await;
    assert_eq!(signed.status, 200);
    assert_eq!(
        signed.body["next"], "/signin/verify",
        "the second step stays"
    );
    let reused = app
        .client()
        .call(
            "reset_password_with_link",
            json!({"token": token, "password": "yet another passphrase here"}),
        )
        .await;
    assert_eq!(reused.status, 422);
    app.stop().await;
}

/// The operators' command line: `tessera user invite` and `tessera user import FILE`
/// (which refuses a file with a bad row, adds nobody, and says which line).
#[test]
fn the_command_line_invites_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let tessera = |args: &[&str]| cli(dir.path(), args, None);
    let (ok, out) = tessera(&[
        "user",
        "create",
        "--email",
        "boss@clinic.example",
        "--name",
        "Boss",
        "--role",
        "admin",
        "--organisation",
        "Hillside Clinic",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = tessera(&[
        "user",
        "invite",
        "--email",
        "Nia@Clinic.example",
        "--name",
        "Nia Obi",
        "--role",
        "helpdesk",
    ]);
    assert!(
        ok && out.contains("invited nia@clinic.example (helpdesk)"),
        "{out}"
    );
    let (ok, out) = tessera(&[
        "user",
        "invite",
        "--email",
        "nia@clinic.example",
        "--name",
        "Nia",
    ]);
    assert!(!ok && out.contains("already exists"), "{out}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "email,name,role\nok@clinic.example,Ok Person,staff\nbroken,Bad Row,staff\n",
    )
    .unwrap();
    let (ok, out) = tessera(&["user", "import", bad.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("line 3: broken:") && out.contains("nobody was added"),
        "{out}"
    );
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "\u{feff}ana.lee@clinic.example;Ana;staff\r\nben.kay@clinic.example;Ben;auditor\r\n",
    )
    .unwrap();
    let (ok, out) = tessera(&["user", "import", good.to_str().unwrap(), "--dry-run"]);
    assert!(ok && out.contains("2 people can be added"), "{out}");
    let (ok, out) = tessera(&["user", "list"]);
    assert!(
        ok && !out.contains("ana.lee@clinic.example"),
        "a dry run writes nothing: {out}"
    );
    let (ok, out) = tessera(&["user", "import", good.to_str().unwrap()]);
    assert!(ok && out.contains("2 people added"), "{out}");
    let (ok, out) = tessera(&["user", "list"]);
    assert!(ok, "{out}");
    for email in [
        "ok@clinic.example",
        "nia@clinic.example",
        "ana.lee@clinic.example",
        "ben.kay@clinic.example",
    ] {
        assert_eq!(
            out.contains(email),
            email != "ok@clinic.example",
            "{email}: {out}"
        );
    }
}

/// A typo in a pending invitation's address: correcting it moves the invitation (the old
/// link dies); without the requirement, accepting gives a full session. Setting an
/// address back cancels its confirmation; disabling an account kills its links.
#[tokio::test]
async fn corrections_and_disabling_leave_no_old_link_alive() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ann Admin", Role::Admin).await;
    let c = &admin.client;
    let typo = "robin.rihgt@riverside.example";
    let sent = c
        .call(
            "admin/invite_user",
            json!({"email": typo, "name": "Robin Right", "role": "staff"}),
        )
        .await;
    let id = sent.body["id"].as_str().unwrap().to_string();
    let old = link_token(&app, typo, "/invitation").await;
    let fixed = "robin.right@riverside.example";
    let edited = c
        .call(
            "admin/edit_user",
            json!({"id": id, "name": "Robin Right", "email": fixed}),
        )
        .await;
    assert_eq!(edited.body, "invitation_resent", "{edited:?}");
    let visitor = app.client();
    assert_eq!(details(&visitor, &old, "invitation").await.status, 422);
    let new = link_token(&app, fixed, "/invitation").await;
    let accepted = visitor
        .call(
            "accept_invitation",
            json!({"token": new, "password": PASSWORD}),
        )
        .await;
    assert_eq!(accepted.body["next"], "/", "not required: signed in");
    assert_eq!(visitor.me().await.status, 200);

    // An address change set back before it was confirmed: the link no longer works.
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let moved = c
        .call(
            "admin/edit_user",
            json!({"id": staff.id, "name": "Sam Staff", "email": "sam.elsewhere@riverside.example"}),
        )
        .await;
    assert_eq!(moved.body, "confirmation_sent");
    let confirm = link_token(&app, "sam.elsewhere@riverside.example", "/confirm-email").await;
    let back = c
        .call(
            "admin/edit_user",
            json!({"id": staff.id, "name": "Sam Staff", "email": staff.email}),
        )
        .await;
    assert_eq!(back.body, "unchanged");
    let late = app
        .client()
        .call("confirm_email_change", json!({"token": confirm}))
        .await;
    assert_eq!(late.status, 422);

    // Disabling kills a password-reset link; enabling again does not revive it.
    let sent = c
        .call("admin/send_password_reset", json!({"id": staff.id}))
        .await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let reset = link_token(&app, &staff.email, "/reset-password").await;
    for active in [false, true] {
        let done = c
            .call(
                "admin/set_user_active",
                json!({"id": staff.id, "active": active}),
            )
            .await;
        assert_eq!(done.status, 200, "{done:?}");
    }
    let used = app
        .client()
        .call(
            "reset_password_with_link",
            json!({"token": reset, "password": "a brand new passphrase for sam"}),
        )
        .await;
    assert_eq!(used.status, 422, "{used:?}");
    app.stop().await;
}
