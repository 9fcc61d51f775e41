//! Opening a store: the directory (refused when it is a file or someone
//! else's), the lock, sled itself, the layout version, the id generator and
//! the counts.

use std::fs::{DirBuilder, File, TryLockError};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minitwit_core::{Counts, StoreError};

use crate::SledConfig;
use crate::decode::{decode_counts, decode_id, decode_latest};
use crate::error::{SledStoreError, sled_error};
use crate::heads::AuthorHeads;
use crate::layout::{self, FORMAT};

/// The trees of one store (see the `layout` module), and the newest
/// message id of recently seen authors, kept in memory beside them. Cheap
/// to clone.
#[derive(Debug, Clone)]
pub(crate) struct Trees {
    pub(crate) users: sled::Tree,
    pub(crate) user_names: sled::Tree,
    pub(crate) follows: sled::Tree,
    pub(crate) messages: sled::Tree,
    pub(crate) user_messages: sled::Tree,
    pub(crate) meta: sled::Tree,
    /// Raised by every post, read by home merges (see the `heads` module).
    pub(crate) heads: Arc<AuthorHeads>,
}

impl Trees {
    /// Every tree but `meta`, the ones that hold records.
    pub(crate) fn records(&self) -> [&sled::Tree; 5] {
        [
            &self.users,
            &self.user_names,
            &self.follows,
            &self.messages,
            &self.user_messages,
        ]
    }
}

/// A store's database, opened and checked.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    /// The locked `minitwit.lock`; `None` for a temporary store.
    pub(crate) lock: Option<File>,
    /// Whether the store was created by this open.
    pub(crate) created: bool,
    /// What it holds.
    pub(crate) counts: Counts,
    /// Whether the counts had to be counted (after a crash or an upgrade).
    pub(crate) recounted: bool,
    /// Added to sled's id generator.
    pub(crate) id_floor: u64,
    /// The `latest` it holds.
    pub(crate) latest: Option<i64>,
}

/// How long [`open`] waits for sled's own lock, held by a store of this
/// process that is still shutting down.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens (or creates) the store `config` describes.
pub(crate) fn open(config: &SledConfig) -> Result<Opened, SledStoreError> {
    if config.cache_capacity_bytes() < SledConfig::MIN_CACHE_CAPACITY {
        return Err(SledStoreError::InvalidConfig(format!(
            "the cache capacity is {} bytes; it must be at least {} (1 MiB)",
            config.cache_capacity_bytes(),
            SledConfig::MIN_CACHE_CAPACITY
        )));
    }
    let path = config.describe_path();
    let (created, lock) = match config.path().filter(|_| !config.is_temporary()) {
        Some(dir) => {
            let created = prepare_directory(dir)?;
            (created, Some(lock_directory(dir)?))
        }
        None => (true, None),
    };
    let open_error = |source| SledStoreError::Open {
        path: path.clone(),
        source,
    };
    let db = open_waiting_for_lock(&config.to_sled()).map_err(open_error)?;
    let tree = |name: &str| db.open_tree(name).map_err(open_error);
    let trees = Trees {
        users: tree(layout::USERS)?,
        user_names: tree(layout::USER_NAMES)?,
        follows: tree(layout::FOLLOWS)?,
        messages: tree(layout::MESSAGES)?,
        user_messages: tree(layout::USER_MESSAGES)?,
        meta: tree(layout::META)?,
        heads: Arc::new(AuthorHeads::new(
            if config.home_cache_limits().entries == 0 {
                // The home cache off is the plain merge, the benchmarks' baseline.
                0
            } else {
                AuthorHeads::DEFAULT_LIMIT
            },
        )),
    };
    check_layout(&trees.meta, &path)?;
    let damaged = |source| SledStoreError::Damaged {
        path: path.clone(),
        source,
    };
    let id_floor = read_id_floor(&trees.meta).map_err(damaged)?;
    let latest = read_latest(&trees.meta).map_err(damaged)?;
    check_ids(&db, &trees, id_floor, &path)?;
    let (counts, recounted) = take_counts(&trees, created).map_err(damaged)?;
    Ok(Opened {
        db,
        trees,
        lock,
        created,
        counts,
        recounted,
        id_floor,
        latest,
    })
}

/// Creates the directory (readable by its owner only) when missing;
/// refuses a file, and a non-empty directory that holds no store. Returns
/// whether the store is new.
fn prepare_directory(dir: &Path) -> Result<bool, SledStoreError> {
    let io_error = |source| SledStoreError::Directory {
        path: dir.to_owned(),
        source,
    };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(SledStoreError::NotADirectory {
            path: dir.to_owned(),
        }),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir).map_err(io_error)?;
            let empty = entries.next().is_none();
            let ours = dir.join("db").is_file() || dir.join(layout::LOCK_FILE).is_file();
            if !empty && !ours {
                return Err(SledStoreError::NotAStore {
                    path: dir.to_owned(),
                });
            }
            Ok(empty)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_error)?;
            Ok(true)
        }
        Err(err) => Err(io_error(err)),
    }
}

/// Locks `minitwit.lock` in `dir` for as long as the returned file lives.
fn lock_directory(dir: &Path) -> Result<File, SledStoreError> {
    let lock_path = dir.join(layout::LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|source| SledStoreError::Directory {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(SledStoreError::Locked {
            path: dir.to_owned(),
        }),
        Err(TryLockError::Error(source)) => Err(SledStoreError::Directory {
            path: lock_path,
            source,
        }),
    }
}

/// Opens the database, retrying on I/O errors for up to [`LOCK_WAIT`]: a
/// store of this process dropped a moment ago may still be releasing
/// sled's own lock from sled's background threads (our lock file already
/// keeps out every store that is really running).
fn open_waiting_for_lock(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Records the layout version in a new store, upgrades a layout 1 store
/// (its user records read as they are), refuses any other.
fn check_layout(meta: &sled::Tree, path: &Path) -> Result<(), SledStoreError> {
    let open_error = |source| SledStoreError::Open {
        path: path.to_owned(),
        source,
    };
    let current = [FORMAT];
    let mut expected: Option<&[u8]> = None;
    loop {
        let swapped = meta
            .compare_and_swap(layout::META_FORMAT, expected, Some(&current[..]))
            .map_err(open_error)?;
        let existing = match swapped {
            Ok(()) => return Ok(()),
            Err(existing) => existing.current,
        };
        match existing.as_deref() {
            Some(found) if found == current => return Ok(()),
            Some([1]) if expected.is_none() => {
                tracing::info!(path = %path.display(), "upgrading the sled store from layout 1");
                expected = Some(&[1]);
            }
            found => {
                return Err(SledStoreError::IncompatibleLayout {
                    path: path.to_owned(),
                    found: format!("{:?}", found.unwrap_or_default()),
                    expected: FORMAT,
                });
            }
        }
    }
}

fn read_id_floor(meta: &sled::Tree) -> Result<u64, StoreError> {
    match meta.get(layout::META_ID_FLOOR).map_err(sled_error)? {
        Some(value) => decode_id(&value),
        None => Ok(0),
    }
}

fn read_latest(meta: &sled::Tree) -> Result<Option<i64>, StoreError> {
    meta.get(layout::META_LATEST)
        .map_err(sled_error)?
        .map(|value| decode_latest(&value))
        .transpose()
}

/// A fresh id: sled's generator plus the floor, never 0.
pub(crate) fn next_id(db: &sled::Db, floor: u64) -> Result<u64, StoreError> {
    db.generate_id()
        .map_err(sled_error)?
        .checked_add(1)
        .and_then(|id| id.checked_add(floor))
        .ok_or_else(|| StoreError::Corrupt("the id generator is exhausted".into()))
}

/// Refuses a store whose ids are ahead of the id generator: new rows would
/// overwrite old ones.
fn check_ids(db: &sled::Db, trees: &Trees, floor: u64, path: &Path) -> Result<(), SledStoreError> {
    let last = |tree: &sled::Tree| -> Result<u64, StoreError> {
        match tree.last().map_err(sled_error)? {
            Some((key, _)) => decode_id(&key),
            None => Ok(0),
        }
    };
    let damaged = |source| SledStoreError::Damaged {
        path: path.to_owned(),
        source,
    };
    let stored = last(&trees.messages)
        .and_then(|messages| Ok(messages.max(last(&trees.users)?)))
        .map_err(damaged)?;
    let next = next_id(db, floor).map_err(damaged)?;
    if next <= stored {
        return Err(SledStoreError::IdsBehind {
            path: path.to_owned(),
            stored,
            next,
        });
    }
    Ok(())
}

/// The counts a clean close left (removed now, so that a crash later does
/// not find them stale), or counted from the commit points.
fn take_counts(trees: &Trees, created: bool) -> Result<(Counts, bool), StoreError> {
    if let Some(saved) = trees.meta.remove(layout::META_COUNTS).map_err(sled_error)? {
        return Ok((decode_counts(&saved)?, false));
    }
    if created {
        return Ok((Counts::default(), false));
    }
    let started = Instant::now();
    let count = |tree: &sled::Tree| -> Result<u64, StoreError> {
        let mut count = 0;
        for key in tree.iter().keys() {
            key.map_err(sled_error)?;
            count += 1;
        }
        Ok(count)
    };
    let counts = Counts {
        users: count(&trees.user_names)?,
        follows: count(&trees.follows)?,
        messages: count(&trees.user_messages)?,
    };
    tracing::info!(
        users = counts.users,
        follows = counts.follows,
        messages = counts.messages,
        elapsed = ?started.elapsed(),
        "counted the sled store (it was not closed cleanly)"
    );
    Ok((counts, true))
}
