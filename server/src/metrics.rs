//! Prometheus metrics on their own listen address (`TESSERA_METRICS_ADDR`, off by
//! default): what `tessera_core::metrics` counts, request latency by route, and gauges
//! read at scrape time (outbox backlog, database pool).
//!
//! The address is meant for the operator's network only: it serves `/metrics` and
//! nothing else, without a session, next to no work per scrape.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tessera_core::Tessera;
use tokio::net::TcpListener;

/// Request latency buckets (seconds): a page in milliseconds, a password check in tens to
/// hundreds of them, a queue at its bound in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use (a process has one; the tests start
/// many servers in one process, and they share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        {
            Ok(b) => b,
            Err(error) => {
                tracing::warn!(%error, "metrics buckets refused; using summaries");
                PrometheusBuilder::new()
            }
        };
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is in place already (only possible in tests that install
            // their own): serve an empty, separate registry rather than fail.
            Err(error) => {
                tracing::warn!(%error, "a metrics recorder was installed already");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Middleware: `tessera_http_request_duration_seconds{route, method, status}`. The route
/// is the router's pattern (`/admin/users/{id}`) or, for server functions, the function's
/// path; requests that matched nothing count as `unmatched` (no unbounded labels).
pub async fn track(request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) if !path.as_str().contains('*') => path.as_str().to_string(),
        _ => request.uri().path().to_string(),
    };
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let route = if status == axum::http::StatusCode::NOT_FOUND {
        "unmatched".to_string()
    } else {
        route
    };
    metrics::histogram!(
        "tessera_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => status.as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Serves `/metrics` on `addr` until `stop` turns true. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    tessera: Tessera,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(tessera);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "the metrics listener stopped with an error");
        }
    });
    Ok((bound, task))
}

async fn scrape(State(tessera): State<Tessera>) -> ([(&'static str, &'static str); 1], String) {
    let pool = tessera.db().pool();
    let open = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("tessera_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("tessera_db_pool_connections", "state" => "in_use").set(open - idle);
    metrics::gauge!("tessera_db_pool_max_connections")
        .set(f64::from(pool.options().get_max_connections()));
    match tessera.mail_backlog().await {
        Ok(waiting) => metrics::gauge!("tessera_outbox_backlog").set(waiting as f64),
        Err(error) => tracing::warn!(%error, "metrics: the outbox backlog could not be read"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        handle().render(),
    )
}
