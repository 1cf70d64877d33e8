//! The forward-auth gate: for sites that cannot speak OpenID Connect, the reverse proxy in
//! front of them asks Tessera about every request ([`Tessera::gate_check`]). The browser
//! carries a gate cookie on the parent domain, made by [`Tessera::gate_pass`] from a full
//! Tessera session and bound to it, so it dies with that session. Each protected site has
//! its own rules (roles, two steps), checked on every request, as an app's are.

use sqlx::Row;
use uuid::Uuid;

use super::{By, Caller, ClientInfo, Tessera};
use crate::accounts::{self, Role, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::oidc::{self, Refusal};
use crate::session::{Lifetimes, Session, SessionState};
use crate::{CoreError, CoreResult};

/// A protected site.
#[derive(Debug, Clone)]
pub struct GateHost {
    /// As browsers name it: lower case, with a port only when not the scheme's default.
    pub host: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub password_enough: bool,
    pub enabled: bool,
}

/// The gate's answer for one request.
#[derive(Debug, Clone)]
pub enum GateCheck {
    /// Let through, as this person.
    Allow(User),
    /// No live gate cookie: sign in at Tessera first.
    SignIn,
    /// Signed in, but this site's rules say no.
    Refused(Refusal),
    /// Not a site registered with the gate (or switched off): nobody gets through.
    Unknown,
}

/// A host name as registered and compared: lower case, no trailing dot, the default port
/// for `scheme` dropped.
pub fn normalise_host(host: &str, scheme: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let default = if scheme == "http" { ":80" } else { ":443" };
    host.strip_suffix(default)
        .map(str::to_string)
        .unwrap_or(host)
}

fn check_host(host: &str) -> CoreResult<String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    if !ok {
        return Err(CoreError::invalid(
            "host",
            "Give the site's host name as people type it, e.g. wiki.clinic.org.",
        ));
    }
    Ok(normalise_host(host, "https"))
}

fn from_row(row: &sqlx::any::AnyRow) -> CoreResult<GateHost> {
    let roles: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("roles")?)
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(GateHost {
        host: row.try_get("host")?,
        name: row.try_get("name")?,
        roles: roles
            .iter()
            .map(|r| Role::parse(r))
            .collect::<CoreResult<_>>()?,
        password_enough: row.try_get::<i64, _>("password_enough")? != 0,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
    })
}

impl Tessera {
    /// Registers a protected site.
    pub async fn add_gate_host(
        &self,
        by: By<'_>,
        name: &str,
        host: &str,
        roles: &[Role],
        password_enough: bool,
    ) -> CoreResult<GateHost> {
        by.check(self)?;
        let host = check_host(host)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(CoreError::invalid(
                "name",
                "Give the site a name of 1 to 80 characters.",
            ));
        }
        if roles.is_empty() {
            return Err(CoreError::invalid(
                "roles",
                "Choose at least one role that may use the site.",
            ));
        }
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let now = self.now();
        let mut tx = self.db.write().await?;
        let added = sqlx::query(
            "INSERT INTO gate_hosts (host, name, roles, password_enough, enabled, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&host)
        .bind(name)
        .bind(serde_json::to_string(&role_names).map_err(|e| CoreError::Internal(e.to_string()))?)
        .bind(password_enough as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&added) {
            return Err(CoreError::invalid(
                "host",
                format!("{host} is protected already."),
            ));
        }
        audit::record(
            &mut tx,
            by.event(AuditKind::AppRegistered, None, name)
                .detail(format!(
                    "protected site \"{name}\" ({host}), for {}; {}",
                    role_names.join(", "),
                    if password_enough {
                        "the password is enough"
                    } else {
                        "two steps required"
                    }
                )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(GateHost {
            host,
            name: name.to_string(),
            roles: roles.to_vec(),
            password_enough,
            enabled: true,
        })
    }

    pub async fn gate_hosts(&self) -> CoreResult<Vec<GateHost>> {
        let rows = sqlx::query(
            "SELECT host, name, roles, password_enough, enabled FROM gate_hosts ORDER BY name",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A protected site by host (`None`: not registered).
    pub async fn gate_host(&self, host: &str) -> CoreResult<Option<GateHost>> {
        let row = sqlx::query(
            "SELECT host, name, roles, password_enough, enabled FROM gate_hosts WHERE host = $1",
        )
        .bind(host)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn remove_gate_host(&self, by: By<'_>, host: &str) -> CoreResult<GateHost> {
        by.check(self)?;
        let site = self
            .gate_host(&normalise_host(host, "https"))
            .await?
            .ok_or(CoreError::NotFound)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        sqlx::query("DELETE FROM gate_hosts WHERE host = $1")
            .bind(&site.host)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            by.event(AuditKind::AppRemoved, None, &site.name)
                .detail(format!(
                    "protected site \"{}\" ({}) removed",
                    site.name, site.host
                )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(site)
    }

    /// The proxy's question for one request to `host`, with the gate cookie's value.
    /// Activity through the gate keeps the Tessera session alive, as activity in Tessera
    /// does (written at most once a minute).
    pub async fn gate_check(&self, host: &str, token: Option<&str>) -> CoreResult<GateCheck> {
        let Some(site) = self.gate_host(host).await?.filter(|s| s.enabled) else {
            return Ok(GateCheck::Unknown);
        };
        let Some(token) = token.filter(|t| t.len() <= 100) else {
            return Ok(GateCheck::SignIn);
        };
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let row = sqlx::query(
            "SELECT s.id_hash, s.sid, s.user_id, s.state, s.persistent, s.created_at, s.last_seen_at, \
             s.stepped_up_at, s.second_factor, s.admitted_by \
             FROM gate_tokens t JOIN sessions s ON s.sid = t.sid WHERE t.token_hash = $1",
        )
        .bind(oidc::secret_hash(token))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(GateCheck::SignIn);
        };
        let session = Session {
            id_hash: row.try_get("id_hash")?,
            user_id: Uuid::parse_str(&row.try_get::<String, _>("user_id")?)
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            sid: row.try_get("sid")?,
            state: SessionState::parse(&row.try_get::<String, _>("state")?)?,
            persistent: row.try_get::<i64, _>("persistent")? != 0,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            stepped_up_at: row.try_get("stepped_up_at")?,
            second_factor: row.try_get("second_factor")?,
            admitted_by: row.try_get("admitted_by")?,
        };
        let organisation = accounts::organisation(&mut conn)
            .await?
            .ok_or_else(|| CoreError::Internal("no organisation".into()))?;
        let alive = session.state == SessionState::Full
            && session.is_alive(Lifetimes::from(&organisation), now);
        let user = accounts::user_by_id(&mut conn, session.user_id).await?;
        drop(conn);
        let Some(user) = user.filter(|u| u.active && alive) else {
            return Ok(GateCheck::SignIn);
        };
        if let Some(refusal) = oidc::rules_refuse(
            &site.name,
            &site.roles,
            site.password_enough,
            &user,
            &session,
        ) {
            return Ok(GateCheck::Refused(refusal));
        }
        if session.needs_touch(now) {
            crate::session::touch(&mut *self.db.pool().acquire().await?, &session.id_hash, now)
                .await?;
        }
        Ok(GateCheck::Allow(user))
    }

    /// A full session opens a protected site: the site's rules first, then a gate cookie
    /// value bound to this session. `Err`: refused (audited), with why.
    pub async fn gate_pass(
        &self,
        site: &GateHost,
        caller: &Caller,
        client: &ClientInfo,
    ) -> CoreResult<Result<String, Refusal>> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let subject = |kind| {
            AuditEvent::new(kind)
                .actor(caller.user.id)
                .subject(Some(caller.user.id), caller.user.email.as_str())
                .from_addr(&client.addr)
        };
        if let Some(refusal) = oidc::rules_refuse(
            &site.name,
            &site.roles,
            site.password_enough,
            &caller.user,
            &caller.session,
        ) {
            audit::record(
                &mut tx,
                subject(AuditKind::AppRefused)
                    .detail(format!("{} ({}): {}", site.name, site.host, refusal.detail)),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(Err(refusal));
        }
        let token = oidc::random_secret();
        sqlx::query(
            "INSERT INTO gate_tokens (token_hash, sid, user_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(oidc::secret_hash(&token))
        .bind(&caller.session.sid)
        .bind(caller.user.id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let amr = oidc::amr(caller.session.second_factor.as_deref());
        oidc::note_sign_in(
            &mut tx,
            caller.user.id,
            &format!("site:{}", site.host),
            &site.name,
            &amr,
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            subject(AuditKind::AppSignIn).detail(format!(
                "{} ({}) through the gate ({})",
                site.name,
                site.host,
                amr.join(" ")
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(token))
    }

    /// Drops gate cookies whose session has ended (housekeeping).
    pub async fn prune_gate_tokens(&self) -> CoreResult<u64> {
        Ok(sqlx::query(
            "DELETE FROM gate_tokens WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.sid = gate_tokens.sid)",
        )
        .execute(self.db.pool())
        .await?
        .rows_affected())
    }
}
