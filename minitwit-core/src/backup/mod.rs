//! The backup format: every [`Record`](crate::Record) of a store in one
//! portable, versioned, compressed and checksummed file, which restores into
//! any [`Store`](crate::Store) backend.
//!
//! A backup file is two parts:
//!
//! 1. a gzip stream (RFC 1952; no file name, modification time 0, operating
//!    system "unknown", so the same content always gives the same bytes) of
//!    UTF-8 text, one JSON object per line:
//!    * a header, `{"format":"minitwit-backup","version":1}`;
//!    * the records in the store's export order (see
//!      [`Record`](crate::Record)), one per line:
//!      `{"user":{"id":1,"name":"…","email":"…","password_hash":"$argon2id$…","session_generation":7}}`,
//!      `{"follow":[1,2]}`,
//!      `{"message":{"id":3,"author":1,"pub_date":1700000000,"text":"…"}}`,
//!      `{"latest":42}`, `{"secret":{"name":"…","value":"<base64>"}}`;
//!    * a summary, `{"end":{"users":1,"follows":1,"messages":1,"records":5}}`;
//! 2. a footer outside the gzip stream, one ASCII line:
//!    `minitwit-backup-sha256 <64 hex digits>\n`, the SHA-256 of every byte of
//!    the file before it.
//!
//! The checksum covers the compressed bytes themselves, so a change of any
//! single byte of the file, anywhere, is found; the summary's counts find a
//! file that was cut and re-compressed. [`verify`] reads a whole file and
//! checks all of it without keeping more than one line in memory;
//! [`BackupReader`] yields its records and checks the same as it goes, so
//! a restore verifies first and writes second. `docs/backup-format.md` in
//! the repository describes the format for people.

mod format;
mod hashing;
mod reader;
mod writer;

pub use reader::{BackupReader, verify};
pub use writer::BackupWriter;

/// The version of the format this build writes, and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The value of `format` in a backup's header line.
pub const FORMAT_NAME: &str = "minitwit-backup";

/// What a backup holds, from its summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Users.
    pub users: u64,
    /// Follow edges.
    pub follows: u64,
    /// Messages.
    pub messages: u64,
    /// Every record (users, follows, messages, `latest`, secrets).
    pub records: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Why a backup cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a MiniTwit backup at all.
    #[error("this is not a MiniTwit backup: {0}")]
    NotABackup(String),
    /// A backup of a format version this build does not read.
    #[error(
        "this backup has format version {found}, but this version of minitwit reads version \
         {FORMAT_VERSION} only; use the minitwit version that wrote it"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u64,
    },
    /// The file ends before its summary and checksum: cut short.
    #[error("the backup is truncated: {0}")]
    Truncated(String),
    /// The compressed data does not decompress, or the file goes on after
    /// its checksum.
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    /// A line does not decode, or breaks the format's order.
    #[error("the backup is damaged at line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the decompressed text.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The checksum does not match the content.
    #[error("the backup is damaged: its checksum is {expected} but its content hashes to {actual}")]
    ChecksumMismatch {
        /// The checksum in the footer.
        expected: String,
        /// The checksum of the content.
        actual: String,
    },
    /// Records were written out of the export order (a store bug).
    #[error("record {record} is out of order: {reason}")]
    OutOfOrder {
        /// 1-based number of the record.
        record: u64,
        /// What is out of order.
        reason: String,
    },
}

#[cfg(test)]
mod tests;
