//! File identity beyond (device, inode): a hash of the file's first bytes.
//!
//! An inode number is reused as soon as a file is deleted, so (device, inode) alone would
//! mistake a new file for the one we had a checkpoint for and resume it at a stale offset
//! (loongcollector#597, #1102). A [`Fingerprint`] adds an xxh3 hash of the file's first
//! `len` bytes.
//!
//! ## Keeping the key of a growing small file stable
//!
//! `len` is `min(size, fingerprint_bytes)` *at the moment the file is first keyed*, and it is
//! stored with the checkpoint. The fingerprint is never recomputed over more bytes later:
//! logs are append-only, so the first `len` bytes of the same file hash the same forever, and
//! identity is checked by hashing exactly `len` bytes again ([`Fingerprint::matches`]). A file
//! that grows past `fingerprint_bytes` therefore keeps its [`crate::FileKey`] (and its
//! producer key and sequence) without any re-keying.
//!
//! To keep short fingerprints meaningful, a file is only keyed ([`probe`] answers
//! [`Probe::Ready`]) once it holds `fingerprint_bytes` bytes, or a complete first line, or has
//! not changed for a settle time (the caller says so with `settled`). An empty file is never
//! keyed: it has nothing to read and nothing to tell it apart.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The hash of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// xxh3-64 of the first `len` bytes.
    pub hash: u64,
    /// How many bytes were hashed.
    pub len: u64,
}

/// Whether a file can be keyed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The file can be keyed with this fingerprint.
    Ready(Fingerprint),
    /// Too little to tell it apart: wait for more bytes, a first newline, or the settle time.
    NotYet,
}

impl Fingerprint {
    /// Whether `file` still starts with the bytes this fingerprint was taken over.
    /// A file now shorter than `len` does not match (it was truncated or replaced).
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let Ok(len) = usize::try_from(self.len) else {
            return Ok(false);
        };
        let mut buf = vec![0u8; len];
        match file.read_exact_at(&mut buf, 0) {
            Ok(()) => Ok(xxhash_rust::xxh3::xxh3_64(&buf) == self.hash),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Fingerprints `file` (currently `size` bytes long) over up to `max_bytes`, if it can be
/// keyed yet; see the module docs for when it can.
pub fn probe(file: &File, size: u64, max_bytes: u64, settled: bool) -> io::Result<Probe> {
    let len = size.min(max_bytes.max(1));
    if len == 0 {
        return Ok(Probe::NotYet);
    }
    let want = usize::try_from(len).map_err(|_| io::Error::other("fingerprint length"))?;
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(read) => got += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    buf.truncate(got);
    if buf.is_empty() {
        return Ok(Probe::NotYet);
    }
    let full = buf.len() as u64 >= max_bytes;
    if !full && !settled && !buf.contains(&b'\n') {
        return Ok(Probe::NotYet);
    }
    Ok(Probe::Ready(Fingerprint {
        hash: xxhash_rust::xxh3::xxh3_64(&buf),
        len: buf.len() as u64,
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(content: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut named = tempfile::NamedTempFile::new().expect("temp file");
        named.write_all(content).expect("write");
        let file = File::open(named.path()).expect("open");
        (named, file)
    }

    #[test]
    fn a_growing_file_keeps_its_fingerprint() {
        let (mut named, file) = file_with(b"first line\n");
        let Probe::Ready(fp) = probe(&file, 11, 1024, false).expect("probe") else {
            panic!("a complete first line is enough to key a file");
        };
        assert_eq!(fp.len, 11);
        named.write_all(&[b'x'; 4096]).expect("grow");
        assert!(fp.matches(&file).expect("match"));
    }

    #[test]
    fn small_files_wait_for_a_line_or_the_settle_time() {
        let (_named, file) = file_with(b"partial");
        assert_eq!(probe(&file, 7, 1024, false).expect("probe"), Probe::NotYet);
        assert!(matches!(probe(&file, 7, 1024, true), Ok(Probe::Ready(_))));
        let (_empty, empty) = file_with(b"");
        assert_eq!(probe(&empty, 0, 1024, true).expect("probe"), Probe::NotYet);
    }

    #[test]
    fn different_or_shorter_content_does_not_match() {
        let (_a, a) = file_with(b"alpha line\n");
        let (_b, b) = file_with(b"bravo line\n");
        let (_c, c) = file_with(b"alp");
        let Ok(Probe::Ready(fp)) = probe(&a, 11, 1024, false) else {
            panic!("keyable");
        };
        assert!(!fp.matches(&b).expect("match"));
        assert!(!fp.matches(&c).expect("match"));
    }
}
