//! Signing people in to the organisation's apps (OpenID Connect, authorization code flow
//! with PKCE): the authorization endpoint's decision, the token endpoint (codes and
//! refresh tokens), userinfo, discovery and the published keys.
//!
//! An app only ever gets tokens for a full Tessera session: the sign-in, the second step,
//! the organisation's policy and the setup wizard all happen in Tessera first. What it is
//! given hangs on that session (by its `sid`): once the session ends (sign-out, idle or
//! absolute limit, a reset, a disabled account) the app's refresh tokens and access
//! tokens stop working. Each check-then-act step (a code redeemed once, a refresh token
//! rotated once) is one conditional statement.

use openidconnect::core::{
    CoreClaimName, CoreClientAuthMethod, CoreGenderClaim, CoreGrantType,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthUrl, AuthenticationContextClass,
    AuthenticationMethodReference, EmptyAdditionalClaims, EmptyExtraTokenFields, EndUserEmail,
    EndUserName, IdToken, IdTokenClaims, IdTokenFields, IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl,
    LocalizedClaim, Nonce, RefreshToken, ResponseTypes, Scope, StandardClaims,
    StandardTokenResponse, SubjectIdentifier, TokenUrl, UserInfoUrl,
};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{Caller, ClientInfo, Tessera};
use crate::accounts::{self, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::oidc::clients::{self, Client};
use crate::oidc::{self, keys};
use crate::session::{Lifetimes, SessionState};
use crate::{CoreError, CoreResult, UnixTime};

/// An authorization request's parameters, as the browser brought them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
}

/// What the authorization endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorize {
    /// The request cannot be answered to an app (unknown app, unregistered redirect
    /// address, app switched off): a page, never a redirect.
    ErrorPage {
        title: &'static str,
        message: String,
    },
    /// Back to the app: a code, or an OAuth error it asked to get back (`prompt=none`).
    Redirect(String),
    /// Sign in first, then come back. `fresh`: the app asked for a new sign-in, so the
    /// current session must end first.
    SignIn { app: String, fresh: bool },
    /// Refused, with a page that says why in plain words and a way back to the app.
    Refused {
        app: String,
        message: String,
        back: String,
    },
}

/// An OAuth error from the token or userinfo endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

/// How the app authenticated at the token endpoint.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// A token request's form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `sid` in an ID token (OpenID Connect Front- and Back-Channel Logout).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionClaims {
    pub sid: String,
}
impl AdditionalClaims for SessionClaims {}

type TesseraIdToken = IdToken<
    SessionClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        SessionClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// Discovery's members that `openidconnect`'s core metadata does not have.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ExtraMetadata {
    code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: bool,
    end_session_endpoint: String,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
}
impl openidconnect::AdditionalProviderMetadata for ExtraMetadata {}

/// What one sign-in gave one app, as stored with its code and grant.
struct Granted {
    client_id: String,
    user_id: Uuid,
    sid: String,
    scope: String,
    auth_time: UnixTime,
    amr: Vec<String>,
}

fn parse_amr(text: &str) -> CoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| CoreError::Internal(format!("amr: {e}")))
}

fn user_id(text: &str) -> CoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| CoreError::Internal(e.to_string()))
}

fn timestamp(t: UnixTime) -> CoreResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t, 0)
        .ok_or_else(|| CoreError::Internal(format!("time {t} out of range")))
}

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string())
}

impl Tessera {
    /// The issuer: the public origin, exactly as ID tokens say it.
    pub fn issuer(&self) -> &str {
        &self.public_origin
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> CoreResult<serde_json::Value> {
        let base = self.issuer();
        let url = |path: &str| format!("{base}{path}");
        let metadata = CoreProviderMetadata::new(
            IssuerUrl::new(base.to_string()).map_err(internal)?,
            AuthUrl::new(url("/oauth2/authorize")).map_err(internal)?,
            JsonWebKeySetUrl::new(url("/oauth2/jwks")).map_err(internal)?,
            vec![ResponseTypes::new(vec![CoreResponseType::Code])],
            vec![CoreSubjectIdentifierType::Public],
            keys::Alg::ALL.iter().map(|a| a.jws()).collect(),
            Default::default(),
        )
        .set_token_endpoint(Some(TokenUrl::new(url("/oauth2/token")).map_err(internal)?))
        .set_userinfo_endpoint(Some(
            UserInfoUrl::new(url("/oauth2/userinfo")).map_err(internal)?,
        ))
        .set_scopes_supported(Some(
            oidc::SCOPES
                .iter()
                .map(|s| Scope::new(s.to_string()))
                .collect(),
        ))
        .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
        .set_grant_types_supported(Some(vec![
            CoreGrantType::AuthorizationCode,
            CoreGrantType::RefreshToken,
        ]))
        .set_acr_values_supported(Some(vec![
            AuthenticationContextClass::new(oidc::ACR_TWO_STEPS.into()),
            AuthenticationContextClass::new(oidc::ACR_PASSWORD.into()),
        ]))
        .set_token_endpoint_auth_methods_supported(Some(vec![
            CoreClientAuthMethod::ClientSecretBasic,
            CoreClientAuthMethod::ClientSecretPost,
            CoreClientAuthMethod::None,
        ]))
        .set_claims_supported(Some(
            [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "amr",
                "acr",
                "sid",
                "email",
                "email_verified",
                "name",
            ]
            .iter()
            .map(|c| CoreClaimName::new(c.to_string()))
            .collect(),
        ))
        .set_claims_parameter_supported(Some(false))
        .set_request_parameter_supported(Some(false))
        .set_request_uri_parameter_supported(Some(false));
        let mut value = serde_json::to_value(&metadata).map_err(internal)?;
        let extra = ExtraMetadata {
            code_challenge_methods_supported: vec!["S256".into()],
            authorization_response_iss_parameter_supported: true,
            end_session_endpoint: url("/oauth2/logout"),
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
        };
        if let (Some(doc), serde_json::Value::Object(more)) = (
            value.as_object_mut(),
            serde_json::to_value(&extra).map_err(internal)?,
        ) {
            doc.extend(more);
        }
        Ok(value)
    }

    /// The published keys (`/oauth2/jwks`): the active ones (made on first use) and those
    /// retired recently.
    pub async fn jwks(&self) -> CoreResult<serde_json::Value> {
        let now = self.now();
        for alg in keys::Alg::ALL {
            keys::active(&self.db, &self.server_key, alg, now).await?;
        }
        let mut conn = self.db.pool().acquire().await?;
        let set = JsonWebKeySet::new(keys::published(&mut conn, now).await?);
        serde_json::to_value(&set).map_err(internal)
    }

    /// The authorization endpoint's decision for `request`, from the caller's session.
    /// `started_at`: when the request first came in (before a sign-in it waited for), so a
    /// `prompt=login` is satisfied by a sign-in made after it.
    pub async fn authorize(
        &self,
        request: &AuthorizeRequest,
        caller: Option<&Caller>,
        started_at: UnixTime,
        client: &ClientInfo,
    ) -> CoreResult<Authorize> {
        let now = self.now();
        let app = {
            let mut conn = self.db.pool().acquire().await?;
            match &request.client_id {
                Some(id) if id.len() <= 100 => clients::by_id(&mut conn, id).await?,
                _ => None,
            }
        };
        let Some(app) = app else {
            return Ok(Authorize::ErrorPage {
                title: "Unknown app",
                message: "The app that sent you here is not registered with Tessera, so you cannot sign in to it from here. Tell the app's administrator.".into(),
            });
        };
        let redirect_uri = match &request.redirect_uri {
            Some(uri) if app.redirect_uris.contains(uri) => uri.clone(),
            other => {
                self.record_app_refusal(
                    &app,
                    caller.map(|c| &c.user),
                    client,
                    format!(
                        "redirect address not registered: {}",
                        other
                            .as_deref()
                            .unwrap_or("(none)")
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ),
                )
                .await?;
                return Ok(Authorize::ErrorPage {
                    title: "Wrong return address",
                    message: format!(
                        "{} asked Tessera to send you back to an address that is not registered for it. For your safety you were not sent anywhere. Tell the app's administrator.",
                        app.name
                    ),
                });
            }
        };
        if !app.enabled {
            return Ok(Authorize::ErrorPage {
                title: "App switched off",
                message: format!(
                    "{} is switched off in Tessera, so nobody can sign in to it at the moment. Ask your administrator.",
                    app.name
                ),
            });
        }
        let issuer = self.issuer().to_string();
        let state = request.state.clone();
        let back = |error: &str, description: &str| {
            let mut params = vec![("error", error), ("error_description", description)];
            if let Some(s) = &state {
                params.push(("state", s));
            }
            params.push(("iss", &issuer));
            oidc::with_query(&redirect_uri, &params)
        };
        let invalid =
            |description: &str| Ok(Authorize::Redirect(back("invalid_request", description)));

        if request.response_type.as_deref() != Some("code") {
            return Ok(Authorize::Redirect(back(
                "unsupported_response_type",
                "Only the authorization code flow (response_type=code) is supported.",
            )));
        }
        if request
            .response_mode
            .as_deref()
            .is_some_and(|m| m != "query")
        {
            return invalid("Only response_mode=query is supported.");
        }
        let Some(scopes) = oidc::granted_scopes(request.scope.as_deref().unwrap_or("")) else {
            return Ok(Authorize::Redirect(back(
                "invalid_scope",
                "The openid scope is required.",
            )));
        };
        let challenge = match (
            &request.code_challenge,
            request.code_challenge_method.as_deref(),
        ) {
            (Some(c), Some("S256")) if oidc::is_s256_challenge(c) => c.clone(),
            _ => return invalid("PKCE with code_challenge_method=S256 is required."),
        };
        if request.state.as_ref().is_some_and(|s| s.len() > 1000)
            || request.nonce.as_ref().is_some_and(|n| n.len() > 255)
        {
            return invalid("state or nonce is too long.");
        }
        let prompts: Vec<&str> = request
            .prompt
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        let silent = prompts.contains(&"none");
        if silent && prompts.len() > 1 {
            return invalid("prompt=none cannot be combined with other prompts.");
        }
        let max_age = match &request.max_age {
            None => None,
            Some(text) => match text.parse::<i64>() {
                Ok(secs) if secs >= 0 => Some(secs),
                _ => return invalid("max_age must be a number of seconds."),
            },
        };

        // Signed in fully, recently enough for what the app asked?
        let full = caller.filter(|c| c.session.state == SessionState::Full);
        let Some(caller) = full else {
            if silent {
                return Ok(Authorize::Redirect(back(
                    "login_required",
                    "Not signed in to Tessera.",
                )));
            }
            return Ok(Authorize::SignIn {
                app: app.name.clone(),
                fresh: false,
            });
        };
        let auth_time = caller.session.created_at;
        let stale = (prompts.contains(&"login") && auth_time < started_at)
            || max_age.is_some_and(|secs| now - auth_time > secs);
        if stale {
            if silent {
                return Ok(Authorize::Redirect(back(
                    "login_required",
                    "The app asked for a more recent sign-in.",
                )));
            }
            return Ok(Authorize::SignIn {
                app: app.name.clone(),
                fresh: true,
            });
        }
        // The app's rules: who may use it, and how they must have signed in.
        let refusal = oidc::rules_refuse(
            &app.name,
            &app.roles,
            app.password_enough,
            &caller.user,
            &caller.session,
        );
        if let Some(oidc::Refusal {
            error,
            message,
            detail,
        }) = refusal
        {
            self.record_app_refusal(&app, Some(&caller.user), client, detail)
                .await?;
            let back = back(error, &message);
            if silent {
                return Ok(Authorize::Redirect(back));
            }
            return Ok(Authorize::Refused {
                app: app.name.clone(),
                message,
                back,
            });
        }

        // Everything holds: a code, good once, for a minute.
        let amr = oidc::amr(caller.session.second_factor.as_deref());
        let code = oidc::random_secret();
        let mut tx = self.db.write().await?;
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, user_id, sid, redirect_uri, code_challenge, nonce, \
             scope, auth_time, amr, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(oidc::secret_hash(&code))
        .bind(&app.id)
        .bind(caller.user.id.to_string())
        .bind(&caller.session.sid)
        .bind(&redirect_uri)
        .bind(&challenge)
        .bind(request.nonce.as_deref())
        .bind(scopes.join(" "))
        .bind(auth_time)
        .bind(serde_json::to_string(&amr).map_err(internal)?)
        .bind(now)
        .bind(now + oidc::CODE_SECS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = &request.state {
            params.push(("state", s));
        }
        params.push(("iss", &issuer));
        Ok(Authorize::Redirect(oidc::with_query(
            &redirect_uri,
            &params,
        )))
    }

    /// Drops what apps were given that can no longer be used: expired access and refresh
    /// tokens, codes a day after they expired (kept that long to recognise a replay), and
    /// grants with nothing left on them. The audit trail keeps the history.
    pub async fn prune_app_tokens(&self) -> CoreResult<u64> {
        let now = self.now();
        let mut removed = 0;
        for (sql, before) in [
            ("DELETE FROM oidc_access_tokens WHERE expires_at < $1", now),
            ("DELETE FROM oidc_refresh_tokens WHERE expires_at < $1", now),
            ("DELETE FROM oidc_codes WHERE expires_at < $1", now - 24 * 3600),
            (
                "DELETE FROM oidc_grants WHERE created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM oidc_refresh_tokens r WHERE r.grant_id = oidc_grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM oidc_access_tokens a WHERE a.grant_id = oidc_grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM oidc_codes c WHERE c.grant_id = oidc_grants.id)",
                now - 24 * 3600,
            ),
        ] {
            removed += sqlx::query(sql)
                .bind(before)
                .execute(self.db.pool())
                .await?
                .rows_affected();
        }
        Ok(removed)
    }

    /// An audit record of a refused app sign-in.
    async fn record_app_refusal(
        &self,
        app: &Client,
        user: Option<&User>,
        client: &ClientInfo,
        detail: String,
    ) -> CoreResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut event = AuditEvent::new(AuditKind::AppRefused)
            .from_addr(&client.addr)
            .detail(format!("{}: {detail}", app.name));
        if let Some(user) = user {
            event = event
                .actor(user.id)
                .subject(Some(user.id), user.email.as_str());
        }
        audit::record(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The token endpoint: a code or a refresh token for tokens. The outer error is
    /// Tessera's own (the database); the inner one is the OAuth answer to the app.
    pub async fn token(
        &self,
        credentials: ClientCredentials,
        request: &TokenRequest,
        client: &ClientInfo,
    ) -> CoreResult<Result<serde_json::Value, OAuthError>> {
        let app = {
            let mut conn = self.db.pool().acquire().await?;
            if credentials.client_id.len() > 100 {
                None
            } else {
                clients::by_id(&mut conn, &credentials.client_id).await?
            }
        };
        let authenticated = app.filter(|app| match &credentials.client_secret {
            Some(secret) => app.secret_matches(secret),
            None => !app.confidential,
        });
        let Some(app) = authenticated else {
            return Ok(Err(OAuthError::new(
                "invalid_client",
                "Unknown app, or the wrong secret.",
            )));
        };
        if !app.enabled {
            return Ok(Err(OAuthError::new(
                "invalid_client",
                "This app is switched off in Tessera.",
            )));
        }
        match request.grant_type.as_deref() {
            Some("authorization_code") => self.redeem_code(&app, request, client).await,
            Some("refresh_token") => self.refresh(&app, request, client).await,
            _ => Ok(Err(OAuthError::new(
                "unsupported_grant_type",
                "Use authorization_code or refresh_token.",
            ))),
        }
    }

    async fn redeem_code(
        &self,
        app: &Client,
        request: &TokenRequest,
        client: &ClientInfo,
    ) -> CoreResult<Result<serde_json::Value, OAuthError>> {
        let (Some(code), Some(redirect_uri)) = (&request.code, &request.redirect_uri) else {
            return Ok(Err(OAuthError::new(
                "invalid_request",
                "code and redirect_uri are required.",
            )));
        };
        let now = self.now();
        let code_hash = oidc::secret_hash(code);
        let mut tx = self.db.write().await?;
        // Used once: the statement that marks it is the decision.
        let row = sqlx::query(
            "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL \
             RETURNING user_id, sid, redirect_uri, code_challenge, nonce, scope, auth_time, amr, expires_at",
        )
        .bind(now)
        .bind(&code_hash)
        .bind(&app.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // Used before by this app: whatever it issued is revoked (RFC 6749 §4.1.2).
            let replayed: Option<Option<String>> = sqlx::query_scalar(
                "SELECT grant_id FROM oidc_codes WHERE code_hash = $1 AND client_id = $2",
            )
            .bind(&code_hash)
            .bind(&app.id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(Some(grant)) = replayed {
                self.revoke_grant(
                    &mut tx,
                    app,
                    &grant,
                    "authorization code used a second time",
                    client,
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            return Ok(Err(OAuthError::grant(
                "The code is unknown, was already used, or belongs to another app.",
            )));
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        let challenge: String = row.try_get("code_challenge")?;
        let stored_redirect: String = row.try_get("redirect_uri")?;
        let problem = if expires_at < now {
            Some("The code has expired.")
        } else if &stored_redirect != redirect_uri {
            Some("redirect_uri does not match the one the code was issued for.")
        } else if !request
            .code_verifier
            .as_deref()
            .is_some_and(|v| oidc::pkce_matches(&challenge, v))
        {
            Some("The PKCE code_verifier is missing or does not match.")
        } else {
            None
        };
        if let Some(problem) = problem {
            // The code stays used: a guess at the verifier costs the code.
            tx.commit().await?;
            return Ok(Err(OAuthError::grant(problem)));
        }
        let granted = Granted {
            client_id: app.id.clone(),
            user_id: user_id(&row.try_get::<String, _>("user_id")?)?,
            sid: row.try_get("sid")?,
            scope: row.try_get("scope")?,
            auth_time: row.try_get("auth_time")?,
            amr: parse_amr(&row.try_get::<String, _>("amr")?)?,
        };
        let nonce: Option<String> = row.try_get("nonce")?;
        let user = match self.still_allowed(&mut tx, app, &granted, now).await? {
            Ok(user) => user,
            Err(refusal) => {
                tx.commit().await?;
                return Ok(Err(refusal));
            }
        };
        let grant_id = Uuid::new_v4().simple().to_string();
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, user_id, sid, scope, auth_time, amr, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&grant_id)
        .bind(&app.id)
        .bind(user.id.to_string())
        .bind(&granted.sid)
        .bind(&granted.scope)
        .bind(granted.auth_time)
        .bind(serde_json::to_string(&granted.amr).map_err(internal)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE oidc_codes SET grant_id = $1 WHERE code_hash = $2")
            .bind(&grant_id)
            .bind(&code_hash)
            .execute(&mut *tx)
            .await?;
        let (access, refresh) = issue(&mut tx, app, &grant_id, now).await?;
        oidc::note_sign_in(
            &mut tx,
            user.id,
            &format!("app:{}", app.id),
            &app.name,
            &granted.amr,
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::AppSignIn)
                .actor(user.id)
                .subject(Some(user.id), user.email.as_str())
                .from_addr(&client.addr)
                .detail(format!("{} ({})", app.name, granted.amr.join(" "))),
            now,
        )
        .await?;
        tx.commit().await?;
        let key = keys::active(&self.db, &self.server_key, app.id_token_alg, now).await?;
        let id_token = self.id_token(&key, app, &user, &granted, nonce, &access, now)?;
        Ok(Ok(token_response(
            app,
            &granted.scope,
            access,
            refresh,
            Some(id_token),
        )?))
    }

    async fn refresh(
        &self,
        app: &Client,
        request: &TokenRequest,
        client: &ClientInfo,
    ) -> CoreResult<Result<serde_json::Value, OAuthError>> {
        let Some(token) = &request.refresh_token else {
            return Ok(Err(OAuthError::new(
                "invalid_request",
                "refresh_token is required.",
            )));
        };
        let now = self.now();
        let token_hash = oidc::secret_hash(token);
        let mut tx = self.db.write().await?;
        // Rotated once: the statement that marks it used is the decision.
        let grant_id: Option<String> = sqlx::query_scalar(
            "UPDATE oidc_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 AND grant_id IN (SELECT id FROM oidc_grants WHERE client_id = $3) \
             RETURNING grant_id",
        )
        .bind(now)
        .bind(&token_hash)
        .bind(&app.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(grant_id) = grant_id else {
            // A used token back again: someone has a copy. The whole family goes.
            let reused: Option<String> = sqlx::query_scalar(
                "SELECT r.grant_id FROM oidc_refresh_tokens r JOIN oidc_grants g ON g.id = r.grant_id \
                 WHERE r.token_hash = $1 AND g.client_id = $2 AND r.used_at IS NOT NULL",
            )
            .bind(&token_hash)
            .bind(&app.id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(grant) = reused {
                self.revoke_grant(
                    &mut tx,
                    app,
                    &grant,
                    "refresh token used a second time",
                    client,
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            return Ok(Err(OAuthError::grant(
                "The refresh token is unknown, expired, already used, or belongs to another app.",
            )));
        };
        let row = sqlx::query(
            "SELECT user_id, sid, scope, auth_time, amr, revoked_at FROM oidc_grants WHERE id = $1",
        )
        .bind(&grant_id)
        .fetch_one(&mut *tx)
        .await?;
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            tx.commit().await?;
            return Ok(Err(OAuthError::grant("These tokens were revoked.")));
        }
        let granted = Granted {
            client_id: app.id.clone(),
            user_id: user_id(&row.try_get::<String, _>("user_id")?)?,
            sid: row.try_get("sid")?,
            scope: row.try_get("scope")?,
            auth_time: row.try_get("auth_time")?,
            amr: parse_amr(&row.try_get::<String, _>("amr")?)?,
        };
        let user = match self.still_allowed(&mut tx, app, &granted, now).await? {
            Ok(user) => user,
            Err(refusal) => {
                sqlx::query(
                    "UPDATE oidc_grants SET revoked_at = $1, revoked_by = 'ended' WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(&grant_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(Err(refusal));
            }
        };
        let (access, refresh) = issue(&mut tx, app, &grant_id, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::AppTokensRenewed)
                .actor(user.id)
                .subject(Some(user.id), user.email.as_str())
                .from_addr(&client.addr)
                .detail(app.name.clone()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(token_response(
            app,
            &granted.scope,
            access,
            refresh,
            None,
        )?))
    }

    /// Whether what was granted still stands: the Tessera session it came from is alive
    /// and full, the person active and in a role the app admits.
    async fn still_allowed(
        &self,
        conn: &mut AnyConnection,
        app: &Client,
        granted: &Granted,
        now: UnixTime,
    ) -> CoreResult<Result<User, OAuthError>> {
        let organisation = accounts::organisation(&mut *conn)
            .await?
            .ok_or_else(|| CoreError::Internal("no organisation".into()))?;
        let alive = crate::session::alive_by_sid(
            &mut *conn,
            &granted.sid,
            Lifetimes::from(&organisation),
            now,
        )
        .await?;
        if !alive {
            return Ok(Err(OAuthError::grant(
                "The Tessera session behind this sign-in has ended; sign in again.",
            )));
        }
        let user = accounts::user_by_id(&mut *conn, granted.user_id).await?;
        let Some(user) = user.filter(|u| u.active) else {
            return Ok(Err(OAuthError::grant("The account is disabled.")));
        };
        if !app.allows(user.role) || granted.client_id != app.id {
            return Ok(Err(OAuthError::grant(
                "The app is not open to this person.",
            )));
        }
        Ok(Ok(user))
    }

    async fn revoke_grant(
        &self,
        tx: &mut crate::db::Tx,
        app: &Client,
        grant_id: &str,
        why: &str,
        client: &ClientInfo,
        now: UnixTime,
    ) -> CoreResult<()> {
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE oidc_grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(now)
        .bind(why)
        .bind(grant_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(user) = user else { return Ok(()) };
        let user = user_id(&user)?;
        audit::record(
            tx,
            AuditEvent::new(AuditKind::AppTokensRevoked)
                .subject(Some(user), "")
                .from_addr(&client.addr)
                .detail(format!("{}: {why}", app.name)),
            now,
        )
        .await
    }

    /// The userinfo endpoint: the claims for a live access token.
    pub async fn userinfo(
        &self,
        access_token: &str,
    ) -> CoreResult<Result<serde_json::Value, OAuthError>> {
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let row = sqlx::query(
            "SELECT g.client_id, g.user_id, g.sid, g.scope, g.auth_time, g.amr FROM oidc_access_tokens a \
             JOIN oidc_grants g ON g.id = a.grant_id \
             WHERE a.token_hash = $1 AND a.expires_at > $2 AND g.revoked_at IS NULL",
        )
        .bind(oidc::secret_hash(access_token))
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        let invalid = || {
            Ok(Err(OAuthError::new(
                "invalid_token",
                "The access token is unknown, expired or revoked.",
            )))
        };
        let Some(row) = row else { return invalid() };
        let granted = Granted {
            client_id: row.try_get("client_id")?,
            user_id: user_id(&row.try_get::<String, _>("user_id")?)?,
            sid: row.try_get("sid")?,
            scope: row.try_get("scope")?,
            auth_time: row.try_get("auth_time")?,
            amr: parse_amr(&row.try_get::<String, _>("amr")?)?,
        };
        let Some(app) = clients::by_id(&mut conn, &granted.client_id).await? else {
            return invalid();
        };
        if !app.enabled {
            return invalid();
        }
        let user = match self.still_allowed(&mut conn, &app, &granted, now).await? {
            Ok(user) => user,
            Err(_) => return invalid(),
        };
        let claims = CoreUserInfoClaims::new(
            standard_claims(&user, &granted.scope),
            EmptyAdditionalClaims {},
        );
        Ok(Ok(serde_json::to_value(&claims).map_err(internal)?))
    }

    #[allow(clippy::too_many_arguments)]
    fn id_token(
        &self,
        key: &keys::SigningKey,
        app: &Client,
        user: &User,
        granted: &Granted,
        nonce: Option<String>,
        access: &str,
        now: UnixTime,
    ) -> CoreResult<String> {
        let claims = IdTokenClaims::new(
            IssuerUrl::new(self.issuer().to_string()).map_err(internal)?,
            vec![Audience::new(app.id.clone())],
            timestamp(now + oidc::ID_TOKEN_SECS)?,
            timestamp(now)?,
            standard_claims(user, &granted.scope),
            SessionClaims {
                sid: granted.sid.clone(),
            },
        )
        .set_auth_time(Some(timestamp(granted.auth_time)?))
        .set_nonce(nonce.map(Nonce::new))
        .set_auth_method_refs(Some(
            granted
                .amr
                .iter()
                .map(|m| AuthenticationMethodReference::new(m.clone()))
                .collect(),
        ))
        .set_auth_context_ref(Some(AuthenticationContextClass::new(
            oidc::acr(&granted.amr).into(),
        )));
        let token = TesseraIdToken::new(
            claims,
            key,
            app.id_token_alg.jws(),
            Some(&AccessToken::new(access.to_string())),
            None,
        )
        .map_err(internal)?;
        Ok(token.to_string())
    }
}

/// `sub` always; `email` and `name` as the scopes allow.
fn standard_claims(user: &User, scope: &str) -> StandardClaims<CoreGenderClaim> {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let mut claims = StandardClaims::new(SubjectIdentifier::new(user.id.to_string()));
    if scopes.contains(&"email") {
        // Addresses are the organisation's own directory, confirmed by a mailed link.
        claims = claims
            .set_email(Some(EndUserEmail::new(user.email.as_str().to_string())))
            .set_email_verified(Some(true));
    }
    if scopes.contains(&"profile") {
        let mut name = LocalizedClaim::new();
        name.insert(None, EndUserName::new(user.display_name.clone()));
        claims = claims.set_name(Some(name));
    }
    claims
}

/// A new access token (and a refresh token, if the app uses them) on `grant`.
async fn issue(
    conn: &mut AnyConnection,
    app: &Client,
    grant_id: &str,
    now: UnixTime,
) -> CoreResult<(String, Option<String>)> {
    let access = oidc::random_secret();
    sqlx::query(
        "INSERT INTO oidc_access_tokens (token_hash, grant_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(oidc::secret_hash(&access))
    .bind(grant_id)
    .bind(now + app.access_token_secs)
    .execute(&mut *conn)
    .await?;
    let refresh = if app.refresh_tokens {
        let token = oidc::random_secret();
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(oidc::secret_hash(&token))
        .bind(grant_id)
        .bind(now)
        .bind(now + oidc::REFRESH_SECS)
        .execute(&mut *conn)
        .await?;
        Some(token)
    } else {
        None
    };
    Ok((access, refresh))
}

fn token_response(
    app: &Client,
    scope: &str,
    access: String,
    refresh: Option<String>,
    id_token: Option<String>,
) -> CoreResult<serde_json::Value> {
    let id_token = id_token
        .map(|t| t.parse::<TesseraIdToken>().map_err(internal))
        .transpose()?;
    let mut response = TokenResponse::new(
        AccessToken::new(access),
        CoreTokenType::Bearer,
        IdTokenFields::new(id_token, EmptyExtraTokenFields {}),
    );
    response.set_expires_in(Some(&std::time::Duration::from_secs(
        app.access_token_secs.unsigned_abs(),
    )));
    response.set_refresh_token(refresh.map(RefreshToken::new));
    response.set_scopes(Some(
        scope
            .split(' ')
            .map(|s| Scope::new(s.to_string()))
            .collect(),
    ));
    serde_json::to_value(&response).map_err(internal)
}
