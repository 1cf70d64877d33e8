//! `tessera app …`: the organisation's apps (OpenID Connect clients) from the command line.

use clap::Subcommand;
use tessera_core::accounts::Role;
use tessera_core::oidc::clients::NewClient;
use tessera_core::oidc::keys::Alg;
use tessera_core::service::By;
use tessera_core::Tessera;

#[derive(Subcommand)]
pub enum AppCommand {
    /// Register an app. A confidential app's secret is printed once; keep it in the app's
    /// configuration.
    Add {
        /// What people and the audit trail call it.
        #[arg(long)]
        name: String,
        /// Where the app receives sign-ins (exact match; repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the app may send people after signing out (exact match; repeatable).
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// A public app (a native or browser app, which cannot keep a secret): PKCE only.
        #[arg(long)]
        public: bool,
        /// Roles that may use it (repeatable; default: every role).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Let a sign-in with the password alone in (the default requires two steps).
        #[arg(long)]
        password_enough: bool,
        /// Give the app refresh tokens (rotated on each use).
        #[arg(long)]
        refresh_tokens: bool,
        /// How long its access tokens live, in seconds (60–3600).
        #[arg(long, default_value_t = 300)]
        access_token_secs: i64,
        /// The ID-token signature: RS256 or ES256.
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// Where Tessera posts back-channel logout tokens when a session ends.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
    },
    /// List the apps.
    List,
    /// Remove an app (by client id or name) and everything it was given.
    Remove { app: String },
    /// Replace a confidential app's secret; the old one stops working at once.
    NewSecret { app: String },
    /// Switch an app off: its tokens stop working and nobody can sign in to it.
    Disable { app: String },
    /// Switch an app on again.
    Enable { app: String },
    /// New ID-token signing keys (RS256 and ES256); the old ones stay published a day.
    RotateKeys,
}

/// The roles named with `--role`; every role when none is.
fn roles_or_everyone(names: &[String]) -> anyhow::Result<Vec<Role>> {
    if names.is_empty() {
        return Ok(Role::ALL.to_vec());
    }
    Ok(names
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<_, _>>()?)
}

pub async fn run(tessera: &Tessera, command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Add {
            name,
            redirect_uris,
            post_logout_uris,
            public,
            roles,
            password_enough,
            refresh_tokens,
            access_token_secs,
            alg,
            backchannel_logout_uri,
        } => {
            let roles = roles_or_everyone(&roles)?;
            let registered = tessera
                .register_app(
                    By::Operator,
                    NewClient {
                        name,
                        confidential: !public,
                        redirect_uris,
                        post_logout_uris,
                        roles,
                        password_enough,
                        refresh_tokens,
                        access_token_secs,
                        id_token_alg: Alg::parse(&alg)?,
                        backchannel_logout_uri,
                    },
                )
                .await?;
            println!("App registered.\n");
            println!("  issuer         {}", tessera.issuer());
            println!(
                "  discovery      {}/.well-known/openid-configuration",
                tessera.issuer()
            );
            println!("  client_id      {}", registered.client_id);
            match registered.client_secret {
                Some(secret) => println!(
                    "  client_secret  {secret}\n\n  The secret is shown this once; Tessera keeps only its hash."
                ),
                None => println!("\n  A public app: no secret; it must use PKCE (S256)."),
            }
        }
        AppCommand::List => {
            let apps = tessera.apps().await?;
            if apps.is_empty() {
                println!("No apps registered. `tessera app add --help` shows how.");
            }
            for app in apps {
                let roles: Vec<&str> = app.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{}  {}{}\n    {}; for {}; {}; tokens {} s; {}{}\n    redirect: {}",
                    app.id,
                    app.name,
                    if app.enabled { "" } else { "  (switched off)" },
                    if app.confidential {
                        "confidential"
                    } else {
                        "public"
                    },
                    roles.join(", "),
                    if app.password_enough {
                        "password is enough"
                    } else {
                        "two steps required"
                    },
                    app.access_token_secs,
                    app.id_token_alg.as_str(),
                    if app.refresh_tokens {
                        "; refresh tokens"
                    } else {
                        ""
                    },
                    app.redirect_uris.join(" "),
                );
            }
        }
        AppCommand::Remove { app } => {
            let removed = tessera.remove_app(By::Operator, &app).await?;
            println!("Removed \"{}\" and everything it was given.", removed.name);
        }
        AppCommand::NewSecret { app } => {
            let secret = tessera.new_app_secret(By::Operator, &app).await?;
            println!(
                "New client_secret (shown this once; the old one no longer works):\n\n  {secret}"
            );
        }
        AppCommand::Disable { app } => {
            let changed = tessera.set_app_enabled(By::Operator, &app, false).await?;
            println!(
                "{}",
                if changed {
                    "Switched off: its tokens no longer work, and nobody can sign in to it."
                } else {
                    "It was already switched off."
                }
            );
        }
        AppCommand::Enable { app } => {
            let changed = tessera.set_app_enabled(By::Operator, &app, true).await?;
            println!(
                "{}",
                if changed {
                    "Switched on."
                } else {
                    "It was already on."
                }
            );
        }
        AppCommand::RotateKeys => {
            for (alg, kid) in tessera.rotate_signing_keys(By::Operator).await? {
                println!("{}  {kid}", alg.as_str());
            }
            println!(
                "\nNew ID tokens are signed with these; the old keys stay published for a day."
            );
        }
    }
    Ok(())
}

/// `tessera gate …`: the sites behind the forward-auth gate.
#[derive(Subcommand)]
pub enum GateCommand {
    /// Protect a site: the reverse proxy in front of it asks Tessera about every request.
    Add {
        /// What people and the audit trail call it.
        #[arg(long)]
        name: String,
        /// Its host name as people type it (e.g. wiki.clinic.org), under TESSERA_GATE_DOMAIN.
        #[arg(long)]
        host: String,
        /// Roles that may use it (repeatable; default: every role).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Let a sign-in with the password alone in (the default requires two steps).
        #[arg(long)]
        password_enough: bool,
    },
    /// List the protected sites.
    List,
    /// Stop protecting a site (its proxy then lets nobody through).
    Remove { host: String },
}

pub async fn run_gate(tessera: &Tessera, command: GateCommand) -> anyhow::Result<()> {
    match command {
        GateCommand::Add {
            name,
            host,
            roles,
            password_enough,
        } => {
            let roles = roles_or_everyone(&roles)?;
            let site = tessera
                .add_gate_host(By::Operator, &name, &host, &roles, password_enough)
                .await?;
            println!(
                "Protected: {} ({}). Point its proxy's auth request at {}/auth/forward.",
                site.name,
                site.host,
                tessera.issuer()
            );
        }
        GateCommand::List => {
            let sites = tessera.gate_hosts().await?;
            if sites.is_empty() {
                println!("No protected sites. `tessera gate add --help` shows how.");
            }
            for site in sites {
                let roles: Vec<&str> = site.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{}  {}; for {}; {}",
                    site.host,
                    site.name,
                    roles.join(", "),
                    if site.password_enough {
                        "password is enough"
                    } else {
                        "two steps required"
                    }
                );
            }
        }
        GateCommand::Remove { host } => {
            let site = tessera.remove_gate_host(By::Operator, &host).await?;
            println!(
                "{} ({}) is no longer protected: its proxy lets nobody through.",
                site.name, site.host
            );
        }
    }
    Ok(())
}
