//! [`SledStoreError`]: why a store could not be opened; and how sled's own
//! errors become the core's [`StoreError`].

use std::path::PathBuf;

use minitwit_core::StoreError;

/// Why a [`SledStore`](crate::SledStore) could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SledStoreError {
    /// Another store (in this or another process) has the directory open.
    #[error(
        "the sled store at {} is already in use by another process (or another store in this \
         process); stop it or choose another directory",
        path.display()
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The path exists but is not a directory.
    #[error(
        "{} is a file, not a sled store directory; give the path of a directory (it is created \
         when missing)",
        path.display()
    )]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The directory holds files, but not a sled store: refusing it keeps a
    /// mistyped path from mixing our data into someone else's.
    #[error(
        "{} is not empty and holds no sled store (no `db` file); give an empty or new directory, \
         or the directory of an existing store",
        path.display()
    )]
    NotAStore {
        /// The directory.
        path: PathBuf,
    },
    /// The directory could not be created, read or locked.
    #[error("cannot use the directory {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The system's report.
        #[source]
        source: std::io::Error,
    },
    /// sled failed to open or read the directory.
    #[error("cannot open the sled store at {}: {source}", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// sled's report.
        #[source]
        source: sled::Error,
    },
    /// The directory holds data in a layout this version does not know.
    #[error(
        "the sled store at {} holds data in layout {found}, but this version reads layouts 1 to \
         {expected}; use a matching version of minitwit, or restore a backup into a new directory",
        path.display()
    )]
    IncompatibleLayout {
        /// The directory.
        path: PathBuf,
        /// The layout found, as stored.
        found: String,
        /// The newest layout this version reads.
        expected: u8,
    },
    /// Stored data cannot be read: the directory was damaged or edited.
    #[error(
        "the sled store at {} is damaged: {source}; restore it from a backup",
        path.display()
    )]
    Damaged {
        /// The directory.
        path: PathBuf,
        /// What could not be read.
        #[source]
        source: StoreError,
    },
    /// Stored ids are ahead of the id generator, so new ids could repeat
    /// old ones: the directory was damaged or edited.
    #[error(
        "the sled store at {} is damaged: it holds id {stored}, but new ids would start at \
         {next}; restore it from a backup",
        path.display()
    )]
    IdsBehind {
        /// The directory.
        path: PathBuf,
        /// The largest id stored.
        stored: u64,
        /// The next id sled would hand out.
        next: u64,
    },
    /// The configuration cannot work.
    #[error("invalid sled store configuration: {0}")]
    InvalidConfig(String),
    /// The group-commit thread could not be started.
    #[error("cannot start the sled flusher thread: {0}")]
    Flusher(#[source] std::io::Error),
}

/// A sled error as the core's [`StoreError`].
pub(crate) fn sled_error(err: sled::Error) -> StoreError {
    match err {
        sled::Error::Corruption { .. } => StoreError::Corrupt(err.to_string()),
        other => StoreError::backend(other),
    }
}
