//! `stagegate backup`: a consistent copy of the live SQLite database while
//! the bot runs.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// What a backup wrote: its size, and the newest migration it carries (the
/// bot version that can open it).
#[derive(Debug)]
pub(crate) struct Backup {
    pub(crate) bytes: u64,
    pub(crate) migration: i64,
}

/// Copies `database` into the new file `to` with `VACUUM INTO`: one read
/// transaction, so the copy is the database at one moment even while the
/// bot writes (WAL lets them both go on), and it is compact. Opens no pool and
/// applies no migration: a newer binary backing up an older bot's database
/// must not upgrade it underneath that bot.
pub(crate) async fn backup(database: &Path, to: &Path) -> Result<Backup, String> {
    if !database.exists() {
        return Err(format!(
            "there is no database at {} (database.path)",
            database.display()
        ));
    }
    if to.exists() {
        return Err(format!(
            "{} already exists: choose a new file, a backup never overwrites one",
            to.display()
        ));
    }
    let target = to
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", to.display()))?;
    let mut connection =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", database.display()))
            .map_err(|e| format!("cannot open {}: {e}", database.display()))?
            .read_only(true)
            .busy_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("cannot open {}: {e}", database.display()))?;
    let migration: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| format!("{} is not a stagegate database: {e}", database.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut connection)
        .await
        .map_err(|e| format!("cannot write the backup to {}: {e}", to.display()))?;
    let bytes = std::fs::metadata(to)
        .map_err(|e| format!("the backup at {} is not readable: {e}", to.display()))?
        .len();
    Ok(Backup { bytes, migration })
}
