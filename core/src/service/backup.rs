//! Backups for the operator: an online copy of the SQLite database while the server runs,
//! and bringing one back. A restore would revive what was revoked after the backup was
//! taken — sessions, spent backup codes, disabled accounts' access — so it ends every
//! session and records itself (the audit chain then continues from the backup's head:
//! a head mailed after the backup is no longer in it, which `tessera audit verify
//! --expect` reports, as it should). The server key is not in the copy: keep it with the
//! backups.

use std::path::{Path, PathBuf};

use super::Tessera;
use crate::audit::{self, AuditEvent, AuditKind};
use crate::db::Db;
use crate::{CoreError, CoreResult};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub sessions_ended: u64,
}

impl Tessera {
    /// An online, consistent copy of the database into `to` (which must not exist).
    pub async fn backup_to(&self, to: &Path) -> CoreResult<()> {
        self.db.backup_to(to).await
    }

    /// After the database file was replaced by a backup (see [`replace_with_backup`]):
    /// ends every session and records the restore, telling every admin.
    pub async fn after_restore(&self, from: &Path) -> CoreResult<Restored> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ended = sqlx::query("DELETE FROM sessions")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let what = format!(
            "The database was restored from the backup {} from the server's command line; all {ended} session(s) were ended, so everyone signs in again.",
            from.display()
        );
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::DatabaseRestored).detail(what.clone()),
            now,
        )
        .await?;
        super::admin::actions::tell_admins(
            &mut tx,
            uuid::Uuid::nil(),
            "Tessera's database was restored from a backup",
            &what,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Restored {
            sessions_ended: ended,
        })
    }
}

/// Replaces the SQLite database at `database_url` with the backup `from`, after checking
/// that it is a Tessera database. The server must be stopped: it would keep writing to the
/// file it has open. The old file is kept beside it (`….before-restore`).
pub async fn replace_with_backup(database_url: &str, from: &Path) -> CoreResult<PathBuf> {
    let target = Db::sqlite_file(database_url).ok_or_else(|| {
        CoreError::invalid(
            "database",
            "Restoring a backup works on the SQLite database; for PostgreSQL use pg_restore.",
        )
    })?;
    // A Tessera database: it opens, is intact, and has an organisation table.
    sqlx::any::install_default_drivers();
    {
        let url = format!("sqlite://{}?mode=ro", from.display());
        let pool = sqlx::AnyPool::connect(&url).await.map_err(|e| {
            CoreError::invalid("file", format!("{} cannot be opened: {e}", from.display()))
        })?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .map_err(|e| CoreError::invalid("file", format!("not a database: {e}")))?;
        let tessera: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM organisation")
            .fetch_one(&pool)
            .await;
        pool.close().await;
        if check != "ok" || tessera.is_err() {
            return Err(CoreError::invalid(
                "file",
                format!("{} is not an intact Tessera backup.", from.display()),
            ));
        }
    }
    let io = |e: std::io::Error| CoreError::Unavailable(e.to_string());
    let mut kept = target.clone().into_os_string();
    kept.push(".before-restore");
    let kept = PathBuf::from(kept);
    if target.exists() {
        std::fs::rename(&target, &kept).map_err(io)?;
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    let mut partial = target.clone().into_os_string();
    partial.push(".restoring");
    let partial = PathBuf::from(partial);
    std::fs::copy(from, &partial).map_err(io)?;
    std::fs::rename(&partial, &target).map_err(io)?;
    Ok(kept)
}
