//! Exporting the users list: every user in the view (not just a page), streamed as CSV
//! with the list's columns, and an audit record of who exported which view and how many
//! rows.

use tokio::sync::mpsc;

use crate::audit::{self, AuditEvent, AuditKind};
use crate::clock::format_utc;
use crate::csv_out::CsvOut;
use crate::directory::{Batches, UserRow, View};
use crate::service::{Caller, ClientInfo};
use crate::{CoreResult, Tessera};

/// The columns, as the list shows them.
pub const COLUMNS: [&str; 11] = [
    "Name",
    "Email",
    "Role",
    "Account",
    "Two-step",
    "Passkeys",
    "Authenticator app",
    "Backup codes left",
    "Last sign-in",
    "Last reminded",
    "Created",
];

fn cells(row: &UserRow) -> [String; 11] {
    let account = if !row.active {
        "Disabled".to_string()
    } else if let Some(until) = row.locked_until {
        format!("Locked until {}", format_utc(until))
    } else if row.pending {
        "Pending invitation".to_string()
    } else {
        "Active".to_string()
    };
    [
        row.display_name.clone(),
        row.email.clone(),
        row.role.label().to_string(),
        account,
        if row.two_factor_enabled {
            "On"
        } else {
            "Not set up"
        }
        .to_string(),
        row.passkeys.to_string(),
        if row.has_app { "Yes" } else { "No" }.to_string(),
        if row.two_factor_enabled {
            row.backup_codes_left.to_string()
        } else {
            String::new()
        },
        row.last_sign_in_at.map(format_utc).unwrap_or_default(),
        row.last_reminded_at.map(format_utc).unwrap_or_default(),
        format_utc(row.created_at),
    ]
}

impl Tessera {
    /// Streams every user in `view` as CSV into `out`, a batch at a time, then records the
    /// export (`described` says which view). Stops early, and records so, if the receiver
    /// goes away; a failure part-way is recorded too, then returned. Returns how many rows
    /// were sent.
    pub async fn export_users(
        &self,
        actor: &Caller,
        view: &View,
        described: &str,
        client: &ClientInfo,
        out: mpsc::Sender<Vec<u8>>,
    ) -> CoreResult<u64> {
        let mut sent = 0u64;
        let mut complete = true;
        // A byte-order mark first, so spreadsheet programs read the names as UTF-8.
        let streamed: CoreResult<()> = async {
            let mut csv = CsvOut::default();
            csv.row(COLUMNS)?;
            let mut first = "\u{feff}".as_bytes().to_vec();
            first.extend(csv.take()?);
            complete = out.send(first).await.is_ok();
            let mut batches = Batches::new(view.clone());
            while complete {
                let batch = {
                    let mut conn = self.db.pool().acquire().await?;
                    batches.next(&mut conn, self.now()).await?
                };
                let Some(rows) = batch else {
                    break;
                };
                for row in &rows {
                    csv.row(cells(row))?;
                }
                complete = out.send(csv.take()?).await.is_ok();
                if complete {
                    sent += rows.len() as u64;
                }
            }
            Ok(())
        }
        .await;
        let what = format!(
            "users list as CSV; view: {}; {sent} row(s)",
            if described.is_empty() {
                "everyone"
            } else {
                described
            },
        );
        self.record_export(
            AuditKind::UsersExported,
            actor,
            client,
            &what,
            &streamed,
            complete,
        )
        .await?;
        streamed.map(|()| sent)
    }

    /// Records an export however it ended — finished, cancelled by the browser, or failed
    /// part-way — in a transaction of its own. Both CSV exports end here.
    pub(super) async fn record_export(
        &self,
        kind: AuditKind,
        actor: &Caller,
        client: &ClientInfo,
        what: &str,
        streamed: &CoreResult<()>,
        complete: bool,
    ) -> CoreResult<()> {
        let ending = match (streamed, complete) {
            (Err(_), _) => "; failed part-way (the download was cut off)",
            (Ok(()), false) => "; stopped early (the download was cancelled)",
            (Ok(()), true) => "",
        };
        let mut tx = self.db.write().await?;
        audit::record(
            &mut tx,
            AuditEvent::new(kind)
                .actor(actor.user.id)
                .from_addr(&client.addr)
                .detail(format!("{what}{ending}")),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
