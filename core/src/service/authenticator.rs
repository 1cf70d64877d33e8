//! The authenticator app: setting it up (QR code and key, then a first code confirms it)
//! and removing it.

use super::methods::{after_method_removed, factor_added, lock_methods, removal_is_last};
use super::{event, Caller, ClientInfo, Tessera};
use crate::accounts;
use crate::audit::AuditKind;
use crate::second_factor as store;
use crate::session::SessionState;
use crate::totp::TotpKey;
use crate::{CoreError, CoreResult};

/// What the page shows while an app is being set up. Shown once; never stored in clear.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub qr_png_base64: String,
    pub key_grouped: String,
    pub otpauth_url: String,
}

impl Tessera {
    /// Starts setting up an authenticator app (password required). The app is not usable
    /// until [`Tessera::confirm_totp`] sees a code from it.
    pub async fn begin_totp(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<TotpEnrolment> {
        if !caller.organisation.policy.may_add_app() {
            return Err(CoreError::invalid(
                "method",
                "Your organisation does not accept authenticator apps. Add a passkey instead.",
            ));
        }
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
            .seal(key.as_bytes(), &caller.user.id.to_string())?;
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
    ) -> CoreResult<super::FactorAdded> {
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
        // See `add_passkey`: additions and removals of one user's methods take turns.
        accounts::lock_user(&mut tx, user.id).await?;
        store::confirm_totp(&mut tx, user.id, &sealed, step, now).await?;
        let added = factor_added(&mut tx, caller, "app", codes, now).await?;
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
        // Refused before the password is asked for; decided again inside the change.
        removal_is_last(caller, status.methods() - 1)?;
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        lock_methods(&mut tx, caller).await?;
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
}
