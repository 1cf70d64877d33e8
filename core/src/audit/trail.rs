//! Reading the trail for the audit page and its export: newest first, filtered by kinds,
//! by a person (as actor or subject, or the address typed at the sign-in box), by a date
//! range; keyset pages on the record's id (never OFFSET).

use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Arguments as _, Row};

use crate::{CoreError, CoreResult, UnixTime};

pub const PAGE_SIZE: i64 = 50;

/// What the audit page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditView {
    /// Stored kind codes; empty: every kind.
    pub kinds: Vec<String>,
    /// A person: records where they acted or were acted on (their id), or their address
    /// was typed.
    pub person: Option<Person>,
    /// From this time (inclusive) …
    pub from: Option<UnixTime>,
    /// … to this time (exclusive).
    pub to: Option<UnixTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    /// `None` for an address that belongs to nobody (failed sign-ins).
    pub id: Option<String>,
}

/// A record as the page lists it, with the names of who acted and whom it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: UnixTime,
    pub kind: String,
    pub actor_email: Option<String>,
    pub subject: Option<String>,
    pub client_addr: Option<String>,
    pub detail: String,
}

/// Records older than `before` (a record id; `None`: the newest), at most `limit`.
pub async fn page(
    conn: &mut AnyConnection,
    view: &AuditView,
    before: Option<i64>,
    limit: i64,
) -> CoreResult<Vec<Entry>> {
    let mut args = AnyArguments::default();
    let mut conditions: Vec<String> = Vec::new();
    let mut next = 0;
    let mut push = |args: &mut AnyArguments, value: ArgValue| -> CoreResult<String> {
        next += 1;
        match value {
            ArgValue::Text(t) => args.add(t),
            ArgValue::Int(i) => args.add(i),
        }
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(format!("${next}"))
    };
    if !view.kinds.is_empty() {
        let mut list = Vec::new();
        for kind in &view.kinds {
            list.push(push(&mut args, ArgValue::Text(kind.clone()))?);
        }
        conditions.push(format!("a.kind IN ({})", list.join(", ")));
    }
    if let Some(person) = &view.person {
        let email = push(&mut args, ArgValue::Text(person.email.clone()))?;
        let mut alternatives = vec![format!("a.subject = {email}")];
        if let Some(id) = &person.id {
            let id = push(&mut args, ArgValue::Text(id.clone()))?;
            alternatives.push(format!("a.subject_id = {id}"));
            alternatives.push(format!("a.actor_id = {id}"));
        }
        conditions.push(format!("({})", alternatives.join(" OR ")));
    }
    if let Some(from) = view.from {
        let p = push(&mut args, ArgValue::Int(from))?;
        conditions.push(format!("a.at >= {p}"));
    }
    if let Some(to) = view.to {
        let p = push(&mut args, ArgValue::Int(to))?;
        conditions.push(format!("a.at < {p}"));
    }
    if let Some(before) = before {
        let p = push(&mut args, ArgValue::Int(before))?;
        conditions.push(format!("a.id < {p}"));
    }
    let limit = push(&mut args, ArgValue::Int(limit))?;
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT a.id, a.at, a.kind, u.email AS actor_email, a.subject, a.client_addr, a.detail \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id \
         {filter} ORDER BY a.id DESC LIMIT {limit}"
    );
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                actor_email: r.try_get("actor_email")?,
                subject: r.try_get("subject")?,
                client_addr: r.try_get("client_addr")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

enum ArgValue {
    Text(String),
    Int(i64),
}

/// The oldest record's time (how far back the trail goes), if any.
pub async fn oldest(conn: &mut AnyConnection) -> CoreResult<Option<UnixTime>> {
    Ok(sqlx::query_scalar("SELECT MIN(at) FROM audit_log")
        .fetch_one(conn)
        .await?)
}
