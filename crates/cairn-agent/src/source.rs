//! The records that flow from the inputs to delivery, and how they name the file they came
//! from.
//!
//! Records travel grouped by file ([`FileRecords`]): the file's key and path are held once
//! per group, not once per line — copying them for every line was a large share of the
//! agent's CPU. [`SourceRecord`] is the same record carrying its file, for code that handles
//! records one at a time (multiline joining, tests).
//!
//! Invariant: within one [`FileKey`], records arrive in file order and `end_offset` strictly
//! increases; delivery may therefore acknowledge a file up to the `end_offset` of the last
//! record of an acknowledged batch, and resume reading there.

use std::path::PathBuf;

use bytes::Bytes;

/// Which file of which config a record comes from: stable across renames of the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// The collection config reading the file.
    pub config: String,
    /// The file system device.
    pub device: u64,
    /// The inode.
    pub inode: u64,
    /// A hash of the file's first bytes, telling a reused inode from the file it had before.
    pub fingerprint: u64,
}

/// One record (a line, or several joined by multiline rules) read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The file it came from.
    pub file: FileKey,
    /// The path the file had when the record was read (`__path__`).
    pub path: PathBuf,
    /// The offset in the file where the record starts.
    pub start_offset: u64,
    /// The offset just past the record (and its line terminator).
    pub end_offset: u64,
    /// The record's text, without the final line terminator.
    pub text: Bytes,
}

/// A record's place in its file and its text, without the file (see [`FileRecords`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The offset in the file where the record starts.
    pub start_offset: u64,
    /// The offset just past the record (and its line terminator).
    pub end_offset: u64,
    /// The record's text, without the final line terminator (a slice of the read buffer).
    pub text: Bytes,
}

/// Records of one file, in file order, read in one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecords {
    /// The file they came from.
    pub file: FileKey,
    /// The path the file had when they were read (`__path__`).
    pub path: PathBuf,
    /// The records.
    pub records: Vec<RawRecord>,
}

impl FileRecords {
    /// The records one by one, each carrying a copy of the file's key and path.
    pub fn into_source_records(self) -> impl Iterator<Item = SourceRecord> {
        let Self {
            file,
            path,
            records,
        } = self;
        records.into_iter().map(move |record| SourceRecord {
            file: file.clone(),
            path: path.clone(),
            start_offset: record.start_offset,
            end_offset: record.end_offset,
            text: record.text,
        })
    }
}

impl SourceRecord {
    /// The record without its file.
    pub fn into_raw(self) -> RawRecord {
        RawRecord {
            start_offset: self.start_offset,
            end_offset: self.end_offset,
            text: self.text,
        }
    }
}
