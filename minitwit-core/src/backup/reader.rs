//! [`BackupReader`]: a backup file in, its records out, every check made on
//! the way.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;

use super::format::{End, FOOTER_LEN, FOOTER_PREFIX, Header, Line, Tally, hex};
use super::hashing::HashingReader;
use super::{BackupError, BackupSummary, FORMAT_NAME, FORMAT_VERSION};
use crate::Record;

/// The longest line a valid backup has, with room to spare: a message of
/// the longest length with every character escaped.
const MAX_LINE_BYTES: u64 = 1 << 20;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

type Decoder<R> = GzDecoder<HashingReader<BufReader<R>>>;

/// Reads a backup's records one at a time, checking the header and version
/// first, then every line's shape and order, and at the end the summary's
/// counts, the compressed stream's integrity, the checksum, and that nothing
/// follows. An error is the last item; [`summary`](Self::summary) is set
/// once the whole file checked out.
pub struct BackupReader<R: Read> {
    lines: BufReader<Decoder<R>>,
    line: Vec<u8>,
    number: u64,
    tally: Tally,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Verified(BackupSummary),
    Failed,
}

impl<R: Read> std::fmt::Debug for BackupReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupReader")
            .field("line", &self.number)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Reads a whole backup and checks all of it; nothing is kept but the
/// current line.
///
/// # Errors
/// What is wrong with the file (see [`BackupError`]).
pub fn verify(input: impl Read) -> Result<BackupSummary, BackupError> {
    let mut reader = BackupReader::new(input)?;
    for record in &mut reader {
        record?;
    }
    reader
        .summary()
        .ok_or_else(|| BackupError::Truncated("the backup ended early".into()))
}

fn decode_error(err: io::Error) -> BackupError {
    match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            BackupError::Truncated("the compressed data ends early".into())
        }
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            BackupError::Damaged(format!("the compressed data is corrupt ({err})"))
        }
        _ => BackupError::Io(err),
    }
}

impl<R: Read> BackupReader<R> {
    /// Opens a backup: checks that it is one, and of a version this build
    /// reads, before any record is read.
    ///
    /// # Errors
    /// [`BackupError::NotABackup`], [`BackupError::UnsupportedVersion`],
    /// or what reading the header found.
    pub fn new(input: R) -> Result<Self, BackupError> {
        let mut raw = BufReader::with_capacity(64 * 1024, input);
        let start = raw.fill_buf()?;
        if start.len() < 2 || start[..2] != GZIP_MAGIC {
            return Err(BackupError::NotABackup(
                "it does not start like a compressed MiniTwit backup".into(),
            ));
        }
        let decoder = GzDecoder::new(HashingReader::new(raw));
        let mut reader = Self {
            lines: BufReader::with_capacity(64 * 1024, decoder),
            line: Vec::new(),
            number: 0,
            tally: Tally::default(),
            state: State::Reading,
        };
        let header: Header = match reader.read_line()? {
            Some(line) => serde_json::from_slice(line).map_err(|_| {
                BackupError::NotABackup("its first line is not a MiniTwit backup header".into())
            })?,
            None => return Err(BackupError::NotABackup("it is empty".into())),
        };
        if header.format != FORMAT_NAME {
            return Err(BackupError::NotABackup(format!(
                "its header names the format {:?}",
                header.format
            )));
        }
        if header.version != u64::from(FORMAT_VERSION) {
            return Err(BackupError::UnsupportedVersion {
                found: header.version,
            });
        }
        Ok(reader)
    }

    /// What the backup holds, once every record was read and the whole
    /// file checked out.
    pub fn summary(&self) -> Option<BackupSummary> {
        match self.state {
            State::Verified(summary) => Some(summary),
            State::Reading | State::Failed => None,
        }
    }

    /// The next line without its newline; `None` at the end of the text.
    fn read_line(&mut self) -> Result<Option<&[u8]>, BackupError> {
        self.line.clear();
        let read = (&mut self.lines)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut self.line)
            .map_err(decode_error)?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        match self.line.pop() {
            Some(b'\n') => Ok(Some(&self.line)),
            _ if read as u64 >= MAX_LINE_BYTES => Err(self.malformed("the line is too long")),
            _ => Err(BackupError::Truncated(format!(
                "line {} is cut off",
                self.number
            ))),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> BackupError {
        BackupError::Malformed {
            line: self.number,
            reason: reason.into(),
        }
    }

    /// The next record, `None` after a summary that checked out.
    fn next_record(&mut self) -> Result<Option<Record>, BackupError> {
        let Some(line) = self.read_line()? else {
            return Err(BackupError::Truncated(format!(
                "it ends after line {} without its summary",
                self.number
            )));
        };
        let line: Line = serde_json::from_slice(line)
            .map_err(|err| self.malformed(format!("not a record ({err})")))?;
        if let Line::End(end) = line {
            self.finish(end)?;
            return Ok(None);
        }
        let record = line
            .into_record()
            .map_err(|reason| self.malformed(reason))?
            .ok_or_else(|| self.malformed("a summary in the middle"))?;
        self.tally
            .add(&record)
            .map_err(|reason| self.malformed(reason))?;
        Ok(Some(record))
    }

    /// Checks everything after the summary line.
    fn finish(&mut self, end: End) -> Result<(), BackupError> {
        if end != self.tally.end {
            return Err(self.malformed(format!(
                "the summary says {end:?} but the backup holds {:?}",
                self.tally.end
            )));
        }
        // Reading to the end of the compressed stream checks its own
        // length and CRC.
        let mut rest = Vec::new();
        (&mut self.lines)
            .take(1)
            .read_to_end(&mut rest)
            .map_err(decode_error)?;
        if !rest.is_empty() {
            return Err(BackupError::Damaged("text follows the summary line".into()));
        }
        let hashed = self.lines.get_mut().get_mut();
        let actual = hex(&hashed.digest());
        let compressed_bytes = hashed.bytes;
        let mut footer = Vec::with_capacity(FOOTER_LEN + 1);
        hashed
            .inner_mut()
            .take(FOOTER_LEN as u64 + 1)
            .read_to_end(&mut footer)?;
        let footer = std::str::from_utf8(&footer).unwrap_or_default();
        let Some(expected) = footer
            .strip_prefix(FOOTER_PREFIX)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|rest| rest.strip_suffix('\n'))
            .filter(|digest| digest.len() == 64)
        else {
            return Err(if footer.len() < FOOTER_LEN {
                BackupError::Truncated("the checksum at the end is missing or cut off".into())
            } else {
                BackupError::Damaged("the checksum at the end is malformed".into())
            });
        };
        if expected != actual {
            return Err(BackupError::ChecksumMismatch {
                expected: expected.to_owned(),
                actual,
            });
        }
        self.state = State::Verified(BackupSummary {
            users: end.users,
            follows: end.follows,
            messages: end.messages,
            records: end.records,
            bytes: compressed_bytes + FOOTER_LEN as u64,
        });
        Ok(())
    }
}

impl<R: Read> Iterator for BackupReader<R> {
    type Item = Result<Record, BackupError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != State::Reading {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(err) => {
                self.state = State::Failed;
                Some(Err(err))
            }
        }
    }
}
