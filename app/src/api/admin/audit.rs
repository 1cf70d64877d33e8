//! The audit trail (`/admin/audit`): every event, newest first, filtered by kind (or a
//! group of kinds), by person and by dates, a page at a time. Open to every console role.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// A view of the trail as the URL carries it (`/admin/audit?group=Sign-in&user=ann@…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// A group of kinds ("Sign-in", "Console", …).
    pub group: Option<String>,
    /// One kind's stored code ("backup_code_used").
    pub kind: Option<String>,
    /// An email: what they did, what was done to them, and sign-ins typed with it.
    pub user: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// Where the page starts: older than this record.
    pub before: Option<String>,
}

impl AuditQuery {
    /// The query string of this view (without `?`), `before` left out unless given.
    pub fn to_query_string(&self, before: Option<i64>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (key, value) in [
            ("group", &self.group),
            ("kind", &self.kind),
            ("user", &self.user),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((key, v.to_string()));
            }
        }
        if let Some(b) = before {
            pairs.push(("before", b.to_string()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::api::admin::users::url_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    pub id: i64,
    pub at: String,
    /// In plain words: "Signed in", "Backup code used".
    pub what: String,
    pub kind: String,
    /// Who did it (their email), if someone signed in did.
    pub who: Option<String>,
    /// Whom it was about, as typed or known then.
    pub subject: Option<String>,
    pub address: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditTrailPage {
    pub entries: Vec<AuditLine>,
    pub next_before: Option<i64>,
    /// How far back the trail goes ("2026-11-02 09:00 UTC").
    pub oldest: Option<String>,
    /// The kinds by group, for the filter: (group, [(code, name)]).
    pub groups: Vec<(String, Vec<(String, String)>)>,
}

#[server(prefix = "/api/admin", endpoint = "audit_events", input = StrictJson)]
pub async fn audit_events(query: AuditQuery) -> Result<AuditTrailPage, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<AuditEvents>()?;
    let (view, before) = crate::ssr::audit::view_of(&state.tessera, &query).await?;
    let page = state.tessera.audit_page(&view, before).await?;
    Ok(AuditTrailPage {
        entries: page
            .entries
            .iter()
            .map(|e| AuditLine {
                id: e.id,
                at: format_utc(e.at),
                what: tessera_core::audit::label(&e.kind).to_string(),
                kind: e.kind.clone(),
                who: e.actor_email.clone(),
                subject: e.subject.clone(),
                address: e.client_addr.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
        next_before: page.next_before,
        oldest: state.tessera.audit_oldest().await?.map(format_utc),
        groups: tessera_core::audit::GROUPS
            .iter()
            .map(|g| {
                (
                    g.to_string(),
                    tessera_core::audit::KINDS
                        .iter()
                        .filter(|(.., group)| group == g)
                        .map(|(_, code, label, _)| (code.to_string(), label.to_string()))
                        .collect(),
                )
            })
            .collect(),
    })
}
