//! The person's side of the two-step policy: what the setup wizard says and offers, and
//! skipping it while a grace period lasts.

use super::{event, Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditKind};
use crate::clock::format_utc;
use crate::policy::{self, Standing};
use crate::session::{self, SessionState, SessionToken};
use crate::{accounts, setup_codes, CoreError, CoreResult};

/// What the setup wizard tells and offers the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardOffer {
    /// Why they are here, in plain words.
    pub explanation: String,
    pub passkeys: bool,
    pub app: bool,
    /// They may skip the wizard until then.
    pub skippable_until: Option<crate::UnixTime>,
}

impl Tessera {
    /// What the wizard offers the caller: only the methods that would satisfy the policy,
    /// and a way past it during a grace period.
    pub async fn wizard_offer(&self, caller: &Caller) -> CoreResult<WizardOffer> {
        let reset = {
            let mut conn = self.db.pool().acquire().await?;
            setup_codes::state(&mut conn, caller.user.id).await?
        };
        let policy = &caller.organisation.policy;
        let admin_passkey = caller.user.role == crate::accounts::Role::Admin
            && policy.required
            && policy.admins_need_passkey;
        let explanation = caller
            .standing
            .shortfall()
            .map(|s| s.explain().to_string())
            .unwrap_or_else(|| {
                "Your organisation requires a second step when you sign in, to protect patient data."
                    .into()
            });
        Ok(WizardOffer {
            explanation,
            passkeys: policy.may_add_passkey(caller.user.role),
            app: policy.may_add_app() && !admin_passkey,
            skippable_until: match caller.standing {
                Standing::Grace { until, .. } if reset == setup_codes::Reset::None => Some(until),
                _ => None,
            },
        })
    }

    /// Skips the setup wizard during a grace period: the session becomes full, marked as
    /// proved by the password alone. Refused once the grace period is over, and after a
    /// reset (which needs a method again whatever the policy says).
    pub async fn skip_setup(
        &self,
        caller: &Caller,
        client: &ClientInfo,
    ) -> CoreResult<SessionToken> {
        if caller.session.state != SessionState::NeedsSetup {
            return Err(CoreError::SessionEnded);
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        // Decided again inside the transaction, from the stored policy and methods.
        let organisation = accounts::organisation(&mut tx)
            .await?
            .ok_or_else(|| CoreError::Internal("session without organisation".into()))?;
        let person = policy::person(
            &mut tx,
            caller.user.id,
            caller.user.role,
            caller.user.created_at,
        )
        .await?;
        let reset = setup_codes::state(&mut tx, caller.user.id).await?;
        let Standing::Grace { until, shortfall } = organisation.policy.standing(&person, now)
        else {
            return Err(CoreError::invalid(
                "skip",
                "Setting up two-step authentication can no longer be put off: your organisation's deadline has passed.",
            ));
        };
        if reset != setup_codes::Reset::None {
            return Err(CoreError::invalid(
                "skip",
                "Your two-step authentication was reset, so a new method is needed before you go on.",
            ));
        }
        let token = session::rotate(&mut tx, &caller.session, SessionState::Full, now).await?;
        session::set_admitted_by(&mut tx, &token, "grace").await?;
        accounts::record_sign_in(&mut tx, caller.user.id, now).await?;
        audit::record(
            &mut tx,
            event(AuditKind::SignInSucceeded, caller, client).detail(format!(
                "password only: skipped setting up two-step authentication, grace until {} ({})",
                format_utc(until),
                shortfall.as_str()
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }
}
