//! The compliance report (`/admin/report`): where the organisation stands now and what
//! happened in a period. Open to every console role (auditors especially); the same
//! numbers download as CSV and JSON (`/admin/report.csv`, `/admin/report.json`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// The period as the URL carries it: `YYYY-MM-DD`, both days included. Default: the last
/// 30 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl ReportQuery {
    pub fn to_query_string(&self) -> String {
        [("from", &self.from), ("to", &self.to)]
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={}", crate::api::admin::users::url_encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonLine {
    pub name: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub at: String,
    pub who: String,
    pub about: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    pub organisation: String,
    pub generated: String,
    /// `YYYY-MM-DD` (both included).
    pub from: String,
    pub to: String,
    pub policy: String,
    pub in_scope: i64,
    pub with_two_step: i64,
    pub percent: f64,
    /// Passkey only, app only, both: (label, count).
    pub by_method: Vec<(String, i64)>,
    /// (role, in scope, with two-step).
    pub by_role: Vec<(String, i64, i64)>,
    pub not_set_up: Vec<PersonLine>,
    pub not_set_up_count: i64,
    pub in_grace: i64,
    /// (name, email, until, reason).
    pub exceptions: Vec<(String, String, String, String)>,
    pub policy_history: Vec<EventLine>,
    pub reminders_sent: i64,
    pub resets: Vec<EventLine>,
    pub lockouts: i64,
    /// (day `YYYY-MM-DD`, per cent with two-step).
    pub coverage: Vec<(String, f64)>,
    pub audit_seq: i64,
    pub audit_head: String,
}

#[server(prefix = "/api/admin", endpoint = "compliance_report", input = StrictJson)]
pub async fn compliance_report(query: ReportQuery) -> Result<ReportPage, AppError> {
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<ComplianceReport>()?;
    let (from, to) = crate::ssr::report::period_of(&query, state.tessera.now())?;
    let report = state.tessera.compliance_report(from, to).await?;
    Ok(crate::ssr::report::page_of(&report))
}
