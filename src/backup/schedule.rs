//! Scheduled backups by the server: every `MINITWIT_BACKUP_EVERY`, a backup
//! into `MINITWIT_BACKUP_DIR`, keeping the newest `MINITWIT_BACKUP_KEEP`.
//!
//! Each backup is written under a temporary name, synced and renamed (see
//! `files`); a failed one is logged and the next tick tries again; nothing
//! here can stop the server. Instances that share a store (Redis) take a
//! lease per period, named after it, so one instance writes each backup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use minitwit_core::MiniTwit;
use minitwit_core::backup::BackupSummary;

use super::files::AtomicFile;
use super::stream::write_backup;

/// The start of every scheduled backup's file name.
const FILE_PREFIX: &str = "minitwit-backup-";
/// The end of every scheduled backup's file name.
const FILE_SUFFIX: &str = ".gz";

/// How scheduled backups are set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Time between backups.
    pub every: Duration,
    /// Where they go.
    pub dir: PathBuf,
    /// How many to keep (the oldest beyond are removed).
    pub keep: usize,
}

/// What the scheduled backups have done, for metrics and logs.
#[derive(Debug, Default)]
pub struct BackupStatus {
    /// When the last backup succeeded, in seconds since the Unix epoch (0:
    /// never).
    pub last_success: AtomicI64,
    /// Backups written.
    pub successes: AtomicU64,
    /// Backups that failed.
    pub failures: AtomicU64,
}

/// Starts the schedule on the current runtime; it runs until the process
/// ends.
pub fn start(service: MiniTwit, schedule: Schedule, status: Arc<BackupStatus>) {
    tracing::info!(
        every = %humantime::format_duration(schedule.every),
        dir = %schedule.dir.display(),
        keep = schedule.keep,
        "scheduled backups"
    );
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(schedule.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            run_once(&service, &schedule, &status).await;
        }
    });
}

/// One tick: take this period's lease, write a backup, prune old ones.
async fn run_once(service: &MiniTwit, schedule: &Schedule, status: &BackupStatus) {
    let now = SystemTime::now();
    let period = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / schedule.every.as_secs().max(1));
    match service
        .acquire_lease(&format!("scheduled-backup-{period}"), schedule.every * 2)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(period, "another instance writes this period's backup");
            return;
        }
        Err(err) => {
            status.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, "scheduled backup skipped: the store does not answer");
            return;
        }
    }
    let started = Instant::now();
    let path = schedule.dir.join(file_name(now));
    match write_file(service, &path).await {
        Ok(summary) => {
            status.successes.fetch_add(1, Ordering::Relaxed);
            let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
            status.last_success.store(seconds, Ordering::Relaxed);
            tracing::info!(
                file = %path.display(),
                users = summary.users,
                follows = summary.follows,
                messages = summary.messages,
                bytes = summary.bytes,
                elapsed = ?started.elapsed(),
                "scheduled backup written"
            );
            if let Err(err) = prune(&schedule.dir, schedule.keep) {
                tracing::warn!(error = %format!("{err:#}"), "cannot remove old backups");
            }
        }
        Err(err) => {
            status.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                file = %path.display(),
                error = %format!("{err:#}"),
                "scheduled backup failed; the next one is tried at the next tick"
            );
        }
    }
}

async fn write_file(service: &MiniTwit, path: &Path) -> anyhow::Result<BackupSummary> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let file =
        AtomicFile::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let (file, summary) =
        write_backup(service.export(), file, indicatif::ProgressBar::hidden()).await?;
    file.commit()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(summary)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the backup directory {}", dir.display()))
}

/// `minitwit-backup-20261202T043856Z.gz`: sorts by time.
fn file_name(at: SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{FILE_PREFIX}{stamp}{FILE_SUFFIX}")
}

/// Removes the oldest scheduled backups beyond `keep` (other files in the
/// directory are left alone).
fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(FILE_PREFIX) && name.ends_with(FILE_SUFFIX))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        std::fs::remove_file(old).with_context(|| format!("cannot remove {}", old.display()))?;
        tracing::info!(file = %old.display(), "removed an old backup");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn names_sort_by_time() {
        let early = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let late = early + Duration::from_secs(3_600);
        assert_eq!(file_name(early), "minitwit-backup-20231114T221320Z.gz");
        assert!(file_name(early) < file_name(late));
    }

    #[test]
    fn pruning_keeps_the_newest_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        for hour in 0..5 {
            let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + hour * 3_600);
            std::fs::write(dir.path().join(file_name(at)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        prune(dir.path(), 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "minitwit-backup-20231115T011320Z.gz",
                "minitwit-backup-20231115T021320Z.gz",
                "notes.txt"
            ]
        );
    }
}
