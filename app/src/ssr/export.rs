//! CSV downloads, streamed as they are read: `GET /admin/users.csv?…` (every user in the
//! view the query names) here, the audit trail's in [`super::audit`]. The guard's table
//! opens them to the console's roles (they only look); file names carry the date.

use std::future::Future;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tessera_core::service::ClientInfo;
use tessera_core::CoreResult;

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
    let date = tessera_core::service::format_date(state.tessera.now());
    stream_csv(&format!("tessera-users-{date}.csv"), move |tx| async move {
        state
            .tessera
            .export_users(&caller, &view, &described, &client, tx)
            .await
    })
}

/// A download named `file_name` whose body is what `produce` sends, chunk by chunk, as it
/// sends it. If it fails part-way, the body ends in an error, so the browser reports a
/// failed download rather than a complete, shorter file.
pub fn stream_csv<P, F>(file_name: &str, produce: P) -> Response
where
    P: FnOnce(tokio::sync::mpsc::Sender<Vec<u8>>) -> F + Send + 'static,
    F: Future<Output = CoreResult<u64>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
    tokio::spawn(async move {
        let result = produce(tx).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "an export stopped");
        }
        let _ = done_tx.send(result.is_ok());
    });
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
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
