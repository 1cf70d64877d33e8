//! The connection pool and the few rules every store module follows.
//!
//! Storage goes through sqlx's `Any` driver with portable SQL (`$1` placeholders, integer
//! Unix times, text UUIDs), so PostgreSQL is a second migrations folder and a connection
//! string, not a second copy of every query. SQLite gets WAL, a busy timeout and
//! `BEGIN IMMEDIATE` write transactions so concurrent writers queue instead of failing —
//! and they queue here, in the process, on a one-permit semaphore: SQLite takes one writer
//! at a time anyway, and its own busy handler waits by sleeping (up to 100 ms a try), which
//! showed as 130 ms p99 second steps at 8 clients in the benchmark.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::audit::chain::ChainKey;
use crate::CoreResult;

/// How long a write waits for its turn in the process's queue.
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    fn migrations(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Locks on a decision rather than a row (see [`Tx::take`]); the values are PostgreSQL
/// advisory-lock keys, chosen not to meet sqlx's migration lock.
#[derive(Debug, Clone, Copy)]
#[repr(i64)]
pub enum SharedLock {
    /// The outbox's sending rate, counted across every instance.
    MailRate = 0x7465_7373_0001,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Whose turn it is to write (SQLite; PostgreSQL writers only wait for the rows they
    /// lock).
    writer: Option<Arc<Semaphore>>,
    /// What every write transaction seals audit records with.
    audit_key: Option<Arc<ChainKey>>,
}

/// A write transaction: used as a connection, ended by [`Tx::commit`] (dropping it rolls
/// back). On SQLite it holds the process's write turn until then.
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    _turn: Option<OwnedSemaphorePermit>,
    audit_key: Option<Arc<ChainKey>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    /// Makes this transaction the only one holding `lock` until it ends: for decisions
    /// that rest on many rows rather than one (e.g. "how much mail went out in the last
    /// minute?"). SQLite's writers take turns anyway; PostgreSQL takes a
    /// transaction-scoped advisory lock.
    pub async fn take(&mut self, lock: SharedLock) -> CoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock as i64)
                .execute(&mut *self.inner)
                .await?;
        }
        Ok(())
    }

    /// The key audit records written in this transaction are sealed with.
    pub fn audit_key(&self) -> Option<Arc<ChainKey>> {
        self.audit_key.clone()
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl Db {
    /// Connects, and for SQLite creates the file (and its folder) if missing. Runs the
    /// migrations of the backend (on PostgreSQL under an advisory lock, so instances that
    /// start together migrate once).
    pub async fn connect(url: &str) -> CoreResult<Db> {
        Self::connect_with(url, None).await
    }

    /// [`Db::connect`] with at most `pool` connections (`None`: 8 for SQLite, 16 for
    /// PostgreSQL). With several instances on one PostgreSQL server, their pools together
    /// must stay under its `max_connections`.
    pub async fn connect_with(url: &str, pool: Option<u32>) -> CoreResult<Db> {
        sqlx::any::install_default_drivers();
        let Some(backend) = Backend::of(url) else {
            return Err(crate::CoreError::Internal(
                "unsupported database URL (expected sqlite:… or postgres://…)".into(),
            ));
        };
        if let Some(path) = sqlite_path(url) {
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| crate::CoreError::Unavailable(e.to_string()))?;
                }
            }
        }
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(pool.unwrap_or(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            }))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                        }
                        // Bounded like SQLite's busy timeout: a row lock held too long (a
                        // stuck session elsewhere) answers "unavailable" (503) instead of
                        // holding the request; a transaction left open is ended.
                        Backend::Postgres => {
                            conn.execute(
                                "SET lock_timeout = '10s'; \
                                 SET idle_in_transaction_session_timeout = '60s'",
                            )
                            .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = Db {
            pool,
            backend,
            writer: (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1))),
            audit_key: None,
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> CoreResult<()> {
        // sqlx's migrator holds `pg_advisory_lock` on PostgreSQL while it runs.
        self.backend
            .migrations()
            .run(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => crate::CoreError::from(e),
                other => crate::CoreError::Internal(format!("migration failed: {other}")),
            })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Gives the key audit records are sealed with (derived from the server key); a write
    /// that records an event without it fails.
    pub fn with_audit_key(mut self, key: ChainKey) -> Db {
        self.audit_key = Some(Arc::new(key));
        self
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction. On SQLite it waits for the process's write turn, then takes
    /// the database's write lock up front (so two writers never deadlock upgrading a read
    /// lock; the busy timeout covers writers in other processes, like the CLI). On
    /// PostgreSQL it is READ COMMITTED: every check-then-act decision is one conditional
    /// statement, or is read after taking the lock of the row it depends on (each statement
    /// then sees what committed before the lock was granted).
    pub async fn write(&self) -> CoreResult<Tx> {
        let turn = match &self.writer {
            // Bounded like SQLite's own busy timeout: if the database cannot take writes
            // (another process holds its lock), the queue answers "unavailable" instead of
            // making the n-th writer wait n busy timeouts.
            Some(writer) => Some(
                tokio::time::timeout(WRITE_QUEUE_TIMEOUT, writer.clone().acquire_owned())
                    .await
                    .map_err(|_| {
                        crate::CoreError::Unavailable("the write queue did not move".into())
                    })?
                    .map_err(|_| crate::CoreError::Unavailable("the database is closing".into()))?,
            ),
            None => None,
        };
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            // Named, not left to the server's default_transaction_isolation: the row
            // locks above rely on each statement seeing what committed before it.
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
                    .await?
            }
        };
        Ok(Tx {
            inner,
            backend: self.backend,
            _turn: turn,
            audit_key: self.audit_key.clone(),
        })
    }

    /// An online, consistent copy of the database into `to` (SQLite's `VACUUM INTO`: one
    /// read transaction, so writers carry on meanwhile). Refuses a file that exists.
    pub async fn backup_to(&self, to: &std::path::Path) -> CoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(crate::CoreError::invalid(
                "to",
                "tessera backup copies a SQLite database; for PostgreSQL use pg_dump \
                 (see the README).",
            ));
        }
        if to.exists() {
            return Err(crate::CoreError::invalid(
                "to",
                format!("{} exists already; choose a new file name.", to.display()),
            ));
        }
        let Some(path) = to.to_str() else {
            return Err(crate::CoreError::invalid(
                "to",
                "The file name must be UTF-8.",
            ));
        };
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The SQLite file behind this database, if it is one.
    pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
        sqlite_path(url).map(std::path::PathBuf::from)
    }

    /// Whether the database answers and holds every migration this build knows: what
    /// `/readyz` reports. One small query.
    pub async fn ready(&self) -> bool {
        let newest = self.backend.migrations().iter().map(|m| m.version).max();
        let applied: Result<Option<i64>, _> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await;
        matches!((applied, newest), (Ok(Some(a)), Some(n)) if a >= n)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Whether a statement changed exactly one row: the check behind every compare-and-set.
pub fn changed_one(result: &AnyQueryResult) -> bool {
    result.rows_affected() == 1
}

/// A statement that must change exactly one row: otherwise the row is not there.
pub fn one_row(result: AnyQueryResult) -> CoreResult<()> {
    if changed_one(&result) {
        Ok(())
    } else {
        Err(crate::CoreError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_paths() {
        assert_eq!(
            super::sqlite_path("sqlite://data/t.db?mode=rwc").as_deref(),
            Some("data/t.db")
        );
        assert_eq!(super::sqlite_path("sqlite:t.db").as_deref(), Some("t.db"));
        assert_eq!(super::sqlite_path("sqlite::memory:"), None);
    }

    /// Migration 0005 rebuilds `users` (SQLite cannot change a CHECK in place). On a
    /// database that already has people, sessions, passkeys and codes, every row survives,
    /// still joined to its user, and the new roles are accepted.
    #[tokio::test]
    async fn the_console_migration_keeps_every_user_and_what_refers_to_them() {
        use sqlx::Row as _;
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let before = dir.path().join("migrations");
        std::fs::create_dir(&before).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0005" {
                std::fs::copy(&path, before.join(name)).unwrap();
            }
        }
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        for sql in [
            "INSERT INTO users (id, email, display_name, role, created_at) VALUES ('u1', 'ann@c.org', 'Ann Lee', 'admin', 1)",
            "INSERT INTO users (id, email, display_name, role, created_at) VALUES ('u2', 'bo@c.org', 'Bo', 'staff', 2)",
            "INSERT INTO sessions (id_hash, user_id, state, created_at, last_seen_at, client_addr, user_agent) VALUES ('h', 'u1', 'full', 1, 1, '', '')",
            "INSERT INTO backup_codes (user_id, lookup, code_hash, created_at) VALUES ('u2', 'l', 'h', 1)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let db = super::Db::connect(&url).await.unwrap();
        let pool = db.pool();
        let rows = sqlx::query("SELECT id, email, name_key, role FROM users ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
        let users: Vec<(String, String, String, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        assert_eq!(
            users,
            [
                (
                    "u1".into(),
                    "ann@c.org".into(),
                    "ann lee".into(),
                    "admin".into()
                ),
                ("u2".into(), "bo@c.org".into(), "bo".into(), "staff".into()),
            ]
        );
        let joined: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM sessions JOIN users ON users.id = sessions.user_id) \
                  + (SELECT COUNT(*) FROM backup_codes JOIN users ON users.id = backup_codes.user_id)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(joined, 2, "sessions and codes still belong to their users");
        sqlx::query("UPDATE users SET role = 'auditor' WHERE id = 'u2'")
            .execute(pool)
            .await
            .unwrap();
        // Foreign keys are on again: deleting a user still takes their rows with it.
        sqlx::query("DELETE FROM users WHERE id = 'u1'")
            .execute(pool)
            .await
            .unwrap();
        let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(sessions, 0);
        db.close().await;
    }
}
