//! `tessera`: runs the server, and gives operators a command line for accounts and the
//! organisation's two-step requirement.

use std::io::BufRead as _;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tessera_core::accounts::Role;
use tessera_core::service::{By, Invitee};
use tessera_core::{SystemClock, Tessera};
use tessera_server::config::Settings;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Two-step sign-in portal for organisations that handle health data"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// On an empty database, create a clearly labelled demo organisation and print
        /// its sign-in details instead of a setup link.
        #[arg(long, env = "TESSERA_DEMO")]
        demo: bool,
    },
    /// Manage accounts from the command line (also the break-glass path).
    #[command(subcommand)]
    User(UserCommand),
    /// Organisation settings.
    #[command(subcommand)]
    Organisation(OrganisationCommand),
    /// The audit trail's tamper evidence.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The apps that sign people in through Tessera (OpenID Connect).
    #[command(subcommand)]
    App(tessera_server::app_commands::AppCommand),
    /// The sites behind the forward-auth gate (for apps that cannot speak OpenID Connect).
    #[command(subcommand)]
    Gate(tessera_server::app_commands::GateCommand),
    /// An online, consistent copy of the SQLite database while the server runs (SQLite's
    /// VACUUM INTO). The server key is not in it: keep `secret.key` with your backups.
    Backup {
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Bring back a backup (stop the server first). The database it replaces is kept
    /// beside it as `….before-restore`; every session ends, the restore is audited and
    /// every admin told.
    Restore { file: std::path::PathBuf },
    /// Before the organisation is set up: print a new one-time setup link in place of the
    /// one printed at start-up.
    SetupLink,
    /// Print a new random server key (base64) for TESSERA_SECRET_KEY: what several
    /// instances on one PostgreSQL database share. Keep it with your backups.
    SecretKey,
    /// Where and from what this binary was compiled (the build checks it).
    #[command(hide = true)]
    BuildInfo,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the whole chain and check every record's seal. Prints the first record that
    /// does not match, or "N records, chain intact, head …"; exits with status 1 if
    /// anything does not match. With --expect (a head from the daily mail or a report),
    /// also checks that the chain still contains it: records cut off from the end show.
    Verify {
        #[arg(long)]
        expect: Option<String>,
    },
    /// Print the chain's newest place and seal (to keep outside the database).
    Head,
}

#[derive(Subcommand)]
enum OrganisationCommand {
    /// Require two-step authentication for everyone (`on`) or not (`off`). Users without a
    /// method are sent to the setup wizard at their next sign-in.
    RequireTwoFactor {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Show or set the session limits: how long a session may sit idle (5–60 minutes) and
    /// live at most (1–24 hours). They apply to open sessions from their next request.
    SessionLimits {
        #[arg(long)]
        idle_minutes: Option<i64>,
        #[arg(long)]
        absolute_hours: Option<i64>,
    },
    /// Show the two-step policy, or change parts of it (what is not given stays). The same
    /// rules as the console's Settings page: audited with old → new, every admin told.
    Policy {
        /// Require two-step authentication.
        #[arg(long, value_parser = ["on", "off"])]
        require: Option<String>,
        /// Until this date (YYYY-MM-DD, UTC) people may put it off; `none`: from the next
        /// sign-in.
        #[arg(long)]
        deadline: Option<String>,
        /// Days a person added after the requirement gets from their first sign-in (0–30).
        #[arg(long)]
        enrolment_days: Option<i64>,
        /// The methods that count, comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = ["passkeys", "app"])]
        methods: Option<Vec<String>>,
        /// Admins must use a passkey.
        #[arg(long, value_parser = ["on", "off"])]
        admins_passkey: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input (one line), if given.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "helpdesk", "auditor", "staff"], default_value = "staff")]
        role: String,
        /// Read the initial password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// On a fresh database, create the organisation with this name first.
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Invite someone: an account without a password, and a mail with a single-use link
    /// (72 hours) to choose one. The running server's outbox sends it.
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "helpdesk", "auditor", "staff"], default_value = "staff")]
        role: String,
    },
    /// Invite everyone in a CSV file (email, name, role; commas or semicolons; a header
    /// line is fine): every row is checked first, and nobody is added unless all are fine.
    Import {
        file: std::path::PathBuf,
        /// Only check the file and say what it would do.
        #[arg(long)]
        dry_run: bool,
    },
    /// Set a user's password (read from standard input) and end their sessions.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// List users.
    List,
    /// Break-glass: reset someone's two-step authentication (for instance the only admin,
    /// who lost every method). Prints the one-time setup code they need at their next
    /// sign-in; audited as the operator, every admin is told.
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        #[arg(long)]
        email: String,
        /// Why (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Human-readable lines by default; JSON lines (one object per event) for log shippers
    // with TESSERA_LOG_FORMAT=json.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    match std::env::var("TESSERA_LOG_FORMAT").as_deref() {
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        Ok("text") | Err(_) => tracing_subscriber::fmt().with_env_filter(filter).init(),
        Ok(other) => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
            tracing::warn!(
                format = other,
                "TESSERA_LOG_FORMAT is json or text; writing text"
            );
        }
    }
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve(&cli.settings, demo).await,
        Command::User(cmd) => user(&cli.settings, cmd).await,
        Command::Organisation(cmd) => organisation(&cli.settings, cmd).await,
        Command::Audit(cmd) => audit(&cli.settings, cmd).await,
        Command::App(cmd) => {
            let config = cli.settings.build(false)?;
            let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
            tessera_server::app_commands::run(&tessera, cmd).await
        }
        Command::Gate(cmd) => {
            let config = cli.settings.build(false)?;
            let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
            tessera_server::app_commands::run_gate(&tessera, cmd).await
        }
        Command::Backup { to } => backup(&cli.settings, &to).await,
        Command::Restore { file } => restore(&cli.settings, &file).await,
        Command::SetupLink => {
            let config = cli.settings.build(false)?;
            let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
            match tessera.replace_setup_token().await? {
                Some(token) => println!(
                    "Open this one-time link to create your organisation and its first \
                     administrator (valid 24 hours; any earlier link no longer works):\n\n    \
                     {}/setup?token={token}",
                    config.web.public_origin
                ),
                None => anyhow::bail!("the organisation is set up already"),
            }
            Ok(())
        }
        Command::SecretKey => {
            println!(
                "{}",
                tessera_core::secret_box::ServerKey::generate().to_base64()
            );
            Ok(())
        }
        Command::BuildInfo => {
            // `cargo xtask` compares this with the checkout it builds, so a binary left in a
            // shared target folder by another checkout is never run as this one.
            println!("version: {}", env!("CARGO_PKG_VERSION"));
            println!(
                "source: {}",
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .display()
            );
            Ok(())
        }
    }
}

/// Ctrl-C (SIGINT) or SIGTERM (systemd, containers): either stops the server gracefully.
/// The SIGTERM handler is installed when this is called, not when it is first awaited, so
/// a stop sent the moment the port opens finds it in place (and does not kill the process
/// by the signal's default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        if let Some(mut terminate) = terminate {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        interrupt.await.ok();
    }
}

async fn serve(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    let config = settings.build(demo)?;
    let mail = config.mail.transport.describe();
    #[cfg(feature = "test-clock")]
    let clock: Arc<dyn tessera_core::Clock> = {
        tracing::warn!("built for the browser tests: the clock can be moved over HTTP");
        tessera_server::test_clock::clock()
    };
    #[cfg(not(feature = "test-clock"))]
    let clock: Arc<dyn tessera_core::Clock> = Arc::new(SystemClock);
    // Before the port opens: see `shutdown_signal`.
    let stop = shutdown_signal();
    let running = tessera_server::start(config, clock).await?;
    tracing::info!(addr = %running.addr, mail = %mail, "Tessera is listening");
    println!(
        "  Tessera is running on http://{} (Ctrl-C stops it)",
        running.addr
    );
    stop.await;
    tracing::info!("stopping: no new connections; requests in flight finish first");
    running.stop().await;
    Ok(())
}

async fn user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let config = settings.build(false)?;
    let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
    match cmd {
        UserCommand::Create {
            email,
            name,
            role,
            password_stdin,
            organisation,
        } => {
            if let Some(org) = organisation {
                if tessera.organisation().await?.is_none() {
                    tessera.create_organisation(&org).await?;
                    println!("created organisation {org}");
                }
            }
            let password = password_stdin.then(read_password).transpose()?;
            let role = Role::parse(&role)?;
            let id = tessera
                .create_user(None, &email, &name, role, password.as_deref())
                .await?;
            println!(
                "created {} ({}) {id}",
                email.trim().to_lowercase(),
                role.as_str()
            );
        }
        UserCommand::Invite { email, name, role } => {
            let invitee = Invitee::parse(&email, &name, &role)?;
            let sent = tessera.invite_user(By::Operator, &invitee).await?;
            println!(
                "invited {} ({}) {}; the invitation is in the outbox (the running server sends it) and works until {}",
                invitee.email,
                invitee.role.as_str(),
                sent.id,
                tessera_core::clock::format_utc(sent.expires_at)
            );
        }
        UserCommand::Import { file, dry_run } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!(
                    "{} is not UTF-8 text: save it from your spreadsheet as \"CSV UTF-8\"",
                    file.display()
                )
            })?;
            let preview = tessera.preview_import(By::Operator, &text).await?;
            for row in preview.rows.iter().filter(|r| r.problem.is_some()) {
                println!(
                    "line {}: {}: {}",
                    row.line,
                    if row.email.is_empty() {
                        "(no email)"
                    } else {
                        &row.email
                    },
                    row.problem.as_deref().unwrap_or_default()
                );
            }
            if preview.problems > 0 {
                anyhow::bail!(
                    "{} row(s) have problems (listed above); nobody was added",
                    preview.problems
                );
            }
            if dry_run {
                println!(
                    "{} people can be added; nothing was written (--dry-run)",
                    preview.valid
                );
            } else {
                let added = tessera
                    .import_users(By::Operator, &text, &preview.hash)
                    .await?;
                println!("{added} people added; their invitations are in the outbox (the running server sends them)");
            }
        }
        UserCommand::SetPassword { email } => {
            let password = read_password()?;
            tessera.operator_set_password(&email, &password).await?;
            println!(
                "password set for {email}; their sessions were ended and they were told by mail"
            );
        }
        UserCommand::ResetTwoFactor { email, reason } => {
            let outcome = tessera.operator_reset_two_factor(&email, &reason).await?;
            println!(
                "two-step authentication of {email} reset; every admin was told.\n\
                 Give them this one-time setup code (valid until {}): {}",
                tessera_core::clock::format_utc(outcome.expires_at),
                outcome.setup_code.display()
            );
        }
        UserCommand::List => {
            println!(
                "{:<36}  {:<32}  {:<6}  {:<8}  {:<3}  name",
                "id", "email", "role", "status", "2FA"
            );
            for u in tessera.list_users().await? {
                println!(
                    "{:<36}  {:<32}  {:<6}  {:<8}  {:<3}  {}",
                    u.id,
                    u.email,
                    u.role.as_str(),
                    if !u.active {
                        "disabled"
                    } else if u.password_hash.is_none() {
                        "pending"
                    } else {
                        "active"
                    },
                    if u.two_factor_enabled { "on" } else { "off" },
                    u.display_name
                );
            }
        }
    }
    tessera.db().close().await;
    Ok(())
}

async fn organisation(settings: &Settings, cmd: OrganisationCommand) -> anyhow::Result<()> {
    let config = settings.build(false)?;
    let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
    match cmd {
        OrganisationCommand::RequireTwoFactor { state } => {
            let required = state == "on";
            let changed = tessera.operator_require_two_factor(required).await?;
            println!(
                "two-step authentication is {} for everyone{}",
                if required { "required" } else { "not required" },
                if changed { "" } else { " (unchanged)" }
            );
        }
        OrganisationCommand::SessionLimits {
            idle_minutes,
            absolute_hours,
        } => {
            let (idle, absolute) = tessera
                .operator_set_session_limits(idle_minutes, absolute_hours)
                .await?;
            println!(
                "sessions end after {} minutes idle, and after {} hours at most",
                idle / 60,
                absolute / 3600
            );
        }
        OrganisationCommand::Policy {
            require,
            deadline,
            enrolment_days,
            methods,
            admins_passkey,
        } => {
            use tessera_core::service::{format_date, parse_date, By};
            let mut s = tessera.settings().await?;
            if let Some(on) = require {
                s.required = on == "on";
                if !s.required {
                    s.deadline = None;
                }
            }
            if let Some(date) = deadline {
                s.deadline = match date.as_str() {
                    "none" | "" => None,
                    date => Some(parse_date(date)?),
                };
            }
            s.enrolment_days = enrolment_days.unwrap_or(s.enrolment_days);
            if let Some(methods) = methods {
                s.allow_passkeys = methods.iter().any(|m| m == "passkeys");
                s.allow_app = methods.iter().any(|m| m == "app");
            }
            if let Some(on) = admins_passkey {
                s.admins_need_passkey = on == "on";
            }
            let before = tessera.preview_settings(&s).await?;
            let changes = tessera.update_settings(By::Operator, &s).await?;
            if changes.is_empty() {
                println!("nothing changed");
            } else {
                for line in changes {
                    println!("changed: {line}");
                }
                for line in before {
                    println!("  {line}");
                }
            }
            let p = tessera.settings().await?;
            println!(
                "require two-step authentication: {}\ndeadline: {}\nenrolment period for new people: {} days\nmethods: {}\nadmins must use a passkey: {}\nsessions: {} minutes idle, {} hours at most",
                if p.required { "on" } else { "off" },
                p.deadline.map(format_date).unwrap_or_else(|| "none".into()),
                p.enrolment_days,
                [(p.allow_passkeys, "passkeys"), (p.allow_app, "app")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, m)| *m)
                    .collect::<Vec<_>>()
                    .join(", "),
                if p.admins_need_passkey { "on" } else { "off" },
                p.idle_minutes,
                p.absolute_hours
            );
        }
    }
    tessera.db().close().await;
    Ok(())
}

async fn backup(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    let config = settings.build(false)?;
    let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
    let result = tessera.backup_to(to).await;
    tessera.db().close().await;
    result?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up to {} ({:.1} MB); keep the server key (secret.key or TESSERA_SECRET_KEY) with it",
        to.display(),
        size as f64 / 1e6
    );
    Ok(())
}

async fn restore(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let config = settings.build(false)?;
    let kept = tessera_core::service::replace_with_backup(&config.core.database_url, file).await?;
    let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
    let restored = tessera.after_restore(file).await;
    tessera.db().close().await;
    let restored = restored?;
    println!(
        "restored from {}; {} session(s) ended, so everyone signs in again; the database it replaced is kept as {}",
        file.display(),
        restored.sessions_ended,
        kept.display()
    );
    Ok(())
}

async fn audit(settings: &Settings, cmd: AuditCommand) -> anyhow::Result<()> {
    let config = settings.build(false)?;
    let tessera = Tessera::open(&config.core, Arc::new(SystemClock)).await?;
    let outcome = match cmd {
        AuditCommand::Head => {
            let (seq, head) = tessera.audit_head().await?;
            println!("record {seq}, head {head}");
            Ok(())
        }
        AuditCommand::Verify { expect } => {
            let v = tessera.verify_audit(expect.as_deref()).await?;
            let before = if v.unsealed_before > 0 {
                format!(" ({} earlier records predate the chain)", v.unsealed_before)
            } else {
                String::new()
            };
            match v.broken {
                None => {
                    println!(
                        "{} records, chain intact, head {}{before}",
                        v.records,
                        if v.head.is_empty() {
                            "(none yet)"
                        } else {
                            &v.head
                        }
                    );
                    Ok(())
                }
                Some(b) => {
                    match b.id {
                        Some(id) => println!(
                            "record {id} does not match: {} ({} records before it are intact)",
                            b.why, v.records
                        ),
                        None => println!("{} ({} records checked)", b.why, v.records),
                    }
                    Err(anyhow::anyhow!("the audit trail does not verify"))
                }
            }
        }
    };
    tessera.db().close().await;
    outcome
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
