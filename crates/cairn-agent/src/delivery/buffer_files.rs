//! The disk buffer's files: segment names, the cursor file, frame reads and directory syncs.
//! (The formats are described in [`super::disk_buffer`] and [`super::buffer_record`].)

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::buffer_record::{checksum_ok, parse_header, FRAME_HEADER};
use super::disk_buffer::BufferError;

const CURSOR_FILE: &str = "cursor.json";
const CURSOR_TMP: &str = "cursor.json.tmp";

/// A frame's place: segment id and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// `cursor.json`: the head, and frames dropped out of order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CursorFile {
    pub segment: u64,
    pub offset: u64,
    #[serde(default)]
    pub skip: Vec<(u64, u64)>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BufferError + '_ {
    move |source| BufferError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn segment_name(id: u64) -> String {
    format!("seg-{id:016x}.buf")
}

pub(crate) fn segment_id(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("seg-")?.strip_suffix(".buf")?;
    u64::from_str_radix(hex, 16).ok()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads the frame at `offset` and returns its payload if its checksum holds.
pub(crate) fn read_frame(path: &Path, offset: u64, frame_len: u64) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut frame = vec![0u8; usize::try_from(frame_len).map_err(|e| e.to_string())?];
    file.read_exact_at(&mut frame, offset)
        .map_err(|e| e.to_string())?;
    let mut header = [0u8; FRAME_HEADER];
    header.copy_from_slice(frame.get(..FRAME_HEADER).ok_or("short frame")?);
    let (_, crc) = parse_header(header);
    let payload = frame.split_off(FRAME_HEADER);
    if checksum_ok(&payload, crc) {
        Ok(payload)
    } else {
        Err("checksum mismatch".to_owned())
    }
}

/// Fsyncs a directory (makes creations and renames in it durable).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BufferError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// The cursor, if a readable one exists (none: start at the oldest segment).
pub(crate) fn read_cursor(dir: &Path) -> Option<CursorFile> {
    let bytes = fs::read(dir.join(CURSOR_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Replaces the cursor atomically and durably.
pub(crate) fn write_cursor(dir: &Path, cursor: &CursorFile) -> Result<(), BufferError> {
    let bytes = serde_json::to_vec(cursor).map_err(|e| BufferError::Io {
        path: dir.join(CURSOR_FILE),
        source: io::Error::other(e),
    })?;
    let tmp = dir.join(CURSOR_TMP);
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(&bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    let path = dir.join(CURSOR_FILE);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}
