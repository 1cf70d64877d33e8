//! The background task that drains the mail outbox.

use std::time::Duration;

use tessera_core::mail::{self, Mailbox};
use tessera_core::Tessera;

use crate::config::MailConfig;

/// Drains the outbox every few seconds until `stop` turns true (one last round first).
pub fn spawn(
    tessera: Tessera,
    config: MailConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let from: Mailbox = config.from.clone();
        loop {
            if let Err(error) = mail::drain_once(
                tessera.db(),
                &config.transport,
                &from,
                &|| tessera.now(),
                config.per_minute,
            )
            .await
            {
                tracing::warn!(%error, "outbox round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(config.poll_every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    })
}

/// How often the outbox is drained.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);
