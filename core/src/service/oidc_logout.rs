//! Signing out of the apps. RP-initiated logout: an app sends the person to the
//! end-session endpoint, Tessera signs them out and sends them back (to a registered
//! address only). Back-channel logout: when a Tessera session ends, by any path, a trigger
//! queues a notice for each app that got tokens from it and registered a logout address;
//! the server's worker posts each a signed logout token ([`Tessera::claim_logouts`]).

use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, Audience, ClientId, IdToken, IdTokenClaims, IdTokenVerifier, IssuerUrl,
    JsonWebKeySet, Nonce, StandardClaims, SubjectIdentifier,
};
use sqlx::Row;

use super::oidc::SessionClaims;
use super::{Caller, ClientInfo, Tessera};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::oidc::clients::{self, Client};
use crate::oidc::{self, keys};
use crate::{CoreError, CoreResult, UnixTime};

/// A notice is tried this many times (over about half an hour), then given up and audited.
pub const LOGOUT_ATTEMPTS: i64 = 6;
/// A logout token is valid this long.
const LOGOUT_TOKEN_SECS: i64 = 120;
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token's own claims besides `iss`, `aud`, `iat`, `exp` and `sub`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogoutClaims {
    pub sid: String,
    pub jti: String,
    pub events: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for LogoutClaims {}

type LogoutToken = IdToken<
    LogoutClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type HintToken = IdToken<
    SessionClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A notice to deliver: where, and the signed logout token.
#[derive(Debug, Clone)]
pub struct PendingLogout {
    pub id: String,
    pub app: String,
    pub uri: String,
    pub token: String,
}

/// The end-session endpoint's parameters.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// What the end-session endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSession {
    /// Signed out (or was not signed in): back to the app's registered address.
    Redirect(String),
    /// Signed out (or was not signed in), with nowhere registered to go back to.
    SignedOut,
    /// Signed in, and the request does not prove the app's sign-in is this session's:
    /// the person is asked (a page whose button posts `fields` back with `confirm`).
    Confirm {
        app: Option<String>,
        fields: Vec<(&'static str, String)>,
    },
}

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string())
}

impl Tessera {
    /// RP-initiated logout. `confirmed`: the person pressed "Sign out" on Tessera's own page.
    pub async fn end_session(
        &self,
        request: &EndSessionRequest,
        caller: Option<&Caller>,
        confirmed: bool,
        client: &ClientInfo,
    ) -> CoreResult<EndSession> {
        let hint = match &request.id_token_hint {
            Some(hint) if hint.len() <= 8000 => self.verify_hint(hint).await?,
            _ => None,
        };
        // The app: named, or the hint's audience; both must agree.
        let app_id = match (&request.client_id, &hint) {
            (Some(id), Some(h)) if *id != h.aud => None,
            (Some(id), _) => Some(id.clone()),
            (None, Some(h)) => Some(h.aud.clone()),
            (None, None) => None,
        };
        let app: Option<Client> = match &app_id {
            Some(id) if id.len() <= 100 => {
                let mut conn = self.db.pool().acquire().await?;
                clients::by_id(&mut conn, id).await?
            }
            _ => None,
        };
        let back = match (&app, &request.post_logout_redirect_uri) {
            (Some(app), Some(uri)) if app.enabled && app.post_logout_uris.contains(uri) => {
                let mut params = Vec::new();
                if let Some(state) = &request.state {
                    params.push(("state", state.as_str()));
                }
                Some(oidc::with_query(uri, &params))
            }
            _ => None,
        };
        if let Some(caller) = caller {
            let proven = hint.as_ref().is_some_and(|h| {
                h.sid == caller.session.sid || h.sub == caller.user.id.to_string()
            });
            if !proven && !confirmed {
                let mut fields = Vec::new();
                if let Some(app) = &app {
                    fields.push(("client_id", app.id.clone()));
                }
                if back.is_some() {
                    if let Some(uri) = &request.post_logout_redirect_uri {
                        fields.push(("post_logout_redirect_uri", uri.clone()));
                    }
                    if let Some(state) = &request.state {
                        fields.push(("state", state.clone()));
                    }
                }
                return Ok(EndSession::Confirm {
                    app: app.map(|a| a.name),
                    fields,
                });
            }
            self.sign_out(caller, client).await?;
        }
        Ok(match back {
            Some(to) => EndSession::Redirect(to),
            None => EndSession::SignedOut,
        })
    }

    /// An ID token Tessera issued, by its signature and issuer; expired is fine (a hint
    /// usually is). `None` if it is not one of ours.
    async fn verify_hint(&self, hint: &str) -> CoreResult<Option<Hint>> {
        let Ok(token) = hint.parse::<HintToken>() else {
            return Ok(None);
        };
        let mut conn = self.db.pool().acquire().await?;
        let published: Vec<CoreJsonWebKey> = keys::published(&mut conn, self.now()).await?;
        drop(conn);
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(String::new()),
            IssuerUrl::new(self.issuer().to_string()).map_err(internal)?,
            JsonWebKeySet::new(published),
        )
        .require_audience_match(false)
        .set_allowed_algs(keys::Alg::ALL.iter().map(|a| a.jws()))
        .set_time_fn(|| chrono::DateTime::UNIX_EPOCH)
        .set_issue_time_verifier_fn(|_| Ok(()));
        let Ok(claims) = token.claims(&verifier, |_: Option<&Nonce>| Ok(())) else {
            return Ok(None);
        };
        Ok(claims.audiences().first().map(|aud| Hint {
            aud: aud.to_string(),
            sub: claims.subject().to_string(),
            sid: claims.additional_claims().sid.clone(),
        }))
    }

    /// Takes up to `limit` due notices for this worker (for a minute), each with its logout
    /// token signed now.
    pub async fn claim_logouts(&self, limit: i64) -> CoreResult<Vec<PendingLogout>> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rows = sqlx::query(
            "UPDATE oidc_logout_outbox SET claimed_until = $1 + 60, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM oidc_logout_outbox WHERE next_at <= $1 \
                          AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_at LIMIT $2) \
             AND (claimed_until IS NULL OR claimed_until < $1) \
             RETURNING id, client_id, user_id, sid",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::new();
        for row in &rows {
            let client_id: String = row.try_get("client_id")?;
            claimed.push((
                row.try_get::<String, _>("id")?,
                clients::by_id(&mut tx, &client_id).await?,
                row.try_get::<String, _>("user_id")?,
                row.try_get::<String, _>("sid")?,
            ));
        }
        tx.commit().await?;
        let mut due = Vec::new();
        for (id, app, user_id, sid) in claimed {
            let Some(app) = app else { continue };
            let Some(uri) = app.backchannel_logout_uri.clone() else {
                continue;
            };
            let token = self.logout_token(&app, &id, &user_id, &sid, now).await?;
            due.push(PendingLogout {
                id,
                app: app.name,
                uri,
                token,
            });
        }
        Ok(due)
    }

    async fn logout_token(
        &self,
        app: &Client,
        jti: &str,
        user_id: &str,
        sid: &str,
        now: UnixTime,
    ) -> CoreResult<String> {
        let key = keys::active(&self.db, &self.server_key, app.id_token_alg, now).await?;
        let at = |t: UnixTime| {
            chrono::DateTime::from_timestamp(t, 0)
                .ok_or_else(|| CoreError::Internal(format!("time {t} out of range")))
        };
        let mut events = serde_json::Map::new();
        events.insert(BACKCHANNEL_EVENT.into(), serde_json::json!({}));
        let claims = IdTokenClaims::new(
            IssuerUrl::new(self.issuer().to_string()).map_err(internal)?,
            vec![Audience::new(app.id.clone())],
            at(now + LOGOUT_TOKEN_SECS)?,
            at(now)?,
            StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new(user_id.to_string())),
            LogoutClaims {
                sid: sid.to_string(),
                jti: jti.to_string(),
                events,
            },
        );
        let token =
            LogoutToken::new(claims, &key, app.id_token_alg.jws(), None, None).map_err(internal)?;
        Ok(token.to_string())
    }

    /// The app acknowledged the notice.
    pub async fn logout_delivered(&self, id: &str) -> CoreResult<()> {
        sqlx::query("DELETE FROM oidc_logout_outbox WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The app did not take the notice: tried again later, with growing waits, until
    /// [`LOGOUT_ATTEMPTS`]; then given up, and that is audited.
    pub async fn logout_failed(&self, id: &str, error: &str) -> CoreResult<()> {
        let now = self.now();
        let error: String = error.chars().take(300).collect();
        let mut tx = self.db.write().await?;
        let row = sqlx::query(
            "SELECT o.attempts, o.user_id, c.name FROM oidc_logout_outbox o \
             JOIN oidc_clients c ON c.id = o.client_id WHERE o.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(()) };
        let attempts: i64 = row.try_get("attempts")?;
        if attempts >= LOGOUT_ATTEMPTS {
            sqlx::query("DELETE FROM oidc_logout_outbox WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let user = uuid::Uuid::parse_str(&row.try_get::<String, _>("user_id")?).ok();
            let name: String = row.try_get("name")?;
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::AppLogoutFailed)
                    .subject(user, "")
                    .detail(format!("{name}: gave up after {attempts} tries: {error}")),
                now,
            )
            .await?;
        } else {
            let wait = 15 * (1_i64 << attempts.clamp(0, 10));
            sqlx::query(
                "UPDATE oidc_logout_outbox SET claimed_until = NULL, next_at = $1, last_error = $2 WHERE id = $3",
            )
            .bind(now + wait)
            .bind(&error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// What a verified ID-token hint says.
struct Hint {
    aud: String,
    sub: String,
    sid: String,
}
