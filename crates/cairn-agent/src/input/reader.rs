//! Reading one open file: new complete lines from a position, held partial lines, and the
//! checks that notice truncation.
//!
//! ## Invariants
//!
//! * The reader holds the file open for its whole life, so its inode cannot be reused under
//!   it: every byte it reads belongs to the file its [`FileKey`] names — until a truncation,
//!   which it detects ([`ReadOutcome::Truncated`]) and after which it reads nothing more.
//! * Records are emitted in file order, back to back: each record's `start_offset` is the
//!   previous record's `end_offset`, the first one's is the offset the reader was opened at.
//!   [`Reader::emitted_offset`] is the end of the last record emitted.
//! * A record's text is a slice of the buffer its chunk was read into (from
//!   [`ReadBuffers`], which reuses a buffer once no record refers to it): no byte is copied
//!   per record, only the held partial line is copied into the next chunk's buffer.
//! * A record ends at a `'\n'` (stripped, with a `'\r'` before it), at `max_line_bytes` for
//!   an over-long line, at a *forced boundary* (the end of the batch that was in flight
//!   before a restart, so that it can be re-formed exactly), or at the end of the bytes read
//!   when a final line without `'\n'` has been idle for `partial_line_timeout`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::buffers::ReadBuffers;
use super::fingerprint::Fingerprint;
use crate::source::{FileKey, RawRecord};

/// Where a reader stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReaderState {
    /// Its file is at a path some config matches.
    Active,
    /// Its file is no longer at a matched path (renamed away or deleted): read to EOF, close.
    Orphaned,
    /// Nothing more will be read (truncated away, or an orphan read to its end).
    Finished,
}

/// What one [`Reader::read`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// Read whatever was new (maybe nothing); `idle` says for how long nothing has changed.
    Read { idle: Duration, at_eof: bool },
    /// The file is shorter than what we read, or its first bytes changed. `unread` is how
    /// many bytes we had seen it hold beyond what we read (lost to the truncation).
    Truncated { unread: u64 },
}

/// Limits a read works within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadLimits {
    pub chunk_bytes: usize,
    pub max_bytes: u64,
    pub max_line_bytes: usize,
    pub partial_line_timeout: Duration,
}

/// One open file of one config.
#[derive(Debug)]
pub(crate) struct Reader {
    pub key: FileKey,
    pub path: PathBuf,
    pub state: ReaderState,
    pub fingerprint: Fingerprint,
    /// Set once a truncation was detected (the reader is then finished).
    pub truncated: bool,
    file: File,
    /// The next byte to read from the file.
    read_offset: u64,
    /// Bytes read but not yet emitted, starting at `partial_start`.
    partial: Vec<u8>,
    partial_start: u64,
    /// A record must end exactly here (see the module docs).
    boundary: Option<u64>,
    last_size: u64,
    last_change: Instant,
    /// Bytes and records emitted so far (for [`Reader::expected_records`]).
    emitted_bytes: u64,
    emitted_records: u64,
}

impl Reader {
    pub fn new(
        key: FileKey,
        path: PathBuf,
        file: File,
        fingerprint: Fingerprint,
        offset: u64,
        boundary: Option<u64>,
    ) -> Self {
        Self {
            key,
            path,
            state: ReaderState::Active,
            fingerprint,
            truncated: false,
            file,
            read_offset: offset,
            partial: Vec::new(),
            partial_start: offset,
            boundary: boundary.filter(|b| *b > offset),
            last_size: offset,
            last_change: Instant::now(),
            emitted_bytes: 0,
            emitted_records: 0,
        }
    }

    /// The end of the last record emitted.
    pub fn emitted_offset(&self) -> u64 {
        self.partial_start
    }

    /// The position reading continues from (emitted plus held bytes).
    pub fn read_offset(&self) -> u64 {
        self.read_offset
    }

    /// Reads what is new into `out` (records of this reader's file only); see
    /// [`ReadOutcome`].
    pub fn read(
        &mut self,
        limits: ReadLimits,
        buffers: &mut ReadBuffers,
        out: &mut Vec<RawRecord>,
    ) -> io::Result<ReadOutcome> {
        if self.state == ReaderState::Finished {
            return Ok(ReadOutcome::Read {
                idle: self.last_change.elapsed(),
                at_eof: true,
            });
        }
        let size = self.file.metadata()?.len();
        let changed = size != self.last_size;
        if size < self.read_offset || (changed && !self.fingerprint.matches(&self.file)?) {
            let unread = self.last_size.saturating_sub(self.read_offset);
            self.flush_partial(out);
            self.state = ReaderState::Finished;
            self.truncated = true;
            return Ok(ReadOutcome::Truncated { unread });
        }
        if changed {
            self.last_size = size;
            self.last_change = Instant::now();
        }
        let end = size.min(self.read_offset.saturating_add(limits.max_bytes.max(1)));
        out.reserve(self.expected_records(end.saturating_sub(self.read_offset)));
        let chunk_bytes = limits.chunk_bytes.max(1);
        while self.read_offset < end {
            let want = usize::try_from(end - self.read_offset)
                .unwrap_or(usize::MAX)
                .min(chunk_bytes);
            // Each chunk gets its own buffer, which the records cut from it share: the held
            // partial line first, then the new bytes.
            let held = self.partial.len();
            let mut buf = buffers.take(held + want);
            // A recycled buffer still holds its old bytes, all overwritten here: zeroing
            // them first (as growing an emptied buffer does) cost a twentieth of the CPU.
            if buf.len() < held + want {
                buf.resize(held + want, 0);
            } else {
                buf.truncate(held + want);
            }
            buf[..held].copy_from_slice(&self.partial);
            let got = loop {
                match self.file.read_at(&mut buf[held..], self.read_offset) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if got == 0 {
                break;
            }
            buf.truncate(held + got);
            self.read_offset += got as u64;
            self.split(buffers.lend(buf), limits.max_line_bytes, out);
        }
        let idle = self.last_change.elapsed();
        let at_eof = self.read_offset >= size;
        // A held partial line is a final line without '\n' only when nothing follows it: the
        // reader must be at the end of the file. Mid-backlog (a file read in slices of
        // `max_bytes` that has not grown for a while) it is just the cut of this slice, and
        // flushing it would split a line in two.
        if at_eof && !self.partial.is_empty() && idle >= limits.partial_line_timeout {
            self.flush_partial(out);
        }
        Ok(ReadOutcome::Read { idle, at_eof })
    }

    /// Emits the held partial line (if any) as a record, as it is.
    pub fn flush_partial(&mut self, out: &mut Vec<RawRecord>) {
        if self.partial.is_empty() {
            return;
        }
        let mut text = std::mem::take(&mut self.partial);
        let len = text.len() as u64;
        text.truncate(text_len(&text));
        self.emit(out, len, Bytes::from(text));
    }

    /// About how many records `bytes` more bytes hold, from the average record so far (to
    /// size the output once instead of growing it record by record).
    fn expected_records(&self, bytes: u64) -> usize {
        const FIRST_GUESS: u64 = 128;
        let average = match self.emitted_records {
            0 => FIRST_GUESS,
            records => (self.emitted_bytes / records).max(16),
        };
        usize::try_from(bytes / average + 8).unwrap_or(0)
    }

    /// Cuts every complete record out of `buf` (the held partial line followed by newly
    /// read bytes); what is left becomes the held partial line.
    fn split(&mut self, buf: Bytes, max_line_bytes: usize, out: &mut Vec<RawRecord>) {
        let max_line = max_line_bytes.max(1);
        let mut pos = 0usize;
        loop {
            let rest = &buf[pos..];
            if rest.is_empty() {
                break;
            }
            let window = &rest[..rest.len().min(max_line)];
            let mut cut = match memchr::memchr(b'\n', window) {
                Some(newline) => Some(newline + 1),
                None if rest.len() >= max_line => Some(max_line),
                None => None,
            };
            if let Some(boundary) = self.boundary {
                let relative = boundary.saturating_sub(self.partial_start);
                let relative = usize::try_from(relative).unwrap_or(usize::MAX);
                if relative > 0 && relative <= rest.len() && cut.is_none_or(|c| relative < c) {
                    cut = Some(relative);
                }
            }
            let Some(cut) = cut else { break };
            let text = buf.slice(pos..pos + text_len(&rest[..cut]));
            self.emit(out, cut as u64, text);
            pos += cut;
        }
        self.partial.clear();
        self.partial.extend_from_slice(&buf[pos..]);
    }

    fn emit(&mut self, out: &mut Vec<RawRecord>, len: u64, text: Bytes) {
        let start = self.partial_start;
        self.partial_start += len;
        self.emitted_bytes += len;
        self.emitted_records += 1;
        if self.boundary.is_some_and(|b| b <= self.partial_start) {
            self.boundary = None;
        }
        out.push(RawRecord {
            start_offset: start,
            end_offset: self.partial_start,
            text,
        });
    }
}

/// The length of a cut's record text: without a final `"\n"` or `"\r\n"`.
fn text_len(cut: &[u8]) -> usize {
    let mut end = cut.len();
    if end > 0 && cut[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && cut[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}
#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn limits(max_line: usize) -> ReadLimits {
        ReadLimits {
            chunk_bytes: 7,
            max_bytes: u64::MAX,
            max_line_bytes: max_line,
            partial_line_timeout: Duration::from_secs(3600),
        }
    }

    fn reader_over(
        content: &[u8],
        offset: u64,
        boundary: Option<u64>,
    ) -> (tempfile::NamedTempFile, Reader) {
        let mut named = tempfile::NamedTempFile::new().expect("temp");
        named.write_all(content).expect("write");
        let file = File::open(named.path()).expect("open");
        let key = FileKey {
            config: "c".into(),
            device: 0,
            inode: 0,
            fingerprint: 0,
        };
        let fp = Fingerprint {
            hash: xxhash_rust::xxh3::xxh3_64(&content[..1]),
            len: 1,
        };
        let reader = Reader::new(key, named.path().into(), file, fp, offset, boundary);
        (named, reader)
    }

    fn texts(records: &[RawRecord]) -> Vec<String> {
        let text = |r: &RawRecord| String::from_utf8_lossy(&r.text).into_owned();
        records.iter().map(text).collect()
    }

    #[test]
    fn lines_are_cut_at_newlines_and_partial_lines_are_held() {
        let (mut named, mut reader) = reader_over(b"one\r\ntwo\nthr", 0, None);
        let mut out = Vec::new();
        reader
            .read(limits(1024), &mut ReadBuffers::default(), &mut out)
            .expect("read");
        assert_eq!(texts(&out), ["one", "two"]);
        assert_eq!((out[1].start_offset, out[1].end_offset), (5, 9));
        named.write_all(b"ee\n").expect("append");
        reader
            .read(limits(1024), &mut ReadBuffers::default(), &mut out)
            .expect("read");
        assert_eq!(texts(&out), ["one", "two", "three"]);
        assert_eq!(reader.emitted_offset(), 15);
    }

    #[test]
    fn a_backlog_read_in_slices_is_never_cut_mid_line_by_the_partial_timeout() {
        let content: Vec<u8> = (0..200)
            .flat_map(|n| format!("line number {n:04} with some payload\n").into_bytes())
            .collect();
        let (_named, mut reader) = reader_over(&content, 0, None);
        let sliced = ReadLimits {
            chunk_bytes: 64,
            max_bytes: 100, // a slice ends mid-line almost every time
            max_line_bytes: 1024,
            partial_line_timeout: Duration::ZERO, // the file is "idle" from the start
        };
        let mut out = Vec::new();
        while reader.read_offset() < content.len() as u64 {
            reader
                .read(sliced, &mut ReadBuffers::default(), &mut out)
                .expect("read");
        }
        assert_eq!(
            out.len(),
            200,
            "lines were split: {:?}",
            texts(&out[..5.min(out.len())])
        );
        assert!(texts(&out)
            .iter()
            .all(|t| t.starts_with("line number ") && t.ends_with("payload")));
    }

    #[test]
    fn recycled_buffers_never_leak_stale_bytes_into_records() {
        let (mut named, mut reader) = reader_over(b"aaaaaaaaaaaaaaaaaaaa\nbb", 0, None);
        let mut buffers = ReadBuffers::default();
        let mut out = Vec::new();
        reader
            .read(limits(1024), &mut buffers, &mut out)
            .expect("read");
        assert_eq!(texts(&out), ["aaaaaaaaaaaaaaaaaaaa"]);
        out.clear(); // delivered: the buffers are free again, full of old bytes
        buffers.reclaim();
        named.write_all(b"b\ncc\nd").expect("append");
        reader
            .read(limits(1024), &mut buffers, &mut out)
            .expect("read");
        assert_eq!(texts(&out), ["bbb", "cc"]);
        let ends: Vec<u64> = out.iter().map(|r| r.end_offset).collect();
        assert_eq!(ends, [25, 28]);
    }

    #[test]
    fn long_lines_and_forced_boundaries_cut_records() {
        let (_named, mut reader) = reader_over(b"abcdefghij\nxy\n", 0, Some(12));
        let mut out = Vec::new();
        reader
            .read(limits(4), &mut ReadBuffers::default(), &mut out)
            .expect("read");
        assert_eq!(texts(&out), ["abcd", "efgh", "ij", "x", "y"]);
        let ends: Vec<u64> = out.iter().map(|r| r.end_offset).collect();
        assert_eq!(ends, [4, 8, 11, 12, 14]);
    }

    #[test]
    fn truncation_is_detected() {
        let (named, mut reader) = reader_over(b"aaaa\nbbbb\n", 0, None);
        let mut out = Vec::new();
        reader
            .read(limits(1024), &mut ReadBuffers::default(), &mut out)
            .expect("read");
        named.as_file().set_len(0).expect("truncate");
        let outcome = reader
            .read(limits(1024), &mut ReadBuffers::default(), &mut out)
            .expect("read");
        assert_eq!(outcome, ReadOutcome::Truncated { unread: 0 });
        assert_eq!(reader.state, ReaderState::Finished);
    }
}
