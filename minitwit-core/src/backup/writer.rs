//! [`BackupWriter`]: records in, a backup file out.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use super::format::{FOOTER_PREFIX, Header, Line, Tally, hex};
use super::hashing::HashingWriter;
use super::{BackupError, BackupSummary, FORMAT_NAME, FORMAT_VERSION};
use crate::Record;

/// The gzip header's operating system field: "unknown", so that the bytes
/// do not depend on the machine.
const OS_UNKNOWN: u8 = 255;

/// Writes a backup: the header at once, each record as it comes, the
/// summary and checksum on [`finish`](Self::finish). Memory stays the same
/// whatever the number of records.
///
/// ```
/// use minitwit_core::Record;
/// use minitwit_core::backup::{BackupReader, BackupWriter};
///
/// let mut writer = BackupWriter::new(Vec::new())?;
/// writer.write(&Record::Latest(42))?;
/// let (bytes, summary) = writer.finish()?;
/// assert_eq!(summary.records, 1);
///
/// let records: Vec<Record> = BackupReader::new(bytes.as_slice())?.collect::<Result<_, _>>()?;
/// assert_eq!(records, [Record::Latest(42)]);
/// # Ok::<(), minitwit_core::backup::BackupError>(())
/// ```
pub struct BackupWriter<W: Write> {
    encoder: GzEncoder<HashingWriter<W>>,
    tally: Tally,
    line: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for BackupWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupWriter")
            .field("records", &self.tally.end.records)
            .finish_non_exhaustive()
    }
}

impl<W: Write> BackupWriter<W> {
    /// Starts a backup on `out` and writes its header.
    ///
    /// # Errors
    /// [`BackupError::Io`] when `out` fails.
    pub fn new(out: W) -> Result<Self, BackupError> {
        let encoder = GzBuilder::new()
            .mtime(0)
            .operating_system(OS_UNKNOWN)
            .write(HashingWriter::new(out), Compression::new(6));
        let mut writer = Self {
            encoder,
            tally: Tally::default(),
            line: Vec::with_capacity(1024),
        };
        writer.write_line(&Header {
            format: FORMAT_NAME.to_owned(),
            version: u64::from(FORMAT_VERSION),
        })?;
        Ok(writer)
    }

    fn write_line(&mut self, value: &impl serde::Serialize) -> Result<(), BackupError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(std::io::Error::from)?;
        self.line.push(b'\n');
        self.encoder.write_all(&self.line)?;
        Ok(())
    }

    /// Adds the next record; records must come in export order.
    ///
    /// # Errors
    /// [`BackupError::OutOfOrder`] for a record out of export order,
    /// [`BackupError::Io`] when `out` fails.
    pub fn write(&mut self, record: &Record) -> Result<(), BackupError> {
        self.tally
            .add(record)
            .map_err(|reason| BackupError::OutOfOrder {
                record: self.tally.end.records + 1,
                reason,
            })?;
        self.write_line(&Line::from(record))
    }

    /// How many records were written so far.
    pub fn records(&self) -> u64 {
        self.tally.end.records
    }

    /// The output, for a caller that forwards what was written so far
    /// (the compressor holds back what it has not emitted yet).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.encoder.get_mut().inner
    }

    /// Writes the summary, ends the compressed stream, appends the checksum
    /// and returns the output and what the backup holds.
    ///
    /// # Errors
    /// [`BackupError::Io`] when `out` fails.
    pub fn finish(mut self) -> Result<(W, BackupSummary), BackupError> {
        let end = self.tally.end;
        self.write_line(&Line::End(end))?;
        let hashed = self.encoder.finish()?;
        let footer = format!("{FOOTER_PREFIX} {}\n", hex(&hashed.digest()));
        let bytes = hashed.bytes + footer.len() as u64;
        let mut out = hashed.inner;
        out.write_all(footer.as_bytes())?;
        out.flush()?;
        Ok((
            out,
            BackupSummary {
                users: end.users,
                follows: end.follows,
                messages: end.messages,
                records: end.records,
                bytes,
            },
        ))
    }
}
