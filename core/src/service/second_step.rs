//! The second sign-in step, with every method: a code from the authenticator app, a backup
//! code, or a passkey (its challenge, then its signed answer).
//!
//! Failures of every method count together against the account, before the proof is
//! checked; only a proof that also wins its compare-and-set (the app's replay watermark,
//! the spent code, the passkey's counter) turns the half session into a full one.

use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PublicKeyCredential, RequestChallengeResponse, WebauthnError,
};

use super::notices::{lock_if_reached, notice, password_known_mail};
use super::passkeys::internal;
use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::backup_codes::{self, BackupCode};
use crate::passkeys::{self as passkey_store, CeremonyKind};
use crate::password::Verified;
use crate::second_factor as store;
use crate::session::{self, SessionState, SessionToken};
use crate::throttle::{self, Scope};
use crate::totp::TotpKey;
use crate::{mail, CoreError, CoreResult};

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

impl Proof {
    /// The method's name as sessions record it.
    pub fn factor(&self) -> &'static str {
        match self {
            Proof::AuthenticatorCode(_) => "app",
            Proof::BackupCode(_) => "backup_code",
            Proof::Passkey { .. } => "passkey",
        }
    }
}

/// After the second step: the new (full) session, and how many backup codes remain if
/// one was used.
#[derive(Debug)]
pub struct SecondStepOutcome {
    pub token: SessionToken,
    /// Full, or the setup wizard when the methods used no longer satisfy the policy.
    pub state: SessionState,
    pub backup_codes_left: Option<i64>,
}

/// Failed second steps in a row after which the user is told someone knows the password.
const WARN_AFTER_FAILURES: i64 = 3;

/// Why a second-step proof did not count.
enum ProofRefused {
    /// A wrong code; for a passkey: an expired or used ceremony, a bad signature, the
    /// wrong origin, no user verification …
    NotVerified,
    /// Signed correctly, but its counter did not move past the stored one: the passkey's
    /// private key may have been copied (WebAuthn §6.1.1).
    PossiblyCloned { name: String },
    /// Right, but a sign-in a moment earlier used the same code.
    AlreadyUsed,
    /// A valid passkey answer, but another use of the passkey with a higher counter was
    /// recorded since this prompt began: two prompts answered at once, or a copy.
    CounterOvertaken,
}

/// A second factor proven and its use recorded (see [`Tessera::prove`]).
pub(super) struct Proven {
    /// How, for the audit record: "authenticator code", "passkey", "backup code; 7 left".
    pub detail: String,
    /// Set when a backup code was spent: how many are left.
    pub backup_codes_left: Option<i64>,
}

/// When a backup code was spent, the user is told (and reminded to make new ones when few
/// are left), in the transaction that spent it. `what` is what it was used for ("sign in",
/// "confirm a change").
pub(super) async fn tell_of_backup_code(
    tx: &mut crate::db::Tx,
    caller: &Caller,
    client: &ClientInfo,
    proven: &Proven,
    what: &str,
    now: crate::UnixTime,
) -> CoreResult<()> {
    let Some(left) = proven.backup_codes_left else {
        return Ok(());
    };
    mail::enqueue(
        tx,
        &notice(
            &caller.user,
            &format!("A backup code was used to {what} to your Tessera account"),
            &format!(
                "A backup code was used to {what} on {} from {}. You have {left} unused code(s) left.{}",
                crate::clock::format_utc(now),
                client.addr,
                if left <= backup_codes::LOW {
                    " Create new ones in your profile soon."
                } else {
                    ""
                }
            ),
        ),
        now,
    )
    .await
}

/// A proof that checked out, before its use is recorded.
enum Method {
    /// The app's time step.
    Totp(i64),
    /// The backup code's lookup tag.
    Backup(String),
    /// The passkey with its counter moved forward, and its backup state.
    Passkey(Box<Passkey>, bool),
}

impl Tessera {
    /// The challenge for proving the second factor with one of the caller's passkeys: at
    /// the second sign-in step, or for a step-up in a full session.
    pub async fn begin_passkey_sign_in(
        &self,
        caller: &Caller,
    ) -> CoreResult<(Uuid, RequestChallengeResponse)> {
        if caller.session.state == SessionState::NeedsSetup {
            return Err(CoreError::SessionEnded);
        }
        let passkeys: Vec<Passkey> = self
            .list_passkeys(caller.user.id)
            .await?
            .into_iter()
            .map(|p| p.passkey)
            .collect();
        if passkeys.is_empty() {
            return Err(CoreError::invalid(
                "passkey",
                "You have no passkey. Use your authenticator app or a backup code.",
            ));
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(internal)?;
        let state = serde_json::to_string(&state).map_err(internal)?;
        let mut tx = self.db.write().await?;
        let id = passkey_store::save_ceremony(
            &mut tx,
            caller.user.id,
            CeremonyKind::Authenticate,
            &state,
            None,
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok((id, options))
    }

    /// The second sign-in step. Failures of every method count together against the
    /// account, before the proof is checked, and survive restarts and new sign-ins.
    pub async fn second_step(
        &self,
        caller: &Caller,
        proof: Proof,
        client: &ClientInfo,
    ) -> CoreResult<SecondStepOutcome> {
        let method = proof.factor();
        let result = self.prove_second_step(caller, proof, client).await;
        crate::metrics::second_step(method, &result);
        result
    }

    async fn prove_second_step(
        &self,
        caller: &Caller,
        proof: Proof,
        client: &ClientInfo,
    ) -> CoreResult<SecondStepOutcome> {
        let Some(mut next_state) = caller.session.state.after_second_factor() else {
            return Err(CoreError::SessionEnded);
        };
        let factor = proof.factor();
        let (mut tx, proven) = self.prove(caller, proof, client, "second step").await?;
        let now = self.now();
        // Methods the policy no longer accepts still prove who it is (nobody is locked out
        // by a settings change), but they lead on to the wizard: skippable in grace, the
        // only way on after it.
        if crate::policy::standing_of(&mut tx, &caller.organisation.policy, &caller.user, now)
            .await?
            .asks_for_setup()
        {
            next_state = SessionState::NeedsSetup;
        }
        let token = session::rotate(&mut tx, &caller.session, next_state, now).await?;
        session::set_second_factor(&mut tx, &token, factor).await?;
        crate::accounts::record_sign_in(&mut tx, caller.user.id, now).await?;
        let kind = match proven.backup_codes_left {
            None => AuditKind::SecondFactorSucceeded,
            Some(_) => AuditKind::BackupCodeUsed,
        };
        audit::record(
            &mut tx,
            event(kind, caller, client).detail(&proven.detail),
            now,
        )
        .await?;
        tell_of_backup_code(&mut tx, caller, client, &proven, "sign in", now).await?;
        tx.commit().await?;
        Ok(SecondStepOutcome {
            token,
            state: next_state,
            backup_codes_left: proven.backup_codes_left,
        })
    }

    /// Checks a second-factor proof of the caller's and records its use: counted against
    /// the account before it is checked, then final only by its compare-and-set (the
    /// app's watermark moves forward, the code is spent, the passkey's counter moves
    /// forward). On success the use is recorded in the returned transaction, which the
    /// caller completes with what the proof was for; a refusal is recorded and committed
    /// here. `purpose` names it in the records ("second step", "step-up").
    pub(super) async fn prove(
        &self,
        caller: &Caller,
        proof: Proof,
        client: &ClientInfo,
        purpose: &str,
    ) -> CoreResult<(crate::db::Tx, Proven)> {
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
                            .detail(format!("{purpose} refused unchecked: too many failures")),
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
                .ok_or(ProofRefused::NotVerified),
            Proof::BackupCode(code) => self
                .check_backup_code(user.id, code)
                .await?
                .map(Method::Backup)
                .ok_or(ProofRefused::NotVerified),
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
        let (won, left) = match &method {
            Method::Totp(step) => (
                store::advance_totp_watermark(&mut tx, user.id, *step, now).await?,
                None,
            ),
            Method::Passkey(passkey, backup_state) => (
                passkey_store::record_use(&mut tx, user.id, passkey, *backup_state, now).await?,
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
                Method::Passkey(..) => ProofRefused::CounterOvertaken,
                // Someone else used the same code a moment ago.
                _ => ProofRefused::AlreadyUsed,
            };
            return Err(self
                .refuse(tx, caller, client, &proof, refusal, counted)
                .await?);
        }
        throttle::clear(&mut tx, Scope::SecondFactorAccount, &key).await?;
        let detail = match (&method, left) {
            (Method::Backup(_), Some(left)) => format!("backup code; {left} left"),
            (Method::Passkey(..), _) => "passkey".to_string(),
            _ => "authenticator code".to_string(),
        };
        Ok((
            tx,
            Proven {
                detail,
                backup_codes_left: left,
            },
        ))
    }

    /// A refused second step: its audit record (a possibly copied passkey is its own kind,
    /// and its owner is told), the "someone knows your password" mail at the third failure
    /// and the lock at the limit, committed together. Returns the error to show.
    async fn refuse(
        &self,
        mut tx: crate::db::Tx,
        caller: &Caller,
        client: &ClientInfo,
        proof: &Proof,
        refusal: ProofRefused,
        counted: i64,
    ) -> CoreResult<CoreError> {
        let now = self.now();
        let user = &caller.user;
        let failed =
            |detail: &str| event(AuditKind::SecondFactorFailed, caller, client).detail(detail);
        let record = match (proof, &refusal) {
            (_, ProofRefused::PossiblyCloned { name }) => {
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
            (_, ProofRefused::AlreadyUsed) => {
                failed("code already used by a sign-in a moment earlier")
            }
            (_, ProofRefused::CounterOvertaken) => failed(
                "passkey counter behind a use recorded since the prompt began \
                 (two prompts at once, or a copy of the key); refused",
            ),
            (Proof::AuthenticatorCode(_), _) => failed("wrong authenticator code"),
            (Proof::BackupCode(_), _) => failed("wrong backup code"),
            (Proof::Passkey { .. }, _) => failed("passkey refused, cancelled or expired"),
        };
        audit::record(&mut tx, record.clone(), now).await?;
        if counted == WARN_AFTER_FAILURES {
            mail::enqueue(&mut tx, &password_known_mail(user, now, &client.addr), now).await?;
        }
        lock_if_reached(
            &mut tx,
            counted,
            "failed second steps",
            &record,
            Some(user),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(match (proof, refusal) {
            (Proof::Passkey { .. }, _) => CoreError::invalid(
                "passkey",
                "That passkey was not accepted. Try again, or use another method.",
            ),
            (Proof::AuthenticatorCode(_), ProofRefused::AlreadyUsed) => {
                CoreError::invalid("code", "That code was already used. Wait for the next one.")
            }
            (_, ProofRefused::AlreadyUsed) => {
                CoreError::invalid("code", "That backup code was already used.")
            }
            _ => CoreError::invalid("code", "That code is not right. Try again."),
        })
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

    /// Verifies an assertion against its ceremony (taken, so it cannot be replayed) and
    /// returns the updated passkey and its backup state, or why it was refused.
    async fn check_passkey(
        &self,
        user: Uuid,
        ceremony: Uuid,
        credential: &PublicKeyCredential,
    ) -> CoreResult<Result<(Passkey, bool), ProofRefused>> {
        let state = {
            let mut tx = self.db.write().await?;
            let taken = passkey_store::take_ceremony(
                &mut tx,
                ceremony,
                user,
                CeremonyKind::Authenticate,
                self.now(),
            )
            .await?;
            tx.commit().await?;
            taken
        };
        let Some((state, _)) = state else {
            return Ok(Err(ProofRefused::NotVerified));
        };
        if passkey_store::says_cross_origin(&credential.response.client_data_json) {
            tracing::info!("passkey assertion refused: made inside another site's frame");
            return Ok(Err(ProofRefused::NotVerified));
        }
        let state: PasskeyAuthentication = serde_json::from_str(&state).map_err(internal)?;
        let stored = self.list_passkeys(user).await?;
        let result = match self
            .webauthn
            .finish_passkey_authentication(credential, &state)
        {
            Ok(result) => result,
            // A valid signature whose counter is not above the stored one: two copies of
            // the private key are in use. Refused, and the caller records it.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                let name = stored
                    .iter()
                    .find(|p| p.passkey.cred_id().as_slice() == credential.raw_id.as_slice())
                    .map(|p| p.name.clone());
                // A passkey removed meanwhile simply does not count.
                return Ok(Err(match name {
                    Some(name) => ProofRefused::PossiblyCloned { name },
                    None => ProofRefused::NotVerified,
                }));
            }
            Err(e) => {
                tracing::info!(error = ?e, "passkey assertion refused");
                return Ok(Err(ProofRefused::NotVerified));
            }
        };
        let mut stored = stored
            .into_iter()
            .find(|p| p.passkey.cred_id() == result.cred_id())
            .map(|p| p.passkey);
        Ok(match stored.as_mut() {
            Some(p) => {
                p.update_credential(&result);
                Ok((p.clone(), result.backup_state()))
            }
            None => Err(ProofRefused::NotVerified),
        })
    }
}
