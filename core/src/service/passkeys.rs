//! Passkeys: registering one (name + password → the browser's prompt → saved), listing,
//! renaming and removing them. Signing in with one is part of [`super::second_step`].
//!
//! webauthn-rs verifies; we keep its ceremony state in the database (single use, five
//! minutes, bound to the user), require user verification, ask for a discoverable
//! credential, and exclude the user's existing credentials.

use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Credential, PasskeyRegistration, RegisterPublicKeyCredential,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::methods::{after_method_removed, factor_added, lock_methods, removal_is_last};
use super::{event, Caller, ClientInfo, FactorAdded, Tessera};
use crate::accounts;
use crate::audit::AuditKind;
use crate::passkeys::{self as store, CeremonyKind, StoredPasskey};
use crate::session::SessionState;
use crate::{CoreError, CoreResult};

pub(super) fn internal(e: impl std::fmt::Display) -> CoreError {
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
        if !caller.organisation.policy.may_add_passkey(caller.user.role) {
            return Err(CoreError::invalid(
                "method",
                "Your organisation does not accept passkeys. Add an authenticator app instead.",
            ));
        }
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
        // Before anything is stored: a removal or a reset deciding about this user's
        // methods at the same moment waits for this addition, or this one for it.
        accounts::lock_user(&mut tx, user.id).await?;
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
        let added = factor_added(&mut tx, caller, "passkey", codes, now).await?;
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
        if !self
            .list_passkeys(user.id)
            .await?
            .iter()
            .any(|p| p.id == id)
        {
            return Err(CoreError::NotFound);
        }
        // Refused before the password is asked for; decided again inside the change.
        removal_is_last(caller, self.two_factor_status(user).await?.methods() - 1)?;
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        lock_methods(&mut tx, caller).await?;
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
