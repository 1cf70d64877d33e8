//! The audit trail's tamper evidence and its page: the chain stays intact over a thousand
//! mixed events; records edited, deleted, reordered or cut off behind the application's
//! back (its append-only triggers dropped) are each pointed at; `tessera audit verify`
//! says the same from the command line; the page filters by kind, person and dates with
//! keyset pages, and its CSV export arrives with formula cells escaped.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::service::ClientInfo;

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(app.running().tessera.db().pool())
        .await
        .unwrap();
}

/// The row `id` of the trail, every column, to put back later.
async fn row(app: &TestApp, id: i64) -> Vec<Option<String>> {
    let r = sqlx::query(
        "SELECT CAST(id AS TEXT), CAST(at AS TEXT), kind, actor_id, subject_id, subject, \
         client_addr, detail, CAST(seq AS TEXT), mac FROM audit_log WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.running().tessera.db().pool())
    .await
    .unwrap();
    use sqlx::Row as _;
    (0..10).map(|i| r.get::<Option<String>, _>(i)).collect()
}

async fn put_back(app: &TestApp, values: &[Option<String>]) {
    let mut q = sqlx::query(
        "INSERT INTO audit_log (id, at, kind, actor_id, subject_id, subject, client_addr, detail, seq, mac) \
         VALUES (CAST($1 AS INTEGER), CAST($2 AS INTEGER), $3, $4, $5, $6, $7, $8, CAST($9 AS INTEGER), $10)",
    );
    for v in values {
        q = q.bind(v.clone());
    }
    q.execute(app.running().tessera.db().pool()).await.unwrap();
}

async fn broken_at(app: &TestApp, expect: Option<&str>) -> (Option<i64>, String) {
    let v = app.running().tessera.verify_audit(expect).await.unwrap();
    let b = v.broken.expect("the tampering is noticed");
    (b.id, b.why)
}

#[tokio::test]
async fn the_chain_holds_over_a_thousand_events_and_points_at_every_tampered_record() {
    let app = TestApp::demo().await;
    let tessera = app.running().tessera.clone();
    let client = ClientInfo {
        addr: "10.1.2.3".into(),
        user_agent: "test".into(),
    };
    // A thousand and more records of mixed kinds, some from tasks running at once.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let t = tessera.clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..60 {
                let email = format!("person{i}x{j}@riverside.example");
                t.create_user(None, &email, "Someone", Role::Staff, None)
                    .await
                    .unwrap();
                let _ = t.sign_in(&email, "not the password", false, &client).await;
                let _ = t
                    .sign_in(
                        "=HYPERLINK(\"http://evil\")@x.example",
                        "pw",
                        false,
                        &client,
                    )
                    .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = app.count("audit_log").await;
    assert!(total >= 1000, "{total}");
    let v = tessera.verify_audit(None).await.unwrap();
    assert_eq!(v.broken, None);
    assert_eq!(v.records + v.unsealed_before, total);
    let (seq, head) = tessera.audit_head().await.unwrap();
    assert_eq!((v.records, v.head.clone()), (seq, head.clone()));

    // Someone with the database's owner rights switches off the append-only triggers.
    if app.on_postgres() {
        exec(&app, "ALTER TABLE audit_log DISABLE TRIGGER USER").await;
    } else {
        exec(&app, "DROP TRIGGER audit_log_no_update").await;
        exec(&app, "DROP TRIGGER audit_log_no_delete").await;
    }
    let (first, last): (i64, i64) =
        sqlx::query_as("SELECT MIN(id), MAX(id) FROM audit_log WHERE seq IS NOT NULL")
            .fetch_one(tessera.db().pool())
            .await
            .unwrap();
    let k = first + 500;

    // Edited: its own seal no longer matches.
    let original = row(&app, k).await;
    exec(
        &app,
        &format!("UPDATE audit_log SET detail = 'nothing happened' WHERE id = {k}"),
    )
    .await;
    assert_eq!(broken_at(&app, None).await.0, Some(k));
    exec(&app, &format!("DELETE FROM audit_log WHERE id = {k}")).await;
    put_back(&app, &original).await;
    assert_eq!(
        tessera.verify_audit(None).await.unwrap().broken,
        None,
        "put back"
    );

    // Deleted: the next record is out of place.
    exec(&app, &format!("DELETE FROM audit_log WHERE id = {k}")).await;
    let (id, why) = broken_at(&app, None).await;
    assert_eq!(id, Some(k + 1), "{why}");
    put_back(&app, &original).await;

    // Reordered: two records swap places (ids kept, contents swapped).
    let next = row(&app, k + 1).await;
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE id IN ({k}, {})", k + 1),
    )
    .await;
    let mut a = next.clone();
    a[0] = Some(k.to_string());
    let mut b = original.clone();
    b[0] = Some((k + 1).to_string());
    put_back(&app, &a).await;
    put_back(&app, &b).await;
    assert_eq!(broken_at(&app, None).await.0, Some(k));
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE id IN ({k}, {})", k + 1),
    )
    .await;
    put_back(&app, &original).await;
    put_back(&app, &next).await;
    assert_eq!(tessera.verify_audit(None).await.unwrap().broken, None);

    // A record slipped in without a seal.
    exec(
        &app,
        &format!(
            "INSERT INTO audit_log (id, at, kind, detail) VALUES ({}, 1, 'signed_out', '')",
            last + 1000
        ),
    )
    .await;
    assert_eq!(broken_at(&app, None).await.0, Some(last + 1000));
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE id = {}", last + 1000),
    )
    .await;

    // Cut off at the end, and the head row made to match: intact on its own, but not the
    // head seen earlier (the daily mail's).
    let tail: Vec<Vec<Option<String>>> = {
        let mut rows = Vec::new();
        for id in last - 4..=last {
            rows.push(row(&app, id).await);
        }
        rows
    };
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE id > {}", last - 5),
    )
    .await;
    let (_, why) = broken_at(&app, None).await;
    assert!(why.contains("newest records were removed"), "{why}");
    let new_head = &row(&app, last - 5).await[9];
    sqlx::query("UPDATE audit_chain SET seq = seq - 5, head = $1")
        .bind(new_head.clone())
        .execute(tessera.db().pool())
        .await
        .unwrap();
    assert_eq!(tessera.verify_audit(None).await.unwrap().broken, None);
    let (id, why) = broken_at(&app, Some(&head)).await;
    assert_eq!(id, None);
    assert!(why.contains("not in the chain"), "{why}");
    for r in &tail {
        put_back(&app, r).await;
    }
    sqlx::query("UPDATE audit_chain SET seq = seq + 5, head = $1")
        .bind(&head)
        .execute(tessera.db().pool())
        .await
        .unwrap();
    assert_eq!(
        tessera.verify_audit(Some(&head)).await.unwrap().broken,
        None
    );
    app.stop().await;
}

/// `tessera audit verify` and `head` from the command line, against a data folder the CLI
/// itself filled.
#[test]
fn the_command_line_verifies_the_chain_and_names_the_record_that_does_not_match() {
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
        "organisation",
        "policy",
        "--require",
        "on",
        "--enrolment-days",
        "5",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("changed: enrolment period for new people (days): 0 → 5"),
        "{out}"
    );
    let (ok, out) = tessera(&["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("4 records, chain intact, head "), "{out}");
    let (ok, head) = tessera(&["audit", "head"]);
    assert!(ok && head.starts_with("record 4, head "), "{head}");
    let head = head.trim().rsplit(' ').next().unwrap().to_string();
    let (ok, out) = tessera(&["audit", "verify", "--expect", &head]);
    assert!(ok, "{out}");

    let db = dir.path().join("tessera.db");
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute('DROP TRIGGER audit_log_no_update'); \
             c.execute(\"UPDATE audit_log SET detail='quiet' WHERE seq=2\"); c.commit()",
        )
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    let (ok, out) = tessera(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("does not match"), "{out}");
    assert!(out.contains("(1 records before it are intact)"), "{out}");
}

#[tokio::test]
async fn the_audit_page_filters_pages_and_exports_with_formulas_escaped() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ada Admin", Role::Admin).await;
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    let typed = "=HYPERLINK(\"http://evil.example\",\"x\")@x.example";
    for _ in 0..3 {
        app.client().sign_in(typed, "wrong").await;
    }
    for _ in 0..60 {
        app.client().sign_in(&staff.email, "wrong password").await;
        app.advance(1);
    }
    // Staff may not look.
    assert_eq!(
        staff
            .client
            .call("admin/audit_events", json!({"query": {}}))
            .await
            .status,
        403
    );
    // By person: their own records only, newest first, in pages that do not overlap.
    let page = |query: serde_json::Value| {
        let c = admin.client.clone();
        async move { c.call("admin/audit_events", json!({"query": query})).await }
    };
    let first = page(json!({"user": staff.email})).await;
    assert_eq!(first.status, 200, "{first:?}");
    let entries = first.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 50);
    assert!(entries.iter().all(|e| e["subject"] == staff.email.as_str()));
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let before = first.body["next_before"].as_i64().unwrap();
    let second = page(json!({"user": staff.email, "before": before.to_string()})).await;
    let more = second.body["entries"].as_array().unwrap();
    assert!(more.iter().all(|e| e["id"].as_i64().unwrap() < before));
    let theirs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log a JOIN users u ON u.email = $1 \
         WHERE a.subject = u.email OR a.subject_id = u.id OR a.actor_id = u.id",
    )
    .bind(&staff.email)
    .fetch_one(app.running().tessera.db().pool())
    .await
    .unwrap();
    assert_eq!((entries.len() + more.len()) as i64, theirs);
    // By kind group, in plain words.
    let failed = page(json!({"group": "Sign-in", "user": staff.email})).await;
    assert!(failed.body["entries"][0]["what"]
        .as_str()
        .unwrap()
        .starts_with("Sign-in"));
    // A date range that ends before everything: nothing.
    let none = page(json!({"to": "2000-01-01"})).await;
    assert_eq!(none.body["entries"], json!([]));
    // Bad input is refused with a reason.
    assert_eq!(page(json!({"from": "yesterday"})).await.status, 422);
    assert_eq!(page(json!({"group": "Nonsense"})).await.status, 422);

    // The export of a view: the typed address arrives as text, not as a formula.
    let csv = admin
        .client
        .get(&format!("/admin/audit.csv?user={}", url_encode(typed)))
        .await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3, "{body}");
    // As stored: lower case, as every address is.
    let stored = typed.to_lowercase();
    assert!(rows.iter().all(|r| r[3] == format!("'{stored}")), "{body}");
    assert!(app.audit_kinds().await.contains(&"audit_exported".into()));
    assert_eq!(staff.client.get("/admin/audit.csv").await.status(), 403);
    app.stop().await;
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The report's numbers are the data's: compared with direct counts after a mix of
/// people, methods, an exception, a reset and a lockout; its downloads carry the same.
#[tokio::test]
async fn the_report_counts_what_the_data_says_and_downloads_the_same() {
    let app = TestApp::demo().await;
    let admin = app.stepped_up("Ada Admin", Role::Admin).await;
    let auditor = app.person("Audrey Auditor", Role::Auditor, false).await;
    let staff = app.person("Sam Staff", Role::Staff, false).await;
    app.person("Sue Staff", Role::Staff, true).await;
    let tessera = app.running().tessera.clone();
    let mut settings = tessera.settings().await.unwrap();
    settings.required = true;
    tessera
        .update_settings(tessera_core::service::By::Operator, &settings)
        .await
        .unwrap();
    let today = tessera_core::service::format_date(app.clock_now());
    let grant = admin
        .client
        .call(
            "admin/grant_exception",
            json!({"id": staff.id, "last_day": today, "reason": "phone in repair"}),
        )
        .await;
    assert_eq!(grant.status, 200, "{grant:?}");
    for _ in 0..12 {
        app.client().sign_in(&staff.email, "wrong").await;
        app.advance(120);
    }
    let (ended, _) = tessera.housekeeping().await.unwrap();
    assert_eq!(ended, 0);

    let report = auditor
        .client
        .call("admin/compliance_report", json!({"query": {}}))
        .await;
    assert_eq!(report.status, 200, "{report:?}");
    let r = &report.body;
    let pool = tessera.db().pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let in_scope =
        count("SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL").await;
    let on = count("SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL AND two_factor_enabled = 1").await;
    assert_eq!(r["in_scope"], in_scope);
    assert_eq!(r["with_two_step"], on);
    assert_eq!(r["not_set_up_count"], in_scope - on);
    assert_eq!(
        r["not_set_up"].as_array().unwrap().len() as i64,
        in_scope - on
    );
    assert_eq!(r["exceptions"].as_array().unwrap().len(), 1);
    assert_eq!(r["exceptions"][0][3], "phone in repair");
    let roles: i64 = r["by_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[1].as_i64().unwrap())
        .sum();
    assert_eq!(roles, in_scope);
    let lockouts = count("SELECT COUNT(*) FROM audit_log WHERE kind = 'account_locked'").await;
    assert!(lockouts >= 1);
    assert_eq!(r["lockouts"], lockouts);
    assert_eq!(
        r["policy_history"][0]["detail"],
        "require two-step authentication: off → on (from the server's command line)"
    );
    let (seq, _) = tessera.audit_head().await.unwrap();
    assert!(r["audit_seq"].as_i64().unwrap() <= seq);
    assert_eq!(
        r["coverage"].as_array().unwrap().last().unwrap()[1]
            .as_f64()
            .unwrap(),
        tessera_core::service::Report::percent(on, in_scope)
    );
    // The page, and the same numbers as JSON and CSV.
    let page = auditor
        .client
        .get("/admin/report")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("coverage-chart"),
        "the chart is drawn on the server"
    );
    assert!(page.contains(&format!(
        "{on} ({}%)",
        tessera_core::service::Report::percent(on, in_scope)
    )));
    let json: serde_json::Value = auditor
        .client
        .get("/admin/report.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["in_scope"], in_scope);
    assert_eq!(json["with_two_step"], on);
    let csv = auditor
        .client
        .get("/admin/report.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains(&format!("now,in scope,{in_scope}")), "{csv}");
    // Nothing was recorded since the JSON was made: the same head.
    let (_, head) = tessera.audit_head().await.unwrap();
    assert_eq!(json["audit_head"], head.as_str());
    assert!(csv.contains(&format!("audit trail,head,{head}")), "{csv}");
    // Staff may not see it; a bad period is refused with a reason.
    assert_eq!(staff.client.get("/admin/report.json").await.status(), 403);
    let bad = auditor
        .client
        .call(
            "admin/compliance_report",
            json!({"query": {"from": "2026-02-30"}}),
        )
        .await;
    assert_eq!(bad.status, 422, "{bad:?}");
    app.stop().await;
}
