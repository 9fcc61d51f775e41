//! Backup files that are complete or absent: written under a temporary
//! name in their final directory, readable by their owner only, synced,
//! then renamed into place (and the directory synced), so that a crash or a
//! failure never leaves a half-written backup under the real name.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written; removed unless [`commit`](Self::commit)ted.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing what will become `dest`. The temporary file is created
    /// beside it, with mode 0600.
    pub fn create(dest: &Path) -> io::Result<Self> {
        let dir = match dest.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".minitwit-backup-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        Ok(Self {
            temp,
            dest: dest.to_owned(),
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Syncs the file, renames it to its destination and syncs the
    /// directory: from then on the backup survives a power cut.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        let dest = self.dest;
        self.temp.persist(&dest).map_err(|err| err.error)?;
        if let Some(dir) = dest.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn only_a_committed_file_appears_and_it_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("backup.gz");
        let mut abandoned = AtomicFile::create(&dest).unwrap();
        abandoned.file().write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut file = AtomicFile::create(&dest).unwrap();
        file.file().write_all(b"whole").unwrap();
        assert!(!dest.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
