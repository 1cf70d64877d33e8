//! The audit trail's MAC chain, and the walk that checks it.
//!
//! Each record's MAC is HMAC-SHA256, keyed from the server key, over its place in the
//! chain, its own fields and the previous record's MAC. Changing a record breaks its MAC;
//! removing or reordering records breaks the places and the links after them. Removing the
//! newest records leaves a shorter chain that is intact on its own, which is why the head
//! is anchored outside the database (the report, the admins' daily mail) and
//! [`verify`] takes the head seen earlier: it must still be in the chain.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use sqlx::{AnyConnection, Row};

use crate::CoreResult;

/// The key the chain is sealed with (derived from the server key).
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl ChainKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        ChainKey(bytes)
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(…)")
    }
}

/// What a record's MAC covers besides the previous MAC.
pub struct Fields<'a> {
    pub seq: i64,
    pub at: i64,
    pub kind: &'a str,
    pub actor: Option<&'a str>,
    pub subject_id: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub detail: &'a str,
}

/// The MAC of a record with `fields` following one whose MAC is `previous` (hex).
pub fn seal(key: &ChainKey, previous: &str, fields: &Fields<'_>) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&key.0) else {
        unreachable!("HMAC takes keys of any length")
    };
    // Each part length-prefixed (an absent one marked apart from an empty one), so no two
    // different records encode alike.
    let mut part = |value: Option<&[u8]>| match value {
        Some(bytes) => {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        }
        None => mac.update(&u64::MAX.to_be_bytes()),
    };
    part(Some(b"tessera audit chain v1"));
    part(Some(previous.as_bytes()));
    part(Some(fields.seq.to_string().as_bytes()));
    part(Some(fields.at.to_string().as_bytes()));
    part(Some(fields.kind.as_bytes()));
    part(fields.actor.map(str::as_bytes));
    part(fields.subject_id.map(str::as_bytes));
    part(fields.subject.map(str::as_bytes));
    part(fields.client_addr.map(str::as_bytes));
    part(Some(fields.detail.as_bytes()));
    hex::encode(mac.finalize().into_bytes())
}

/// The chain's newest place and MAC, as stored.
pub async fn head(conn: &mut AnyConnection) -> CoreResult<(i64, String)> {
    Ok(
        sqlx::query_as("SELECT seq, head FROM audit_chain WHERE id = 1")
            .fetch_one(conn)
            .await?,
    )
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records in the chain that were checked.
    pub records: i64,
    /// Records written before the chain began (no MAC to check).
    pub unsealed_before: i64,
    /// The MAC of the newest record checked ('' when there is none).
    pub head: String,
    /// The first record that does not match, if any.
    pub broken: Option<Break>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The row's id (`None`: not a row, e.g. the expected head is missing).
    pub id: Option<i64>,
    pub why: String,
}

/// Rows read per query.
const BATCH: i64 = 5000;

/// Walks the chain from its start up to the head as it is when the walk begins (records
/// written meanwhile, on a running server, are left for the next walk) and checks every
/// record; stops at the first that does not match. With `expect` (a head seen earlier,
/// e.g. in the daily mail), a chain that no longer contains it is reported as cut off.
pub async fn verify(
    conn: &mut AnyConnection,
    key: &ChainKey,
    expect: Option<&str>,
) -> CoreResult<Verification> {
    let (stored_seq, stored_head, starts_after): (i64, String, i64) =
        sqlx::query_as("SELECT seq, head, starts_after FROM audit_chain WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let unsealed_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE id <= $1")
        .bind(starts_after)
        .fetch_one(&mut *conn)
        .await?;
    let mut result = Verification {
        records: 0,
        unsealed_before,
        head: String::new(),
        broken: None,
    };
    let expect = expect.map(str::trim).filter(|e| !e.is_empty());
    let mut expected_seen = false;
    let mut previous = String::new();
    let mut last_id = starts_after;
    'walk: loop {
        let rows = sqlx::query(
            "SELECT id, at, kind, actor_id, subject_id, subject, client_addr, detail, seq, mac \
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(last_id)
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            last_id = id;
            let seq: Option<i64> = row.try_get("seq")?;
            let stored: Option<String> = row.try_get("mac")?;
            let broken = |why: String| Break { id: Some(id), why };
            // Written since the walk began (the head was read first): not part of it.
            if seq.is_some_and(|s| s > stored_seq) {
                break 'walk;
            }
            let (Some(seq), Some(stored)) = (seq, stored) else {
                result.broken = Some(broken(
                    "this record has no seal: it was added behind the application's back".into(),
                ));
                break 'walk;
            };
            let place = result.records + 1;
            if seq != place {
                result.broken = Some(broken(format!(
                    "this record is number {seq} in the chain where number {place} belongs: records before it were removed or moved"
                )));
                break 'walk;
            }
            let text = |column: &str| row.try_get::<Option<String>, _>(column);
            let (kind, actor, subject_id, subject, client_addr, detail) = (
                text("kind")?.unwrap_or_default(),
                text("actor_id")?,
                text("subject_id")?,
                text("subject")?,
                text("client_addr")?,
                text("detail")?.unwrap_or_default(),
            );
            let fields = Fields {
                seq,
                at: row.try_get("at")?,
                kind: &kind,
                actor: actor.as_deref(),
                subject_id: subject_id.as_deref(),
                subject: subject.as_deref(),
                client_addr: client_addr.as_deref(),
                detail: &detail,
            };
            if seal(key, &previous, &fields) != stored {
                result.broken = Some(broken(
                    "this record's seal does not match: it was changed, or the record before it was".into(),
                ));
                break 'walk;
            }
            expected_seen |= expect == Some(stored.as_str());
            result.records = place;
            previous = stored;
        }
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    result.head = previous;
    if result.broken.is_none() && (result.records != stored_seq || result.head != stored_head) {
        result.broken = Some(Break {
            id: None,
            why: format!(
                "the chain ends at number {} but its head says {stored_seq}: the newest records were removed",
                result.records
            ),
        });
    }
    if result.broken.is_none() && expect.is_some() && !expected_seen {
        result.broken = Some(Break {
            id: None,
            why: "the head you expected is not in the chain: records were cut off from the end, or replaced".into(),
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(detail: &str) -> Fields<'_> {
        Fields {
            seq: 1,
            at: 1_800_000_000,
            kind: "sign_in_failed",
            actor: None,
            subject_id: None,
            subject: Some("ann@clinic.example"),
            client_addr: Some("10.0.0.1"),
            detail,
        }
    }

    #[test]
    fn the_seal_depends_on_the_key_every_field_and_the_link() {
        let key = ChainKey::new([7; 32]);
        let a = seal(&key, "", &fields("wrong password"));
        assert_eq!(a.len(), 64);
        assert_eq!(a, seal(&key, "", &fields("wrong password")));
        assert_ne!(a, seal(&key, "", &fields("wrong passwore")));
        assert_ne!(a, seal(&key, "00", &fields("wrong password")));
        assert_ne!(
            a,
            seal(&ChainKey::new([8; 32]), "", &fields("wrong password"))
        );
        // An absent field is not an empty one.
        let mut empty = fields("wrong password");
        empty.actor = Some("");
        assert_ne!(a, seal(&key, "", &empty));
    }
}
