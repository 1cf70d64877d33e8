//! The compliance report: where the organisation stands now, and what happened in a
//! period — the evidence an auditor asks for. Every number is counted from the data when
//! asked; the coverage over time comes from a daily snapshot of the counts (a policy
//! change moves many people's status without a record per person).

use sqlx::Row as _;

use crate::audit::chain;
use crate::policy::{self, DAY_SECS};
use crate::{CoreResult, Tessera, UnixTime};

/// Names listed per section at most (the CSV download has the counts).
pub const MAX_NAMES: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RoleLine {
    pub role: String,
    pub in_scope: i64,
    pub with_two_step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedPerson {
    pub name: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExceptionLine {
    pub name: String,
    pub email: String,
    pub until: UnixTime,
    pub reason: String,
}

/// A record from the trail, as a report line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventLine {
    pub at: UnixTime,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CoveragePoint {
    pub day: UnixTime,
    pub in_scope: i64,
    pub with_two_step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub organisation: String,
    pub generated_at: UnixTime,
    pub from: UnixTime,
    pub to: UnixTime,
    pub required: bool,
    pub deadline: Option<UnixTime>,
    /// Active people who can sign in.
    pub in_scope: i64,
    pub with_two_step: i64,
    pub passkey_only: i64,
    pub app_only: i64,
    pub passkey_and_app: i64,
    pub by_role: Vec<RoleLine>,
    /// People the policy counts as not set up (capped at [`MAX_NAMES`]), and how many.
    pub not_set_up: Vec<NamedPerson>,
    pub not_set_up_count: i64,
    pub in_grace: i64,
    pub exceptions: Vec<ExceptionLine>,
    pub policy_history: Vec<EventLine>,
    pub reminders_sent: i64,
    pub resets: Vec<EventLine>,
    pub lockouts: i64,
    pub coverage: Vec<CoveragePoint>,
    /// The audit chain's head when the report was made.
    pub audit_seq: i64,
    pub audit_head: String,
}

impl Report {
    /// The share of people in scope with two-step authentication, in per cent (one
    /// decimal).
    pub fn percent(part: i64, whole: i64) -> f64 {
        if whole == 0 {
            0.0
        } else {
            (part as f64 * 1000.0 / whole as f64).round() / 10.0
        }
    }
}

const IN_SCOPE: &str = "users.active = 1 AND users.password_hash IS NOT NULL";
const HAS_PASSKEY: &str = "EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)";
const HAS_APP: &str = "EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = users.id)";

/// Today's counts, for the snapshot and the report.
async fn counts_now(conn: &mut sqlx::AnyConnection) -> CoreResult<(i64, i64, i64, i64, i64)> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS in_scope, \
                CAST(COALESCE(SUM(two_factor_enabled), 0) AS BIGINT) AS with_two_step, \
                CAST(COALESCE(SUM(CASE WHEN {HAS_PASSKEY} AND NOT {HAS_APP} THEN 1 ELSE 0 END), 0) AS BIGINT) AS passkey_only, \
                CAST(COALESCE(SUM(CASE WHEN {HAS_APP} AND NOT {HAS_PASSKEY} THEN 1 ELSE 0 END), 0) AS BIGINT) AS app_only, \
                CAST(COALESCE(SUM(CASE WHEN {HAS_APP} AND {HAS_PASSKEY} THEN 1 ELSE 0 END), 0) AS BIGINT) AS both_methods \
         FROM users WHERE {IN_SCOPE}"
    )))
    .fetch_one(conn)
    .await?;
    Ok((
        row.try_get("in_scope")?,
        row.try_get("with_two_step")?,
        row.try_get("passkey_only")?,
        row.try_get("app_only")?,
        row.try_get("both_methods")?,
    ))
}

async fn events(
    conn: &mut sqlx::AnyConnection,
    kinds: &[&str],
    from: UnixTime,
    to: UnixTime,
) -> CoreResult<Vec<EventLine>> {
    let list = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT a.at, u.email AS actor, a.subject, a.detail FROM audit_log a \
         LEFT JOIN users u ON u.id = a.actor_id \
         WHERE a.kind IN ({list}) AND a.at >= $1 AND a.at < $2 ORDER BY a.id LIMIT {MAX_NAMES}"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventLine {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                subject: r.try_get("subject")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

async fn count_events(
    conn: &mut sqlx::AnyConnection,
    kinds: &[&str],
    from: UnixTime,
    to: UnixTime,
) -> CoreResult<i64> {
    let list = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM audit_log WHERE kind IN ({list}) AND at >= $1 AND at < $2"
    )))
    .bind(from)
    .bind(to)
    .fetch_one(conn)
    .await?)
}

impl Tessera {
    /// Takes today's snapshot of the coverage counts, once (two instances: the first
    /// insert wins). Returns whether it was taken now.
    pub(super) async fn snapshot_coverage(&self) -> CoreResult<bool> {
        let now = self.now();
        let day = now - now.rem_euclid(DAY_SECS);
        let required = self
            .organisation()
            .await?
            .is_some_and(|o| o.policy.required);
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT day FROM coverage_snapshots WHERE day = $1")
                .bind(day)
                .fetch_optional(self.db.pool())
                .await?;
        if taken.is_some() {
            return Ok(false);
        }
        let (in_scope, with_two_step, passkey_only, app_only, both) = {
            let mut conn = self.db.pool().acquire().await?;
            counts_now(&mut conn).await?
        };
        let mut tx = self.db.write().await?;
        let result = sqlx::query(
            "INSERT INTO coverage_snapshots (day, in_scope, with_two_step, with_passkey, with_app, required, taken_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day) DO NOTHING",
        )
        .bind(day)
        .bind(in_scope)
        .bind(with_two_step)
        .bind(passkey_only + both)
        .bind(app_only + both)
        .bind(required as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(crate::db::changed_one(&result))
    }

    /// The report as of now, with the events of `[from, to)`.
    pub async fn compliance_report(&self, from: UnixTime, to: UnixTime) -> CoreResult<Report> {
        let now = self.now();
        let organisation = self
            .organisation()
            .await?
            .ok_or(crate::CoreError::NotFound)?;
        let policy = &organisation.policy;
        let mut conn = self.db.pool().acquire().await?;
        let (in_scope, with_two_step, passkey_only, app_only, both) = counts_now(&mut conn).await?;
        let by_role = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT role, COUNT(*) AS in_scope, CAST(COALESCE(SUM(two_factor_enabled), 0) AS BIGINT) AS on_count \
             FROM users WHERE {IN_SCOPE} GROUP BY role ORDER BY role"
        )))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(RoleLine {
                role: r.try_get("role")?,
                in_scope: r.try_get("in_scope")?,
                with_two_step: r.try_get("on_count")?,
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
        // "Not set up" as the policy counts it (with its method rules) when it is on; no
        // method at all when it is off.
        let unsatisfied = if policy.required {
            policy::unsatisfied_sql(policy)
        } else {
            format!("({IN_SCOPE} AND users.two_factor_enabled = 0)")
        };
        let not_set_up_count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM users WHERE {unsatisfied}"
        )))
        .fetch_one(&mut *conn)
        .await?;
        let not_set_up = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT display_name, email, role FROM users WHERE {unsatisfied} \
             ORDER BY name_key, id LIMIT {MAX_NAMES}"
        )))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(NamedPerson {
                name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
        let in_grace = if policy.required {
            let view = crate::directory::View {
                two_step: Some(crate::directory::TwoStep::Grace),
                policy: policy.clone(),
                ..Default::default()
            };
            crate::directory::count(&mut conn, &view, now).await?
        } else {
            0
        };
        let exceptions = sqlx::query(
            "SELECT u.display_name, u.email, e.until, e.reason FROM two_step_exceptions e \
             JOIN users u ON u.id = e.user_id WHERE e.until > $1 ORDER BY e.until, u.email",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ExceptionLine {
                name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                until: r.try_get("until")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
        let policy_history = events(
            &mut conn,
            &[
                "two_factor_policy_changed",
                "policy_changed",
                "session_limits_changed",
            ],
            from,
            to,
        )
        .await?;
        let resets = events(&mut conn, &["two_factor_reset"], from, to).await?;
        let reminders_sent = count_events(
            &mut conn,
            &["reminder_sent", "deadline_reminder_sent"],
            from,
            to,
        )
        .await?;
        let lockouts = count_events(&mut conn, &["account_locked"], from, to).await?;
        let mut coverage = sqlx::query(
            "SELECT day, in_scope, with_two_step FROM coverage_snapshots \
             WHERE day >= $1 AND day < $2 ORDER BY day",
        )
        .bind(from - from.rem_euclid(DAY_SECS))
        .bind(to)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(CoveragePoint {
                day: r.try_get("day")?,
                in_scope: r.try_get("in_scope")?,
                with_two_step: r.try_get("with_two_step")?,
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
        // Today as it is now, when the period reaches it.
        let today = now - now.rem_euclid(DAY_SECS);
        if to > today {
            coverage.retain(|p| p.day != today);
            coverage.push(CoveragePoint {
                day: today,
                in_scope,
                with_two_step,
            });
        }
        let (audit_seq, audit_head) = chain::head(&mut conn).await?;
        Ok(Report {
            organisation: organisation.name.clone(),
            generated_at: now,
            from,
            to,
            required: policy.required,
            deadline: policy.deadline,
            in_scope,
            with_two_step,
            passkey_only,
            app_only,
            passkey_and_app: both,
            by_role,
            not_set_up,
            not_set_up_count,
            in_grace,
            exceptions,
            policy_history,
            reminders_sent,
            resets,
            lockouts,
            coverage,
            audit_seq,
            audit_head,
        })
    }
}
