//! `cargo xtask`: the one entry point for building, running, testing and benchmarking.
//!
//! It does what cargo-leptos would (build the wasm crate, generate its JS glue with
//! wasm-bindgen, optimise it with wasm-opt, copy the stylesheet and static files), using
//! `wasm-bindgen-cli-support` as a library pinned to the same version as the
//! `wasm-bindgen` in Cargo.lock — so there is no separate CLI to install or to drift.
//! It installs what a fresh machine lacks, and says what it is doing while it does.
//!
//!   cargo xtask run [--dev]     build and run Tessera with demo data on localhost:3000
//!   cargo xtask test            every check: fmt, clippy, unit, integration, browser
//!   cargo xtask build [--release]
//!   cargo xtask bench           benchmarks that print numbers

mod bench;
mod site;
mod tools;

use std::process::Command;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    std::env::set_current_dir(workspace_root())?;
    match args.first().map(String::as_str) {
        Some("run") => run(!flag("--dev")),
        Some("build") => site::build(flag("--release")).map(|_| ()),
        Some("test") => test(),
        Some("e2e") => e2e(),
        Some("bench") => bench::all(),
        _ => {
            eprintln!("usage: cargo xtask run [--dev] | test | e2e | build [--release] | bench");
            bail!("unknown command")
        }
    }
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub fn step(message: &str) {
    println!("\n==> {message}");
}

/// Runs a command, streaming its output; fails with the command line if it fails.
pub fn sh(cmd: &mut Command) -> Result<()> {
    let status = cmd.status()?;
    if !status.success() {
        bail!("command failed ({status}): {cmd:?}");
    }
    Ok(())
}

fn run(release: bool) -> Result<()> {
    tools::ensure_wasm_target()?;
    if release {
        tools::ensure_wasm_opt()?;
    }
    let site = site::build(release)?;
    step("Starting Tessera (SQLite in ./data, demo data on first run) — Ctrl-C stops it");
    let mut cmd = Command::new(site.server_binary());
    cmd.args(["serve", "--demo"])
        .env("LEPTOS_SITE_ROOT", &site.root);
    sh(&mut cmd)
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

    e2e()
}

/// Builds the site once (debug), serves it on a fresh database with demo data, and runs
/// the Playwright suite in Debian's Chromium against it.
fn e2e() -> Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_chromium()?;
    tools::ensure_end2end_packages()?;
    let site = site::build(false)?;
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
            .current_dir("end2end")
            .env("TESSERA_URL", format!("http://localhost:{port}"))
            .env(
                "TESSERA_BIN",
                std::env::current_dir()?.join(site.server_binary()),
            )
            .env("TESSERA_DATA_DIR", &data)
            .env("TESSERA_LEPTOS_CONFIG", leptos_toml))
    });
    // Stop only the server this run started.
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}
