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
    /// Whether, and why, they may go on without setting it up now.
    pub skip: Option<Skip>,
}

/// Why the wizard may be put off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A grace period: until the deadline or the end of their enrolment period.
    Grace { until: crate::UnixTime },
    /// A temporary exception, until its end.
    Exception { until: crate::UnixTime },
    /// The organisation stopped requiring it since they signed in.
    NotRequired,
}

impl Tessera {
    /// What the wizard offers the caller: only the methods that would satisfy the policy,
    /// and a way past it during a grace period or an exception.
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
            skip: match (caller.standing, reset) {
                (Standing::Exception { until }, _) => Some(Skip::Exception { until }),
                (Standing::Grace { until, .. }, setup_codes::Reset::None) => {
                    Some(Skip::Grace { until })
                }
                (Standing::NotRequired, setup_codes::Reset::None) => Some(Skip::NotRequired),
                _ => None,
            },
        })
    }

    /// Goes on past the setup wizard during a grace period or an exception (or once the
    /// organisation no longer requires it): the session becomes full, marked as proved by
    /// the password alone and why. Refused once the grace period is over, and after a
    /// reset (which needs a method again) unless an exception covers it.
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
        let standing = organisation.policy.standing(&person, now);
        let (why, admitted_by) = match (standing, reset) {
            (Standing::Exception { until }, _) => (
                format!("under a temporary exception until {}", format_utc(until)),
                Some("exception"),
            ),
            (Standing::Grace { until, shortfall }, setup_codes::Reset::None) => (
                format!(
                    "grace until {} ({})",
                    format_utc(until),
                    shortfall.as_str()
                ),
                Some("grace"),
            ),
            (Standing::NotRequired, setup_codes::Reset::None) => {
                ("two-step authentication is no longer required".into(), None)
            }
            (Standing::Grace { .. } | Standing::NotRequired, _) => {
                return Err(CoreError::invalid(
                    "skip",
                    "Your two-step authentication was reset, so a new method is needed before you go on.",
                ))
            }
            _ => {
                return Err(CoreError::invalid(
                    "skip",
                    "Setting up two-step authentication can no longer be put off: your organisation's deadline has passed.",
                ))
            }
        };
        let token = session::rotate(&mut tx, &caller.session, SessionState::Full, now).await?;
        if let Some(admitted_by) = admitted_by {
            session::set_admitted_by(&mut tx, &token, admitted_by).await?;
        }
        accounts::record_sign_in(&mut tx, caller.user.id, now).await?;
        audit::record(
            &mut tx,
            event(AuditKind::SignInSucceeded, caller, client).detail(format!(
                "password only: went on without setting up two-step authentication, {why}"
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }
}
