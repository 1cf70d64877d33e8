//! Step-up: proving yourself again before a sensitive change. Your own settings ask for the
//! current password ([`Tessera::confirm_password`]); changes from the admin console ask for
//! the password *and* your second factor, and then stay open to this session for ten
//! minutes ([`Tessera::step_up`], [`Tessera::require_step_up`]). Failures count against
//! the account like failed sign-ins, so a stolen session cannot use the prompt to guess.

use super::notices::lock_if_reached;
use super::second_step::{tell_of_backup_code, Proof};
use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::password::{self, Verified};
use crate::session::{self, SessionState};
use crate::throttle::{self, Scope};
use crate::{CoreError, CoreResult};

impl Tessera {
    /// Password and second factor again: opens changes from the console to this session
    /// for the next ten minutes. Only for someone with two-step authentication; each part
    /// that fails counts against the account as a failed sign-in or second step does.
    pub async fn step_up(
        &self,
        caller: &Caller,
        password: &str,
        proof: Proof,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        if caller.session.state != SessionState::Full {
            return Err(CoreError::SessionEnded);
        }
        if !caller.user.two_factor_enabled {
            return Err(CoreError::TwoFactorRequired);
        }
        self.confirm_password(caller, password, client).await?;
        let (mut tx, proven) = self.prove(caller, proof, client, "step-up").await?;
        let now = self.now();
        session::record_step_up(&mut tx, &caller.session.id_hash, now).await?;
        audit::record(
            &mut tx,
            event(AuditKind::SteppedUp, caller, client)
                .detail(format!("password and {}", proven.detail)),
            now,
        )
        .await?;
        tell_of_backup_code(&mut tx, caller, client, &proven, "confirm a change", now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses a change from the console unless the caller stepped up in this session in
    /// the last ten minutes (and so has two-step authentication).
    pub fn require_step_up(&self, caller: &Caller) -> CoreResult<()> {
        if !caller.user.two_factor_enabled {
            return Err(CoreError::TwoFactorRequired);
        }
        if !caller.session.stepped_up_recently(self.now()) {
            return Err(CoreError::StepUpRequired);
        }
        Ok(())
    }

    /// Checks the current password for a sensitive change. Failures count against the
    /// account like failed sign-ins, so a stolen session cannot guess the password.
    pub async fn confirm_password(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let key = caller.user.email.as_str();
        // The account's turn, as at sign-in: only real failures are ever counted.
        let _turn = self.account_checks.enter(key).await?;
        let counted = {
            let mut tx = self.db.write().await?;
            let n =
                throttle::begin_attempt(&mut tx, Scope::PasswordAccount, key, self.now()).await?;
            tx.commit().await?;
            n
        };
        let stored = caller.user.password_hash.as_deref();
        let ok = password.chars().count() <= password::MAX_LEN
            && !matches!(self.hasher.verify(password, stored).await?, Verified::No);
        let now = self.now();
        let mut tx = self.db.write().await?;
        if ok {
            throttle::clear(&mut tx, Scope::PasswordAccount, key).await?;
            tx.commit().await?;
            return Ok(());
        }
        let failed = event(AuditKind::SignInFailed, caller, client)
            .detail("wrong current password for a sensitive change");
        audit::record(&mut tx, failed.clone(), now).await?;
        lock_if_reached(
            &mut tx,
            counted,
            "failed password attempts",
            &failed,
            Some(&caller.user),
            now,
        )
        .await?;
        tx.commit().await?;
        Err(CoreError::WrongCurrentPassword)
    }
}
