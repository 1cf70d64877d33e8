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

    step("Generating the JS glue (wasm-bindgen)");
    let pkg = site.pkg();
    std::fs::create_dir_all(&pkg)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .out_name(&meta.output_name)
        .debug(!release)
        .keep_debug(false)
        .generate(&pkg)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen: {e}"))?;

    let wasm_out = pkg.join(format!("{}_bg.wasm", meta.output_name));
    if release {
        step("Optimising the wasm for size (wasm-opt -Oz)");
        let wasm_opt = crate::tools::wasm_opt_path();
        sh(Command::new(&wasm_opt)
            .arg("-Oz")
            .arg("--enable-bulk-memory")
            .arg("--enable-nontrapping-float-to-int")
            .arg("--enable-reference-types")
            .arg("--enable-sign-ext")
            .arg("--enable-mutable-globals")
            .arg(&wasm_out)
            .arg("-o")
            .arg(&wasm_out))?;
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
    sh(&mut cargo)?;
    crate::checkout::verify_binary(&site.server_binary(), &std::env::current_dir()?)?;
    Ok(site)
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
