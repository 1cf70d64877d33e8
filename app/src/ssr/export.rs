//! `GET /admin/users.csv?…`: the users list as CSV, every user in the view the query
//! names, streamed as it is read. The guard's table opens it to the console's roles (it
//! only looks); the file name carries the date.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tessera_core::service::ClientInfo;

use super::{AppState, CurrentCaller};
use crate::api::admin::users::UsersQuery;
use crate::error::AppError;

pub async fn users_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Extension(client): Extension<ClientInfo>,
    Query(query): Query<UsersQuery>,
) -> Response {
    let Some(caller) = caller.0 else {
        return super::guard::error_response(AppError::SignedOut);
    };
    let query = query.first_page();
    let view = match super::console::view_of(&query, &caller.organisation.policy) {
        Ok((view, _)) => view,
        Err(e) => return super::guard::error_response(e),
    };
    let described = query.to_query_string(None);
    let date: String = tessera_core::clock::format_utc(state.tessera.now())
        .chars()
        .take(10)
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
    tokio::spawn(async move {
        let result = state
            .tessera
            .export_users(&caller, &view, &described, &client, tx)
            .await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "the users export stopped");
        }
        let _ = done_tx.send(result.is_ok());
    });
    // The rows as they come; if the export failed part-way, the body ends in an error, so
    // the browser reports a failed download rather than a complete, shorter file.
    let stream = futures::stream::unfold((rx, Some(done_rx)), |(mut rx, done)| async move {
        if let Some(chunk) = rx.recv().await {
            return Some((Ok(chunk), (rx, done)));
        }
        match done?.await {
            Ok(true) => None,
            _ => Some((
                Err(std::io::Error::other("the export failed part-way")),
                (rx, None),
            )),
        }
    });
    (
        [
            (
                http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tessera-users-{date}.csv\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
