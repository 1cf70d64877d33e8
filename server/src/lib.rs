//! The Tessera server: configuration, HTTP wiring and background jobs around the `app`
//! (pages, server functions, guard) and `tessera-core` (domain, storage) crates.
//!
//! [`start`] is what the binary runs and what the integration tests run, so the tests
//! exercise the real router, middleware and database.

pub mod app_commands;
pub mod backchannel;
pub mod config;
pub mod housekeeping;
pub mod metrics;
pub mod outbox;
pub mod security;
#[cfg(feature = "test-clock")]
pub mod test_clock;

use std::net::SocketAddr;
use std::sync::Arc;

use app::ssr::{guard, AppState, WebSettings};
use app::{shell, App};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tessera_core::setup::SetupLink;
use tessera_core::{Clock, Tessera};
use tokio::net::TcpListener;

pub use config::ServerConfig;

/// A running server: its address, its domain handle, and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub tessera: Tessera,
    /// The one-time setup token printed on a fresh production database.
    pub setup_token: Option<String>,
    /// Where `/metrics` is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting requests and the background jobs, and waits for both.
    /// Stops accepting connections, lets requests in flight finish (at most
    /// [`SHUTDOWN_GRACE`]), lets the outbox finish its round, and closes the database.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, self.task)
            .await
            .is_err()
        {
            tracing::warn!("requests were still running after the grace period; stopping anyway");
        }
        self.tessera.db().close().await;
    }
}

/// How long a stopping server waits for requests in flight.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Every page path the router serves, from the app's route list (for tests that check
/// each page against each kind of session).
pub fn page_paths() -> Vec<String> {
    generate_route_list(App)
        .iter()
        .map(|route| route.path().to_string())
        .collect()
}

/// Builds the router for `state`.
pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos.clone();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let router = Router::new()
        .route(
            "/admin/users.csv",
            axum::routing::get(app::ssr::export::users_csv),
        )
        .route(
            "/admin/audit.csv",
            axum::routing::get(app::ssr::audit::audit_csv),
        )
        .route(
            "/admin/report.csv",
            axum::routing::get(app::ssr::report::report_csv),
        )
        .route(
            "/admin/report.json",
            axum::routing::get(app::ssr::report::report_json),
        )
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(app::ssr::oidc::discovery),
        )
        .route("/oauth2/jwks", axum::routing::get(app::ssr::oidc::jwks))
        .route(
            "/oauth2/authorize",
            axum::routing::get(app::ssr::oidc::authorize),
        )
        .route("/oauth2/token", axum::routing::post(app::ssr::oidc::token))
        .route("/auth/forward", axum::routing::get(app::ssr::gate::forward))
        .route(
            "/auth/forward/start",
            axum::routing::get(app::ssr::gate::start),
        )
        .route(
            "/oauth2/logout",
            axum::routing::get(app::ssr::oidc::logout).post(app::ssr::oidc::logout),
        )
        .route(
            "/oauth2/userinfo",
            axum::routing::get(app::ssr::oidc::userinfo).post(app::ssr::oidc::userinfo),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(guard::pages))
        .layer(axum::middleware::from_fn(guard::api))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::resolve_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.web.clone(),
            security::check_origin,
        ))
        .layer(axum::middleware::from_fn(security::read_body))
        .layer(axum::middleware::from_fn_with_state(
            state.web.clone(),
            security::headers,
        ))
        .layer(axum::middleware::from_fn(metrics::track));
    // Health checks for load balancers and orchestrators: no session, no guard, not
    // logged per request; `/readyz` asks the database.
    let router = router
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(ready));
    // The browser tests' clock (a debug build with the `test-clock` feature only).
    #[cfg(feature = "test-clock")]
    let router = router.route(
        "/__test__/clock",
        axum::routing::post(test_clock::set_offset),
    );
    router.with_state(state)
}

/// `/readyz`: 200 when the database answers and is migrated, else 503 (fail closed).
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    if state.tessera.db().ready().await {
        (axum::http::StatusCode::OK, "ready")
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        )
    }
}

/// Opens the database, prepares first-run setup or demo data, binds, and serves until
/// [`Running::stop`].
pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let tessera = Tessera::open(&config.core, clock).await?;
    let setup_token = first_run(&tessera, &config).await?;

    let listener = TcpListener::bind(config.leptos.site_addr).await?;
    let addr = listener.local_addr()?;
    let mut leptos = config.leptos.clone();
    leptos.site_addr = addr;
    let state = AppState {
        tessera: tessera.clone(),
        web: Arc::new(config.web.clone()),
        leptos,
    };
    let app = router(state);

    let (shutdown, mut stopped) = tokio::sync::watch::channel(false);
    let worker = outbox::spawn(tessera.clone(), config.mail.clone(), shutdown.subscribe());
    let chores = housekeeping::spawn(tessera.clone(), shutdown.subscribe());
    let logouts = backchannel::spawn(tessera.clone(), shutdown.subscribe());
    let (metrics_addr, metrics_task) = match config.metrics_addr {
        Some(addr) => {
            metrics::handle();
            let (bound, task) = metrics::serve(addr, tessera.clone(), shutdown.subscribe()).await?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let task = tokio::spawn(async move {
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "server stopped with an error");
        }
        let _ = worker.await;
        let _ = chores.await;
        let _ = logouts.await;
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
    });
    Ok(Running {
        addr,
        tessera,
        setup_token,
        metrics_addr,
        shutdown,
        task,
    })
}

/// On a fresh database: demo data when asked for, otherwise a one-time setup link.
async fn first_run(tessera: &Tessera, config: &ServerConfig) -> anyhow::Result<Option<String>> {
    if let Some(org) = tessera.organisation().await? {
        if org.is_demo && config.demo {
            print_demo_hint(&config.web);
        }
        return Ok(None);
    }
    if config.demo {
        if let Some(accounts) = tessera.seed_demo().await? {
            println!("\n  Demo organisation created: Riverside Family Clinic (DEMO)");
            println!("  Sign in at {}/signin with:\n", config.web.public_origin);
            for a in accounts {
                println!(
                    "    {:<32} {:<24} ({})",
                    a.email,
                    a.password,
                    a.role.as_str()
                );
            }
            println!();
        }
        return Ok(None);
    }
    match tessera.issue_setup_token().await? {
        Some(SetupLink::Issued(token)) => {
            println!(
                "\n  Tessera is not set up yet. Open this one-time link to create your organisation\n  and its first administrator (valid 24 hours):\n\n    {}/setup?token={token}\n",
                config.web.public_origin
            );
            Ok(Some(token))
        }
        Some(SetupLink::Waiting { issued_at }) => {
            println!(
                "\n  Tessera is not set up yet. The one-time setup link printed at {} (by this or\n  another instance) is still valid. Lost it? `tessera setup-link` prints a new one.\n",
                tessera_core::clock::format_utc(issued_at)
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

fn print_demo_hint(web: &WebSettings) {
    println!(
        "\n  Demo data is in place. Sign in at {}/signin as admin@riverside.example with\n  \"demo admin passphrase\" (helpdesk@… \"demo helpdesk passphrase\", auditor@… \"demo auditor\n  passphrase\", staff: nurse.jones@riverside.example, \"demo staff passphrase\").\n",
        web.public_origin
    );
}
