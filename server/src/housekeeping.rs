//! The background task that does what is due by the clock: exceptions that ended by
//! themselves, the deadline's reminders (see `Tessera::housekeeping`). Safe with several
//! instances running it: each piece of work is taken by a conditional statement.

use std::time::Duration;

use tessera_core::Tessera;

/// How often the work due by the clock is looked for.
pub const EVERY: Duration = Duration::from_secs(30);

/// Runs [`Tessera::housekeeping`] every [`EVERY`] until `stop` turns true.
pub fn spawn(
    tessera: Tessera,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = tessera.housekeeping().await {
                tracing::warn!(%error, "housekeeping round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    })
}
