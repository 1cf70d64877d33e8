//! What adding or removing any two-step method does to the account, whichever method it
//! is: the first one turns two-step authentication on and brings backup codes; the last
//! one's removal turns it off (refused while the organisation requires it); every removal
//! signs the user out elsewhere. Also the status panel and turning it all off.

use uuid::Uuid;

use super::backup_codes::NewBackupCodes;
use super::notices::signed_out_note;
use super::{event, Caller, ClientInfo, Tessera};
use crate::accounts::{self, User};
use crate::audit::AuditKind;
use crate::second_factor as store;
use crate::session::{self, SessionToken};
use crate::{CoreError, CoreResult, UnixTime};

/// The user's second factors, for the status panel.
#[derive(Debug, Clone)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    pub passkeys: usize,
    pub authenticator_added_at: Option<UnixTime>,
    pub authenticator_last_used_at: Option<UnixTime>,
    pub backup_codes_left: i64,
}

impl TwoFactorStatus {
    /// Passkeys and the authenticator app (backup codes are a fallback, not a method).
    pub fn methods(&self) -> i64 {
        self.passkeys as i64 + i64::from(self.authenticator_added_at.is_some())
    }
}

/// After a change that can turn 2FA on: the backup codes to show, once.
#[derive(Debug)]
pub struct FactorAdded {
    pub backup_codes: Option<Vec<crate::backup_codes::BackupCode>>,
    /// A setup-wizard session was made full (its cookie must be replaced).
    pub new_session: Option<SessionToken>,
}

/// What removing one method did to the account.
pub(super) struct AfterRemoval {
    /// It was the last method: two-step authentication is off and the codes are gone.
    pub last: bool,
    pub sessions_ended: u64,
}

impl AfterRemoval {
    /// The sentence that tells the user, starting with what was removed.
    pub fn tell(&self, removed: &str) -> String {
        format!(
            "{removed} was removed from your account.{}{}",
            if self.last {
                " It was your last two-step method, so two-step authentication is now off."
            } else {
                ""
            },
            signed_out_note(self.sessions_ended)
        )
    }

    pub fn detail(&self) -> String {
        format!(
            "{}; {} other session(s) ended",
            if self.last {
                "last method; two-step authentication turned off"
            } else {
                "other methods remain"
            },
            self.sessions_ended
        )
    }
}

/// "Is this the last method?", decided here and nowhere else: `remaining` is how many
/// methods the user has once the one being removed is gone. The last one cannot go while
/// the organisation requires two-step authentication. Returns whether it is the last.
pub(super) fn removal_is_last(caller: &Caller, remaining: i64) -> CoreResult<bool> {
    let last = remaining <= 0;
    if last && caller.organisation.policy.required {
        return Err(CoreError::invalid(
            "two_factor",
            "This is your only two-step method and your organisation requires one. Add another method first.",
        ));
    }
    Ok(last)
}

impl Tessera {
    pub async fn two_factor_status(&self, user: &User) -> CoreResult<TwoFactorStatus> {
        let mut conn = self.db.pool().acquire().await?;
        let totp = store::totp(&mut conn, user.id).await?;
        let passkeys = crate::passkeys::list(&mut conn, user.id).await?.len();
        Ok(TwoFactorStatus {
            enabled: user.two_factor_enabled,
            passkeys,
            authenticator_added_at: totp.as_ref().map(|t| t.created_at),
            authenticator_last_used_at: totp.and_then(|t| t.last_used_at),
            backup_codes_left: store::unused_backup_codes(&mut conn, user.id).await?,
        })
    }

    /// Turns two-step authentication off (password required): every factor and code goes.
    /// Refused while the organisation requires it.
    pub async fn disable_two_factor(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        if caller.organisation.policy.required {
            return Err(CoreError::invalid(
                "two_factor",
                "Your organisation requires two-step authentication, so it cannot be turned off. You can add or replace methods instead.",
            ));
        }
        self.confirm_password(caller, password, client).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // A method being added at this moment is either in (and removed here) or waits.
        accounts::lock_user(&mut tx, caller.user.id).await?;
        store::delete_totp(&mut tx, caller.user.id).await?;
        store::delete_backup_codes(&mut tx, caller.user.id).await?;
        crate::passkeys::delete_all(&mut tx, caller.user.id).await?;
        set_two_factor(&mut tx, caller.user.id, false).await?;
        let ended = end_other_sessions(&mut tx, caller).await?;
        self.record_and_tell(
            tx,
            event(AuditKind::TwoFactorDisabled, caller, client).detail(format!(
                "all methods and backup codes removed; {ended} other session(s) ended"
            )),
            &caller.user,
            (
                "Two-step authentication was turned off for your Tessera account",
                &format!(
                    "Two-step authentication was turned off. Only your password now protects your account.{}",
                    signed_out_note(ended)
                ),
            ),
            now,
        )
        .await?;
        Ok(())
    }
}

/// What every newly added method does besides storing itself: the first one turns two-step
/// authentication on with the given (hashed) backup codes, and in the setup wizard it ends
/// the wizard by making the session full under a new id.
pub(super) async fn factor_added(
    tx: &mut crate::db::Tx,
    caller: &Caller,
    method: &str,
    first_factor_codes: Option<NewBackupCodes>,
    now: UnixTime,
) -> CoreResult<FactorAdded> {
    // The session this is added from must still exist (an admin's reset or a sign-out
    // everywhere may have ended it while the ceremony ran): its row, locked after the
    // user's, is what the rest of this transaction rests on.
    let alive = sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at WHERE id_hash = $1")
        .bind(&caller.session.id_hash)
        .execute(&mut **tx)
        .await?;
    if !crate::db::changed_one(&alive) {
        return Err(CoreError::SessionEnded);
    }
    // Only the change that actually turns 2FA on issues codes: two first methods added at
    // once must not each show a set (the second would silently revoke the first). Asked
    // every time, not only when the request began with 2FA off: it may have been turned
    // off meanwhile (another tab), and a method must never be saved with 2FA off.
    let turned_on = sqlx::query(
        "UPDATE users SET two_factor_enabled = 1 WHERE id = $1 AND two_factor_enabled = 0",
    )
    .bind(caller.user.id.to_string())
    .execute(&mut **tx)
    .await?;
    let mut backup_codes = None;
    if crate::db::changed_one(&turned_on) {
        let Some((plain, hashed)) = first_factor_codes else {
            // Turned off since this request began, so no codes were prepared: the caller
            // drops the transaction and nothing is saved.
            return Err(CoreError::Conflict(
                "Your two-step settings changed while this was being added. Nothing was saved; please try again.".into(),
            ));
        };
        store::replace_backup_codes(tx, caller.user.id, &hashed, now).await?;
        backup_codes = Some(plain);
    }
    // A reset is over once there is a method again.
    crate::setup_codes::finish(tx, caller.user.id).await?;
    // In the wizard, a method the policy does not count (an app, for an admin who must use
    // a passkey) is saved, but the wizard goes on until one that counts is added.
    let still_owed = crate::policy::standing_of(tx, &caller.organisation.policy, &caller.user, now)
        .await?
        .asks_for_setup();
    let new_session = match caller.session.state.after_setup().filter(|_| !still_owed) {
        Some(state) => {
            accounts::record_sign_in(tx, caller.user.id, now).await?;
            let token = session::rotate(tx, &caller.session, state, now).await?;
            // Setting the method up proved it (a code from the app, a passkey with its
            // user verification): what this sign-in was done with, as a second step is.
            session::set_second_factor(tx, &token, method).await?;
            Some(token)
        }
        None => None,
    };
    Ok(FactorAdded {
        backup_codes,
        new_session,
    })
}

/// Takes the user's row lock at the start of a removal's transaction, so the
/// "last method?" decision made after the delete holds until the commit: two removals at
/// once queue here, and the second sees what the first left.
pub(super) async fn lock_methods(tx: &mut crate::db::Tx, caller: &Caller) -> CoreResult<()> {
    accounts::lock_user(tx, caller.user.id).await
}

/// The rest of removing a passkey or the app, in the same transaction (after
/// [`lock_methods`] and the delete): with no method left, two-step authentication turns
/// off (refused while the organisation requires it — the caller's transaction is then
/// dropped, so nothing was removed), and the user's other sessions end: whoever signed in
/// with that method elsewhere is signed out.
///
/// The pages check "last method" before asking for the password too; this is the check
/// that holds when two removals race.
pub(super) async fn after_method_removed(
    tx: &mut crate::db::Tx,
    caller: &Caller,
) -> CoreResult<AfterRemoval> {
    let last = removal_is_last(caller, store::methods(tx, caller.user.id).await?)?;
    // Nor may what is left stop counting: an admin who must use a passkey keeping only an
    // app, someone keeping only a method the organisation no longer accepts.
    if !last && caller.standing == crate::policy::Standing::Satisfied {
        let left =
            crate::policy::person(tx, caller.user.id, caller.user.role, caller.user.created_at)
                .await?;
        if caller
            .organisation
            .policy
            .shortfall(caller.user.role, left.methods)
            .is_some()
        {
            return Err(CoreError::invalid(
                "two_factor",
                "This is your only method your organisation accepts (administrators need a passkey). Add another accepted method first.",
            ));
        }
    }
    if last {
        store::delete_backup_codes(tx, caller.user.id).await?;
        set_two_factor(tx, caller.user.id, false).await?;
    }
    let sessions_ended = end_other_sessions(tx, caller).await?;
    Ok(AfterRemoval {
        last,
        sessions_ended,
    })
}

async fn end_other_sessions(tx: &mut crate::db::Tx, caller: &Caller) -> CoreResult<u64> {
    session::delete_all_for_user(tx, caller.user.id, Some(&caller.session.id_hash)).await
}

async fn set_two_factor(conn: &mut sqlx::AnyConnection, user: Uuid, on: bool) -> CoreResult<()> {
    sqlx::query("UPDATE users SET two_factor_enabled = $1 WHERE id = $2")
        .bind(on as i64)
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
