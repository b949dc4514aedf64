//! Replaying the WAL directory at open: every record in index order, torn tails cut away.
//!
//! Invariants:
//! - Every record handed to the caller passed its frame checksum, decoded, and carries the
//!   index that its position implies (segment name + position inside the segment); segments are
//!   contiguous (each starts where the previous ended).
//! - Damage in the last segment is the torn tail of a write that was never acknowledged: it is
//!   logged, truncated away (and the truncation fsynced) before the engine appends anything, so it
//!   can never be served nor end up in the middle of the log.
//! - Damage anywhere else is [`StoreError::Corrupt`]: replay stops rather than skip data that
//!   may have been acknowledged.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::codec::{self, WalRecord};
use super::log::FsyncTimer;
use super::segment::{self, FrameRead, FrameReader};
use crate::StoreError;

/// A segment as replay left it.
#[derive(Debug, Clone)]
pub(crate) struct RecoveredSegment {
    /// Index of its first record.
    pub first_index: u64,
    /// Where it is.
    pub path: PathBuf,
    /// Its length after any torn tail was cut.
    pub bytes: u64,
}

/// The outcome of a replay.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Every segment, in index order.
    pub segments: Vec<RecoveredSegment>,
    /// The index the next record will get.
    pub next_index: u64,
    /// How many records were replayed.
    pub records: u64,
}

fn corrupt(path: &Path, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

/// Replays every segment of `directory` into `apply`, which gets each record with the file
/// and offset it came from (for its own errors).
pub(crate) fn replay(
    directory: &Path,
    fsync_timer: &FsyncTimer,
    apply: &mut dyn FnMut(WalRecord, &Path, u64) -> Result<(), StoreError>,
) -> Result<Recovered, StoreError> {
    let files = segment::list(directory)?;
    let mut segments = Vec::with_capacity(files.len());
    let mut next_index: Option<u64> = None;
    let mut records = 0u64;
    for (position, file) in files.iter().enumerate() {
        let is_last = position + 1 == files.len();
        if let Some(expected) = next_index {
            if file.first_index != expected {
                return Err(corrupt(
                    &file.path,
                    0,
                    format!(
                        "the segment starts at record index {} but the previous segment ends before index {expected}: segments are missing or misnamed",
                        file.first_index
                    ),
                ));
            }
        }
        let mut expected_index = file.first_index;
        let mut reader = FrameReader::open(&file.path)?;
        let valid_bytes = loop {
            match reader.next_frame()? {
                FrameRead::Frame { offset, payload } => {
                    let record = codec::decode(payload.into()).map_err(|error| {
                        corrupt(
                            &file.path,
                            offset,
                            format!("a checksummed record does not decode: {error}"),
                        )
                    })?;
                    if record.index != expected_index {
                        return Err(corrupt(
                            &file.path,
                            offset,
                            format!(
                                "record index {} where {expected_index} was expected",
                                record.index
                            ),
                        ));
                    }
                    apply(record, &file.path, offset)?;
                    records += 1;
                    expected_index = expected_index.checked_add(1).ok_or_else(|| {
                        corrupt(&file.path, offset, "record index overflows".to_owned())
                    })?;
                }
                FrameRead::End => break reader.file_len(),
                FrameRead::Damaged { offset, damage } if is_last => {
                    tracing::warn!(
                        segment = %file.path.display(),
                        offset,
                        dropped_bytes = reader.file_len() - offset,
                        reason = damage.describe(),
                        "truncating the torn tail of the wal: these bytes were never acknowledged"
                    );
                    let handle = OpenOptions::new().write(true).open(&file.path)?;
                    handle.set_len(offset)?;
                    fsync_timer.sync_file(&handle)?;
                    break offset;
                }
                FrameRead::Damaged { offset, damage } => {
                    return Err(corrupt(
                        &file.path,
                        offset,
                        format!(
                            "{} inside a segment that is not the last one, where every record was acknowledged",
                            damage.describe()
                        ),
                    ));
                }
            }
        };
        segments.push(RecoveredSegment {
            first_index: file.first_index,
            path: file.path.clone(),
            bytes: valid_bytes,
        });
        next_index = Some(expected_index);
    }
    Ok(Recovered {
        segments,
        next_index: next_index.unwrap_or(0),
        records,
    })
}
