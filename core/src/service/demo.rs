//! The demo organisation, for trying Tessera out: clearly labelled "DEMO", with accounts
//! to sign in as in every role, and a few hundred more people in every state the console
//! shows (two-step on with an app, not set up, pending, disabled, locked, inactive,
//! reminded), so the console looks like a real clinic the first time.

use uuid::Uuid;

use super::Tessera;
use crate::accounts::{self, Email, NewUser, Role};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::throttle::{Scope, ThrottlePolicy};
use crate::totp::TotpKey;
use crate::{backup_codes, CoreError, CoreResult, UnixTime};

/// The demo app's client id (a public app: no secret).
pub const DEMO_APP_ID: &str = "demo-notes";

/// A demo account created on a fresh demo database, to be printed for the operator.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub display_name: String,
}

/// The people beyond the printed accounts.
const CROWD: usize = 300;
const CROWD_PASSWORD: &str = "demo staff passphrase";

const FIRST: [&str; 24] = [
    "Aisha", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jack", "Kemi",
    "Liam", "Maya", "Noah", "Olivia", "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Uma", "Victor",
    "Wen", "Yusuf",
];
const LAST: [&str; 20] = [
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Iqbal", "Johnson",
    "Kowalski", "Lopez", "Murphy", "Nguyen", "Okafor", "Patel", "Rossi", "Smith", "Tanaka",
    "Walsh",
];

/// A small fixed pseudo-random sequence, so every demo database looks the same.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Tessera {
    /// On an empty database, creates the demo organisation and returns the sign-in details
    /// to print. `None` if anything exists already.
    pub async fn seed_demo(&self) -> CoreResult<Option<Vec<DemoAccount>>> {
        if self.organisation().await?.is_some() {
            return Ok(None);
        }
        let people = [
            (
                "admin@riverside.example",
                "Alex Morgan (demo admin)",
                Role::Admin,
                "demo admin passphrase",
            ),
            (
                "helpdesk@riverside.example",
                "Harper Quinn (demo helpdesk)",
                Role::Helpdesk,
                "demo helpdesk passphrase",
            ),
            (
                "auditor@riverside.example",
                "Avery Stone (demo auditor)",
                Role::Auditor,
                "demo auditor passphrase",
            ),
            (
                "nurse.jones@riverside.example",
                "Sam Jones (demo staff)",
                Role::Staff,
                CROWD_PASSWORD,
            ),
            (
                "dr.patel@riverside.example",
                "Priya Patel (demo staff)",
                Role::Staff,
                CROWD_PASSWORD,
            ),
            (
                "reception@riverside.example",
                "Jordan Lee (demo staff)",
                Role::Staff,
                CROWD_PASSWORD,
            ),
        ];
        let mut hashes = Vec::new();
        for (_, _, _, pw) in &people {
            hashes.push(self.hasher.hash(pw).await?);
        }
        // The crowd shares one password hash and one set of backup-code hashes (codes no one
        // was ever shown): demo data only, and it keeps a demo start fast.
        let crowd_hash = self.hasher.hash(CROWD_PASSWORD).await?;
        let mut crowd_codes = Vec::new();
        for code in backup_codes::generate_set() {
            crowd_codes.push((
                code.lookup().to_string(),
                self.hasher.hash(code.secret()).await?,
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        match accounts::insert_organisation(&mut tx, "Riverside Family Clinic (DEMO)", true, now)
            .await
        {
            Err(CoreError::AlreadySetUp) => return Ok(None),
            other => other?,
        }
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated).detail("demo organisation seeded"),
            now,
        )
        .await?;
        let mut created = Vec::new();
        for ((email, name, role, pw), hash) in people.iter().zip(&hashes) {
            let email = Email::parse(email)?;
            self.demo_person(&mut tx, &email, name, *role, Some(hash), now - 400 * 86_400)
                .await?;
            created.push(DemoAccount {
                email: email.to_string(),
                password: pw.to_string(),
                role: *role,
                display_name: name.to_string(),
            });
        }
        self.demo_crowd(&mut tx, &crowd_hash, &crowd_codes, now)
            .await?;
        // One app that signs in through Tessera (`cargo xtask run` starts it on port
        // 3100): public, so it needs no secret, and two steps required, as a clinic's
        // would be.
        crate::oidc::clients::insert(
            &mut tx,
            DEMO_APP_ID,
            &crate::oidc::clients::NewClient {
                name: "Demo notes (example app)".into(),
                confidential: false,
                redirect_uris: vec!["http://127.0.0.1:3100/callback".into()],
                post_logout_uris: vec!["http://127.0.0.1:3100/".into()],
                roles: Role::ALL.to_vec(),
                password_enough: false,
                refresh_tokens: false,
                access_token_secs: 300,
                id_token_alg: crate::oidc::keys::Alg::Rs256,
                backchannel_logout_uri: None,
            },
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    async fn demo_person(
        &self,
        tx: &mut crate::db::Tx,
        email: &Email,
        name: &str,
        role: Role,
        hash: Option<&str>,
        created_at: UnixTime,
    ) -> CoreResult<Uuid> {
        let id = accounts::insert_user(
            tx,
            NewUser {
                email,
                display_name: name,
                role,
                password_hash: hash,
            },
            created_at,
        )
        .await?;
        audit::record(
            tx,
            AuditEvent::new(AuditKind::UserCreated)
                .subject(Some(id), email.as_str())
                .detail("demo account"),
            created_at,
        )
        .await?;
        Ok(id)
    }

    /// A few hundred people in every state the console shows.
    async fn demo_crowd(
        &self,
        tx: &mut crate::db::Tx,
        hash: &str,
        codes: &[(String, String)],
        now: UnixTime,
    ) -> CoreResult<()> {
        let mut dice = Dice(2026);
        for n in 0..CROWD {
            let first = FIRST[dice.below(FIRST.len() as u64) as usize];
            let last = LAST[dice.below(LAST.len() as u64) as usize];
            let email = Email::parse(&format!(
                "{}.{}{n}@riverside.example",
                first.to_lowercase(),
                last.to_lowercase()
            ))?;
            let kind = dice.below(100);
            let pending = (55..60).contains(&kind);
            let created_at = now - (30 + dice.below(700) as i64) * 86_400;
            let id = self
                .demo_person(
                    tx,
                    &email,
                    &format!("{first} {last}"),
                    Role::Staff,
                    (!pending).then_some(hash),
                    created_at,
                )
                .await?;
            let id_text = id.to_string();
            if kind < 55 {
                // Two-step on with an authenticator app (a key no one holds) and codes.
                let sealed = self
                    .server_key
                    .seal(TotpKey::generate().as_bytes(), &id_text)?;
                sqlx::query(
                    "INSERT INTO totp_credentials (user_id, key_sealed, created_at, last_step) VALUES ($1, $2, $3, 0)",
                )
                .bind(&id_text)
                .bind(sealed)
                .bind(created_at + 86_400)
                .execute(&mut **tx)
                .await?;
                crate::second_factor::replace_backup_codes(tx, id, codes, created_at + 86_400)
                    .await?;
                sqlx::query("UPDATE users SET two_factor_enabled = 1 WHERE id = $1")
                    .bind(&id_text)
                    .execute(&mut **tx)
                    .await?;
            }
            if (60..65).contains(&kind) {
                sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
                    .bind(&id_text)
                    .execute(&mut **tx)
                    .await?;
            }
            if (65..68).contains(&kind) {
                // Locked by failed attempts right now.
                sqlx::query(
                    "INSERT INTO throttle (scope, key, failures, last_failure_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(Scope::PasswordAccount.as_str())
                .bind(email.as_str())
                .bind(ThrottlePolicy::ACCOUNT.lock_after)
                .bind(now - 60)
                .execute(&mut **tx)
                .await?;
            }
            if !pending {
                // Most signed in within the month; some not for longer (inactive).
                let days_ago = if dice.below(100) < 80 {
                    dice.below(30)
                } else {
                    30 + dice.below(90)
                };
                sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
                    .bind(now - days_ago as i64 * 86_400 - dice.below(86_400) as i64)
                    .bind(&id_text)
                    .execute(&mut **tx)
                    .await?;
            }
            if (55..100).contains(&kind) && dice.below(3) == 0 {
                sqlx::query("UPDATE users SET last_reminded_at = $1 WHERE id = $2")
                    .bind(now - (2 + dice.below(10) as i64) * 86_400)
                    .bind(&id_text)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}
