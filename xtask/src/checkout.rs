//! Which checkout a command acts on, and making sure what it builds comes from there.
//!
//! Several checkouts may share one target folder (`.ci/run` uses `~/.cache/tessera-target`
//! so a second run skips the long compile). Cargo decides freshness from file times, and
//! its fingerprints of workspace crates do not include where the checkout lives, so a
//! build in checkout B can reuse binaries compiled from checkout A. Three defences:
//!
//! 1. The root is found at run time from the current directory (`cargo locate-project`),
//!    never from a path compiled into this binary.
//! 2. If this xtask binary itself was compiled in another checkout, it is rebuilt here and
//!    run again, so B's `cargo xtask` is B's code.
//! 3. The target folder remembers the checkout it last built; when that changes, this
//!    checkout's sources are marked as changed so cargo recompiles them, and after the
//!    build the server binary is asked where it was compiled ([`verify_binary`]): a
//!    binary from another tree stops the command with an explanation.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{bail, Context as _, Result};

/// Set when this binary re-ran itself after a rebuild, so it never loops.
const REBUILT: &str = "TESSERA_XTASK_REBUILT";

/// The workspace around the current directory.
pub fn root() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .context("could not run `cargo locate-project` to find the workspace")?;
    if !out.status.success() {
        bail!(
            "run this inside a Tessera checkout: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let root = manifest
        .parent()
        .context("cargo named a workspace manifest without a folder")?;
    Ok(canonical(root))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The checkout this xtask binary was compiled from.
fn compiled_in() -> PathBuf {
    canonical(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Reruns the command with an xtask compiled from `root` if this one came from elsewhere.
pub fn ensure_xtask_is_from(root: &Path, args: &[String]) -> Result<()> {
    let built = compiled_in();
    if built == root {
        return Ok(());
    }
    if std::env::var_os(REBUILT).is_some() {
        bail!(
            "this xtask binary was compiled in {} although it runs in {}, even after a rebuild; \
             remove the shared target folder's debug/xtask and try again",
            built.display(),
            root.display()
        );
    }
    println!(
        "xtask: the xtask binary in the target folder was built from {}; rebuilding it from {}",
        built.display(),
        root.display()
    );
    touch_sources(&root.join("xtask"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--quiet", "--package", "xtask", "--"])
        .args(args)
        .env(REBUILT, "1")
        .status()
        .context("could not rerun the rebuilt xtask")?;
    std::process::exit(status.code().unwrap_or(1));
}

/// The workspace crates whose compiled output ends up in what we run and ship.
const CRATES: [&str; 4] = ["core", "app", "server", "frontend"];

fn marker(target: &Path) -> PathBuf {
    target.join(".tessera-checkout")
}

/// Makes the target folder belong to this checkout: if it last built another one, this
/// checkout's sources are marked as changed so cargo recompiles them from here.
pub fn claim_target_dir(root: &Path) -> Result<()> {
    let target = crate::site::target_dir();
    let previous = std::fs::read_to_string(marker(&target)).ok();
    let here = root.display().to_string();
    if previous.as_deref().is_some_and(|p| p != here) {
        println!(
            "xtask: the target folder {} last built {}; recompiling this checkout's crates",
            target.display(),
            previous.unwrap_or_default()
        );
        for krate in CRATES {
            touch_sources(&root.join(krate))?;
        }
    }
    std::fs::create_dir_all(&target)?;
    std::fs::write(marker(&target), here)
        .with_context(|| format!("could not write {}", marker(&target).display()))
}

/// Sets the modification time of every Rust source and manifest under `dir` to now.
fn touch_sources(dir: &Path) -> Result<()> {
    let now = SystemTime::now();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(OsStr::to_str),
                Some("rs" | "toml")
            ) {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(now))
                    .with_context(|| format!("marking {} as changed", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Fails loudly unless the server binary was compiled from `root`.
pub fn verify_binary(binary: &Path, root: &Path) -> Result<()> {
    let out = Command::new(binary)
        .arg("build-info")
        .output()
        .with_context(|| format!("could not run {}", binary.display()))?;
    let reported = String::from_utf8_lossy(&out.stdout);
    let built_from = reported
        .lines()
        .find_map(|l| l.strip_prefix("source: "))
        .map(|p| canonical(Path::new(p.trim())));
    match built_from {
        Some(from) if from == root => Ok(()),
        Some(from) => bail!(
            "{} was compiled from {}, not from this checkout ({}): the build would test another \
             tree. Touch a file in server/src or remove the target folder, then build again",
            binary.display(),
            from.display(),
            root.display()
        ),
        None => bail!(
            "{} does not say which checkout it was compiled from (`build-info` printed {reported:?})",
            binary.display()
        ),
    }
}
