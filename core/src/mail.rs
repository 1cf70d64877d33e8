//! Mail to users, through an outbox.
//!
//! A message is a row written in the same transaction as the change it reports, so a
//! crash can neither lose the "your password was changed" mail nor send it for a change
//! that rolled back. A background task drains the outbox: over SMTP when configured,
//! otherwise into `.eml` files in a folder (and a log line), the embedded default. Several
//! instances can drain one database: a message is leased before it is sent.

use std::path::PathBuf;

use lettre::message::header::ContentType;
pub use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::{AnyConnection, Row};

use crate::db::Db;
use crate::{CoreError, CoreResult, UnixTime};

/// How long a worker may hold a message before another may retry it.
const LEASE_SECS: i64 = 120;
const MAX_ATTEMPTS: i64 = 8;
/// How often one claim looks again after another worker took the message it picked.
const CLAIM_TRIES: usize = 4;

/// A message to one person.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Queues a message to one person about their account: sent before any bulk mail.
pub async fn enqueue(conn: &mut AnyConnection, mail: &Mail, now: UnixTime) -> CoreResult<()> {
    insert(conn, mail, now, false).await
}

/// Queues one of many messages (a reminder, an import's invitation): sent after
/// everything else waiting, in the order queued.
pub async fn enqueue_bulk(conn: &mut AnyConnection, mail: &Mail, now: UnixTime) -> CoreResult<()> {
    insert(conn, mail, now, true).await
}

async fn insert(
    conn: &mut AnyConnection,
    mail: &Mail,
    now: UnixTime,
    bulk: bool,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at, bulk) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .bind(i64::from(bulk))
    .execute(conn)
    .await?;
    Ok(())
}

/// Messages not yet sent and still to be tried (the console shows the queue).
pub async fn waiting(conn: &mut AnyConnection) -> CoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts < $1")
            .bind(MAX_ATTEMPTS)
            .fetch_one(conn)
            .await?,
    )
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Writes each message as an `.eml` file into the folder.
    Folder(PathBuf),
}

impl Transport {
    /// `smtp://user:pass@host:port` (plain, or STARTTLS when the server offers it) or
    /// `smtps://…`, as lettre understands them.
    pub fn smtp(url: &str) -> CoreResult<Transport> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| CoreError::invalid("smtp_url", format!("invalid SMTP URL: {e}")))?
            .build();
        Ok(Transport::Smtp(transport))
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "SMTP".into(),
            Transport::Folder(dir) => format!("files in {}", dir.display()),
        }
    }
}

/// Sends what is due, no more than `per_minute` in any 60 seconds (counting what every
/// instance sent or is sending). `now` is read afresh for every message, so a slow round
/// still counts each one when it went. Returns how many messages were sent.
pub async fn drain_once(
    db: &Db,
    transport: &Transport,
    from: &Mailbox,
    now: &(dyn Fn() -> UnixTime + Sync),
    per_minute: Option<u32>,
) -> CoreResult<usize> {
    let mut sent = 0;
    while let Some((id, mail)) = claim_next(db, now(), per_minute).await? {
        match deliver(transport, from, id, &mail).await {
            Ok(()) => {
                let mut tx = db.write().await?;
                // The body goes once sent: it may hold a single-use link, which the
                // database (and its backups) should not keep usable. The audit trail is
                // the record of what was sent.
                sqlx::query("UPDATE outbox SET sent_at = $1, claimed_until = NULL, last_error = NULL, body = '' WHERE id = $2")
                    .bind(now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                sent += 1;
                crate::metrics::mail(true);
            }
            Err(error) => {
                tracing::warn!(message_id = id, %error, "mail delivery failed; will retry");
                crate::metrics::mail(false);
                let mut tx = db.write().await?;
                sqlx::query(
                    "UPDATE outbox SET claimed_until = NULL, last_error = $1, \
                     next_attempt_at = $2 + 30 * attempts * attempts WHERE id = $3",
                )
                .bind(error)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                // Leave the rest for the next round rather than hammering a broken server.
                break;
            }
        }
    }
    Ok(sent)
}

/// Claims the oldest due message, unless the last minute's sending (sent, or claimed and
/// being sent) already reached the rate; decided in the claim's own transaction (under a
/// lock every instance's worker takes, when there is a rate). The claim itself is
/// conditional: when two workers pick the same message, one gets it and the other looks
/// again.
async fn claim_next(
    db: &Db,
    now: UnixTime,
    per_minute: Option<u32>,
) -> CoreResult<Option<(i64, Mail)>> {
    let mut tx = db.write().await?;
    if let Some(limit) = per_minute {
        tx.take(crate::db::SharedLock::MailRate).await?;
        let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at > $1")
            .bind(now - 60)
            .fetch_one(&mut *tx)
            .await?;
        let sending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND claimed_until >= $1",
        )
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if recent + sending >= i64::from(limit) {
            return Ok(None);
        }
    }
    for _ in 0..CLAIM_TRIES {
        let row = sqlx::query(
            "SELECT id, to_addr, subject, body FROM outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 AND attempts < $2 \
               AND (claimed_until IS NULL OR claimed_until < $1) \
             ORDER BY bulk, id LIMIT 1",
        )
        .bind(now)
        .bind(MAX_ATTEMPTS)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let claimed = sqlx::query(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 \
             WHERE id = $2 AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)",
        )
        .bind(now + LEASE_SECS)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&claimed) {
            continue; // another worker claimed it first
        }
        tx.commit().await?;
        return Ok(Some((
            id,
            Mail {
                to: row.try_get("to_addr")?,
                subject: row.try_get("subject")?,
                body: row.try_get("body")?,
            },
        )));
    }
    Ok(None)
}

async fn deliver(
    transport: &Transport,
    from: &Mailbox,
    id: i64,
    mail: &Mail,
) -> Result<(), String> {
    let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())?;
    match transport {
        Transport::Smtp(smtp) => smtp
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Transport::Folder(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
            let path = dir.join(format!("{id:08}.eml"));
            tokio::fs::write(&path, message.formatted())
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(), "mail written to outbox folder");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    /// Bulk mail waits behind a message about someone's account, queued later.
    #[tokio::test]
    async fn bulk_mail_waits_behind_account_mail() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let folder = dir.path().join("outbox");
        let transport = Transport::Folder(folder.clone());
        let from: Mailbox = "Tessera <tessera@localhost>".parse().unwrap();
        let now = 1_000_000;
        let mail = |to: &str, subject: &str| Mail {
            to: to.into(),
            subject: subject.into(),
            body: "Hello.".into(),
        };
        let mut tx = db.write().await.unwrap();
        for i in 0..3 {
            enqueue_bulk(
                &mut tx,
                &mail(&format!("p{i}@clinic.example"), "Reminder"),
                now,
            )
            .await
            .unwrap();
        }
        enqueue(
            &mut tx,
            &mail("ann@clinic.example", "Your password was changed"),
            now + 1,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            drain_once(&db, &transport, &from, &|| now + 1, Some(1))
                .await
                .unwrap(),
            1
        );
        let sent = std::fs::read_dir(&folder)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(sent).unwrap();
        assert!(text.contains("To: ann@clinic.example"), "{text}");
    }

    /// With a rate of 3 a minute, five waiting messages go out three now and two once the
    /// minute has passed; without a rate, everything due goes at once.
    #[tokio::test]
    async fn the_outbox_keeps_to_the_rate_per_minute() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let folder = dir.path().join("outbox");
        let transport = Transport::Folder(folder.clone());
        let from: Mailbox = "Tessera <tessera@localhost>".parse().unwrap();
        let now = 1_000_000;
        let mut tx = db.write().await.unwrap();
        for i in 0..5 {
            let mail = Mail {
                to: format!("person{i}@clinic.example"),
                subject: "Reminder".into(),
                body: "Please set up two-step authentication.".into(),
            };
            enqueue(&mut tx, &mail, now).await.unwrap();
        }
        tx.commit().await.unwrap();

        assert_eq!(
            drain_once(&db, &transport, &from, &|| now, Some(3))
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            drain_once(&db, &transport, &from, &|| now + 30, Some(3))
                .await
                .unwrap(),
            0
        );
        assert_eq!(files(&folder), 3);
        let mut conn = db.pool().acquire().await.unwrap();
        assert_eq!(waiting(&mut conn).await.unwrap(), 2);
        drop(conn);
        assert_eq!(
            drain_once(&db, &transport, &from, &|| now + 61, Some(3))
                .await
                .unwrap(),
            2
        );
        assert_eq!(files(&folder), 5);

        let mut tx = db.write().await.unwrap();
        for i in 0..4 {
            let mail = Mail {
                to: format!("later{i}@clinic.example"),
                subject: "Reminder".into(),
                body: "Again.".into(),
            };
            enqueue(&mut tx, &mail, now + 62).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            drain_once(&db, &transport, &from, &|| now + 62, None)
                .await
                .unwrap(),
            4
        );
        let kept: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND body <> ''",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            kept, 0,
            "a sent mail's body (it may hold a link) is not kept"
        );
    }
}
