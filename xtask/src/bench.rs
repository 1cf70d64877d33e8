//! `cargo xtask bench`: the benchmarks, printing numbers (none of them asserts a speed).
//!
//! 1. Sign-in throughput against the running server beside the raw argon2 rate
//!    (`server/benches/signin.rs`).
//! 2. Second-factor verifications (authenticator app, passkey, backup code) per second and
//!    their latency at 1, 8 and 64 clients, beside a no-op authenticated request
//!    (`server/benches/second_factor.rs`).
//! 3. The release wasm, JS and CSS of the pages: raw, gzip and brotli sizes.

use std::io::Write as _;
use std::process::Command;

use anyhow::Result;

use crate::{sh, site, step};

pub fn all() -> Result<()> {
    step("Benchmark: sign-ins per second (release build, real server on 127.0.0.1)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "signin"]))?;
    step("Benchmark: second-factor verifications per second (release build, real server)");
    sh(Command::new("cargo").args(["bench", "-p", "server", "--bench", "second_factor"]))?;
    sizes()
}

fn sizes() -> Result<()> {
    let site = site::build(true)?;
    step("Benchmark: what a browser downloads for the sign-in page (release)");
    println!(
        "{:<22} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip -9", "brotli 11"
    );
    let mut totals = [0usize; 3];
    for name in ["tessera_bg.wasm", "tessera.js", "tessera.css"] {
        let bytes = std::fs::read(site.pkg().join(name))?;
        let sizes = [bytes.len(), gzip(&bytes)?, brotli(&bytes)?];
        for (t, s) in totals.iter_mut().zip(sizes) {
            *t += s;
        }
        println!(
            "{:<22} {:>10} {:>10} {:>10}",
            name,
            kb(sizes[0]),
            kb(sizes[1]),
            kb(sizes[2])
        );
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10}",
        "total",
        kb(totals[0]),
        kb(totals[1]),
        kb(totals[2])
    );
    Ok(())
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
