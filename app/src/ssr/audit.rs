//! The audit trail's view from its URL form (shared by the page's server function and the
//! CSV download), and `GET /admin/audit.csv?…`: the view as CSV, streamed as it is read.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use tessera_core::audit::trail::AuditView;
use tessera_core::policy::DAY_SECS;
use tessera_core::service::ClientInfo;
use tessera_core::Tessera;

use super::{AppState, CurrentCaller};
use crate::api::admin::audit::AuditQuery;
use crate::error::AppError;

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The view and page position a query names; unknown values are refused, not ignored.
pub async fn view_of(
    tessera: &Tessera,
    query: &AuditQuery,
) -> Result<(AuditView, Option<i64>), AppError> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let mut kinds: Vec<String> = Vec::new();
    if let Some(group) = given(&query.group) {
        let codes = tessera_core::audit::codes_in(group);
        if codes.is_empty() {
            return Err(invalid("group", "There is no such group of events."));
        }
        kinds.extend(codes.into_iter().map(String::from));
    }
    if let Some(kind) = given(&query.kind) {
        if !tessera_core::audit::KINDS
            .iter()
            .any(|(_, code, ..)| *code == kind)
        {
            return Err(invalid("kind", "There is no such kind of event."));
        }
        kinds = vec![kind.to_string()];
    }
    let date = |field: &str, text: Option<&str>| -> Result<Option<i64>, AppError> {
        text.map(|t| {
            tessera_core::service::parse_date(t)
                .map_err(|_| invalid(field, "Enter a date like 2026-12-31."))
        })
        .transpose()
    };
    let from = date("from", given(&query.from))?;
    // Inclusive: to the end of that day.
    let to = date("to", given(&query.to))?.map(|t| t + DAY_SECS);
    let person = match given(&query.user) {
        Some(email) => Some(tessera.audit_person(email).await?),
        None => None,
    };
    let before = given(&query.before)
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| invalid("before", "That page link is not valid."))
        })
        .transpose()?;
    Ok((
        AuditView {
            kinds,
            person,
            from,
            to,
        },
        before,
    ))
}

pub async fn audit_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Extension(client): Extension<ClientInfo>,
    Query(query): Query<AuditQuery>,
) -> Response {
    let Some(caller) = caller.0 else {
        return super::guard::error_response(AppError::SignedOut);
    };
    let query = AuditQuery {
        before: None,
        ..query
    };
    let view = match view_of(&state.tessera, &query).await {
        Ok((view, _)) => view,
        Err(e) => return super::guard::error_response(e),
    };
    let described = query.to_query_string(None);
    let date = tessera_core::service::format_date(state.tessera.now());
    super::export::stream_csv(&format!("tessera-audit-{date}.csv"), move |tx| async move {
        state
            .tessera
            .export_audit(&caller, &view, &described, &client, tx)
            .await
    })
}
