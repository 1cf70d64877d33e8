//! The console's users list: filters, search, sort and keyset pages over `users`, the
//! counts at the top of the page, and the whole filtered view for exports and reminders.
//! All of its SQL is here.
//!
//! Pages are keyset pages: each carries a cursor (the sort key and id of its last or first
//! row), and the next page starts after it in an indexed order, so page 200 costs what
//! page 1 does and a row is never skipped or repeated while the data stays still. Never
//! OFFSET.

use std::collections::HashSet;

use base64::Engine as _;
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Arguments as _, Row};
use uuid::Uuid;

use crate::accounts::Role;
use crate::throttle::{Scope, ThrottlePolicy};
use crate::{CoreError, CoreResult, UnixTime};

/// Rows on one page of the list.
pub const PAGE_SIZE: u32 = 50;
/// Not signed in for this long counts as inactive.
pub const INACTIVE_AFTER_SECS: i64 = 30 * 24 * 60 * 60;

/// Two-step authentication as the list shows and filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoStep {
    On,
    /// Able to sign in (active, a password set) and no second factor.
    NotSetUp,
    /// Not satisfying the policy, and within the deadline or their enrolment period.
    Grace,
    /// Under a temporary exception now.
    Exception,
}

/// The account side of a row, as the list filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFilter {
    Active,
    Disabled,
    /// No password set yet (invited, or created without one).
    Pending,
    /// Locked by failed attempts right now.
    Locked,
    /// Active, and no sign-in for 30 days.
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// A–Z by name.
    #[default]
    Name,
    /// Most recent sign-in first; never signed in last.
    LastSignIn,
    /// Newest account first.
    Created,
}

/// Where a page starts: after (next) or before (previous) a row in the sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    After(Key),
    Before(Key),
}

/// A row's place in the sort order: its sort value and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    value: KeyValue,
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyValue {
    Text(String),
    Time(i64),
}

/// What the list shows: a view, as the console's URL carries it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub two_step: Option<TwoStep>,
    pub role: Option<Role>,
    pub account: Option<AccountFilter>,
    /// Prefix of a name or an email, any case.
    pub search: Option<String>,
    pub sort: Sort,
    /// The organisation's policy, which "in grace" is measured against.
    pub policy: crate::policy::Policy,
}

/// One person in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    /// No password yet.
    pub pending: bool,
    pub two_factor_enabled: bool,
    pub passkeys: i64,
    pub has_app: bool,
    pub backup_codes_left: i64,
    pub created_at: UnixTime,
    pub last_sign_in_at: Option<UnixTime>,
    pub last_reminded_at: Option<UnixTime>,
    pub first_sign_in_at: Option<UnixTime>,
    /// The end of a temporary exception (past ones linger until recorded as ended).
    pub exception_until: Option<UnixTime>,
    /// Locked by failed attempts until then.
    pub locked_until: Option<UnixTime>,
}

/// One page of the list, with the cursors of its neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<UserRow>,
    pub next: Option<Cursor>,
    pub previous: Option<Cursor>,
}

/// The counts at the top of the list (they are also its filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub all: i64,
    pub two_step_on: i64,
    pub not_set_up: i64,
    pub pending: i64,
    pub disabled: i64,
    pub locked: i64,
    pub inactive: i64,
}

impl Cursor {
    /// The cursor as it travels in a URL: opaque, URL-safe.
    pub fn encode(&self) -> String {
        let (direction, key) = match self {
            Cursor::After(k) => ('a', k),
            Cursor::Before(k) => ('b', k),
        };
        let value = match &key.value {
            KeyValue::Text(t) => format!("t{t}"),
            KeyValue::Time(t) => format!("n{t}"),
        };
        let raw = format!("{direction}\u{1f}{}\u{1f}{value}", key.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads a cursor from a URL; anything else is a clear error (it changes nothing).
    pub fn decode(text: &str) -> CoreResult<Cursor> {
        let bad = || {
            CoreError::invalid(
                "cursor",
                "That page link is not valid. Start from the first page.",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, '\u{1f}');
        let (Some(direction), Some(id), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Uuid::parse_str(id).map_err(|_| bad())?;
        let value = match value.split_at_checked(1) {
            Some(("t", text)) => KeyValue::Text(text.to_string()),
            Some(("n", number)) => KeyValue::Time(number.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        let key = Key {
            value,
            id: id.to_string(),
        };
        match direction {
            "a" => Ok(Cursor::After(key)),
            "b" => Ok(Cursor::Before(key)),
            _ => Err(bad()),
        }
    }
}

impl Sort {
    fn column(self) -> &'static str {
        match self {
            Sort::Name => "name_key",
            Sort::LastSignIn => "last_sign_in_at",
            Sort::Created => "created_at",
        }
    }

    fn ascending(self) -> bool {
        self == Sort::Name
    }

    fn key_of(self, row: &UserRow, name_key: String) -> Key {
        let value = match self {
            Sort::Name => KeyValue::Text(name_key),
            Sort::LastSignIn => KeyValue::Time(row.last_sign_in_at.unwrap_or(0)),
            Sort::Created => KeyValue::Time(row.created_at),
        };
        Key {
            value,
            id: row.id.to_string(),
        }
    }
}

/// A search as typed: trimmed, lower case, at most 100 characters; empty means none.
pub fn normalise_search(input: &str) -> Option<String> {
    let text: String = input.trim().to_lowercase().chars().take(100).collect();
    (!text.is_empty()).then_some(text)
}

/// Who is locked by failed attempts at `now`: emails (password) and user ids (second
/// step), each with when the lock ends. Rows that reached the lock are few, so they are
/// read and judged here with the throttle's own rule.
async fn locked_now(
    conn: &mut AnyConnection,
    now: UnixTime,
) -> CoreResult<(Vec<(String, UnixTime)>, Vec<(String, UnixTime)>)> {
    let rows = sqlx::query(
        "SELECT scope, key, failures, last_failure_at FROM throttle \
         WHERE scope IN ($1, $2) AND failures >= $3",
    )
    .bind(Scope::PasswordAccount.as_str())
    .bind(Scope::SecondFactorAccount.as_str())
    .bind(ThrottlePolicy::ACCOUNT.lock_after)
    .fetch_all(&mut *conn)
    .await?;
    let (mut emails, mut ids) = (Vec::new(), Vec::new());
    for row in rows {
        let scope: String = row.try_get("scope")?;
        let key: String = row.try_get("key")?;
        let wait = ThrottlePolicy::ACCOUNT.check(
            row.try_get("failures")?,
            row.try_get("last_failure_at")?,
            now,
        );
        if let Err(wait) = wait.filter_locked() {
            if scope == Scope::PasswordAccount.as_str() {
                emails.push((key, wait.until));
            } else {
                ids.push((key, wait.until));
            }
        }
    }
    Ok((emails, ids))
}

trait LockedOnly {
    fn filter_locked(self) -> Result<(), crate::throttle::Wait>;
}

impl LockedOnly for Result<(), crate::throttle::Wait> {
    /// Only a lock counts as "locked", not a short delay between attempts.
    fn filter_locked(self) -> Result<(), crate::throttle::Wait> {
        match self {
            Err(wait) if wait.locked => Err(wait),
            _ => Ok(()),
        }
    }
}

/// A query under construction: conditions and their arguments, numbered as they go
/// (`$1`, `$2` …, which both backends read). The SQL text is made only of fixed fragments
/// chosen in this file; every value a person typed travels as an argument.
struct Sql {
    conditions: Vec<String>,
    /// A name-or-email prefix: the placeholders of its range's two ends.
    search: Option<(String, String)>,
    args: AnyArguments,
    next: usize,
}

impl Sql {
    fn new() -> Sql {
        Sql {
            conditions: Vec::new(),
            search: None,
            args: AnyArguments::default(),
            next: 1,
        }
    }

    /// A placeholder for `value`.
    fn arg<T>(&mut self, value: T) -> CoreResult<String>
    where
        T: 'static + Send + sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.args
            .add(value)
            .map_err(|e| CoreError::Internal(format!("query argument: {e}")))?;
        let placeholder = format!("${}", self.next);
        self.next += 1;
        Ok(placeholder)
    }

    fn when(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn where_clause(&self, extra: Option<String>) -> String {
        let all: Vec<&str> = self
            .conditions
            .iter()
            .map(String::as_str)
            .chain(extra.as_deref())
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", all.join(" AND "))
        }
    }

    /// The first `limit` rows in `column`'s order (`direction`, ties by id). A search is two
    /// ranges — names and emails — each read in order from its own index and limited, then
    /// merged: an OR over both would read and sort every match before the first row.
    fn select(&self, column: &str, direction: &str, limit: usize) -> String {
        let order = format!("ORDER BY {column} {direction}, id {direction} LIMIT {limit}");
        match &self.search {
            None => format!(
                "SELECT {ROW_COLUMNS} FROM users {} {order}",
                self.where_clause(None)
            ),
            Some((from, to)) => {
                let branch = |name: &str, range: String| {
                    format!(
                        "SELECT id FROM (SELECT id FROM users {} {order}) AS by_{name}",
                        self.where_clause(Some(range))
                    )
                };
                let names = format!("name_key >= {from} AND name_key < {to}");
                // Addresses usually start like names (ann.lee@ for Ann Lee): the email
                // branch leaves out whom the name branch finds, so it sorts only the rest.
                let emails = format!("email >= {from} AND email < {to} AND NOT ({names})");
                format!(
                    "SELECT {ROW_COLUMNS} FROM users WHERE id IN ({} UNION ALL {}) {order}",
                    branch("name", names.clone()),
                    branch("email", emails)
                )
            }
        }
    }
}

/// The columns of a row, with its methods counted for it.
const ROW_COLUMNS: &str = "id, email, display_name, name_key, role, active, \
     CASE WHEN password_hash IS NULL THEN 1 ELSE 0 END AS pending, two_factor_enabled, created_at, last_sign_in_at, \
     last_reminded_at, first_sign_in_at, \
     (SELECT until FROM two_step_exceptions e WHERE e.user_id = users.id) AS exception_until, \
     (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = users.id) AS passkeys, \
     (SELECT COUNT(*) FROM totp_credentials t WHERE t.user_id = users.id) AS apps, \
     (SELECT COUNT(*) FROM backup_codes b WHERE b.user_id = users.id AND b.used_at IS NULL) AS codes";

/// The conditions of `view` (not its page), added to `sql`.
async fn filter(
    conn: &mut AnyConnection,
    sql: &mut Sql,
    view: &View,
    now: UnixTime,
) -> CoreResult<()> {
    match view.two_step {
        Some(TwoStep::On) => sql.when("two_factor_enabled = 1".into()),
        Some(TwoStep::NotSetUp) => {
            sql.when("two_factor_enabled = 0 AND active = 1 AND password_hash IS NOT NULL".into())
        }
        Some(TwoStep::Exception) => {
            let p = sql.arg(now)?;
            sql.when(crate::policy::excused_sql(&view.policy, &p));
        }
        Some(TwoStep::Grace) if view.policy.required => {
            // The SQL of `Policy::standing`'s grace: unsatisfied, no live exception, and
            // before the deadline or within their own enrolment period.
            let policy = &view.policy;
            let p_now = sql.arg(now)?;
            let p_deadline = sql.arg(policy.deadline.unwrap_or(0))?;
            let p_since = sql.arg(policy.required_since.unwrap_or(i64::MAX))?;
            let p_days = sql.arg(policy.enrolment_days * crate::policy::DAY_SECS)?;
            sql.when(format!(
                "{unsatisfied} AND NOT {excused} \
                 AND ({p_deadline} > {p_now} OR ({p_days} > 0 AND created_at > {p_since} \
                      AND COALESCE(first_sign_in_at, {p_now}) + {p_days} > {p_now}))",
                unsatisfied = crate::policy::unsatisfied_sql(policy),
                excused = crate::policy::excused_sql(policy, &p_now),
            ));
        }
        Some(TwoStep::Grace) => sql.when("0 = 1".into()),
        None => {}
    }
    if let Some(role) = view.role {
        let p = sql.arg(role.as_str().to_string())?;
        sql.when(format!("role = {p}"));
    }
    match view.account {
        Some(AccountFilter::Active) => sql.when("active = 1 AND password_hash IS NOT NULL".into()),
        Some(AccountFilter::Disabled) => sql.when("active = 0".into()),
        Some(AccountFilter::Pending) => sql.when("active = 1 AND password_hash IS NULL".into()),
        Some(AccountFilter::Inactive) => {
            let since = sql.arg(now - INACTIVE_AFTER_SECS)?;
            sql.when(format!(
                "active = 1 AND password_hash IS NOT NULL AND last_sign_in_at < {since} \
                 AND created_at < {since}"
            ));
        }
        Some(AccountFilter::Locked) => {
            let (emails, ids) = locked_now(conn, now).await?;
            let mut alternatives = vec!["0 = 1".to_string()];
            for (email, _) in emails {
                let p = sql.arg(email)?;
                alternatives.push(format!("email = {p}"));
            }
            for (id, _) in ids {
                let p = sql.arg(id)?;
                alternatives.push(format!("id = {p}"));
            }
            sql.when(format!("({})", alternatives.join(" OR ")));
        }
        None => {}
    }
    if let Some(search) = &view.search {
        // A prefix of the name or the email: two index ranges (see `Sql::select`).
        let from = sql.arg(search.clone())?;
        let to = sql.arg(format!("{search}\u{10ffff}"))?;
        sql.search = Some((from, to));
    }
    Ok(())
}

fn row_from(row: &sqlx::any::AnyRow) -> CoreResult<(UserRow, String)> {
    let id: String = row.try_get("id")?;
    let optional_time = |t: i64| (t > 0).then_some(t);
    Ok((
        UserRow {
            id: Uuid::parse_str(&id).map_err(|e| CoreError::Internal(e.to_string()))?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            role: Role::parse(&row.try_get::<String, _>("role")?)?,
            active: row.try_get::<i64, _>("active")? != 0,
            pending: row.try_get::<i64, _>("pending")? != 0,
            two_factor_enabled: row.try_get::<i64, _>("two_factor_enabled")? != 0,
            passkeys: row.try_get("passkeys")?,
            has_app: row.try_get::<i64, _>("apps")? > 0,
            backup_codes_left: row.try_get("codes")?,
            created_at: row.try_get("created_at")?,
            last_sign_in_at: optional_time(row.try_get("last_sign_in_at")?),
            last_reminded_at: optional_time(row.try_get("last_reminded_at")?),
            first_sign_in_at: row.try_get("first_sign_in_at")?,
            exception_until: row.try_get("exception_until")?,
            locked_until: None,
        },
        row.try_get("name_key")?,
    ))
}

/// Marks the rows that are locked right now.
async fn mark_locked(
    conn: &mut AnyConnection,
    rows: &mut [UserRow],
    now: UnixTime,
) -> CoreResult<()> {
    let (emails, ids) = locked_now(conn, now).await?;
    for row in rows {
        let id = row.id.to_string();
        row.locked_until = emails
            .iter()
            .filter(|(e, _)| *e == row.email)
            .chain(ids.iter().filter(|(i, _)| *i == id))
            .map(|(_, until)| *until)
            .max();
    }
    Ok(())
}

/// One page of `view`, starting at `cursor` (the first page without one).
pub async fn page(
    conn: &mut AnyConnection,
    view: &View,
    cursor: Option<&Cursor>,
    now: UnixTime,
) -> CoreResult<Page> {
    let mut sql = Sql::new();
    filter(conn, &mut sql, view, now).await?;
    let column = view.sort.column();
    // Reading backwards (a previous page) flips the order; the rows are turned back after.
    let backwards = matches!(cursor, Some(Cursor::Before(_)));
    let ascending = view.sort.ascending() != backwards;
    if let Some(Cursor::After(key) | Cursor::Before(key)) = cursor {
        let value = match &key.value {
            KeyValue::Text(text) if view.sort == Sort::Name => sql.arg(text.clone())?,
            KeyValue::Time(time) if view.sort != Sort::Name => sql.arg(*time)?,
            _ => {
                return Err(CoreError::invalid(
                    "cursor",
                    "That page link belongs to another sort order. Start from the first page.",
                ))
            }
        };
        let id = sql.arg(key.id.clone())?;
        let op = if ascending { ">" } else { "<" };
        sql.when(format!("({column}, id) {op} ({value}, {id})"));
    }
    let direction = if ascending { "ASC" } else { "DESC" };
    let query = sql.select(column, direction, PAGE_SIZE as usize + 1);
    let fetched = sqlx::query_with(sqlx::AssertSqlSafe(query), sql.args)
        .fetch_all(&mut *conn)
        .await?;
    let mut rows = fetched
        .iter()
        .map(row_from)
        .collect::<CoreResult<Vec<_>>>()?;
    let more = rows.len() > PAGE_SIZE as usize;
    rows.truncate(PAGE_SIZE as usize);
    if backwards {
        rows.reverse();
    }
    let key = |(row, name_key): &(UserRow, String)| view.sort.key_of(row, name_key.clone());
    let (next, previous) = match cursor {
        None => (
            more.then(|| rows.last().map(key))
                .flatten()
                .map(Cursor::After),
            None,
        ),
        Some(Cursor::After(_)) => (
            more.then(|| rows.last().map(key))
                .flatten()
                .map(Cursor::After),
            rows.first().map(key).map(Cursor::Before),
        ),
        Some(Cursor::Before(_)) => (
            rows.last().map(key).map(Cursor::After),
            more.then(|| rows.first().map(key))
                .flatten()
                .map(Cursor::Before),
        ),
    };
    let mut rows: Vec<UserRow> = rows.into_iter().map(|(row, _)| row).collect();
    mark_locked(conn, &mut rows, now).await?;
    Ok(Page {
        rows,
        next,
        previous,
    })
}

/// One user's row, as the list would show it.
pub async fn one(conn: &mut AnyConnection, id: Uuid, now: UnixTime) -> CoreResult<Option<UserRow>> {
    let query = format!("SELECT {ROW_COLUMNS} FROM users WHERE id = $1");
    let found = sqlx::query(sqlx::AssertSqlSafe(query))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let mut rows = vec![row_from(&found)?.0];
    mark_locked(conn, &mut rows, now).await?;
    Ok(rows.pop())
}

/// Every row of a view in its order (exports, "remind everyone in this view"), a keyset
/// batch at a time, so memory stays flat however many rows there are.
pub struct Batches {
    view: View,
    cursor: Option<Key>,
    done: bool,
}

/// Rows in one batch of [`Batches`].
pub const BATCH: usize = 1000;

impl Batches {
    pub fn new(view: View) -> Batches {
        Batches {
            view,
            cursor: None,
            done: false,
        }
    }

    /// The next batch, or `None` when the view is exhausted.
    pub async fn next(
        &mut self,
        conn: &mut AnyConnection,
        now: UnixTime,
    ) -> CoreResult<Option<Vec<UserRow>>> {
        if self.done {
            return Ok(None);
        }
        let mut sql = Sql::new();
        filter(conn, &mut sql, &self.view, now).await?;
        let column = self.view.sort.column();
        let ascending = self.view.sort.ascending();
        if let Some(key) = &self.cursor {
            let value = match &key.value {
                KeyValue::Text(text) => sql.arg(text.clone())?,
                KeyValue::Time(time) => sql.arg(*time)?,
            };
            let id = sql.arg(key.id.clone())?;
            let op = if ascending { ">" } else { "<" };
            sql.when(format!("({column}, id) {op} ({value}, {id})"));
        }
        let direction = if ascending { "ASC" } else { "DESC" };
        let query = sql.select(column, direction, BATCH);
        let fetched = sqlx::query_with(sqlx::AssertSqlSafe(query), sql.args)
            .fetch_all(&mut *conn)
            .await?;
        let rows = fetched
            .iter()
            .map(row_from)
            .collect::<CoreResult<Vec<_>>>()?;
        let Some(last) = rows.last() else {
            self.done = true;
            return Ok(None);
        };
        self.cursor = Some(self.view.sort.key_of(&last.0, last.1.clone()));
        self.done = rows.len() < BATCH;
        let mut plain: Vec<UserRow> = rows.into_iter().map(|(row, _)| row).collect();
        mark_locked(conn, &mut plain, now).await?;
        Ok(Some(plain))
    }
}

/// How many people are in `view` (its filters, not its search), counted now.
pub async fn count(conn: &mut AnyConnection, view: &View, now: UnixTime) -> CoreResult<i64> {
    let mut sql = Sql::new();
    filter(conn, &mut sql, view, now).await?;
    let query = format!("SELECT COUNT(*) FROM users {}", sql.where_clause(None));
    Ok(
        sqlx::query_scalar_with(sqlx::AssertSqlSafe(query), sql.args)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The counts at the top of the list.
pub async fn counts(conn: &mut AnyConnection, now: UnixTime) -> CoreResult<Counts> {
    // Kept by triggers as rows change (migration 0007).
    let row = sqlx::query(
        "SELECT all_users, two_step_on, not_set_up, pending, disabled FROM user_counts WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    // Time-dependent, so counted now, from the two indexes of migration 0007.
    let since = now - INACTIVE_AFTER_SECS;
    let quiet: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE active = 1 AND last_sign_in_at < $1 AND created_at < $1",
    )
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let quiet_pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE active = 1 AND last_sign_in_at < $1 AND created_at < $1 \
         AND password_hash IS NULL",
    )
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let (emails, ids) = locked_now(conn, now).await?;
    let locked: HashSet<String> = {
        let mut who = HashSet::new();
        for (email, _) in &emails {
            if let Some(id) =
                sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&mut *conn)
                    .await?
            {
                who.insert(id);
            }
        }
        who.extend(ids.into_iter().map(|(id, _)| id));
        who
    };
    Ok(Counts {
        all: row.try_get("all_users")?,
        two_step_on: row.try_get("two_step_on")?,
        not_set_up: row.try_get("not_set_up")?,
        pending: row.try_get("pending")?,
        disabled: row.try_get("disabled")?,
        locked: locked.len() as i64,
        inactive: quiet - quiet_pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let id = Uuid::new_v4().to_string();
        for cursor in [
            Cursor::After(Key {
                value: KeyValue::Text("ann lee, ümlaut".into()),
                id: id.clone(),
            }),
            Cursor::Before(Key {
                value: KeyValue::Time(1_790_000_000),
                id: id.clone(),
            }),
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        for junk in [
            "",
            "!!",
            "YQ",
            "not-base64-at-all",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("a\u{1f}not-a-uuid\u{1f}tx"),
        ] {
            assert!(Cursor::decode(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn searches_are_trimmed_lower_case_and_bounded() {
        assert_eq!(normalise_search("  Ann "), Some("ann".into()));
        assert_eq!(normalise_search("   "), None);
        assert_eq!(normalise_search(&"x".repeat(500)).unwrap().len(), 100);
    }
}
