//! The records that flow from the inputs to delivery, and how they name the file they came
//! from.
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
