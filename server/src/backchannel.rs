//! The background task that delivers back-channel logout notices: each app that got
//! tokens from a Tessera session that has ended, and registered a logout address, gets a
//! signed logout token posted to it (OpenID Connect Back-Channel Logout 1.0 §2.5).

use std::time::Duration;

use tessera_core::Tessera;

/// How often due notices are looked for.
pub const POLL: Duration = Duration::from_secs(1);
/// How long an app has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Delivers notices every [`POLL`] until `stop` turns true.
pub fn spawn(
    tessera: Tessera,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut builder = reqwest::Client::builder()
            .timeout(ANSWER_WITHIN)
            .redirect(reqwest::redirect::Policy::none());
        // The system's trusted roots, as the database and mail connections use them.
        for cert in rustls_native_certs::load_native_certs().certs {
            if let Ok(cert) = reqwest::Certificate::from_der(&cert) {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = match builder.build() {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "no HTTP client for back-channel logout");
                return;
            }
        };
        loop {
            if let Err(error) = deliver_due(&tessera, &http).await {
                tracing::warn!(%error, "back-channel logout round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    })
}

async fn deliver_due(tessera: &Tessera, http: &reqwest::Client) -> tessera_core::CoreResult<()> {
    for notice in tessera.claim_logouts(20).await? {
        let sent = http
            .post(&notice.uri)
            .header("cache-control", "no-cache, no-store")
            .form(&[("logout_token", notice.token.as_str())])
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                tessera.logout_delivered(&notice.id).await?;
            }
            Ok(answer) => {
                let error = format!("the app answered {}", answer.status());
                tracing::warn!(app = %notice.app, %error, "back-channel logout refused");
                tessera.logout_failed(&notice.id, &error).await?;
            }
            Err(error) => {
                tracing::warn!(app = %notice.app, %error, "back-channel logout not delivered");
                tessera
                    .logout_failed(&notice.id, &format!("not delivered: {error}"))
                    .await?;
            }
        }
    }
    Ok(())
}
