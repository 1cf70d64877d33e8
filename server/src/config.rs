//! Configuration: Leptos site settings from `Leptos.toml` (with `LEPTOS_*` environment
//! overrides), Tessera's own settings from flags and `TESSERA_*` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use app::ssr::WebSettings;
use leptos::config::LeptosOptions;
use tessera_core::db::Backend;
use tessera_core::mail::{Mailbox, Transport};
use tessera_core::password::HashCost;
use tessera_core::secret_box::ServerKey;
use tessera_core::TesseraConfig;

#[derive(Clone)]
pub struct MailConfig {
    pub transport: Transport,
    pub from: Mailbox,
    pub poll_every: Duration,
    /// At most this many messages a minute, across every instance (None: no limit).
    pub per_minute: Option<u32>,
}

#[derive(Clone)]
pub struct ServerConfig {
    pub core: TesseraConfig,
    pub web: WebSettings,
    pub leptos: LeptosOptions,
    pub mail: MailConfig,
    /// Seed a demo organisation into an empty database.
    pub demo: bool,
    /// Where Prometheus metrics are served (`/metrics`); `None`: not at all.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl ServerConfig {
    /// Tessera on 127.0.0.1:`port` with its state in `data_dir` and production defaults
    /// otherwise: what the integration tests and benchmarks start (and then adjust).
    /// Reads `Leptos.toml` from the current folder or its parent (the workspace root).
    pub fn loopback(data_dir: &Path, port: u16, demo: bool) -> anyhow::Result<ServerConfig> {
        let leptos_config = ["Leptos.toml", "../Leptos.toml"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("no Leptos.toml in this folder or its parent")?;
        let settings = Settings {
            leptos_config,
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            database_pool: None,
            public_url: Some(format!("http://localhost:{port}")),
            smtp_url: None,
            mail_from: "Tessera <tessera@localhost>".into(),
            secret_key: None,
            trust_forwarded_for: false,
            mail_per_minute: None,
            gate_domain: None,
            metrics_addr: None,
        };
        let mut config = settings.build(demo)?;
        config.leptos.site_addr = ([127, 0, 0, 1], port).into();
        Ok(config)
    }
}

/// What the operator can set, before it is checked and combined.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// The Leptos site settings (site address, site root …).
    #[arg(long, env = "TESSERA_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: PathBuf,
    /// Folder for the SQLite database, the mail outbox and other state.
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database URL; defaults to SQLite in the data folder.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Connections each instance keeps to the database at most (default 8 for SQLite,
    /// 16 for PostgreSQL). Instances together must stay under PostgreSQL's
    /// max_connections.
    #[arg(long, env = "TESSERA_DATABASE_POOL", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool: Option<u32>,
    /// The address people open, e.g. https://tessera.clinic.org. Defaults to
    /// http://localhost:<port>. Plain http is only allowed for localhost.
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server for mail, e.g. smtp://user:pass@mail.clinic.org:587. Without it, mail
    /// is written to <data>/outbox/.
    #[arg(long, env = "TESSERA_SMTP_URL")]
    pub smtp_url: Option<String>,
    #[arg(
        long,
        env = "TESSERA_MAIL_FROM",
        default_value = "Tessera <tessera@localhost>"
    )]
    pub mail_from: String,
    /// Send at most this many messages a minute (hosted mail services cap senders, e.g. 30
    /// a minute); the rest wait in the outbox, oldest first. No limit when unset.
    #[arg(long, env = "TESSERA_MAIL_PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..))]
    pub mail_per_minute: Option<u32>,
    /// The 256-bit key (base64) that encrypts authenticator-app keys at rest. Without it,
    /// one is generated into <data>/secret.key on first run. Losing it means every user
    /// must set up their authenticator app again.
    #[arg(long, env = "TESSERA_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Behind a reverse proxy: take the client address from X-Forwarded-For.
    #[arg(long, env = "TESSERA_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Turn on the forward-auth gate for sites under this parent domain (e.g. clinic.org,
    /// when Tessera is tessera.clinic.org and a site is wiki.clinic.org): its cookie is set
    /// for this domain. Needs an https TESSERA_PUBLIC_URL within it.
    #[arg(long, env = "TESSERA_GATE_DOMAIN")]
    pub gate_domain: Option<String>,
    /// Serve Prometheus metrics at http://<this address>/metrics (e.g. 127.0.0.1:9464).
    /// Off when unset. Keep it on the operator's network: it needs no sign-in.
    #[arg(long, env = "TESSERA_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Settings {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tessera.db").display()))
    }

    pub fn leptos_options(&self) -> anyhow::Result<LeptosOptions> {
        let path = self.leptos_config.to_string_lossy().to_string();
        let conf = leptos::config::get_configuration(Some(&path))
            .with_context(|| format!("reading Leptos settings from {path}"))?;
        Ok(conf.leptos_options)
    }

    pub fn build(&self, demo: bool) -> anyhow::Result<ServerConfig> {
        let leptos = self.leptos_options()?;
        let port = leptos.site_addr.port();
        let public = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{port}"));
        let mut web = web_settings(&public, self.trust_forwarded_for)?;
        web.gate_domain = self
            .gate_domain
            .as_deref()
            .map(|d| gate_domain(d, &web))
            .transpose()?;
        let transport = match &self.smtp_url {
            Some(url) => Transport::smtp(url).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Transport::Folder(self.data_dir.join("outbox")),
        };
        let from: Mailbox = self
            .mail_from
            .parse()
            .with_context(|| format!("TESSERA_MAIL_FROM is not an address: {}", self.mail_from))?;
        let database_url = self.database_url();
        let server_key = match (&self.secret_key, Backend::of(&database_url)) {
            (Some(key), _) => ServerKey::from_base64(key),
            (None, Some(Backend::Postgres)) => bail!(
                "TESSERA_SECRET_KEY must be set when the database is PostgreSQL: every \
                 instance needs the same key to open the authenticator keys the others \
                 sealed, so none may make up its own. Generate one with `tessera secret-key` \
                 and give the same value to every instance."
            ),
            (None, _) => ServerKey::load_or_create(&self.data_dir.join("secret.key")),
        }
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(ServerConfig {
            core: TesseraConfig {
                server_key,
                public_origin: web.public_origin.clone(),
                database_url,
                database_pool: self.database_pool,
                hash_cost: HashCost::standard(),
                max_concurrent_hashes: std::thread::available_parallelism()
                    .map(|n| n.get() * 2)
                    .unwrap_or(4),
            },
            web,
            leptos,
            mail: MailConfig {
                transport,
                from,
                poll_every: crate::outbox::DEFAULT_POLL,
                per_minute: self.mail_per_minute,
            },
            demo,
            metrics_addr: self.metrics_addr,
        })
    }
}

/// Derives cookie and origin rules from the public URL.
pub fn web_settings(public_url: &str, trust_forwarded_for: bool) -> anyhow::Result<WebSettings> {
    let public = public_url.trim_end_matches('/');
    let (scheme, rest) = public
        .split_once("://")
        .context("TESSERA_PUBLIC_URL must start with https:// (or http:// for localhost)")?;
    let host = rest.split('/').next().unwrap_or_default();
    let origin = format!("{scheme}://{host}");
    let hostname = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let local = matches!(hostname, "localhost" | "127.0.0.1" | "[::1]");
    let secure = match scheme {
        "https" => true,
        "http" if local => false,
        "http" => bail!("plain http is only allowed for localhost; use https:// for {host}"),
        other => bail!("unsupported scheme {other}:// in TESSERA_PUBLIC_URL"),
    };
    let mut also = Vec::new();
    if local {
        let port = host
            .rsplit_once(':')
            .map(|(_, p)| format!(":{p}"))
            .unwrap_or_default();
        for h in ["localhost", "127.0.0.1", "[::1]"] {
            let o = format!("{scheme}://{h}{port}");
            if o != origin {
                also.push(o);
            }
        }
    }
    Ok(WebSettings {
        public_origin: origin,
        also_accepted_origins: also,
        secure_cookies: secure,
        trust_forwarded_for,
        gate_domain: None,
    })
}

/// The forward-auth gate's cookie domain: Tessera's own host must be it or below it, and
/// Tessera must be on https (the cookie is `Secure`).
pub fn gate_domain(domain: &str, web: &WebSettings) -> anyhow::Result<String> {
    let domain = domain.trim().trim_start_matches('.').to_ascii_lowercase();
    let host = web
        .public_origin
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if !web.secure_cookies {
        bail!("TESSERA_GATE_DOMAIN needs an https:// TESSERA_PUBLIC_URL (the gate's cookie is Secure)");
    }
    if domain.is_empty() || !domain.contains('.') {
        bail!("TESSERA_GATE_DOMAIN must be a domain such as clinic.org");
    }
    if host != domain && !host.ends_with(&format!(".{domain}")) {
        bail!("TESSERA_GATE_DOMAIN {domain} must contain Tessera's own host {host}");
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_may_use_plain_http() {
        let w = web_settings("http://localhost:3000", false).unwrap();
        assert!(!w.secure_cookies);
        assert!(w.accepts_origin("http://localhost:3000"));
        assert!(w.accepts_origin("http://127.0.0.1:3000"));
        assert!(!w.accepts_origin("http://evil.example"));
    }

    #[test]
    fn anything_else_needs_https() {
        assert!(web_settings("http://tessera.clinic.org", false).is_err());
        let w = web_settings("https://tessera.clinic.org/", false).unwrap();
        assert!(w.secure_cookies);
        assert_eq!(w.public_origin, "https://tessera.clinic.org");
        assert!(!w.accepts_origin("http://tessera.clinic.org"));
    }

    /// Leptos.toml (what the binary reads) and the workspace metadata (what the build
    /// reads) must describe the same site.
    #[test]
    fn leptos_toml_agrees_with_workspace_metadata() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let runtime: toml::Table = std::fs::read_to_string(root.join("Leptos.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let cargo: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let pick = |t: &toml::Table| -> toml::Table {
            t["workspace"]["metadata"]["leptos"].as_array().unwrap()[0]
                .as_table()
                .unwrap()
                .clone()
        };
        let (runtime, build) = (pick(&runtime), pick(&cargo));
        for key in [
            "output-name",
            "site-root",
            "site-pkg-dir",
            "site-addr",
            "reload-port",
        ] {
            assert_eq!(
                runtime.get(key),
                build.get(key),
                "Leptos.toml and Cargo.toml disagree on {key}"
            );
        }
    }
}
