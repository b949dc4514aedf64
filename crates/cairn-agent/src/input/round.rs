//! One poll's reading of one file: the limits it reads within (its share of the poll's
//! byte budget), and what the tailer does with the outcome (truncation, the end of an
//! orphan, read errors).
//!
//! Invariant: a poll reads at most `max_read_bytes_per_round` bytes over all files and at
//! most `max_read_bytes_per_poll` from one; each file's records come out as one group.

use std::sync::atomic::Ordering;

use super::buffers::ReadBuffers;
use super::reader::{ReadLimits, ReadOutcome, Reader, ReaderState};
use super::TailerOptions;
use crate::metrics::DropReason;
use crate::source::FileRecords;

/// What reading one file in a poll works with: the options, the read buffers, and what is
/// left of the poll's byte budget.
pub(super) struct Round<'a> {
    pub(super) options: &'a TailerOptions,
    pub(super) buffers: &'a mut ReadBuffers,
    pub(super) budget: &'a mut u64,
}

impl Round<'_> {
    /// Reads one reader into a group of its own, handling truncation and the end of
    /// orphans. Returns whether it stopped short of the end of its file (its per-poll limit
    /// or the poll's budget).
    pub(super) fn read_one(&mut self, reader: &mut Reader, out: &mut Vec<FileRecords>) -> bool {
        let options = self.options;
        let max_bytes = options.max_read_bytes_per_poll.min(*self.budget);
        if max_bytes == 0 {
            return true; // The poll's budget is spent: this file waits for the next poll.
        }
        let limits = ReadLimits {
            chunk_bytes: options.read_chunk_bytes,
            max_bytes,
            max_line_bytes: options.max_line_bytes,
            partial_line_timeout: options.partial_line_timeout,
        };
        let before = reader.read_offset();
        let mut records = Vec::new();
        let mut behind = false;
        match reader.read(limits, self.buffers, &mut records) {
            Ok(ReadOutcome::Truncated { unread }) => {
                options.metrics.truncations.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %reader.path.display(), config = %reader.key.config,
                    offset = reader.read_offset(), "file truncated; its new content is read from 0");
                if unread > 0 {
                    let context = reader.path.display().to_string();
                    options.metrics.record_drop(
                        DropReason::TruncatedBeforeRead,
                        0,
                        unread,
                        &context,
                    );
                }
            }
            Ok(ReadOutcome::Read { idle, at_eof }) => {
                behind = !at_eof;
                let closing = reader.state == ReaderState::Orphaned && at_eof;
                if closing && idle >= options.rotated_close_after {
                    reader.flush_partial(&mut records);
                    reader.state = ReaderState::Finished;
                }
            }
            Err(error) => {
                tracing::error!(path = %reader.path.display(), %error, "reading file failed; closing it");
                reader.flush_partial(&mut records);
                reader.state = ReaderState::Finished;
            }
        }
        let read = reader.read_offset().saturating_sub(before);
        *self.budget = self.budget.saturating_sub(read);
        if !records.is_empty() {
            out.push(FileRecords {
                file: reader.key.clone(),
                path: reader.path.clone(),
                records,
            });
        }
        behind
    }
}
