//! Moving records between a store and a backup file: the store side is
//! async, the file side (compression, hashing, disk) runs on a blocking
//! thread, and a bounded channel between them keeps memory flat.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use futures::StreamExt as _;
use indicatif::ProgressBar;
use minitwit_core::backup::{BackupReader, BackupSummary, BackupWriter};
use minitwit_core::{Record, RecordStream, Store};
use tokio::sync::mpsc;

/// Records in flight between the two sides.
const CHANNEL_RECORDS: usize = 1024;

/// Records per import call, at most.
const IMPORT_BATCH_RECORDS: usize = 1000;

/// Bytes of text per import call, about (a batch closes once past it).
const IMPORT_BATCH_BYTES: usize = 1 << 20;

/// What the store side tells the file side.
enum Item {
    Record(Record),
    /// Every record was sent: finish the file.
    End,
}

/// Writes every record of `records` as a backup into `out` and returns
/// `out` and what it holds. An export that fails leaves the backup
/// unfinished (no summary, no checksum), so it can never pass for a
/// complete one.
pub async fn write_backup<W: Write + Send + 'static>(
    mut records: RecordStream,
    out: W,
    bar: ProgressBar,
) -> anyhow::Result<(W, BackupSummary)> {
    let (sender, mut receiver) = mpsc::channel::<Item>(CHANNEL_RECORDS);
    let writer = tokio::task::spawn_blocking(move || {
        let mut writer = BackupWriter::new(out)?;
        while let Some(item) = receiver.blocking_recv() {
            match item {
                Item::Record(record) => {
                    writer.write(&record)?;
                    bar.inc(1);
                }
                Item::End => {
                    bar.finish_and_clear();
                    return Ok(writer.finish()?);
                }
            }
        }
        bar.abandon();
        Err(anyhow!("the backup was abandoned before its end"))
    });
    let mut failure = None;
    while let Some(record) = records.next().await {
        match record {
            Ok(record) => {
                if sender.send(Item::Record(record)).await.is_err() {
                    // The writer stopped; its error says why.
                    break;
                }
            }
            Err(err) => {
                failure = Some(anyhow::Error::new(err).context("the store's export failed"));
                break;
            }
        }
    }
    if failure.is_none() {
        // Fails only when the writer stopped already; its error says why.
        let _ = sender.send(Item::End).await;
    }
    drop(sender);
    let written = writer.await.context("the backup writer did not finish")?;
    match failure {
        Some(err) => Err(err),
        None => written,
    }
}

/// Checks a whole backup, on a blocking thread, reporting bytes read on
/// `bar`.
pub async fn verify_backup<R: Read + Send + 'static>(
    input: R,
    bar: ProgressBar,
) -> anyhow::Result<(R, BackupSummary)> {
    tokio::task::spawn_blocking(move || {
        let mut input = input;
        let summary = minitwit_core::backup::verify(bar.wrap_read(&mut input))?;
        bar.finish_and_clear();
        Ok((input, summary))
    })
    .await
    .context("the backup check did not finish")?
}

/// Imports every record of the backup `input` into `store`, in batches.
/// Returns how many records were imported; an error after some batches
/// leaves those in the store.
pub async fn import_backup<R: Read + Send + 'static>(
    store: &Arc<dyn Store>,
    input: R,
    bar: ProgressBar,
) -> anyhow::Result<u64> {
    let (sender, mut receiver) = mpsc::channel::<anyhow::Result<Vec<Record>>>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let send = |batch| sender.blocking_send(batch).is_ok();
        let mut batch = Vec::with_capacity(IMPORT_BATCH_RECORDS);
        let mut bytes = 0;
        let records = match BackupReader::new(input) {
            Ok(records) => records,
            Err(err) => {
                send(Err(err.into()));
                return;
            }
        };
        for record in records {
            match record {
                Ok(record) => {
                    bytes += record_size(&record);
                    batch.push(record);
                    if batch.len() >= IMPORT_BATCH_RECORDS || bytes >= IMPORT_BATCH_BYTES {
                        bytes = 0;
                        let full =
                            std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH_RECORDS));
                        if !send(Ok(full)) {
                            return;
                        }
                    }
                }
                Err(err) => {
                    send(Err(err.into()));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            send(Ok(batch));
        }
    });
    let mut imported = 0;
    while let Some(batch) = receiver.recv().await {
        let batch = batch?;
        let count = batch.len() as u64;
        store
            .import(batch)
            .await
            .with_context(|| format!("the store refused the import after {imported} records"))?;
        imported += count;
        bar.inc(count);
    }
    reader.await.context("the backup reader did not finish")?;
    bar.finish_and_clear();
    Ok(imported)
}

/// About how many bytes a record takes, to keep import calls small.
fn record_size(record: &Record) -> usize {
    match record {
        Record::User(user) => 64 + user.password_hash.as_phc().len(),
        Record::Message(message) => 32 + message.text.as_str().len(),
        Record::Secret { value, .. } => 32 + value.len(),
        Record::Follow { .. } | Record::Latest(_) => 16,
    }
}
