//! Installs what a fresh machine lacks, each only when missing, at pinned versions.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::{sh, step};

/// npm's binaryen: a current wasm-opt (Debian's is too old and breaks hydration).
const BINARYEN: &str = "binaryen@132.0.0";
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub fn ensure_wasm_target() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]));
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step("Installing the wasm32-unknown-unknown Rust target");
        sh(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

pub fn ensure_rust_components() -> Result<()> {
    for (component, probe) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
        if !succeeds(Command::new("cargo").args([probe, "--version"])) {
            step(&format!("Installing the {component} component"));
            sh(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

pub fn wasm_opt_path() -> PathBuf {
    Path::new("tools/node_modules/.bin/wasm-opt").to_path_buf()
}

pub fn ensure_wasm_opt() -> Result<()> {
    if wasm_opt_path().exists() {
        return Ok(());
    }
    step(&format!("Installing wasm-opt (npm {BINARYEN}) into tools/"));
    std::fs::create_dir_all("tools")?;
    sh(Command::new("npm").args([
        "install",
        "--prefix",
        "tools",
        "--no-audit",
        "--no-fund",
        "--no-save",
        BINARYEN,
    ]))
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).trim() == "0"
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let sudo = if is_root() { vec![] } else { vec!["sudo"] };
    let run = |args: &[&str]| -> Result<()> {
        let mut all: Vec<&str> = sudo.clone();
        all.extend_from_slice(args);
        sh(Command::new(all[0])
            .args(&all[1..])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    run(&install)
}

pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

pub fn ensure_chromium() -> Result<()> {
    if chromium_path().exists() {
        return Ok(());
    }
    step("Installing Debian's Chromium for the browser tests (apt-get install chromium)");
    apt_install(&["chromium", "fonts-dejavu-core"])
}

pub fn ensure_end2end_packages() -> Result<()> {
    let marker = Path::new("end2end/node_modules/.package-lock.json");
    let lock = Path::new("end2end/package-lock.json");
    let fresh = match (std::fs::metadata(marker), std::fs::metadata(lock)) {
        (Ok(m), Ok(l)) => m.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        step("Installing the browser-test packages (npm ci in end2end/)");
        sh(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir("end2end"))?;
    }
    Ok(())
}

/// The SMTP test talks to a real SMTP server: Python's aiosmtpd, started by the test.
/// Debian's PostgreSQL server programs, for the suite's PostgreSQL pass (the tests run
/// their own throwaway clusters; the package's system service is not used).
pub fn ensure_postgres() -> Result<()> {
    if crate::postgres::bin_dir().is_some() {
        return Ok(());
    }
    step("Installing Debian's PostgreSQL for the PostgreSQL tests (apt-get install postgresql)");
    apt_install(&["postgresql"])
}

/// Debian's nginx, for the test of two instances behind a reverse proxy (the test starts
/// its own nginx on a generated configuration; the package's service is not used).
pub fn ensure_nginx() -> Result<()> {
    if ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        return Ok(());
    }
    step("Installing Debian's nginx for the reverse-proxy test (apt-get install nginx)");
    apt_install(&["nginx", "openssl"])
}

pub fn ensure_aiosmtpd() -> Result<()> {
    if succeeds(Command::new("python3").args(["-c", "import aiosmtpd"])) {
        return Ok(());
    }
    step(&format!("Installing {AIOSMTPD} for the SMTP delivery test"));
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", AIOSMTPD]);
    if sh(&mut pip).is_err() {
        sh(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--break-system-packages",
            AIOSMTPD,
        ]))?;
    }
    Ok(())
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn wait_for_port(port: u16) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the server did not start listening on port {port} within 60 s")
}
