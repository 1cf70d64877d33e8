//! After an admin reset someone's two-step authentication: the setup code they were given
//! opens the setup wizard. Wrong codes count against the account like failed second steps.

use super::notices::lock_if_reached;
use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::session::{self, SessionToken};
use crate::throttle::{self, Scope};
use crate::{setup_codes, CoreError, CoreResult};

impl Tessera {
    /// Whether the caller's setup code has expired (the page then says whom to ask).
    pub async fn setup_code_expired(&self, caller: &Caller) -> CoreResult<bool> {
        let mut conn = self.db.pool().acquire().await?;
        setup_codes::expired(&mut conn, caller.user.id, self.now()).await
    }

    /// Takes the setup code: the session moves on to the wizard under a new id.
    pub async fn enter_setup_code(
        &self,
        caller: &Caller,
        code: &str,
        client: &ClientInfo,
    ) -> CoreResult<SessionToken> {
        let Some(next) = caller.session.state.after_setup_code() else {
            return Err(CoreError::SessionEnded);
        };
        let key = caller.user.id.to_string();
        let now = self.now();
        let counted = {
            let mut tx = self.db.write().await?;
            let n = throttle::begin_attempt(&mut tx, Scope::SecondFactorAccount, &key, now).await?;
            tx.commit().await?;
            n
        };
        let mut tx = self.db.write().await?;
        if setup_codes::take(&mut tx, caller.user.id, code, now).await? {
            throttle::clear(&mut tx, Scope::SecondFactorAccount, &key).await?;
            let token = session::rotate(&mut tx, &caller.session, next, now).await?;
            audit::record(
                &mut tx,
                event(AuditKind::SetupCodeUsed, caller, client),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(token);
        }
        let expired = setup_codes::expired(&mut tx, caller.user.id, now).await?;
        let failed = event(AuditKind::SecondFactorFailed, caller, client).detail(if expired {
            "setup code expired"
        } else {
            "wrong setup code"
        });
        audit::record(&mut tx, failed.clone(), now).await?;
        lock_if_reached(
            &mut tx,
            counted,
            "failed second steps",
            &failed,
            Some(&caller.user),
            now,
        )
        .await?;
        tx.commit().await?;
        Err(CoreError::invalid(
            "code",
            if expired {
                "This setup code has expired. Ask your administrator or helpdesk for a new one."
            } else {
                "That setup code is not right. Check it with the person who gave it to you."
            },
        ))
    }
}
