//! A person's own account settings: changing the password.

use super::notices::password_changed_mail;
use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::{accounts, mail, password, session, CoreError, CoreResult};

impl Tessera {
    /// Changes the caller's own password. Ends their other sessions and tells them by mail.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        if current.is_empty() {
            return Err(CoreError::invalid(
                "current_password",
                "Enter your current password.",
            ));
        }
        password::check_new_password(new, caller.user.email.as_str(), &caller.organisation.name)?;
        self.confirm_password(caller, current, client).await?;
        let hash = self.hasher.hash(new).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        accounts::set_password_hash(&mut tx, caller.user.id, &hash, now).await?;
        let ended =
            session::delete_all_for_user(&mut tx, caller.user.id, Some(&caller.session.id_hash))
                .await?;
        audit::record(
            &mut tx,
            event(AuditKind::PasswordChanged, caller, client)
                .detail(format!("{ended} other session(s) ended")),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &password_changed_mail(&caller.user, now, &client.addr),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
