//! # The write-ahead log
//!
//! Every acknowledged PutLogs group, and every logstore tombstone, is a record in this log
//! before anyone is told it succeeded. At start the log is replayed into the memtable and the
//! producer table, so a crash (`kill -9`, power loss after fsync) loses nothing acknowledged
//! and resurrects nothing dropped.
//!
//! ## Design constraints
//!
//! - One writer: a single thread owns the active segment; appenders hand it encoded records
//!   through a channel and wait for its answer (see `crate::writer`). Records are never
//!   written concurrently, so the log is one totally ordered sequence.
//! - An acknowledgement follows the fsync: a batch of records is written with one `write`
//!   and made durable with one `fdatasync` before any of its appenders is answered (group
//!   commit: concurrent appends share the fsync).
//! - All records are checksummed (CRC-32C, hardware accelerated); nothing unchecked is served.
//! - A record never spans two segments, and a batch is never split across segments.
//! - Little-endian everywhere, independent of the host.
//!
//! ## On-disk layout
//!
//! ```text
//! <wal_dir>/
//!   LOCK                             flock()ed by the one engine using the directory
//!   wal-00000000000000000000.log     records 0 .. 41
//!   wal-00000000000000000042.log     records 42 .. (the active segment, always the last)
//! ```
//!
//! A segment's name is the index of its first record, zero-padded to 20 digits so names
//! sort like indexes. Record indexes start at 0 and grow by one per record, across segments.
//! A segment is a concatenation of frames, with no file header and no padding:
//!
//! ```text
//! frame   := length:u32  crc:u32  payload[length]     crc = CRC-32C (Castagnoli) of payload
//! ```
//!
//! The payload (see [`codec`]) is versioned:
//!
//! ```text
//! payload := version:u8 (= 1)  kind:u8  index:u64  body
//! kind 1, Append:
//!   logstore:i64  first_offset:u64  shard:u32
//!   has_producer:u8 (0 | 1)  [producer_key:bytes  sequence_id:u64]
//!   topic:bytes  source:bytes  tags:fields
//!   log_count:u32  { seconds:u32  nanos:u32  contents:fields }*
//! kind 2, DropLogstore:
//!   logstore:i64
//! kind 3, Checkpoint (the first record of every segment the writer starts):
//!   producer_count:u32 { logstore:i64  shard:u32  key:bytes  sequence_id:u64 }*
//!   dropped_count:u32 { logstore:i64 }*
//! bytes   := length:u32  byte[length]       (opaque: non-UTF-8 keys and values round-trip)
//! fields  := count:u32  { key:bytes  value:bytes }*
//! ```
//!
//! The producer sequence id travels in the same record as the data it commits, so after any
//! crash both are present or neither is. `index` repeats the record's position, so a
//! misnamed, misplaced or stale segment is detected rather than replayed out of order.
//! `first_offset` is the logstore-wide offset of the group's first record, assigned by the
//! writer, so offsets survive replay unchanged.
//!
//! ## Limits
//!
//! - A payload is at most 64 MiB ([`codec::MAX_PAYLOAD_BYTES`]); larger groups are refused
//!   before anything is written. A length field above the limit is damage, never an allocation.
//! - A producer key is at most 4 KiB and valid UTF-8.
//! - While decoding, every length and list count is checked against the bytes that remain in
//!   the payload before anything is allocated.
//! - The writer rolls to a new segment after a batch that took the active one to
//!   `segment_max_bytes`; a batch (capped at the same size, but always at least one record) is
//!   never split, so a segment exceeds the limit by at most one batch.
//! - Before a batch, the writer checks free space on the WAL's file system and refuses appends
//!   that would leave less than `min_free_disk_bytes` (retryable `DiskFull`), so the disk never
//!   fills under the log. Tombstones are exempt: they are tiny and are how space is reclaimed.
//!
//! ## Writing, and what a failure leaves behind
//!
//! 1. The appender encodes its payload (in parallel with other appenders, on its own task).
//! 2. The writer collects whatever is queued into a batch, checks each append (producer
//!    sequence, dropped logstore, free space), assigns indexes and offsets, and writes the
//!    batch's frames with one `write` to the active segment, rolling first if needed (the new
//!    file is created and the directory fsynced).
//! 3. `fdatasync`, then the records enter the memtable, then the appenders are answered.
//!
//! If the `write` fails (e.g. `ENOSPC`), the file is cut back to its previous length and the
//! batch's appenders get an error; the log stays usable. If the fsync fails, or the cut does,
//! the file's contents are unknown (the kernel may have dropped dirty pages): the writer
//! refuses all further writes (`WalFailed`) until a restart replays what really is on disk.
//!
//! ## Recovery
//!
//! Segments are read in index order, frame by frame ([`recovery`]):
//!
//! - A frame that is cut short (header or payload past the end of the file), has a zero or
//!   over-limit length, or fails its checksum is damage. In the **last** segment, damage is the
//!   torn tail of a batch that was never fsynced, hence never acknowledged: it and everything
//!   after it are truncated away (logged with `warn`, the truncation fsynced) before the
//!   engine accepts writes. In **any other** segment it is `Corrupt`, and the engine refuses
//!   to open: those bytes were fsynced and acknowledged, and skipping them would silently lose
//!   data.
//! - A frame whose checksum matches but whose payload does not decode, whose index is not the
//!   expected one, or a gap between segments, is `Corrupt` wherever it is.
//!
//! Known limit: inside the last segment, corruption of fsynced bytes by the disk itself
//! cannot be told apart from a torn write, and is truncated like one. Telling them apart would
//! need a second, independent record of the last durable position (a checkpoint file fsynced
//! with every batch), which doubles the fsyncs of the write path.
//!
//! ## Truncation
//!
//! Once a split holding a logstore's records below offset `n` is published, the writer
//! learns it (`SplitPublished`) and removes whole segments from the front of the log
//! ([`WriteAheadLog::remove_segments_before`]; never the active one; the directory is
//! fsynced) when every record in them is in a split (or belongs to a dropped logstore). The
//! writer tracks, per segment, the last offset of each logstore it holds.
//!
//! Removed segments also carried producer sequence ids and tombstones, so every segment the
//! writer starts begins with a **checkpoint** record (kind 3) of the exactly-once table and
//! the tombstones as committed when the previous segment ended; the log is only cut in front
//! of such a segment, and replay from there restores both. Logstore offsets need no
//! checkpoint: they continue after the catalog's published splits. Replay skips records
//! below a logstore's last published split, so a crash between publish and truncation
//! neither loses nor doubles a record.

pub(crate) mod codec;
mod log;
mod recovery;
mod segment;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use log::InjectedFailure;
pub(crate) use log::{FsyncTimer, WalOptions, WalStats, WalWriteError, WriteAheadLog};
