//! Step-up: the current password, asked again before a sensitive change.

use super::notices::lock_if_reached;
use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::password::{self, Verified};
use crate::throttle::{self, Scope};
use crate::{CoreError, CoreResult};

impl Tessera {
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
