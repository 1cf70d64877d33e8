//! Passkeys: registering one (name + password → the browser's prompt → saved), listing,
//! renaming and removing them, and the challenge for the second sign-in step.
//!
//! webauthn-rs verifies; we keep its ceremony state in the database (single use, five
//! minutes, bound to the user), require user verification, ask for a discoverable
//! credential, and exclude the user's existing credentials.

use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Credential, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::two_factor::{after_method_removed, event, FactorAdded};
use super::{Caller, ClientInfo, Tessera};
use crate::audit::AuditKind;
use crate::passkeys::{self as store, CeremonyKind, StoredPasskey};
use crate::session::SessionState;
use crate::{CoreError, CoreResult};

/// Why a second-step proof did not count.
pub(super) enum Refusal {
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

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string())
}

fn ceremony_gone() -> CoreError {
    CoreError::invalid(
        "passkey",
        "The passkey prompt expired or was already used. Try again.",
    )
}

impl Tessera {
    pub async fn list_passkeys(&self, user: Uuid) -> CoreResult<Vec<StoredPasskey>> {
        let mut conn = self.db.pool().acquire().await?;
        store::list(&mut conn, user).await
    }

    /// Starts registering a passkey called `name` (password required for a full session).
    pub async fn begin_passkey_registration(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<(Uuid, CreationChallengeResponse)> {
        let name = store::validate_name(name)?;
        if caller.session.state == SessionState::Full {
            self.confirm_password(caller, password, client).await?;
        }
        let user = &caller.user;
        let existing = self.list_passkeys(user.id).await?;
        let exclude = existing
            .iter()
            .map(|p| p.passkey.cred_id().clone())
            .collect();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(
                user.id,
                user.email.as_str(),
                &user.display_name,
                Some(exclude),
            )
            .map_err(internal)?;
        // A discoverable credential, so passkey-only sign-in can come later.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        let state = serde_json::to_string(&state).map_err(internal)?;
        let mut tx = self.db.write().await?;
        let id = store::save_ceremony(
            &mut tx,
            user.id,
            CeremonyKind::Register,
            &state,
            Some(&name),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok((id, options))
    }

    /// Finishes a registration. The first factor turns 2FA on and issues backup codes; in
    /// the setup wizard it also completes sign-in.
    pub async fn finish_passkey_registration(
        &self,
        caller: &Caller,
        ceremony: Uuid,
        credential: &RegisterPublicKeyCredential,
        client: &ClientInfo,
    ) -> CoreResult<FactorAdded> {
        let user = &caller.user;
        let (state, name) = {
            let mut tx = self.db.write().await?;
            let taken = store::take_ceremony(
                &mut tx,
                ceremony,
                user.id,
                CeremonyKind::Register,
                self.now(),
            )
            .await?;
            tx.commit().await?;
            taken
        }
        .ok_or_else(ceremony_gone)?;
        let state: PasskeyRegistration = serde_json::from_str(&state).map_err(internal)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| {
                tracing::info!(error = ?e, "passkey registration refused");
                CoreError::invalid("passkey", "The passkey could not be verified. Try again.")
            })?;
        let cred: Credential = passkey.clone().into();
        let name = name.unwrap_or_else(|| "Passkey".into());
        let codes = self.codes_if_first_factor(user).await?;

        let now = self.now();
        let mut tx = self.db.write().await?;
        store::insert(
            &mut tx,
            user.id,
            &name,
            &passkey,
            store::aaguid_of(&credential.response.attestation_object),
            (cred.backup_eligible, cred.backup_state),
            now,
        )
        .await?;
        let added = super::two_factor::factor_added(&mut tx, caller, codes, now).await?;
        let what = format!(
            "A passkey named \"{name}\" was added to your account on {} from {}.",
            crate::clock::format_utc(now),
            client.addr
        );
        self.record_and_tell(
            tx,
            event(AuditKind::PasskeyAdded, caller, client).detail(format!(
                "\"{name}\"{}",
                if added.backup_codes.is_some() {
                    "; two-step authentication turned on; 10 backup codes issued"
                } else {
                    ""
                }
            )),
            user,
            (
                &format!("A passkey named \"{name}\" was added to your Tessera account"),
                &what,
            ),
            now,
        )
        .await?;
        Ok(added)
    }

    /// The challenge for signing in with one of the caller's passkeys (second step).
    pub async fn begin_passkey_sign_in(
        &self,
        caller: &Caller,
    ) -> CoreResult<(Uuid, RequestChallengeResponse)> {
        if caller.session.state != SessionState::NeedsSecondFactor {
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
        let id = store::save_ceremony(
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

    /// Verifies an assertion against its ceremony (taken, so it cannot be replayed) and
    /// returns the updated passkey and its backup state, or why it was refused.
    pub(super) async fn check_passkey(
        &self,
        user: Uuid,
        ceremony: Uuid,
        credential: &PublicKeyCredential,
    ) -> CoreResult<Result<(Passkey, bool), Refusal>> {
        let state = {
            let mut tx = self.db.write().await?;
            let taken = store::take_ceremony(
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
            return Ok(Err(Refusal::NotVerified));
        };
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
                    Some(name) => Refusal::PossiblyCloned { name },
                    None => Refusal::NotVerified,
                }));
            }
            Err(e) => {
                tracing::info!(error = ?e, "passkey assertion refused");
                return Ok(Err(Refusal::NotVerified));
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
            None => Err(Refusal::NotVerified),
        })
    }

    pub async fn rename_passkey(
        &self,
        caller: &Caller,
        id: Uuid,
        name: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let name = store::validate_name(name)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        store::rename(&mut tx, caller.user.id, id, &name).await?;
        crate::audit::record(
            &mut tx,
            event(AuditKind::PasskeyRenamed, caller, client).detail(format!("now \"{name}\"")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a passkey (password required). Removing the last factor turns two-step
    /// authentication off, which is refused while the organisation requires it.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        id: Uuid,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let user = &caller.user;
        let passkeys = self.list_passkeys(user.id).await?;
        if !passkeys.iter().any(|p| p.id == id) {
            return Err(CoreError::NotFound);
        }
        let has_app = self
            .two_factor_status(user)
            .await?
            .authenticator_added_at
            .is_some();
        let last = passkeys.len() == 1 && !has_app;
        if last && caller.organisation.require_two_factor {
            return Err(CoreError::invalid(
                "passkey",
                "This is your only two-step method and your organisation requires one. Add another method first.",
            ));
        }
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let name = store::delete(&mut tx, user.id, id).await?;
        let after = after_method_removed(&mut tx, caller).await?;
        let what = after.tell(&format!("The passkey \"{name}\""));
        self.record_and_tell(
            tx,
            event(AuditKind::PasskeyRemoved, caller, client)
                .detail(format!("\"{name}\"; {}", after.detail())),
            user,
            ("A passkey was removed from your Tessera account", &what),
            now,
        )
        .await
    }
}
