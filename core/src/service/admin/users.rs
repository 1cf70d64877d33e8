//! Looking at people: the users list with its counts, the whole filtered view (exports,
//! reminders), and one user's page. Viewing needs no step-up.

use uuid::Uuid;

use crate::audit::{self, AuditRecord};
use crate::directory::{self, Counts, Cursor, Page, UserRow, View};
use crate::passkeys::StoredPasskey;
use crate::session::{self, Lifetimes, SessionState};
use crate::{accounts, second_factor, CoreError, CoreResult, Tessera, UnixTime};

/// A session of the user, as their page lists it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub client_addr: String,
    pub user_agent: String,
    /// Signed in fully (not half-way through a step).
    pub full: bool,
}

/// Everything one user's page shows.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub row: UserRow,
    pub passkeys: Vec<StoredPasskey>,
    /// The authenticator app: added, last used.
    pub app: Option<(UnixTime, Option<UnixTime>)>,
    pub sessions: Vec<SessionView>,
    /// The newest 50 audit records about the user.
    pub events: Vec<AuditRecord>,
    /// A reset's setup code is waiting to be used.
    pub owes_setup_code: bool,
    /// A temporary exception in force.
    pub exception: Option<super::Exception>,
    /// The last sign-in to each app and protected site: (name, when, how).
    pub app_sign_ins: Vec<(String, UnixTime, String)>,
}

impl Tessera {
    /// One page of the users list.
    pub async fn users_page(&self, view: &View, cursor: Option<&Cursor>) -> CoreResult<Page> {
        let mut conn = self.db.pool().acquire().await?;
        directory::page(&mut conn, view, cursor, self.now()).await
    }

    /// The counts at the top of the users list.
    pub async fn user_counts(&self) -> CoreResult<Counts> {
        let mut conn = self.db.pool().acquire().await?;
        directory::counts(&mut conn, self.now()).await
    }

    /// Messages in the outbox not sent yet.
    pub async fn mail_waiting(&self) -> CoreResult<i64> {
        let mut conn = self.db.pool().acquire().await?;
        crate::mail::waiting(&mut conn).await
    }

    /// Every user in `view`, in its order, handed to `each` as they are read.
    pub async fn for_each_user(
        &self,
        view: &View,
        mut each: impl FnMut(UserRow) -> CoreResult<()>,
    ) -> CoreResult<u64> {
        let mut batches = directory::Batches::new(view.clone());
        let mut count = 0;
        loop {
            // A connection per batch: a long walk does not hold one from the pool.
            let batch = {
                let mut conn = self.db.pool().acquire().await?;
                batches.next(&mut conn, self.now()).await?
            };
            let Some(rows) = batch else {
                return Ok(count);
            };
            for row in rows {
                count += 1;
                each(row)?;
            }
        }
    }

    /// One user's page.
    pub async fn user_detail(&self, id: Uuid) -> CoreResult<UserDetail> {
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let row = directory::one(&mut conn, id, now)
            .await?
            .ok_or(CoreError::NotFound)?;
        let organisation = accounts::organisation(&mut conn)
            .await?
            .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
        let lifetimes = Lifetimes::from(&organisation);
        let sessions = session::list_for_user(&mut conn, id)
            .await?
            .into_iter()
            .filter(|s| now - s.last_seen_at <= lifetimes.idle_secs)
            .filter(|s| now - s.created_at <= lifetimes.absolute_secs)
            .map(|s| SessionView {
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                client_addr: s.client_addr,
                user_agent: s.user_agent,
                full: s.state == SessionState::Full,
            })
            .collect();
        let app = second_factor::totp(&mut conn, id)
            .await?
            .map(|t| (t.created_at, t.last_used_at));
        Ok(UserDetail {
            row,
            passkeys: crate::passkeys::list(&mut conn, id).await?,
            app,
            sessions,
            events: audit::about(&mut conn, id, 50).await?,
            owes_setup_code: crate::setup_codes::state(&mut conn, id).await?
                == crate::setup_codes::Reset::CodeOwed,
            exception: super::exceptions::live(&mut conn, id, now).await?,
            app_sign_ins: crate::oidc::sign_ins_of(&mut conn, id).await?,
        })
    }
}
