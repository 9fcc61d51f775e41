//! Byte streams that hash what passes through them: the checksum of a
//! backup covers the compressed bytes, so it is computed under the gzip
//! layer, on both sides.

use std::io::{self, BufRead, Read, Write};

use sha2::{Digest, Sha256};

/// A writer that hashes and counts every byte it passes on.
#[derive(Debug)]
pub(super) struct HashingWriter<W> {
    pub(super) inner: W,
    hasher: Sha256,
    pub(super) bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The SHA-256 of everything written so far.
    pub(super) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A buffered reader that hashes and counts every byte consumed from it.
#[derive(Debug)]
pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    pub(super) bytes: u64,
}

impl<R: BufRead> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The SHA-256 of everything consumed so far.
    pub(super) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The reader underneath, to read past what is hashed.
    pub(super) fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The bytes about to be consumed are the front of the buffer the
        // caller just had from `fill_buf`; asking again does no I/O.
        if let Ok(buffer) = self.inner.fill_buf() {
            let amount = amount.min(buffer.len());
            self.hasher.update(&buffer[..amount]);
            self.bytes += amount as u64;
            self.inner.consume(amount);
        }
    }
}
