//! A throwaway PostgreSQL cluster: `initdb` into a temporary folder, `pg_ctl` on a free
//! 127.0.0.1 port, stopped (and the folder removed) when dropped. Nothing else on the
//! machine is touched: no system service, no shared socket folder.
//!
//! Standard library only, because `cargo xtask` includes this file too (it starts one
//! cluster for the PostgreSQL pass of the test suite and for the load test).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// The superuser of every throwaway cluster (trust authentication on 127.0.0.1 only).
pub const SUPERUSER: &str = "tessera";

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    databases: AtomicU32,
}

impl Cluster {
    /// Starts a new cluster, or says why it cannot (PostgreSQL's programs not installed).
    pub fn start() -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on \
             PATH); `cargo xtask test` installs Debian's postgresql package",
        )?;
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tessera-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // initdb refuses to run as root; the package's `postgres` account runs it then.
        if is_root() {
            run(Command::new("chown").args(["postgres:postgres"]).arg(&dir))?;
        }
        let data = dir.join("data");
        run(as_owner(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=trust", "--no-locale", "-E", "UTF8"])
            .arg("--no-sync"))?;
        let cluster = Cluster {
            port: free_port(),
            dir,
            bin,
            databases: AtomicU32::new(0),
        };
        cluster.run_server()?;
        Ok(cluster)
    }

    fn run_server(&self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        run(as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]))
    }

    /// Stops the server fast (`-m fast`: connections are cut, as in a database outage);
    /// the data stays for [`Cluster::resume`].
    pub fn pause(&self) -> Result<(), String> {
        run(as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]))
    }

    /// Starts the server again on the same port and data.
    pub fn resume(&self) -> Result<(), String> {
        self.run_server()
    }

    /// A URL for the superuser on `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database; its URL.
    pub fn create_database(&self) -> Result<String, String> {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::SeqCst));
        create_database(&self.bin, &self.url("postgres"), &name)?;
        Ok(self.url(&name))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run(as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new empty database `name` on the server that `admin_url` reaches (any database on
/// it, as a user who may create databases).
pub fn create_database(bin: &Path, admin_url: &str, name: &str) -> Result<(), String> {
    run(Command::new(bin.join("psql"))
        .arg(admin_url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}")))
}

/// A new database on the cluster that `TESSERA_TEST_POSTGRES` names (what `cargo xtask
/// test` starts for the suite's PostgreSQL pass); `None` when it is not set.
#[allow(clippy::expect_used)] // test set-up: a failure here is a failed test
pub fn database_from_env() -> Option<String> {
    let admin = std::env::var("TESSERA_TEST_POSTGRES").ok()?;
    static MADE: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "p{}_{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::SeqCst)
    );
    let bin = bin_dir().expect("TESSERA_TEST_POSTGRES is set, but psql is not installed");
    create_database(&bin, &admin, &name).expect("creating a test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

/// Where PostgreSQL's server programs are: Debian keeps them off PATH, in
/// /usr/lib/postgresql/<version>/bin.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().or_else(|| {
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").exists()))
    })
}

fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn run(command: &mut Command) -> Result<(), String> {
    let started = Instant::now();
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed after {:?}: {}{}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}
