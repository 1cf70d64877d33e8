//! The audit trail in the console: a page of it, its export (streamed CSV, through the
//! one writer that escapes formula cells — the trail holds addresses as typed at the
//! sign-in box), checking its chain, and anchoring the chain's head outside the database
//! (a daily mail to the admins).

use tokio::sync::mpsc;

use crate::audit::chain::{self, Verification};
use crate::audit::trail::{self, AuditView, Entry, Person};
use crate::audit::{self, AuditKind};
use crate::clock::format_utc;
use crate::csv_out::CsvOut;
use crate::policy::DAY_SECS;
use crate::service::{Caller, ClientInfo};
use crate::{accounts, CoreResult, Tessera, UnixTime};

/// One page of the trail, and where the next (older) one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    pub next_before: Option<i64>,
}

pub const AUDIT_COLUMNS: [&str; 7] = [
    "Time (UTC)",
    "What",
    "Who",
    "About",
    "From address",
    "Detail",
    "Record",
];

fn cells(e: &Entry) -> [String; 7] {
    [
        format_utc(e.at),
        audit::label(&e.kind).to_string(),
        e.actor_email.clone().unwrap_or_default(),
        e.subject.clone().unwrap_or_default(),
        e.client_addr.clone().unwrap_or_default(),
        e.detail.clone(),
        e.id.to_string(),
    ]
}

impl Tessera {
    /// The person an email names, for the trail's filter: their id if they exist.
    pub async fn audit_person(&self, email: &str) -> CoreResult<Person> {
        let email = email.trim().to_lowercase();
        let mut conn = self.db.pool().acquire().await?;
        let id = match accounts::Email::parse(&email) {
            Ok(parsed) => accounts::user_by_email(&mut conn, &parsed)
                .await?
                .map(|u| u.id.to_string()),
            Err(_) => None,
        };
        Ok(Person { email, id })
    }

    /// A page of `view`, newest first, older than record `before`.
    pub async fn audit_page(&self, view: &AuditView, before: Option<i64>) -> CoreResult<AuditPage> {
        let mut conn = self.db.pool().acquire().await?;
        let mut entries = trail::page(&mut conn, view, before, trail::PAGE_SIZE + 1).await?;
        let more = entries.len() as i64 > trail::PAGE_SIZE;
        entries.truncate(trail::PAGE_SIZE as usize);
        Ok(AuditPage {
            next_before: more.then(|| entries.last().map(|e| e.id)).flatten(),
            entries,
        })
    }

    /// When the trail's oldest record was written (records are kept).
    pub async fn audit_oldest(&self) -> CoreResult<Option<UnixTime>> {
        let mut conn = self.db.pool().acquire().await?;
        trail::oldest(&mut conn).await
    }

    /// The chain's newest place and MAC.
    pub async fn audit_head(&self) -> CoreResult<(i64, String)> {
        let mut conn = self.db.pool().acquire().await?;
        chain::head(&mut conn).await
    }

    /// Walks the whole chain (see [`chain::verify`]).
    pub async fn verify_audit(&self, expect: Option<&str>) -> CoreResult<Verification> {
        let mut conn = self.db.pool().acquire().await?;
        chain::verify(
            &mut conn,
            &super::super::audit_key(&self.server_key),
            expect,
        )
        .await
    }

    /// Streams every record in `view` as CSV into `out` (newest first, a thousand at a
    /// time), then records the export. Like the users export, a failure part-way is
    /// recorded and returned. Returns how many records were sent.
    pub async fn export_audit(
        &self,
        actor: &Caller,
        view: &AuditView,
        described: &str,
        client: &ClientInfo,
        out: mpsc::Sender<Vec<u8>>,
    ) -> CoreResult<u64> {
        let mut sent = 0u64;
        let mut complete = true;
        let streamed: CoreResult<()> = async {
            let mut csv = CsvOut::default();
            csv.row(AUDIT_COLUMNS)?;
            let mut first = "\u{feff}".as_bytes().to_vec();
            first.extend(csv.take()?);
            complete = out.send(first).await.is_ok();
            let mut before = None;
            while complete {
                let entries = {
                    let mut conn = self.db.pool().acquire().await?;
                    trail::page(&mut conn, view, before, 1000).await?
                };
                let Some(last) = entries.last() else {
                    break;
                };
                before = Some(last.id);
                for entry in &entries {
                    csv.row(cells(entry))?;
                }
                complete = out.send(csv.take()?).await.is_ok();
                if complete {
                    sent += entries.len() as u64;
                }
                if entries.len() < 1000 {
                    break;
                }
            }
            Ok(())
        }
        .await;
        let what = format!(
            "audit trail as CSV; view: {}; {sent} record(s)",
            if described.is_empty() {
                "everything"
            } else {
                described
            },
        );
        self.record_export(
            AuditKind::AuditExported,
            actor,
            client,
            &what,
            &streamed,
            complete,
        )
        .await?;
        streamed.map(|()| sent)
    }

    /// Once a day: mails the chain's head to every admin, so a copy of it lives outside
    /// the database (`tessera audit verify --expect HEAD` then shows whether anything up
    /// to it was cut off or changed). The day is taken by a conditional update, so two
    /// instances send it once. Returns whether it was sent.
    pub(super) async fn mail_audit_head(&self) -> CoreResult<bool> {
        let now = self.now();
        let today = now - now.rem_euclid(DAY_SECS);
        let mut tx = self.db.write().await?;
        let taken = sqlx::query(
            "UPDATE organisation SET head_mailed_on = $1 \
             WHERE id = 1 AND (head_mailed_on IS NULL OR head_mailed_on < $1)",
        )
        .bind(today)
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&taken) {
            return Ok(false);
        }
        let (seq, head) = chain::head(&mut tx).await?;
        super::actions::tell_admins(
            &mut tx,
            uuid::Uuid::nil(),
            &format!("Tessera audit trail, {}: record {seq}", super::format_date(now)),
            &format!(
                "The audit trail's newest record on {when} is number {seq}, sealed as\n\n  {head}\n\n\
                 Keep this mail. Anyone who holds it can check that no record up to this one was \
                 changed, removed or cut off since, with\n\n  tessera audit verify --expect {head}\n",
                when = format_utc(now),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
