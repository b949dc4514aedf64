//! The durable outage buffer: batches the server could not take, kept on disk in order.
//!
//! ## Layout
//!
//! A directory of segment files `seg-<id as 16 hex digits>.buf`, each a sequence of frames
//! (see [`super::buffer_record`]: length, CRC-32C, payload), and a `cursor.json`
//! `{"segment":id,"offset":bytes,"skip":[[id,offset],...]}` naming the first frame not yet
//! consumed and frames dropped out of order. Segments roll at `segment_bytes`; a segment
//! wholly before the cursor is deleted.
//!
//! ## Invariants
//!
//! * [`DiskBuffer::append`] returns once the frame is fsynced: the caller may then advance
//!   the file's checkpoint, because the buffer owns the batch.
//! * Frames are consumed strictly in append order ([`DiskBuffer::front`] /
//!   [`DiskBuffer::pop_front`]), so the batches of one producer key replay in sequence order.
//! * Limits: at most `max_bytes` of frames, none older than `max_age`. Room is made by dropping
//!   the OLDEST frames (never the one being sent); each drop is reported through
//!   [`DiskBuffer::take_drops`] with its reason, for the caller to count and log.
//! * The cursor is rewritten (temp file, fsync, rename, fsync dir) whenever the head moves. A
//!   crash can only leave it behind, never ahead: frames may be re-sent after a restart (the
//!   server answers `InvalidSequenceId`), never skipped.
//! * On open, a torn frame at the end of the last segment (a crash mid-append, whose caller
//!   never got `Ok`) is cut off; a frame failing its checksum elsewhere is dropped as
//!   `buffer_corrupt`, and so is the rest of a segment whose framing is broken.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::buffer_files::now_unix_ms;
use super::buffer_files::{
    io_err, read_cursor, read_frame, segment_id, segment_name, sync_dir, write_cursor, CursorFile,
    Position,
};
use super::buffer_record::{
    checksum_ok, decode_batch, decode_meta, encode_frame, parse_header, BufferedBatch, RecordMeta,
    FRAME_HEADER, MAX_PAYLOAD,
};
use crate::metrics::DropReason;

/// Limits of the buffer.
#[derive(Debug, Clone)]
pub struct DiskBufferOptions {
    /// Total frame bytes kept (default 256 MiB).
    pub max_bytes: u64,
    /// The longest a batch is kept (default 24 h, loongcollector's `log_expire_time`).
    pub max_age: Duration,
    /// Segment file size before rolling to a new one (default 8 MiB).
    pub segment_bytes: u64,
}

impl Default for DiskBufferOptions {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            max_age: Duration::from_secs(24 * 3600),
            segment_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A drop the buffer made, for the caller to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferDrop {
    /// Why.
    pub reason: DropReason,
    /// Log records in the dropped batch (0 when unreadable).
    pub records: u64,
    /// Its uncompressed size (its frame size when unreadable).
    pub bytes: u64,
    /// Its producer key, or the segment for unreadable data.
    pub context: String,
}

/// Why the buffer failed.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    /// A buffer file could not be read or written.
    #[error("disk buffer i/o on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

#[derive(Debug)]
struct Entry {
    at: Position,
    frame_len: u64,
    meta: RecordMeta,
}

#[derive(Debug)]
struct Writer {
    segment: u64,
    file: File,
    len: u64,
}

/// The buffer; see the module docs. Not internally synchronised: wrap it in a mutex.
#[derive(Debug)]
pub struct DiskBuffer {
    dir: PathBuf,
    options: DiskBufferOptions,
    entries: VecDeque<Entry>,
    total_bytes: u64,
    writer: Option<Writer>,
    next_segment: u64,
    skips: BTreeSet<Position>,
    head_pinned: bool,
    drops: Vec<BufferDrop>,
}

impl DiskBuffer {
    /// Opens (creating if needed) the buffer in `dir` and indexes what it holds.
    pub fn open(dir: impl AsRef<Path>, options: DiskBufferOptions) -> Result<Self, BufferError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let cursor = read_cursor(&dir);
        let mut segments: Vec<u64> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(Result::ok)
            .filter_map(|e| segment_id(&e.file_name().to_string_lossy()))
            .collect();
        segments.sort_unstable();
        let start = cursor.as_ref().map_or(
            Position {
                segment: 0,
                offset: 0,
            },
            |c| Position {
                segment: c.segment,
                offset: c.offset,
            },
        );
        let skips: BTreeSet<Position> = cursor
            .map(|c| {
                c.skip
                    .into_iter()
                    .map(|(segment, offset)| Position { segment, offset })
                    .collect()
            })
            .unwrap_or_default();
        let mut buffer = Self {
            dir,
            options,
            entries: VecDeque::new(),
            total_bytes: 0,
            writer: None,
            next_segment: segments.last().map_or(0, |last| last + 1),
            skips,
            head_pinned: false,
            drops: Vec::new(),
        };
        let last = segments.last().copied();
        for id in segments {
            if id < start.segment {
                let path = buffer.dir.join(segment_name(id));
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let from = if id == start.segment { start.offset } else { 0 };
            buffer.index_segment(id, from, Some(id) == last)?;
        }
        let head = buffer.head_position();
        buffer.skips.retain(|p| *p >= head);
        buffer.save_cursor()?;
        Ok(buffer)
    }

    /// Reads the frames of segment `id` from `from` into the index.
    fn index_segment(&mut self, id: u64, from: u64, is_last: bool) -> Result<(), BufferError> {
        let path = self.dir.join(segment_name(id));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        let mut pos = from;
        while pos < size {
            let mut header = [0u8; FRAME_HEADER];
            let torn = file.read_exact_at(&mut header, pos).is_err();
            let (len, crc) = parse_header(header);
            let end = pos + FRAME_HEADER as u64 + len as u64;
            if torn || len > MAX_PAYLOAD || end > size {
                if is_last {
                    tracing::warn!(path = %path.display(), offset = pos, "cutting off a torn buffer frame");
                    file.set_len(pos).map_err(io_err(&path))?;
                } else {
                    self.drops.push(BufferDrop {
                        reason: DropReason::BufferCorrupt,
                        records: 0,
                        bytes: size - pos,
                        context: path.display().to_string(),
                    });
                }
                break;
            }
            let mut payload = vec![0u8; len];
            file.read_exact_at(&mut payload, pos + FRAME_HEADER as u64)
                .map_err(io_err(&path))?;
            let at = Position {
                segment: id,
                offset: pos,
            };
            let meta = if checksum_ok(&payload, crc) {
                decode_meta(&payload).ok()
            } else {
                None
            };
            match meta {
                Some(_) if self.skips.contains(&at) => {}
                Some(meta) => {
                    self.total_bytes += end - pos;
                    self.entries.push_back(Entry {
                        at,
                        frame_len: end - pos,
                        meta,
                    });
                }
                None => self.drops.push(BufferDrop {
                    reason: DropReason::BufferCorrupt,
                    records: 0,
                    bytes: end - pos,
                    context: path.display().to_string(),
                }),
            }
            pos = end;
        }
        if is_last {
            self.writer = Some(Writer {
                segment: id,
                file,
                len: pos,
            });
        }
        Ok(())
    }

    /// Batches held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Frame bytes held.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The drops made since the last call, for the caller to count and log.
    pub fn take_drops(&mut self) -> Vec<BufferDrop> {
        std::mem::take(&mut self.drops)
    }

    /// Appends `batch` durably, first dropping the oldest batches to stay within `max_bytes`.
    /// A batch larger than `max_bytes` on its own is dropped itself (`buffer_full`).
    pub fn append(&mut self, batch: &BufferedBatch) -> Result<(), BufferError> {
        let (frame, raw_bytes) = encode_frame(batch);
        let frame_len = frame.len() as u64;
        if frame_len > self.options.max_bytes {
            self.drops.push(BufferDrop {
                reason: DropReason::BufferFull,
                records: batch.group.logs.len() as u64,
                bytes: raw_bytes,
                context: batch.producer_key.clone(),
            });
            return Ok(());
        }
        while self.total_bytes + frame_len > self.options.max_bytes {
            let victim = usize::from(self.head_pinned);
            if victim >= self.entries.len() {
                break;
            }
            self.drop_entry(victim, DropReason::BufferFull)?;
        }
        let dir = self.dir.clone();
        let writer = self.writable(frame_len)?;
        let at = Position {
            segment: writer.segment,
            offset: writer.len,
        };
        let path = dir.join(segment_name(writer.segment));
        writer
            .file
            .write_all_at(&frame, writer.len)
            .map_err(io_err(&path))?;
        writer.file.sync_data().map_err(io_err(&path))?;
        writer.len += frame_len;
        let meta = RecordMeta {
            created_unix_ms: batch.created_unix_ms,
            records: batch.group.logs.len() as u64,
            raw_bytes,
            producer_key: batch.producer_key.clone(),
        };
        self.total_bytes += frame_len;
        self.entries.push_back(Entry {
            at,
            frame_len,
            meta,
        });
        Ok(())
    }

    /// The segment to append `frame_len` bytes to, rolling to a new one when full.
    fn writable(&mut self, frame_len: u64) -> Result<&mut Writer, BufferError> {
        let roll = self
            .writer
            .as_ref()
            .is_none_or(|w| w.len > 0 && w.len + frame_len > self.options.segment_bytes);
        if roll {
            let id = self.next_segment;
            self.next_segment += 1;
            let path = self.dir.join(segment_name(id));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(io_err(&path))?;
            sync_dir(&self.dir)?;
            self.writer = Some(Writer {
                segment: id,
                file,
                len: 0,
            });
            self.delete_consumed_segments()?;
        }
        self.writer.as_mut().ok_or_else(|| BufferError::Io {
            path: self.dir.clone(),
            source: io::Error::other("no writable segment"),
        })
    }

    /// Drops batches older than `max_age` (never the one being sent); `now_ms` is the time.
    pub fn expire(&mut self, now_ms: u64) -> Result<(), BufferError> {
        let max_age = u64::try_from(self.options.max_age.as_millis()).unwrap_or(u64::MAX);
        let mut index = usize::from(self.head_pinned);
        while let Some(entry) = self.entries.get(index) {
            if now_ms.saturating_sub(entry.meta.created_unix_ms) <= max_age {
                index += 1;
                continue;
            }
            self.drop_entry(index, DropReason::BufferExpired)?;
        }
        Ok(())
    }

    /// The oldest batch, read from disk and pinned (it cannot be dropped to make room) until
    /// [`DiskBuffer::pop_front`] or [`DiskBuffer::unpin`]. Unreadable frames are dropped as
    /// `buffer_corrupt` on the way.
    pub fn front(&mut self) -> Result<Option<BufferedBatch>, BufferError> {
        while let Some(entry) = self.entries.front() {
            let path = self.dir.join(segment_name(entry.at.segment));
            let read = read_frame(&path, entry.at.offset, entry.frame_len);
            match read.map(|payload| decode_batch(&payload)) {
                Ok(Ok(batch)) => {
                    self.head_pinned = true;
                    return Ok(Some(batch));
                }
                Ok(Err(reason)) | Err(reason) => {
                    tracing::warn!(path = %path.display(), reason, "unreadable buffer frame");
                    self.drop_entry(0, DropReason::BufferCorrupt)?;
                }
            }
        }
        Ok(None)
    }

    /// Lets the head be dropped again (its send failed; it stays first in line).
    pub fn unpin(&mut self) {
        self.head_pinned = false;
    }

    /// Consumes the head (delivered, or dropped by the caller after counting it).
    pub fn pop_front(&mut self) -> Result<(), BufferError> {
        self.head_pinned = false;
        if let Some(entry) = self.entries.pop_front() {
            self.total_bytes -= entry.frame_len;
        }
        self.after_head_moved()
    }

    fn drop_entry(&mut self, index: usize, reason: DropReason) -> Result<(), BufferError> {
        let Some(entry) = self.entries.remove(index) else {
            return Ok(());
        };
        self.total_bytes -= entry.frame_len;
        self.drops.push(BufferDrop {
            reason,
            records: entry.meta.records,
            bytes: entry.meta.raw_bytes,
            context: entry.meta.producer_key,
        });
        if index == 0 {
            self.head_pinned = false;
            self.after_head_moved()
        } else {
            self.skips.insert(entry.at);
            self.save_cursor()
        }
    }

    fn head_position(&self) -> Position {
        match (self.entries.front(), &self.writer) {
            (Some(entry), _) => entry.at,
            (None, Some(writer)) => Position {
                segment: writer.segment,
                offset: writer.len,
            },
            (None, None) => Position {
                segment: self.next_segment,
                offset: 0,
            },
        }
    }

    fn after_head_moved(&mut self) -> Result<(), BufferError> {
        let head = self.head_position();
        self.skips.retain(|p| *p >= head);
        self.save_cursor()?;
        self.delete_consumed_segments()
    }

    fn delete_consumed_segments(&mut self) -> Result<(), BufferError> {
        let head = self.head_position().segment;
        let entries = fs::read_dir(&self.dir).map_err(io_err(&self.dir))?;
        for id in entries
            .filter_map(Result::ok)
            .filter_map(|e| segment_id(&e.file_name().to_string_lossy()))
        {
            if id < head {
                let path = self.dir.join(segment_name(id));
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        Ok(())
    }

    fn save_cursor(&self) -> Result<(), BufferError> {
        let head = self.head_position();
        let cursor = CursorFile {
            segment: head.segment,
            offset: head.offset,
            skip: self.skips.iter().map(|p| (p.segment, p.offset)).collect(),
        };
        write_cursor(&self.dir, &cursor)
    }
}
