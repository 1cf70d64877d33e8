//! `cargo xtask bench [signin|second-factor|console|pages]`: the benchmarks, printing numbers
//! (none of them asserts a speed).
//!
//! 1. `signin`: sign-in throughput against the running server beside the raw argon2 rate
//!    (`server/benches/signin.rs`).
//! 2. `second-factor`: second-factor verifications (authenticator app, passkey, backup
//!    code) per second and their latency at 1, 8 and 64 clients, beside a no-op
//!    authenticated request (`server/benches/second_factor.rs`).
//! 3. `console`: the users list, its counts, the CSV export and a reminder at 1,000, 10,000
//!    and 100,000 people (`server/benches/console.rs`).
//! 4. `load`: full sign-ins (password + app code) from 200 clients for 60 s, against one
//!    instance on SQLite and two on PostgreSQL behind nginx (`server/benches/load.rs`).
//! 5. `pages`: what a browser downloads on a first visit to each page of the release build,
//!    as Chromium records it (`end2end/tests/page-loads.spec.ts`): raw, gzip and brotli.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::{sh, site, step};

pub fn run(which: Option<&str>) -> Result<()> {
    match which {
        None => {
            signin()?;
            second_factor()?;
            console()?;
            load()?;
            pages()
        }
        Some("signin") => signin(),
        Some("second-factor") => second_factor(),
        Some("console") => console(),
        Some("load") => load(),
        Some("pages") => pages(),
        Some(other) => {
            bail!("no benchmark called {other}: signin, second-factor, console, load or pages")
        }
    }
}

fn signin() -> Result<()> {
    step("Benchmark: sign-ins per second (release build, real server on 127.0.0.1)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "signin"]))
}

fn second_factor() -> Result<()> {
    step("Benchmark: second-factor verifications per second (release build, real server)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "second_factor"]))
}

fn console() -> Result<()> {
    step("Benchmark: the admin console at 1,000, 10,000 and 100,000 people (release build, real server)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "console"]))
}

fn load() -> Result<()> {
    crate::tools::ensure_postgres()?;
    crate::tools::ensure_nginx()?;
    step("Load: 200 clients × 60 s of full sign-ins, SQLite and PostgreSQL behind nginx (release build)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "load"]))
}

/// The pages the README's table shows, in its order, with the names the spec records.
const PAGES: [&str; 6] = [
    "sign-in",
    "second step",
    "setup wizard",
    "home",
    "profile",
    "change password",
];

fn pages() -> Result<()> {
    let site = site::build(true)?;
    let record =
        std::env::temp_dir().join(format!("tessera-page-loads-{}.json", std::process::id()));
    let record_text = record.display().to_string();
    crate::playwright(
        &site,
        &["tests/page-loads.spec.ts"],
        &[("TESSERA_PAGE_LOADS", &record_text)],
    )?;
    let loads: BTreeMap<String, Vec<String>> = serde_json::from_str(
        &std::fs::read_to_string(&record).context("the page-loads spec wrote no record")?,
    )?;
    let _ = std::fs::remove_file(&record);

    step("Benchmark: what a browser downloads on a first visit (release, as Chromium fetched it)");
    println!(
        "{:<18} {:>6} {:>10} {:>10} {:>10}",
        "page", "files", "raw", "gzip -9", "brotli 11"
    );
    let mut sizes_of = BTreeMap::new();
    for page in PAGES {
        let files = loads
            .get(page)
            .with_context(|| format!("the record has no page \"{page}\""))?;
        let mut total = [0usize; 3];
        for file in files {
            let sizes = match sizes_of.get(file) {
                Some(sizes) => *sizes,
                None => {
                    let sizes = measure(&site.root, file)?;
                    sizes_of.insert(file.clone(), sizes);
                    sizes
                }
            };
            for (t, s) in total.iter_mut().zip(sizes) {
                *t += s;
            }
        }
        println!(
            "{:<18} {:>6} {:>10} {:>10} {:>10}",
            page,
            files.len(),
            kb(total[0]),
            kb(total[1]),
            kb(total[2])
        );
    }
    println!("\nEach file:");
    for (file, sizes) in &sizes_of {
        println!(
            "{:<40} {:>10} {:>10} {:>10}",
            file,
            kb(sizes[0]),
            kb(sizes[1]),
            kb(sizes[2])
        );
    }
    Ok(())
}

/// Raw, gzip -9 and brotli 11 sizes of a file the site serves at `url_path`.
fn measure(site_root: &Path, url_path: &str) -> Result<[usize; 3]> {
    let path = site_root.join(url_path.trim_start_matches('/'));
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok([bytes.len(), gzip(&bytes)?, brotli(&bytes)?])
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1000.0)
}

fn gzip(data: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?.len())
}

fn brotli(data: &[u8]) -> Result<usize> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data)?;
    }
    Ok(out.len())
}
