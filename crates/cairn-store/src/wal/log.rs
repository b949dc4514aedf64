//! The write-ahead log as one object: the segments on disk, the active segment open for
//! appending, group-commit writes, rollover, and removal of segments no longer needed.
//!
//! Invariants (hold between calls):
//! - The active segment is the last one; its on-disk length is `active_bytes`, every byte of
//!   which has been fsynced, and it ends on a frame boundary.
//! - `next_index` is the index of the next record to be written; the segments hold exactly
//!   the records `first segment's first index .. next_index`.
//! - A batch is written to one segment with one `write` and one fsync; if the write fails the
//!   file is cut back to `active_bytes` (nothing of the batch remains). If the fsync or the
//!   cut fails, the file's state is unknown and the error is [`WalWriteError::Fatal`]: the
//!   caller must stop writing (replay at the next start decides what is on disk).
//! - One `WriteAheadLog` per directory: it holds an exclusive lock on `LOCK` while alive.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use fs2::FileExt;

use super::codec::{self, WalRecord};
use super::recovery::{self, RecoveredSegment};
use super::segment::{self, FRAME_HEADER_BYTES};
use crate::config::FsyncObserver;
use crate::StoreError;

/// The write buffer is dropped after a batch that grew it past this size.
const MAX_RETAINED_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// The lock file's name inside the WAL directory.
const LOCK_FILE_NAME: &str = "LOCK";

/// Fsyncs files and directories, reporting each latency to the configured observer.
#[derive(Clone, Default)]
pub(crate) struct FsyncTimer {
    observer: Option<FsyncObserver>,
}

impl FsyncTimer {
    /// A timer reporting to `observer`, if any.
    pub(crate) fn new(observer: Option<FsyncObserver>) -> Self {
        Self { observer }
    }

    fn observe(&self, started: Instant) {
        if let Some(observer) = &self.observer {
            observer(started.elapsed());
        }
    }

    /// Fsyncs a file's data (and the metadata needed to read it back, such as its length).
    pub(crate) fn sync_file(&self, file: &File) -> io::Result<()> {
        let started = Instant::now();
        file.sync_data()?;
        self.observe(started);
        Ok(())
    }

    /// Fsyncs a directory, making file creations and removals in it durable.
    pub(crate) fn sync_directory(&self, directory: &Path) -> io::Result<()> {
        let started = Instant::now();
        File::open(directory)?.sync_all()?;
        self.observe(started);
        Ok(())
    }
}

/// WAL sizes, readable from any thread.
#[derive(Debug, Default)]
pub(crate) struct WalStats {
    bytes: AtomicU64,
    segments: AtomicU64,
}

impl WalStats {
    /// Total bytes of all segment files.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Number of segment files.
    pub(crate) fn segments(&self) -> u64 {
        self.segments.load(Ordering::Relaxed)
    }
}

/// How to open a WAL.
pub(crate) struct WalOptions {
    /// The directory of the segments.
    pub directory: PathBuf,
    /// Roll to a new segment before a batch would take the active one past this size.
    pub segment_max_bytes: u64,
    /// Fsync latency observer.
    pub fsync_timer: FsyncTimer,
}

/// Why a batch was not written.
#[derive(Debug)]
pub(crate) enum WalWriteError {
    /// Nothing of the batch is in the log; the log is still usable.
    Rejected(io::Error),
    /// The log's on-disk state is unknown; no further write may be attempted.
    Fatal(io::Error),
}

/// The open write-ahead log of one directory.
pub(crate) struct WriteAheadLog {
    directory: PathBuf,
    segments: VecDeque<RecoveredSegment>,
    active: File,
    next_index: u64,
    segment_max_bytes: u64,
    fsync_timer: FsyncTimer,
    stats: Arc<WalStats>,
    write_buffer: Vec<u8>,
    _lock: File,
    #[cfg(test)]
    injected_failure: Option<InjectedFailure>,
}

/// A failure the next batch will meet, for testing the failure paths.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum InjectedFailure {
    /// Half the batch is written, then the write fails with this kind.
    Write(io::ErrorKind),
    /// The batch is written, then the fsync fails.
    Fsync,
}

impl WriteAheadLog {
    /// Opens (creating if needed) the WAL in `options.directory`, replays every record into
    /// `apply`, cuts a torn tail, and readies the last segment for appending.
    pub(crate) fn open(
        options: WalOptions,
        apply: &mut dyn FnMut(WalRecord, &Path, u64) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let WalOptions {
            directory,
            segment_max_bytes,
            fsync_timer,
        } = options;
        if !directory.is_dir() {
            std::fs::create_dir_all(&directory)?;
            if let Some(parent) = directory.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_timer.sync_directory(parent)?;
            }
        }
        let lock_path = directory.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        if let Err(error) = FileExt::try_lock_exclusive(&lock) {
            if error.raw_os_error() == fs2::lock_contended_error().raw_os_error() {
                return Err(StoreError::Locked { path: lock_path });
            }
            return Err(error.into());
        }
        let started = Instant::now();
        let recovered = recovery::replay(&directory, &fsync_timer, apply)?;
        let mut segments: VecDeque<RecoveredSegment> = recovered.segments.into();
        let active = match segments.back() {
            Some(last) => OpenOptions::new().append(true).open(&last.path)?,
            None => {
                let (file, segment) =
                    create_segment(&directory, recovered.next_index, &fsync_timer)?;
                segments.push_back(segment);
                file
            }
        };
        let log = Self {
            directory,
            segments,
            active,
            next_index: recovered.next_index,
            segment_max_bytes,
            fsync_timer,
            stats: Arc::new(WalStats::default()),
            write_buffer: Vec::new(),
            _lock: lock,
            #[cfg(test)]
            injected_failure: None,
        };
        log.publish_stats();
        tracing::info!(
            wal_dir = %log.directory.display(),
            records = recovered.records,
            segments = log.segments.len(),
            wal_bytes = log.stats.bytes(),
            next_index = log.next_index,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wal replayed"
        );
        Ok(log)
    }

    /// The WAL directory.
    pub(crate) fn directory(&self) -> &Path {
        &self.directory
    }

    /// Shared, live sizes of the log.
    pub(crate) fn stats(&self) -> Arc<WalStats> {
        Arc::clone(&self.stats)
    }

    /// The index the next written record will get.
    #[cfg(test)]
    pub(crate) fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Whether the active segment reached its size limit (the writer then rolls).
    pub(crate) fn is_full(&self) -> bool {
        self.active_bytes() >= self.segment_max_bytes
    }

    /// Bytes in the active segment.
    pub(crate) fn active_bytes(&self) -> u64 {
        self.segments.back().map_or(0, |segment| segment.bytes)
    }

    /// The index of the active segment's first record (its name).
    pub(crate) fn active_first_index(&self) -> u64 {
        self.segments
            .back()
            .map_or(self.next_index, |segment| segment.first_index)
    }

    /// The first record index of every segment, oldest first.
    pub(crate) fn segment_first_indexes(&self) -> Vec<u64> {
        self.segments
            .iter()
            .map(|segment| segment.first_index)
            .collect()
    }

    /// Closes the active segment and starts a new one whose first record is `first_payload`
    /// (a checkpoint), written and fsynced before this returns. Any failure is fatal.
    pub(crate) fn roll_with(&mut self, mut first_payload: Vec<u8>) -> Result<(), WalWriteError> {
        self.roll().map_err(WalWriteError::Fatal)?;
        let mut payloads = [std::mem::take(&mut first_payload)];
        match self.append_batch_in_active(&mut payloads) {
            Ok(()) => Ok(()),
            Err(WalWriteError::Rejected(error)) | Err(WalWriteError::Fatal(error)) => {
                Err(WalWriteError::Fatal(error))
            }
        }
    }

    fn publish_stats(&self) {
        let bytes = self.segments.iter().map(|segment| segment.bytes).sum();
        self.stats.bytes.store(bytes, Ordering::Relaxed);
        self.stats
            .segments
            .store(self.segments.len() as u64, Ordering::Relaxed);
    }

    /// Writes `payloads` as consecutive records (setting their indexes) with one write and one
    /// fsync. On `Ok`, every record is durable.
    #[cfg(test)]
    pub(crate) fn append_batch(&mut self, payloads: &mut [Vec<u8>]) -> Result<(), WalWriteError> {
        let batch_bytes: u64 = payloads
            .iter()
            .map(|payload| FRAME_HEADER_BYTES + payload.len() as u64)
            .sum();
        let active_bytes = self.active_bytes();
        if !payloads.is_empty()
            && active_bytes > 0
            && active_bytes + batch_bytes > self.segment_max_bytes
        {
            self.roll().map_err(WalWriteError::Fatal)?;
        }
        self.append_batch_in_active(payloads)
    }

    /// Like `append_batch`, but never rolls: the writer rolls itself, after a batch, so that
    /// every segment it starts begins with a checkpoint of committed state.
    pub(crate) fn append_batch_in_active(
        &mut self,
        payloads: &mut [Vec<u8>],
    ) -> Result<(), WalWriteError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let batch_bytes: u64 = payloads
            .iter()
            .map(|payload| FRAME_HEADER_BYTES + payload.len() as u64)
            .sum();
        let active_bytes = self.active_bytes();
        self.write_buffer.clear();
        self.write_buffer.reserve(batch_bytes as usize);
        for (position, payload) in payloads.iter_mut().enumerate() {
            codec::set_index(payload, self.next_index + position as u64);
            segment::put_frame(&mut self.write_buffer, payload);
        }
        if let Err(error) = self.write_frames() {
            return match self.active.set_len(active_bytes) {
                Ok(()) => Err(WalWriteError::Rejected(error)),
                Err(rollback_error) => Err(WalWriteError::Fatal(io::Error::new(
                    rollback_error.kind(),
                    format!("write failed ({error}) and cutting it back failed: {rollback_error}"),
                ))),
            };
        }
        if self.write_buffer.capacity() > MAX_RETAINED_BUFFER_BYTES {
            self.write_buffer = Vec::new();
        }
        self.sync().map_err(WalWriteError::Fatal)?;
        if let Some(active) = self.segments.back_mut() {
            active.bytes = active_bytes + batch_bytes;
        }
        self.next_index += payloads.len() as u64;
        self.publish_stats();
        Ok(())
    }

    /// Closes the active segment and starts a new one named after the next index.
    fn roll(&mut self) -> io::Result<()> {
        let (file, segment) = create_segment(&self.directory, self.next_index, &self.fsync_timer)?;
        tracing::debug!(segment = %segment.path.display(), "wal segment started");
        self.active = file;
        self.segments.push_back(segment);
        self.publish_stats();
        Ok(())
    }

    /// Writes the prepared frames to the active segment.
    fn write_frames(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(InjectedFailure::Write(kind)) = self.injected_failure {
            self.injected_failure = None;
            let half = self.write_buffer.len() / 2;
            self.active.write_all(&self.write_buffer[..half])?;
            return Err(io::Error::new(kind, "injected write failure"));
        }
        self.active.write_all(&self.write_buffer)
    }

    /// Fsyncs the active segment.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(InjectedFailure::Fsync) = self.injected_failure {
            self.injected_failure = None;
            return Err(io::Error::other("injected fsync failure"));
        }
        self.fsync_timer.sync_file(&self.active)
    }

    /// Makes the next batch meet `failure`.
    #[cfg(test)]
    pub(crate) fn inject_failure(&mut self, failure: InjectedFailure) {
        self.injected_failure = Some(failure);
    }

    /// Deletes every segment all of whose records have an index below `index`, never the
    /// active one; returns how many were deleted. This is how the WAL is truncated once the
    /// records below `index` are durable elsewhere (a published split).
    pub(crate) fn remove_segments_before(&mut self, index: u64) -> io::Result<usize> {
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[1].first_index <= index {
            let path = self.segments[0].path.clone();
            std::fs::remove_file(&path)?;
            self.segments.pop_front();
            removed += 1;
            tracing::debug!(segment = %path.display(), "wal segment removed");
        }
        if removed > 0 {
            self.fsync_timer.sync_directory(&self.directory)?;
            self.publish_stats();
        }
        Ok(removed)
    }
}

fn create_segment(
    directory: &Path,
    first_index: u64,
    fsync_timer: &FsyncTimer,
) -> io::Result<(File, RecoveredSegment)> {
    let path = directory.join(segment::file_name(first_index));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    fsync_timer.sync_directory(directory)?;
    Ok((
        file,
        RecoveredSegment {
            first_index,
            path,
            bytes: 0,
        },
    ))
}
