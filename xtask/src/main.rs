//! `cargo xtask`: the one entry point for building, running, testing and benchmarking.
//!
//! It does what cargo-leptos would (build the wasm crate, generate its JS glue with
//! wasm-bindgen, optimise it with wasm-opt, copy the stylesheet and static files), using
//! `wasm-bindgen-cli-support` as a library pinned to the same version as the
//! `wasm-bindgen` in Cargo.lock — so there is no separate CLI to install or to drift.
//! It installs what a fresh machine lacks, and says what it is doing while it does.
//!
//!   cargo xtask run [--dev]     build and run Tessera with demo data on localhost:3000
//!   cargo xtask test            every check: fmt, clippy, unit, integration (on SQLite,
//!                               then on a throwaway PostgreSQL), browser
//!   cargo xtask test-postgres   only the integration suite, on a throwaway PostgreSQL
//!   cargo xtask build [--release]
//!   cargo xtask bench [signin|second-factor|console|load|pages]
//!                               benchmarks that print numbers (all of them, or one)

mod bench;
mod checkout;
// The tests' throwaway cluster (xtask uses part of it: start and stop).
#[allow(dead_code)]
#[path = "../../server/tests/common/postgres.rs"]
mod postgres;
mod site;
mod tools;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};

const USAGE: &str = "usage: cargo xtask run [--dev] | test | test-postgres | e2e | build [--release] | bench [signin|second-factor|console|load|pages]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        // A sentence, not a backtrace: each error says what failed and what to do.
        Err(e) => {
            eprintln!("\nxtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let flag = |f: &str| args.iter().any(|a| a == f);
    // The checkout this command was run in, found now, never the one this binary was
    // compiled in: with a shared target folder those can differ.
    let root = checkout::root()?;
    std::env::set_current_dir(&root)?;
    checkout::ensure_xtask_is_from(&root, args)?;
    checkout::claim_target_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(!flag("--dev")),
        Some("build") => build(flag("--release")),
        Some("test") => test(),
        Some("test-postgres") => test_postgres(),
        Some("e2e") => e2e(&args[1..]),
        Some("bench") => bench::run(args.get(1).map(String::as_str)),
        _ => bail!("{USAGE}"),
    }
}

pub fn step(message: &str) {
    println!("\n==> {message}");
}

/// Runs a command, streaming its output; fails with the command line if it fails, and
/// with a sentence naming the program if it cannot be started at all.
pub fn sh(cmd: &mut Command) -> Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{program}` (is it installed and on PATH?)"))?;
    if !status.success() {
        bail!("command failed ({status}): {cmd:?}");
    }
    Ok(())
}

/// `cargo xtask build [--release]`: the site and the server binary, with the tools the
/// build needs installed first.
fn build(release: bool) -> Result<()> {
    let site = site::build(release)?;
    println!(
        "\nBuilt {} and the site in {}",
        site.server_binary().display(),
        site.root.display()
    );
    Ok(())
}

fn run(release: bool) -> Result<()> {
    let site = site::build(release)?;
    // The demo data's example app (end2end/demo-app, a small Node app on the openid-client
    // library) shows "Sign in with Tessera" from another app.
    tools::ensure_end2end_packages()?;
    let demo_app = Command::new("node")
        .arg("end2end/demo-app/app.mjs")
        .env("ISSUER", "http://localhost:3000")
        .env("CLIENT_ID", "demo-notes")
        .env("PORT", "3100")
        .spawn();
    step("Starting Tessera (SQLite in ./data, demo data on first run) — Ctrl-C stops it");
    println!("  The demo's example app, which signs in with Tessera: http://127.0.0.1:3100");
    let mut cmd = Command::new(site.server_binary());
    cmd.args(["serve", "--demo"])
        .env("LEPTOS_SITE_ROOT", &site.root);
    let result = sh(&mut cmd);
    // Stop only the app this command started.
    if let Ok(mut app) = demo_app {
        let _ = app.kill();
        let _ = app.wait();
    }
    result
}

fn test() -> Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_rust_components()?;
    step("Formatting (cargo fmt --check)");
    sh(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;

    step("Lints, server side (clippy -D warnings)");
    sh(Command::new("cargo").args([
        "clippy",
        "-p",
        "tessera-core",
        "-p",
        "app",
        "-p",
        "server",
        "-p",
        "xtask",
        "--features",
        "app/ssr",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("Lints, browser side (clippy for wasm32, -D warnings)");
    sh(Command::new("cargo").args([
        "clippy",
        "-p",
        "frontend",
        "-p",
        "app",
        "--features",
        "app/hydrate",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    tools::ensure_aiosmtpd()?;
    // The PostgreSQL and nginx tests start their own servers from these packages.
    tools::ensure_postgres()?;
    tools::ensure_nginx()?;
    step("Unit and integration tests (core, app, server)");
    sh(Command::new("cargo").args([
        "test",
        "-p",
        "tessera-core",
        "-p",
        "app",
        "-p",
        "server",
        "--features",
        "app/ssr",
    ]))?;
    test_postgres()?;

    e2e(&[])
}

/// The server's integration suite again, every test on its own database of a throwaway
/// PostgreSQL cluster that this command starts (and stops, pass or fail).
fn test_postgres() -> Result<()> {
    tools::ensure_postgres()?;
    step("Integration tests on PostgreSQL (a throwaway cluster in a temporary folder)");
    let cluster = postgres::Cluster::start().map_err(anyhow::Error::msg)?;
    println!("PostgreSQL on 127.0.0.1:{}", cluster.port);
    let result = sh(Command::new("cargo")
        // The same packages as the first pass, so cargo reuses its build (the features
        // of a workspace build depend on which packages are in it).
        .args(["test", "-p", "tessera-core", "-p", "app", "-p", "server"])
        .args(["--features", "app/ssr"])
        .env("TESSERA_TEST_POSTGRES", cluster.url("postgres")));
    drop(cluster);
    result
}

/// Builds the site once (debug, with the server's test clock), serves it on a fresh
/// database with demo data, and runs the Playwright suite in Debian's Chromium against it
/// (`specs`: only these files, e.g. `cargo xtask e2e tests/apps.spec.ts`).
fn e2e(specs: &[String]) -> Result<()> {
    let site = site::build_with(false, true)?;
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    playwright(&site, &specs, &[])
}

/// Serves `site` on a free port with a fresh demo database and runs Playwright against it
/// (`args` pick the spec files; `env` adds variables), then stops the server it started.
pub fn playwright(site: &site::Site, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    tools::ensure_chromium()?;
    tools::ensure_end2end_packages()?;
    // The gate's browser test puts Debian's nginx in front of a Tessera of its own.
    tools::ensure_nginx()?;
    let data = std::env::temp_dir().join(format!("tessera-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = tools::free_port()?;
    step(&format!("Browser tests against http://localhost:{port}"));
    let mut server = Command::new(site.server_binary())
        .args(["serve", "--demo"])
        .env("LEPTOS_SITE_ROOT", &site.root)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TESSERA_DATA_DIR", &data)
        .env("RUST_LOG", "warn")
        .spawn()?;
    let result = tools::wait_for_port(port).and_then(|_| {
        // The tests also run the operator's command line against the same database.
        let leptos_toml = std::env::current_dir()?.join("Leptos.toml");
        sh(Command::new("npx")
            .args(["playwright", "test"])
            .args(args)
            .current_dir("end2end")
            .env("TESSERA_URL", format!("http://localhost:{port}"))
            .env(
                "TESSERA_BIN",
                std::env::current_dir()?.join(site.server_binary()),
            )
            .env("TESSERA_DATA_DIR", &data)
            .env(
                "TESSERA_SITE_ROOT",
                std::env::current_dir()?.join(&site.root),
            )
            .env("TESSERA_LEPTOS_CONFIG", leptos_toml)
            .envs(env.iter().copied()))
    });
    // Stop only the server this run started.
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}
