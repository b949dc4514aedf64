//! Segment files: their names, the frame around each record, and reading frames back.
//!
//! A segment is `wal-<first index, 20 digits>.log`, a plain concatenation of frames
//! `[u32 LE payload length][u32 LE crc32c(payload)][payload]` with no file header and no
//! padding (see the [design doc](super)).
//!
//! Invariant: [`FrameReader`] never returns a payload whose length or checksum is wrong, and
//! never allocates more than the bytes that are really left in the file: a damaged frame is
//! reported as [`FrameRead::Damaged`] with its offset, and the caller decides whether that is a
//! torn tail (last segment) or corruption (any other segment).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::codec::MAX_PAYLOAD_BYTES;

/// Bytes of a frame header: payload length and checksum.
pub(crate) const FRAME_HEADER_BYTES: u64 = 8;

const FILE_PREFIX: &str = "wal-";
const FILE_SUFFIX: &str = ".log";
const INDEX_DIGITS: usize = 20;

/// The file name of the segment whose first record has `first_index`.
pub(crate) fn file_name(first_index: u64) -> String {
    format!("{FILE_PREFIX}{first_index:0INDEX_DIGITS$}{FILE_SUFFIX}")
}

/// The first index encoded in a segment file name, or `None` for any other file.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    if digits.len() != INDEX_DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// Index of the segment's first record (from its name).
    pub first_index: u64,
    /// Where it is.
    pub path: PathBuf,
}

/// The segment files of `directory`, in index order; other files are ignored.
pub(crate) fn list(directory: &Path) -> io::Result<Vec<SegmentFile>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(first_index) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        if entry.file_type()?.is_file() {
            segments.push(SegmentFile {
                first_index,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|segment| segment.first_index);
    Ok(segments)
}

/// Appends one frame around `payload` to `buffer`.
pub(crate) fn put_frame(buffer: &mut Vec<u8>, payload: &[u8]) {
    // Payloads are at most MAX_PAYLOAD_BYTES (checked when encoding), so the length fits.
    buffer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buffer.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    buffer.extend_from_slice(payload);
}

/// What is wrong with a damaged frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Damage {
    /// Fewer than eight bytes remain: the header itself is cut.
    ShortHeader,
    /// The length field is zero (no record has an empty payload; zero-filled space reads so).
    ZeroLength,
    /// The length field exceeds the record limit.
    LengthOverLimit,
    /// The payload runs past the end of the file.
    ShortPayload,
    /// The payload's checksum does not match.
    ChecksumMismatch,
}

impl Damage {
    /// The damage in words, for logs and errors.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Damage::ShortHeader => "the frame header is cut short",
            Damage::ZeroLength => "the frame length is zero",
            Damage::LengthOverLimit => "the frame length exceeds the record limit",
            Damage::ShortPayload => "the payload runs past the end of the file",
            Damage::ChecksumMismatch => "the payload checksum does not match",
        }
    }
}

/// One step of reading a segment.
#[derive(Debug)]
pub(crate) enum FrameRead {
    /// A complete frame whose checksum matches.
    Frame {
        /// Offset of the frame header in the file.
        offset: u64,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The file ends exactly after the previous frame.
    End,
    /// The bytes at `offset` are not a valid frame.
    Damaged {
        /// Offset of the damaged frame header in the file.
        offset: u64,
        /// What is wrong.
        damage: Damage,
    },
}

/// Reads the frames of one segment file, front to back.
pub(crate) struct FrameReader {
    reader: BufReader<File>,
    position: u64,
    file_len: u64,
}

impl FrameReader {
    /// Opens a segment for reading.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        Ok(Self {
            reader: BufReader::with_capacity(1 << 20, file),
            position: 0,
            file_len,
        })
    }

    /// The file's length when it was opened.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Reads the next frame. After `End` or `Damaged`, the reader must not be used again.
    pub(crate) fn next_frame(&mut self) -> io::Result<FrameRead> {
        let offset = self.position;
        let remaining = self.file_len - offset;
        if remaining == 0 {
            return Ok(FrameRead::End);
        }
        let damaged = |damage| Ok(FrameRead::Damaged { offset, damage });
        if remaining < FRAME_HEADER_BYTES {
            return damaged(Damage::ShortHeader);
        }
        let mut header = [0u8; FRAME_HEADER_BYTES as usize];
        self.reader.read_exact(&mut header)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let length = u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
        let checksum = u32::from_le_bytes([c0, c1, c2, c3]);
        if length == 0 {
            return damaged(Damage::ZeroLength);
        }
        if length > MAX_PAYLOAD_BYTES {
            return damaged(Damage::LengthOverLimit);
        }
        if length > remaining - FRAME_HEADER_BYTES {
            return damaged(Damage::ShortPayload);
        }
        // Bounded by both the record limit and the bytes really in the file.
        let mut payload = vec![0u8; length as usize];
        self.reader.read_exact(&mut payload)?;
        if crc32c::crc32c(&payload) != checksum {
            return damaged(Damage::ChecksumMismatch);
        }
        self.position = offset + FRAME_HEADER_BYTES + length;
        Ok(FrameRead::Frame { offset, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_sort_by_index() {
        assert_eq!(file_name(0), "wal-00000000000000000000.log");
        assert_eq!(file_name(u64::MAX), "wal-18446744073709551615.log");
        for index in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_file_name(&file_name(index)), Some(index));
        }
        assert_eq!(parse_file_name("wal-1.log"), None);
        assert_eq!(parse_file_name("wal-0000000000000000000a.log"), None);
        assert_eq!(parse_file_name("LOCK"), None);
        assert_eq!(parse_file_name("wal-99999999999999999999.log"), None);
    }

    fn read_all(bytes: &[u8]) -> Vec<FrameRead> {
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join(file_name(0));
        std::fs::write(&path, bytes).expect("write");
        let mut reader = FrameReader::open(&path).expect("open");
        let mut reads = Vec::new();
        loop {
            let read = reader.next_frame().expect("read");
            let done = !matches!(read, FrameRead::Frame { .. });
            reads.push(read);
            if done {
                return reads;
            }
        }
    }

    #[test]
    fn frames_are_read_back_and_damage_is_located() {
        let mut bytes = Vec::new();
        put_frame(&mut bytes, b"first");
        put_frame(&mut bytes, b"second");
        let reads = read_all(&bytes);
        assert!(
            matches!(&reads[0], FrameRead::Frame { offset: 0, payload } if payload == b"first")
        );
        assert!(
            matches!(&reads[1], FrameRead::Frame { offset: 13, payload } if payload == b"second")
        );
        assert!(matches!(reads[2], FrameRead::End));

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let reads = read_all(&flipped);
        assert!(matches!(
            reads[1],
            FrameRead::Damaged {
                offset: 13,
                damage: Damage::ChecksumMismatch
            }
        ));

        let reads = read_all(&bytes[..bytes.len() - 1]);
        assert!(matches!(
            reads[1],
            FrameRead::Damaged {
                offset: 13,
                damage: Damage::ShortPayload
            }
        ));
        let reads = read_all(&bytes[..16]);
        assert!(matches!(
            reads[1],
            FrameRead::Damaged {
                offset: 13,
                damage: Damage::ShortHeader
            }
        ));

        let mut zeros = bytes.clone();
        zeros.extend_from_slice(&[0; 32]);
        let reads = read_all(&zeros);
        assert!(matches!(
            reads[2],
            FrameRead::Damaged {
                offset: 27,
                damage: Damage::ZeroLength
            }
        ));

        let mut huge = bytes;
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 12]);
        let reads = read_all(&huge);
        assert!(matches!(
            reads[2],
            FrameRead::Damaged {
                offset: 27,
                damage: Damage::LengthOverLimit
            }
        ));
    }
}
