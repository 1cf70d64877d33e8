//! Builds the site folder the server serves: `pkg/tessera.js`, `pkg/tessera_bg.wasm`,
//! `pkg/tessera.css` and the files of `public/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{sh, step};

pub struct Site {
    pub root: PathBuf,
    pub pkg_dir: String,
    pub target: PathBuf,
    pub release: bool,
}

impl Site {
    pub fn server_binary(&self) -> PathBuf {
        self.target
            .join(if self.release { "release" } else { "debug" })
            .join("tessera")
    }

    pub fn pkg(&self) -> PathBuf {
        self.root.join(&self.pkg_dir)
    }
}

/// The workspace's `[[workspace.metadata.leptos]]` settings this build needs.
struct Metadata {
    output_name: String,
    site_root: String,
    pkg_dir: String,
    style_file: String,
    assets_dir: String,
    wasm_profile: String,
}

fn metadata() -> Result<Metadata> {
    let cargo: toml::Table = std::fs::read_to_string("Cargo.toml")?.parse()?;
    let leptos = cargo["workspace"]["metadata"]["leptos"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|t| t.as_table())
        .context("Cargo.toml has no [[workspace.metadata.leptos]]")?;
    let get = |k: &str| -> Result<String> {
        Ok(leptos
            .get(k)
            .and_then(|v| v.as_str())
            .with_context(|| format!("workspace.metadata.leptos.{k} is missing"))?
            .to_string())
    };
    Ok(Metadata {
        output_name: get("output-name")?,
        site_root: get("site-root")?,
        pkg_dir: get("site-pkg-dir")?,
        style_file: get("style-file")?,
        assets_dir: get("assets-dir")?,
        wasm_profile: get("lib-profile-release")?,
    })
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Builds the site and the server binary, installing the tools the build needs first.
pub fn build(release: bool) -> Result<Site> {
    build_with(release, false)
}

/// [`build`], with the server's test hooks (the movable clock) when `test_hooks`: the
/// browser tests' build, debug only.
pub fn build_with(release: bool, test_hooks: bool) -> Result<Site> {
    crate::tools::ensure_wasm_target()?;
    if release {
        crate::tools::ensure_wasm_opt()?;
    }
    let meta = metadata()?;
    let target = target_dir();
    // site-root is written relative to the default target folder; follow CARGO_TARGET_DIR.
    let root = match meta.site_root.strip_prefix("target/") {
        Some(rest) => target.join(rest),
        None => PathBuf::from(&meta.site_root),
    };
    let site = Site {
        root,
        pkg_dir: meta.pkg_dir.clone(),
        target: target.clone(),
        release,
    };
    let kind = if release { "release" } else { "debug" };

    step(&format!("Building the browser code (wasm, {kind})"));
    let mut cargo = Command::new("cargo");
    cargo.args([
        "build",
        "-p",
        "frontend",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    if release {
        cargo.args(["--profile", &meta.wasm_profile]);
    }
    sh(&mut cargo)?;
    let profile_dir = if release {
        meta.wasm_profile.as_str()
    } else {
        "debug"
    };
    let wasm = target
        .join("wasm32-unknown-unknown")
        .join(profile_dir)
        .join("frontend.wasm");

    let pkg = site.pkg();
    // A fresh folder: chunks of an earlier build must not linger and be served.
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg)?;

    step("Splitting the lazily loaded parts into their own files (wasm-split)");
    let main_wasm = wasm.with_file_name("frontend_split.wasm");
    let chunks = split(&wasm, &main_wasm, &pkg, &meta.output_name)?;

    step("Generating the JS glue (wasm-bindgen)");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&main_wasm)
        .web(true)?
        .out_name(&meta.output_name)
        .debug(!release)
        .keep_debug(false)
        // The split chunks link against the main module's exports by their lld names.
        .keep_lld_exports(true)
        .demangle(false)
        .generate(&pkg)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen: {e}"))?;

    if release {
        step("Optimising the wasm for size (wasm-opt -Oz)");
        let main = pkg.join(format!("{}_bg.wasm", meta.output_name));
        for file in std::iter::once(&main).chain(&chunks) {
            optimise(file)?;
        }
    }

    step("Copying the stylesheet and static files");
    std::fs::copy(
        &meta.style_file,
        pkg.join(format!("{}.css", meta.output_name)),
    )
    .with_context(|| format!("copying {}", meta.style_file))?;
    copy_dir(Path::new(&meta.assets_dir), &site.root)?;

    step(&format!("Building the server ({kind})"));
    let mut cargo = Command::new("cargo");
    cargo.args(["build", "-p", "server", "--bin", "tessera"]);
    if release {
        cargo.arg("--release");
    }
    if test_hooks {
        cargo.args(["--features", "server/test-clock"]);
    }
    sh(&mut cargo)?;
    crate::checkout::verify_binary(&site.server_binary(), &std::env::current_dir()?)?;
    Ok(site)
}

/// Splits the `#[lazy]` parts (lazy islands) out of `input` with `wasm_split_cli_support`:
/// the main module goes to `main_out` for wasm-bindgen, each chunk and the loader that
/// fetches them into `pkg`, with the manifest Leptos reads (`__wasm_split_manifest.json`).
/// Returns the chunk files.
fn split(input: &Path, main_out: &Path, pkg: &Path, output_name: &str) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let main_module = format!("./{output_name}.js");
    let mut options = wasm_split_cli_support::Options::new(&bytes);
    options.output_dir = pkg;
    options.main_out_path = main_out;
    options.main_module = &main_module;
    // The name Leptos's hydration expects when file names are not hashed.
    options.link_name = "./__wasm_split.______________________.js";
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| anyhow::anyhow!("wasm-split: {e:#}"))?;
    std::fs::write(
        pkg.join("__wasm_split_manifest.json"),
        serde_json::to_string_pretty(&split.prefetch_map)?,
    )?;
    Ok(split.split_modules)
}

fn optimise(file: &Path) -> Result<()> {
    sh(Command::new(crate::tools::wasm_opt_path())
        .arg("-Oz")
        .arg("--enable-bulk-memory")
        .arg("--enable-nontrapping-float-to-int")
        .arg("--enable-reference-types")
        .arg("--enable-sign-ext")
        .arg("--enable-mutable-globals")
        .arg(file)
        .arg("-o")
        .arg(file))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
