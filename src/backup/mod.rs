//! Backups: `minitwit backup` and `minitwit restore`, the server's backup
//! endpoint and its scheduled backups. The file format is the core's
//! ([`minitwit_core::backup`]); this module moves records between stores,
//! files and HTTP.

mod commands;
pub mod endpoint;
mod files;
pub mod schedule;
mod stream;

pub use commands::{BackupArgs, RestoreArgs, backup, restore};

/// Where a server offers its backup.
pub const ENDPOINT: &str = "/admin/backup";
