//! The compliance report's period from its URL form, the page's numbers from the domain's
//! report, and its downloads: `GET /admin/report.json` (the report as the domain counted
//! it) and `GET /admin/report.csv` (section, item, value; through the one CSV writer).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tessera_core::clock::format_utc;
use tessera_core::policy::DAY_SECS;
use tessera_core::service::{format_date, format_day, Report};
use tessera_core::UnixTime;

use super::{AppState, CurrentCaller};
use crate::api::admin::report::{EventLine, PersonLine, ReportPage, ReportQuery};
use crate::error::AppError;

/// The longest period a report covers.
const MAX_DAYS: i64 = 3660;

/// `[from, to)` for a query: both days included; default the last 30 days.
pub fn period_of(query: &ReportQuery, now: UnixTime) -> Result<(UnixTime, UnixTime), AppError> {
    let invalid = |field: &str, message: &str| AppError::Invalid {
        field: field.into(),
        message: message.into(),
    };
    let date = |field: &str, text: &Option<String>| -> Result<Option<UnixTime>, AppError> {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                tessera_core::service::parse_date(t)
                    .map_err(|_| invalid(field, "Enter a date like 2026-12-31."))
            })
            .transpose()
    };
    let today = now - now.rem_euclid(DAY_SECS);
    let to = date("to", &query.to)?.unwrap_or(today) + DAY_SECS;
    let from = date("from", &query.from)?.unwrap_or(to - 30 * DAY_SECS);
    if from >= to {
        return Err(invalid("from", "The period must start before it ends."));
    }
    if to - from > MAX_DAYS * DAY_SECS {
        return Err(invalid("from", "A report covers at most ten years."));
    }
    Ok((from, to))
}

fn event_lines(events: &[tessera_core::service::ReportEvent]) -> Vec<EventLine> {
    events
        .iter()
        .map(|e| EventLine {
            at: format_utc(e.at),
            who: e
                .actor
                .clone()
                .unwrap_or_else(|| "the server's operator".into()),
            about: e.subject.clone().unwrap_or_default(),
            detail: e.detail.clone(),
        })
        .collect()
}

pub fn page_of(r: &Report) -> ReportPage {
    let policy = if r.required {
        match r.deadline {
            Some(d) => format!(
                "Two-step authentication required; deadline {}",
                format_day(d)
            ),
            None => "Two-step authentication required".into(),
        }
    } else {
        "Two-step authentication not required".into()
    };
    ReportPage {
        organisation: r.organisation.clone(),
        generated: format_utc(r.generated_at),
        from: format_date(r.from),
        to: format_date(r.to - DAY_SECS),
        policy,
        in_scope: r.in_scope,
        with_two_step: r.with_two_step,
        percent: Report::percent(r.with_two_step, r.in_scope),
        by_method: vec![
            ("Passkey only".into(), r.passkey_only),
            ("Authenticator app only".into(), r.app_only),
            ("Passkey and app".into(), r.passkey_and_app),
        ],
        by_role: r
            .by_role
            .iter()
            .map(|l| (l.role.clone(), l.in_scope, l.with_two_step))
            .collect(),
        not_set_up: r
            .not_set_up
            .iter()
            .map(|p| PersonLine {
                name: p.name.clone(),
                email: p.email.clone(),
                role: p.role.clone(),
            })
            .collect(),
        not_set_up_count: r.not_set_up_count,
        in_grace: r.in_grace,
        exceptions: r
            .exceptions
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.email.clone(),
                    format_utc(e.until),
                    e.reason.clone(),
                )
            })
            .collect(),
        policy_history: event_lines(&r.policy_history),
        reminders_sent: r.reminders_sent,
        resets: event_lines(&r.resets),
        lockouts: r.lockouts,
        coverage: r
            .coverage
            .iter()
            .map(|p| {
                (
                    format_date(p.day),
                    Report::percent(p.with_two_step, p.in_scope),
                )
            })
            .collect(),
        audit_seq: r.audit_seq,
        audit_head: r.audit_head.clone(),
    }
}

async fn report_for(
    state: &AppState,
    caller: &CurrentCaller,
    query: &ReportQuery,
) -> Result<Report, AppError> {
    if caller.0.is_none() {
        return Err(AppError::SignedOut);
    }
    let (from, to) = period_of(query, state.tessera.now())?;
    Ok(state.tessera.compliance_report(from, to).await?)
}

fn attachment(kind: &str, name: String, body: Vec<u8>) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, kind.to_string()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn report_json(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Query(query): Query<ReportQuery>,
) -> Response {
    match report_for(&state, &caller, &query).await {
        Ok(report) => match serde_json::to_vec_pretty(&report) {
            Ok(body) => attachment(
                "application/json",
                format!("tessera-report-{}.json", format_date(report.generated_at)),
                body,
            ),
            Err(_) => super::guard::error_response(AppError::Internal),
        },
        Err(e) => super::guard::error_response(e),
    }
}

pub async fn report_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let report = match report_for(&state, &caller, &query).await {
        Ok(r) => r,
        Err(e) => return super::guard::error_response(e),
    };
    match report_rows(&report) {
        Ok(body) => attachment(
            "text/csv; charset=utf-8",
            format!("tessera-report-{}.csv", format_date(report.generated_at)),
            body,
        ),
        Err(_) => super::guard::error_response(AppError::Internal),
    }
}

/// The report as (section, item, value) rows.
fn report_rows(r: &Report) -> tessera_core::CoreResult<Vec<u8>> {
    let mut csv = tessera_core::csv_out::CsvOut::default();
    let mut row = |a: &str, b: &str, c: String| csv.row([a, b, c.as_str()]);
    row("section", "item", "value".into())?;
    row("report", "organisation", r.organisation.clone())?;
    row("report", "generated", format_utc(r.generated_at))?;
    row("report", "from", format_date(r.from))?;
    row("report", "to", format_date(r.to - DAY_SECS))?;
    row("policy", "required", r.required.to_string())?;
    row(
        "policy",
        "deadline",
        r.deadline.map(format_date).unwrap_or_default(),
    )?;
    row("now", "in scope", r.in_scope.to_string())?;
    row("now", "with two-step", r.with_two_step.to_string())?;
    row(
        "now",
        "with two-step (%)",
        Report::percent(r.with_two_step, r.in_scope).to_string(),
    )?;
    row("now", "passkey only", r.passkey_only.to_string())?;
    row("now", "app only", r.app_only.to_string())?;
    row("now", "passkey and app", r.passkey_and_app.to_string())?;
    for l in &r.by_role {
        row(
            "by role",
            &format!("{} in scope", l.role),
            l.in_scope.to_string(),
        )?;
        row(
            "by role",
            &format!("{} with two-step", l.role),
            l.with_two_step.to_string(),
        )?;
    }
    row("now", "not set up", r.not_set_up_count.to_string())?;
    for p in &r.not_set_up {
        row("not set up", &p.email, p.name.clone())?;
    }
    row("now", "in grace", r.in_grace.to_string())?;
    for e in &r.exceptions {
        row(
            "exception",
            &e.email,
            format!("until {}: {}", format_utc(e.until), e.reason),
        )?;
    }
    for e in &r.policy_history {
        row("policy change", &format_utc(e.at), e.detail.clone())?;
    }
    row("period", "reminders sent", r.reminders_sent.to_string())?;
    for e in &r.resets {
        row(
            "admin reset",
            &format_utc(e.at),
            format!(
                "{} reset {}: {}",
                e.actor.clone().unwrap_or_default(),
                e.subject.clone().unwrap_or_default(),
                e.detail
            ),
        )?;
    }
    row("period", "lockouts", r.lockouts.to_string())?;
    for p in &r.coverage {
        row(
            "coverage (%)",
            &format_date(p.day),
            Report::percent(p.with_two_step, p.in_scope).to_string(),
        )?;
    }
    row("audit trail", "newest record", r.audit_seq.to_string())?;
    row("audit trail", "head", r.audit_head.clone())?;
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(csv.take()?);
    Ok(out)
}
