//! Second factors: setting up an authenticator app, backup codes, the second sign-in step,
//! and turning two-step authentication off.
//!
//! Like every flow, each change is one transaction with its audit record and its mail;
//! hashing happens before the transaction opens.

use uuid::Uuid;

use super::passkey_flows::Refusal;
use super::{Caller, ClientInfo, Tessera};
use crate::accounts::User;
use crate::audit::{self, AuditEvent, AuditKind};
use crate::backup_codes::{self, BackupCode};
use crate::mail::{self, Mail};
use crate::password::Verified;
use crate::second_factor as store;
use crate::session::{self, SessionState, SessionToken};
use crate::throttle::{self, Scope};
use crate::totp::TotpKey;
use crate::{CoreError, CoreResult, UnixTime};

/// What the page shows while an app is being set up. Shown once; never stored in clear.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub qr_png_base64: String,
    pub key_grouped: String,
    pub otpauth_url: String,
}

/// How the user proves the second step.
#[derive(Debug, Clone)]
pub enum Proof {
    AuthenticatorCode(String),
    BackupCode(String),
    /// A passkey assertion answering the challenge of ceremony `ceremony`.
    Passkey {
        ceremony: Uuid,
        credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
    },
}

/// The user's second factors, for the status panel.
#[derive(Debug, Clone)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    pub passkeys: usize,
    pub authenticator_added_at: Option<UnixTime>,
    pub authenticator_last_used_at: Option<UnixTime>,
    pub backup_codes_left: i64,
}

/// After the second step: the new (full) session, and how many backup codes remain if
/// one was used.
#[derive(Debug)]
pub struct SecondStepOutcome {
    pub token: SessionToken,
    pub backup_codes_left: Option<i64>,
}

/// After a change that can turn 2FA on: the backup codes to show, once.
#[derive(Debug)]
pub struct FactorAdded {
    pub backup_codes: Option<Vec<BackupCode>>,
    /// A setup-wizard session was made full (its cookie must be replaced).
    pub new_session: Option<SessionToken>,
}

/// Failed second steps in a row after which the user is told someone knows the password.
const WARN_AFTER_FAILURES: i64 = 3;

impl Tessera {
    pub async fn two_factor_status(&self, user: &User) -> CoreResult<TwoFactorStatus> {
        let mut conn = self.db.pool().acquire().await?;
        let totp = store::totp(&mut conn, user.id).await?;
        let passkeys = crate::passkeys::list(&mut conn, user.id).await?.len();
        Ok(TwoFactorStatus {
            enabled: user.two_factor_enabled,
            passkeys,
            authenticator_added_at: totp.as_ref().map(|t| t.created_at),
            authenticator_last_used_at: totp.and_then(|t| t.last_used_at),
            backup_codes_left: store::unused_backup_codes(&mut conn, user.id).await?,
        })
    }

    /// Starts setting up an authenticator app (password required). The app is not usable
    /// until [`Tessera::confirm_totp`] sees a code from it.
    pub async fn begin_totp(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<TotpEnrolment> {
        if caller.session.state == SessionState::Full {
            self.confirm_password(caller, password, client).await?;
        }
        let key = TotpKey::generate();
        let issuer = &caller.organisation.name;
        let account = caller.user.email.as_str();
        let enrolment = TotpEnrolment {
            qr_png_base64: key.qr_png_base64(issuer, account)?,
            key_grouped: key.grouped(),
            otpauth_url: key.otpauth_url(issuer, account)?,
        };
        let sealed = self
            .server_key
            .seal(key.as_bytes(), &caller.user.id.to_string());
        let mut tx = self.db.write().await?;
        store::begin_totp_enrolment(&mut tx, caller.user.id, &sealed, self.now()).await?;
        tx.commit().await?;
        Ok(enrolment)
    }

    /// Confirms the app being set up with a current code. The first factor turns 2FA on
    /// and issues backup codes; in the setup wizard it also completes sign-in.
    pub async fn confirm_totp(
        &self,
        caller: &Caller,
        code: &str,
        client: &ClientInfo,
    ) -> CoreResult<FactorAdded> {
        let user = &caller.user;
        let now = self.now();
        let sealed = {
            let mut conn = self.db.pool().acquire().await?;
            store::totp_enrolment(&mut conn, user.id, now).await?
        }
        .ok_or_else(|| {
            CoreError::invalid("code", "The setup has expired. Start adding the app again.")
        })?;
        let key = TotpKey::from_bytes(self.server_key.open(&sealed, &user.id.to_string())?)?;
        let step = key.accept(code, now, -1).ok_or_else(|| {
            CoreError::invalid(
                "code",
                "That code does not match. Check the app shows Tessera and type the current code.",
            )
        })?;
        let codes = self.codes_if_first_factor(user).await?;
        let first_factor = codes.is_some();

        let now = self.now();
        let mut tx = self.db.write().await?;
        store::confirm_totp(&mut tx, user.id, &sealed, step, now).await?;
        let added = factor_added(&mut tx, caller, codes, now).await?;
        let what = format!(
            "An authenticator app was set up for two-step sign-in on your account on {} from {}.",
            crate::clock::format_utc(now),
            client.addr
        );
        self.record_and_tell(
            tx,
            event(AuditKind::AuthenticatorAdded, caller, client).detail(
                if added.backup_codes.is_some() {
                    "two-step authentication turned on; 10 backup codes issued"
                } else if first_factor {
                    "two-step authentication was already on"
                } else {
                    "authenticator app replaced"
                },
            ),
            user,
            (
                "An authenticator app was added to your Tessera account",
                &what,
            ),
            now,
        )
        .await?;
        Ok(added)
    }

    /// The second sign-in step. Failures of every method count together against the
    /// account, before the proof is checked, and survive restarts and new sign-ins.
    pub async fn second_step(
        &self,
        caller: &Caller,
        proof: Proof,
        client: &ClientInfo,
    ) -> CoreResult<SecondStepOutcome> {
        if caller.session.state != SessionState::NeedsSecondFactor {
            return Err(CoreError::SessionEnded);
        }
        let user = &caller.user;
        let key = user.id.to_string();
        let counted = {
            let mut tx = self.db.write().await?;
            match throttle::begin_attempt(&mut tx, Scope::SecondFactorAccount, &key, self.now())
                .await
            {
                Ok(n) => {
                    tx.commit().await?;
                    n
                }
                Err(e @ CoreError::Throttled { .. }) => {
                    audit::record(
                        &mut tx,
                        event(AuditKind::SignInThrottled, caller, client)
                            .detail("second step refused unchecked: too many failures"),
                        self.now(),
                    )
                    .await?;
                    tx.commit().await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        };
        let verified = match &proof {
            Proof::Passkey {
                ceremony,
                credential,
            } => self
                .check_passkey(user.id, *ceremony, credential)
                .await?
                .map(|(passkey, backup_state)| Method::Passkey(Box::new(passkey), backup_state)),
            Proof::AuthenticatorCode(code) => self
                .check_totp(user.id, code)
                .await?
                .map(Method::Totp)
                .ok_or(Refusal::NotVerified),
            Proof::BackupCode(code) => self
                .check_backup_code(user.id, code)
                .await?
                .map(Method::Backup)
                .ok_or(Refusal::NotVerified),
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let method = match verified {
            Ok(method) => method,
            Err(refusal) => {
                return Err(self
                    .refuse(tx, caller, client, &proof, refusal, counted)
                    .await?)
            }
        };
        // Only now is the use final, and each by compare-and-set: the watermark moves
        // forward, the code is spent, the passkey's counter moves forward.
        let (won, left) = match &method {
            Method::Totp(step) => (
                store::advance_totp_watermark(&mut tx, user.id, *step, now).await?,
                None,
            ),
            Method::Passkey(passkey, backup_state) => (
                crate::passkeys::record_use(&mut tx, user.id, passkey, *backup_state, now).await?,
                None,
            ),
            Method::Backup(lookup) => {
                let won = store::redeem_backup_code(&mut tx, user.id, lookup, now).await?;
                (
                    won,
                    Some(store::unused_backup_codes(&mut tx, user.id).await?),
                )
            }
        };
        if !won {
            let refusal = match &method {
                Method::Passkey(..) => Refusal::CounterOvertaken,
                // Someone else used the same code a moment ago.
                _ => Refusal::AlreadyUsed,
            };
            return Err(self
                .refuse(tx, caller, client, &proof, refusal, counted)
                .await?);
        }
        throttle::clear(&mut tx, Scope::SecondFactorAccount, &key).await?;
        let token = session::rotate(&mut tx, &caller.session, SessionState::Full, now).await?;
        let detail = match (&method, left) {
            (Method::Backup(_), Some(left)) => format!("backup code; {left} left"),
            (Method::Passkey(..), _) => "passkey".to_string(),
            _ => "authenticator code".to_string(),
        };
        let kind = match method {
            Method::Totp(_) | Method::Passkey(..) => AuditKind::SecondFactorSucceeded,
            Method::Backup(_) => AuditKind::BackupCodeUsed,
        };
        audit::record(&mut tx, event(kind, caller, client).detail(detail), now).await?;
        if let Some(left) = left {
            mail::enqueue(
                &mut tx,
                &notice(
                    user,
                    "A backup code was used to sign in to your Tessera account",
                    &format!(
                        "A backup code was used to sign in on {} from {}. You have {left} unused code(s) left.{}",
                        crate::clock::format_utc(now),
                        client.addr,
                        if left <= backup_codes::LOW { " Create new ones in your profile soon." } else { "" }
                    ),
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(SecondStepOutcome {
            token,
            backup_codes_left: left,
        })
    }

    /// A refused second step: its audit record (a possibly copied passkey is its own kind,
    /// and its owner is told), the "someone knows your password" mail at the third failure
    /// and the lock record at the limit, committed together. Returns the error to show.
    async fn refuse(
        &self,
        mut tx: crate::db::Tx,
        caller: &Caller,
        client: &ClientInfo,
        proof: &Proof,
        refusal: Refusal,
        counted: i64,
    ) -> CoreResult<CoreError> {
        let now = self.now();
        let user = &caller.user;
        let failed =
            |detail: &str| event(AuditKind::SecondFactorFailed, caller, client).detail(detail);
        let record = match (proof, &refusal) {
            (_, Refusal::PossiblyCloned { name }) => {
                let what = format!(
                    "Your passkey \"{name}\" was used to sign in, but it answered with a sign-in counter that \
                     did not move forward. This can mean a copy of it exists. The sign-in was refused. \
                     If you did not copy or restore this passkey, remove it and add it again."
                );
                mail::enqueue(
                    &mut tx,
                    &notice(
                        user,
                        "A passkey on your Tessera account may have been copied",
                        &what,
                    ),
                    now,
                )
                .await?;
                event(AuditKind::PasskeyPossiblyCloned, caller, client).detail(format!(
                    "passkey \"{name}\": sign-in counter did not increase; refused"
                ))
            }
            (_, Refusal::AlreadyUsed) => failed("code already used by a sign-in a moment earlier"),
            (_, Refusal::CounterOvertaken) => failed(
                "passkey counter behind a use recorded since the prompt began \
                 (two prompts at once, or a copy of the key); refused",
            ),
            (Proof::AuthenticatorCode(_), _) => failed("wrong authenticator code"),
            (Proof::BackupCode(_), _) => failed("wrong backup code"),
            (Proof::Passkey { .. }, _) => failed("passkey refused, cancelled or expired"),
        };
        audit::record(&mut tx, record, now).await?;
        if counted == WARN_AFTER_FAILURES {
            mail::enqueue(&mut tx, &password_known_mail(user, now, &client.addr), now).await?;
        }
        if counted == throttle::ThrottlePolicy::ACCOUNT.lock_after {
            audit::record(
                &mut tx,
                event(AuditKind::AccountLocked, caller, client)
                    .detail(format!("{counted} failed second steps")),
                now,
            )
            .await?;
            mail::enqueue(&mut tx, &super::locked_mail(user, now), now).await?;
        }
        tx.commit().await?;
        Ok(match (proof, refusal) {
            (Proof::Passkey { .. }, _) => CoreError::invalid(
                "passkey",
                "That passkey was not accepted. Try again, or use another method.",
            ),
            (Proof::AuthenticatorCode(_), Refusal::AlreadyUsed) => {
                CoreError::invalid("code", "That code was already used. Wait for the next one.")
            }
            (_, Refusal::AlreadyUsed) => {
                CoreError::invalid("code", "That backup code was already used.")
            }
            _ => CoreError::invalid("code", "That code is not right. Try again."),
        })
    }

    /// New backup codes (password required): every old code dies in the same transaction.
    pub async fn regenerate_backup_codes(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<Vec<BackupCode>> {
        if !caller.user.two_factor_enabled {
            return Err(CoreError::invalid(
                "two_factor",
                "Turn on two-step authentication first: backup codes come with it.",
            ));
        }
        self.confirm_password(caller, password, client).await?;
        let (plain, hashed) = self.hash_backup_codes().await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        store::replace_backup_codes(&mut tx, caller.user.id, &hashed, now).await?;
        self.record_and_tell(
            tx,
            event(AuditKind::BackupCodesRegenerated, caller, client)
                .detail("10 new codes; old codes revoked"),
            &caller.user,
            (
                "New backup codes were created for your Tessera account",
                "New backup codes were created; the old ones no longer work.",
            ),
            now,
        )
        .await?;
        Ok(plain)
    }

    /// Turns two-step authentication off (password required): every factor and code goes.
    /// Refused while the organisation requires it.
    pub async fn disable_two_factor(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        if caller.organisation.require_two_factor {
            return Err(CoreError::invalid(
                "two_factor",
                "Your organisation requires two-step authentication, so it cannot be turned off. You can add or replace methods instead.",
            ));
        }
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        store::delete_totp(&mut tx, caller.user.id).await?;
        store::delete_backup_codes(&mut tx, caller.user.id).await?;
        crate::passkeys::delete_all(&mut tx, caller.user.id).await?;
        set_two_factor(&mut tx, caller.user.id, false).await?;
        let ended = end_other_sessions(&mut tx, caller).await?;
        self.record_and_tell(
            tx,
            event(AuditKind::TwoFactorDisabled, caller, client).detail(format!(
                "all methods and backup codes removed; {ended} other session(s) ended"
            )),
            &caller.user,
            (
                "Two-step authentication was turned off for your Tessera account",
                &format!(
                    "Two-step authentication was turned off. Only your password now protects your account.{}",
                    signed_out_note(ended)
                ),
            ),
            now,
        )
        .await?;
        Ok(())
    }

    /// Removes the authenticator app (password required). If it was the last method, two-step
    /// authentication turns off, which is refused while the organisation requires it.
    pub async fn remove_totp(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let status = self.two_factor_status(&caller.user).await?;
        if status.authenticator_added_at.is_none() {
            return Err(CoreError::NotFound);
        }
        let last = status.passkeys == 0;
        if last && caller.organisation.require_two_factor {
            return Err(CoreError::invalid(
                "two_factor",
                "This is your only two-step method and your organisation requires one. Add a passkey first.",
            ));
        }
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !store::delete_totp(&mut tx, caller.user.id).await? {
            return Err(CoreError::NotFound);
        }
        let after = after_method_removed(&mut tx, caller).await?;
        let what = after.tell("The authenticator app");
        self.record_and_tell(
            tx,
            event(AuditKind::AuthenticatorRemoved, caller, client).detail(after.detail()),
            &caller.user,
            (
                "An authenticator app was removed from your Tessera account",
                &what,
            ),
            now,
        )
        .await
    }

    async fn check_totp(&self, user: Uuid, code: &str) -> CoreResult<Option<i64>> {
        let mut conn = self.db.pool().acquire().await?;
        let Some(stored) = store::totp(&mut conn, user).await? else {
            return Ok(None);
        };
        let key = TotpKey::from_bytes(
            self.server_key
                .open(&stored.key_sealed, &user.to_string())?,
        )?;
        Ok(key.accept(code, self.now(), stored.last_step))
    }

    async fn check_backup_code(&self, user: Uuid, typed: &str) -> CoreResult<Option<String>> {
        let Some(code) = BackupCode::parse(typed) else {
            return Ok(None);
        };
        let hash = {
            let mut conn = self.db.pool().acquire().await?;
            store::unused_backup_code_hash(&mut conn, user, code.lookup()).await?
        };
        // An unknown lookup still costs one hash, so timing does not reveal valid tags.
        let verified = self.hasher.verify(code.secret(), hash.as_deref()).await?;
        Ok((verified != Verified::No).then(|| code.lookup().to_string()))
    }

    /// Backup codes, hashed ahead of the transaction, for a user adding their first
    /// method; `None` when they have one already ([`factor_added`] decides for sure).
    pub(super) async fn codes_if_first_factor(
        &self,
        user: &User,
    ) -> CoreResult<Option<NewBackupCodes>> {
        if user.two_factor_enabled {
            return Ok(None);
        }
        Ok(Some(self.hash_backup_codes().await?))
    }

    pub(super) async fn hash_backup_codes(&self) -> CoreResult<NewBackupCodes> {
        let codes = backup_codes::generate_set();
        let mut hashed = Vec::with_capacity(codes.len());
        for code in &codes {
            hashed.push((
                code.lookup().to_string(),
                self.hasher.hash(code.secret()).await?,
            ));
        }
        Ok((codes, hashed))
    }
}

impl Tessera {
    /// The tail of every change to a user's factors: its audit record and the mail that
    /// tells the user, in the change's transaction, then the commit.
    pub(super) async fn record_and_tell(
        &self,
        mut tx: crate::db::Tx,
        event: AuditEvent<'_>,
        user: &User,
        (subject, what): (&str, &str),
        now: UnixTime,
    ) -> CoreResult<()> {
        audit::record(&mut tx, event, now).await?;
        mail::enqueue(&mut tx, &notice(user, subject, what), now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A fresh set of backup codes: what the user is shown once, and the (lookup, hash) pairs
/// that are stored.
pub(super) type NewBackupCodes = (Vec<BackupCode>, Vec<(String, String)>);

enum Method {
    Totp(i64),
    Backup(String),
    Passkey(Box<webauthn_rs::prelude::Passkey>, bool),
}

pub(super) fn event<'a>(
    kind: AuditKind,
    caller: &'a Caller,
    client: &'a ClientInfo,
) -> AuditEvent<'a> {
    AuditEvent::new(kind)
        .actor(caller.user.id)
        .subject(Some(caller.user.id), caller.user.email.as_str())
        .from_addr(&client.addr)
}

/// What every newly added method does besides storing itself: the first one turns two-step
/// authentication on with the given (hashed) backup codes, and in the setup wizard it ends
/// the wizard by making the session full under a new id.
pub(super) async fn factor_added(
    tx: &mut crate::db::Tx,
    caller: &Caller,
    first_factor_codes: Option<NewBackupCodes>,
    now: UnixTime,
) -> CoreResult<FactorAdded> {
    // Only the change that actually turns 2FA on issues codes: two first methods added at
    // once must not each show a set (the second would silently revoke the first). Asked
    // every time, not only when the request began with 2FA off: it may have been turned
    // off meanwhile (another tab), and a method must never be saved with 2FA off.
    let turned_on = sqlx::query(
        "UPDATE users SET two_factor_enabled = 1 WHERE id = $1 AND two_factor_enabled = 0",
    )
    .bind(caller.user.id.to_string())
    .execute(&mut **tx)
    .await?;
    let mut backup_codes = None;
    if crate::db::changed_one(&turned_on) {
        let Some((plain, hashed)) = first_factor_codes else {
            // Turned off since this request began, so no codes were prepared: the caller
            // drops the transaction and nothing is saved.
            return Err(CoreError::Conflict(
                "Your two-step settings changed while this was being added. Nothing was saved; please try again.".into(),
            ));
        };
        store::replace_backup_codes(tx, caller.user.id, &hashed, now).await?;
        backup_codes = Some(plain);
    }
    let new_session = match caller.session.state.after_setup() {
        Some(state) => Some(session::rotate(tx, &caller.session, state, now).await?),
        None => None,
    };
    Ok(FactorAdded {
        backup_codes,
        new_session,
    })
}

/// What removing one method did to the account.
pub(super) struct AfterRemoval {
    /// It was the last method: two-step authentication is off and the codes are gone.
    pub last: bool,
    pub sessions_ended: u64,
}

impl AfterRemoval {
    /// The sentence that tells the user, starting with what was removed.
    pub fn tell(&self, removed: &str) -> String {
        format!(
            "{removed} was removed from your account.{}{}",
            if self.last {
                " It was your last two-step method, so two-step authentication is now off."
            } else {
                ""
            },
            signed_out_note(self.sessions_ended)
        )
    }

    pub fn detail(&self) -> String {
        format!(
            "{}; {} other session(s) ended",
            if self.last {
                "last method; two-step authentication turned off"
            } else {
                "other methods remain"
            },
            self.sessions_ended
        )
    }
}

/// The rest of removing a passkey or the app, in the same transaction: with no method left,
/// two-step authentication turns off (refused while the organisation requires it — the
/// caller's transaction is then dropped, so nothing was removed), and the user's other
/// sessions end: whoever signed in with that method elsewhere is signed out.
///
/// The pages check "last method" before asking for the password too; this is the check
/// that holds when two removals race.
pub(super) async fn after_method_removed(
    tx: &mut crate::db::Tx,
    caller: &Caller,
) -> CoreResult<AfterRemoval> {
    let last = store::methods(tx, caller.user.id).await? == 0;
    if last {
        if caller.organisation.require_two_factor {
            return Err(CoreError::invalid(
                "two_factor",
                "This is your only two-step method and your organisation requires one. Add another method first.",
            ));
        }
        store::delete_backup_codes(tx, caller.user.id).await?;
        set_two_factor(tx, caller.user.id, false).await?;
    }
    let sessions_ended = end_other_sessions(tx, caller).await?;
    Ok(AfterRemoval {
        last,
        sessions_ended,
    })
}

async fn end_other_sessions(tx: &mut crate::db::Tx, caller: &Caller) -> CoreResult<u64> {
    session::delete_all_for_user(tx, caller.user.id, Some(&caller.session.id_hash)).await
}

fn signed_out_note(sessions_ended: u64) -> &'static str {
    if sessions_ended > 0 {
        " Your account was signed out everywhere else."
    } else {
        ""
    }
}

async fn set_two_factor(conn: &mut sqlx::AnyConnection, user: Uuid, on: bool) -> CoreResult<()> {
    sqlx::query("UPDATE users SET two_factor_enabled = $1 WHERE id = $2")
        .bind(on as i64)
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

fn notice(user: &User, subject: &str, what: &str) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: subject.to_string(),
        body: format!(
            "Hello {name},\n\n{what}\n\nIf this was not you, contact your administrator now.\n",
            name = user.display_name
        ),
    }
}

fn password_known_mail(user: &User, at: UnixTime, from: &str) -> Mail {
    notice(
        user,
        "Someone may know your Tessera password",
        &format!(
            "Someone signed in to your account with the correct password on {} from {}, then \
             failed the second step several times. If this was not you, change your password now.",
            crate::clock::format_utc(at),
            from
        ),
    )
}
