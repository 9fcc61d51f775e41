//! Group commit: a write is acknowledged only once it is on disk, and
//! concurrent writers share one `fsync`.
//!
//! Flushing sled after every write costs a disk sync per write; never
//! flushing loses acknowledged writes when the process is killed. So every
//! write announces itself before it touches sled ([`GroupCommit::begin`]),
//! and once applied takes a number from a sequence
//! ([`Pending::written`]) and waits until the flusher reports that number
//! durable. One flusher thread loops: it reads how far the sequence has come,
//! runs **one** `flush` (which covers every write applied before it started),
//! and publishes that position on a [`watch`] channel, waking every writer it
//! covered at once. While one flush runs, the next writers queue up and are
//! covered by the next flush together, so the number of syncs adapts to the
//! load: one per write when idle, one per batch when busy.
//!
//! The flusher is an OS thread rather than a task so that it works whether or
//! not the store is opened inside an async runtime, and keeps working when
//! the runtime that opened the store shuts down while the store lives on.
//! Writers wait on the channel asynchronously and never block the executor.
//!
//! A call that changed nothing (a follow already there) must not answer
//! before the state it observed is durable: that state may come from a
//! write applied a moment ago and not yet numbered. So the writes in
//! progress are counted: when none is, everything applied has a number and
//! [`GroupCommit::barrier`] waits for the numbers taken so far; when one
//! is, the barrier takes a number of its own, which asks for a flush that
//! starts after it, and so covers everything the caller could have seen.
//!
//! A failed flush is reported to every writer it was meant to cover, as
//! [`StoreError::Backend`], and makes the store unhealthy until a flush
//! succeeds again. Dropping the [`GroupCommit`] makes the thread flush
//! whatever is left and stop, and waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

use minitwit_core::StoreError;
use tokio::sync::watch;

/// How far the flusher has come.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every write numbered up to this one is durable.
    durable: u64,
    /// Flushes that succeeded.
    flushes: u64,
    /// The writes numbered up to this one (and above `durable`) were covered
    /// by a flush that failed, with this error.
    failed: Option<(u64, sled::Error)>,
}

/// State shared by the writers and the flusher thread.
#[derive(Debug)]
struct Shared {
    /// Number of the last write applied.
    written: AtomicU64,
    /// Writes begun and not yet numbered.
    in_flight: AtomicU64,
    /// Set when the store is dropped.
    shutdown: AtomicBool,
    /// What the flusher has made durable so far.
    progress: watch::Sender<Progress>,
}

/// The group committer of one sled database (see the module docs).
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher thread of `db`, for tests (the store's flush
    /// saves `latest` first).
    #[cfg(test)]
    fn start(db: sled::Db) -> std::io::Result<Self> {
        Self::with_flush(move || db.flush().map(drop))
    }

    /// Starts a flusher thread that makes writes durable by calling `flush`.
    pub(crate) fn with_flush(
        flush: impl FnMut() -> sled::Result<()> + Send + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            written: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            progress: watch::Sender::new(Progress::default()),
        });
        let flusher = thread::Builder::new()
            .name("minitwit-sled-flush".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run_flusher(flush, &shared)
            })?;
        Ok(Self {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Announces a write: call it before the write touches sled, and end
    /// the [`Pending`] with [`Pending::written`] or
    /// [`Pending::unchanged`] once it has.
    pub(crate) fn begin(&self) -> Pending<'_> {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        Pending { commit: self }
    }

    /// Waits until everything applied so far, by anyone, is durable: for a
    /// call that changed nothing but must not acknowledge a state that a
    /// concurrent, not yet durable write produced (see the module docs).
    pub(crate) async fn barrier(&self) -> Result<(), StoreError> {
        let number = if self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            self.shared.written.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            self.shared.written.load(Ordering::SeqCst)
        };
        if self.shared.progress.borrow().durable >= number {
            return Ok(());
        }
        self.wake_flusher();
        self.wait_durable(number).await
    }

    /// `Ok` unless the last flush failed (and none succeeded since).
    pub(crate) fn health(&self) -> Result<(), StoreError> {
        let progress = self.shared.progress.borrow();
        match &progress.failed {
            Some((upto, err)) if *upto > progress.durable => Err(StoreError::backend(format!(
                "the last flush to disk failed: {err}"
            ))),
            _ => Ok(()),
        }
    }

    /// How many flushes ran and how many writes they covered, so far.
    pub(crate) fn stats(&self) -> CommitStats {
        let progress = self.shared.progress.borrow();
        CommitStats {
            flushes: progress.flushes,
            writes: progress.durable,
        }
    }

    fn wake_flusher(&self) {
        if let Some(flusher) = &self.flusher {
            flusher.thread().unpark();
        }
    }

    async fn wait_durable(&self, number: u64) -> Result<(), StoreError> {
        let mut progress = self.shared.progress.subscribe();
        let reached = progress
            .wait_for(|p| {
                p.durable >= number || p.failed.as_ref().is_some_and(|(upto, _)| *upto >= number)
            })
            .await
            .map_err(|_| StoreError::backend("the sled flusher stopped"))?;
        if reached.durable >= number {
            return Ok(());
        }
        match &reached.failed {
            Some((_, err)) => Err(StoreError::backend(err.clone())),
            None => Err(StoreError::backend("the sled flusher stopped")),
        }
    }
}

/// Counters of the group commit, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Flushes (disk syncs) that succeeded.
    pub flushes: u64,
    /// Writes (and barriers) those flushes covered.
    pub writes: u64,
}

/// A write announced by [`GroupCommit::begin`].
#[derive(Debug)]
#[must_use = "a pending write must end with `written` or `unchanged`"]
pub(crate) struct Pending<'a> {
    commit: &'a GroupCommit,
}

impl Pending<'_> {
    /// The write was applied: waits until it is durable.
    pub(crate) async fn written(self) -> Result<(), StoreError> {
        let commit = self.commit;
        // Numbered before it stops counting as in flight (by the drop), so a
        // barrier never misses it.
        let number = commit.shared.written.fetch_add(1, Ordering::SeqCst) + 1;
        drop(self);
        commit.wake_flusher();
        commit.wait_durable(number).await
    }

    /// [`written`](Self::written) when `wrote`, else
    /// [`unchanged`](Self::unchanged).
    pub(crate) async fn finish(self, wrote: bool) -> Result<(), StoreError> {
        if wrote {
            self.written().await
        } else {
            self.unchanged().await
        }
    }

    /// The write changed nothing: waits until what it observed is durable.
    pub(crate) async fn unchanged(self) -> Result<(), StoreError> {
        let commit = self.commit;
        drop(self);
        commit.barrier().await
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.commit.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        if let Some(flusher) = self.flusher.take() {
            flusher.thread().unpark();
            if flusher.join().is_err() {
                tracing::error!("the sled flusher thread panicked");
            }
        }
    }
}

/// The flusher thread: flush whenever writes are waiting, park otherwise.
fn run_flusher(mut flush: impl FnMut() -> sled::Result<()>, shared: &Shared) {
    let mut durable = 0;
    loop {
        // Read the position before flushing: every write numbered up to it
        // was applied before its number was taken, so before this flush.
        let target = shared.written.load(Ordering::Acquire);
        if target > durable {
            match flush() {
                Ok(()) => {
                    durable = target;
                    shared.progress.send_modify(|p| {
                        p.durable = target;
                        p.flushes += 1;
                    });
                }
                Err(err) => {
                    tracing::error!(error = %err, "flushing sled failed; failing the waiting writes");
                    shared
                        .progress
                        .send_modify(|p| p.failed = Some((target, err.clone())));
                    // Do not spin on a broken disk; the writes are answered
                    // and the next ones retry.
                    durable = target;
                }
            }
            continue;
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        // An unpark that happened since the load above is remembered, so a
        // writer that numbered its write after it cannot be missed.
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn concurrent_writers_are_all_answered() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let commit = Arc::new(GroupCommit::start(db.clone()).unwrap());
        let mut tasks = Vec::new();
        for i in 0..64_u32 {
            let db = db.clone();
            let commit = Arc::clone(&commit);
            tasks.push(tokio::spawn(async move {
                let pending = commit.begin();
                db.insert(i.to_be_bytes(), &[1]).unwrap();
                pending.written().await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let progress = commit.shared.progress.borrow().clone();
        assert_eq!(progress.durable, 64);
        assert!(progress.failed.is_none());
        commit.barrier().await.unwrap();
    }

    #[test]
    fn works_without_a_runtime_and_drop_does_not_hang() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let commit = GroupCommit::start(db.clone()).unwrap();
        let pending = commit.begin();
        db.insert(b"k", b"v").unwrap();
        block_on(pending.written()).unwrap();
        db.insert(b"k2", b"v").unwrap();
        // Numbered but never awaited: dropping still flushes and returns.
        commit.shared.written.fetch_add(1, Ordering::AcqRel);
        drop(commit);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flush_fails_the_writes_it_covered_then_recovers() {
        let fail = Arc::new(AtomicBool::new(true));
        let flushes = Arc::new(AtomicU64::new(0));
        let commit = Arc::new(
            GroupCommit::with_flush({
                let (fail, flushes) = (Arc::clone(&fail), Arc::clone(&flushes));
                move || {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    if fail.load(Ordering::SeqCst) {
                        Err(sled::Error::Io(std::io::Error::other("disk on fire")))
                    } else {
                        Ok(())
                    }
                }
            })
            .unwrap(),
        );
        let failed: Vec<_> = (0..8)
            .map(|_| {
                let commit = Arc::clone(&commit);
                tokio::spawn(async move { commit.begin().written().await })
            })
            .collect();
        for write in failed {
            let err = write.await.unwrap().unwrap_err();
            assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
            assert!(err.to_string().contains("disk on fire"), "{err}");
        }
        assert!(commit.barrier().await.is_err());
        assert!(
            commit.health().is_err(),
            "a failed flush makes it unhealthy"
        );
        fail.store(false, Ordering::SeqCst);
        commit.begin().written().await.unwrap();
        // A later successful flush covers the earlier writes too.
        commit.barrier().await.unwrap();
        commit.health().unwrap();
        assert!(flushes.load(Ordering::SeqCst) >= 2);
    }

    /// The case the in-flight count exists for: a write is applied but not
    /// yet numbered when another call observes it and finds nothing to
    /// change. Counting only numbered writes, the barrier would see nothing
    /// pending and answer at once, before the observed write is on disk;
    /// it must instead wait for a flush that starts after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_barrier_covers_a_write_applied_but_not_yet_numbered() {
        let flushes = Arc::new(AtomicU64::new(0));
        let commit = GroupCommit::with_flush({
            let flushes = Arc::clone(&flushes);
            move || {
                flushes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .unwrap();
        let writer = commit.begin();
        // The writer has applied its write; an observer finds nothing to do.
        commit.barrier().await.unwrap();
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            1,
            "the barrier answered without a flush covering the applied write"
        );
        writer.written().await.unwrap();
        assert_eq!(commit.stats().writes, 2);
        // Nothing in flight: a barrier with everything durable needs no flush.
        commit.barrier().await.unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }

    /// A minimal executor: polls `future` on this thread until it is ready.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(future)
    }
}
