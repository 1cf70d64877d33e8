//! Backup codes: a fresh set with the first method, a new set on request (the old ones die
//! in the same transaction), each hashed before any transaction opens.

use super::{event, Caller, ClientInfo, Tessera};
use crate::accounts::User;
use crate::audit::AuditKind;
use crate::backup_codes::{self, BackupCode};
use crate::second_factor as store;
use crate::{CoreError, CoreResult};

/// A fresh set of backup codes: what the user is shown once, and the (lookup, hash) pairs
/// that are stored.
pub(super) type NewBackupCodes = (Vec<BackupCode>, Vec<(String, String)>);

impl Tessera {
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
        // The user's row lock, taken only while two-step is still on: two replacements at
        // once queue (the second deletes the first's set), and codes are never issued to
        // someone whose last method was removed meanwhile.
        let locked =
            sqlx::query("UPDATE users SET role = role WHERE id = $1 AND two_factor_enabled = 1")
                .bind(caller.user.id.to_string())
                .execute(&mut *tx)
                .await?;
        if !crate::db::changed_one(&locked) {
            return Err(CoreError::Conflict(
                "Two-step authentication was turned off meanwhile, so no codes were made.".into(),
            ));
        }
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

    /// Backup codes, hashed ahead of the transaction, for a user adding their first
    /// method; `None` when they have one already (`methods::factor_added` decides for
    /// sure, inside the transaction).
    pub(super) async fn codes_if_first_factor(
        &self,
        user: &User,
    ) -> CoreResult<Option<NewBackupCodes>> {
        if user.two_factor_enabled {
            return Ok(None);
        }
        Ok(Some(self.hash_backup_codes().await?))
    }

    async fn hash_backup_codes(&self) -> CoreResult<NewBackupCodes> {
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
