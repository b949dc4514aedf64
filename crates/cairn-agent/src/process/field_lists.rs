//! Field lists, recycled from delivered batches back to processing.
//!
//! Every record becomes a [`LogEntry`] whose fields live in their own `Vec<Field>`. Those
//! lists were allocated on the reading thread and freed on a delivery thread, one pair per
//! line: glibc's allocator is at its slowest for that pattern (its per-thread caches never
//! serve the reader), and malloc/free of field lists was a fifth of the agent's CPU into the
//! null sink. [`FieldLists`] takes the emptied lists of a delivered batch back in one lock,
//! and processing takes them out again a group at a time.
//!
//! Invariants: a list handed out is empty; at most [`MAX_KEPT_FIELDS`] fields of capacity
//! are kept over all spare lists, and no single list over [`MAX_LIST_CAPACITY`], so the pool
//! cannot hold more than a few MiB whatever the records look like.

use std::sync::{Mutex, PoisonError};

use cairn_model::{Field, LogEntry};

/// Spare capacity kept over all lists, in fields (64 bytes each: 8 MiB). Reading a
/// backlog, some 100,000 records are between the reader and the sink at a time (a poll's
/// reading, delivery's queue, the batches in flight); a pool smaller than that frees and
/// allocates the difference. At a steady rate far fewer circulate, and the pool stays as
/// small as what circulates.
pub const MAX_KEPT_FIELDS: usize = 128 * 1024;

/// A list with room for more fields than this is freed, not kept.
pub const MAX_LIST_CAPACITY: usize = 64;

/// The pool of spare field lists (shared by the runtime and delivery).
#[derive(Debug, Default)]
pub struct FieldLists {
    spare: Mutex<Spare>,
}

#[derive(Debug, Default)]
struct Spare {
    lists: Vec<Vec<Field>>,
    /// Sum of the capacities of `lists`.
    fields: usize,
}

impl FieldLists {
    /// A pool holding nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves up to `count` spare (empty) lists into `out`.
    pub fn take(&self, count: usize, out: &mut Vec<Vec<Field>>) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let from = spare.lists.len().saturating_sub(count);
        let taken: usize = spare.lists[from..].iter().map(Vec::capacity).sum();
        spare.fields -= taken;
        out.extend(spare.lists.drain(from..));
    }

    /// Takes back the field lists of delivered `entries` (their fields are dropped here).
    pub fn give_back(&self, entries: Vec<LogEntry>) {
        let room = {
            let spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
            MAX_KEPT_FIELDS.saturating_sub(spare.fields)
        };
        if room == 0 {
            return;
        }
        let mut kept = Vec::with_capacity(entries.len());
        let mut fields = 0;
        for entry in entries {
            let mut list = entry.contents;
            let capacity = list.capacity();
            if capacity == 0 || capacity > MAX_LIST_CAPACITY || fields + capacity > room {
                continue;
            }
            list.clear();
            fields += capacity;
            kept.push(list);
        }
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.fields + fields > MAX_KEPT_FIELDS {
            return; // Someone else filled it meanwhile: free these.
        }
        spare.fields += fields;
        spare.lists.append(&mut kept);
    }

    /// Spare lists held (tests).
    pub fn spare_lists(&self) -> usize {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lists
            .len()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use cairn_model::LogTime;

    use super::*;

    fn entry(fields: usize, capacity: usize) -> LogEntry {
        let mut contents = Vec::with_capacity(capacity);
        for n in 0..fields {
            contents.push(Field {
                key: Bytes::from_static(b"k"),
                value: Bytes::from(n.to_string()),
            });
        }
        LogEntry {
            time: LogTime::new(1, 0),
            contents,
        }
    }

    #[test]
    fn lists_come_back_empty_and_are_handed_out_again() {
        let pool = FieldLists::new();
        pool.give_back(vec![entry(1, 1), entry(3, 4)]);
        assert_eq!(pool.spare_lists(), 2);
        let mut out = Vec::new();
        pool.take(5, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(Vec::is_empty));
        assert_eq!(pool.spare_lists(), 0);
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = FieldLists::new();
        pool.give_back(vec![entry(0, MAX_LIST_CAPACITY + 1)]);
        assert_eq!(pool.spare_lists(), 0, "an over-large list is freed");
        let many = (0..MAX_KEPT_FIELDS / 2 + 10).map(|_| entry(1, 2)).collect();
        pool.give_back(many);
        assert_eq!(pool.spare_lists(), MAX_KEPT_FIELDS / 2);
        pool.give_back(vec![entry(1, 1)]);
        assert_eq!(pool.spare_lists(), MAX_KEPT_FIELDS / 2, "full");
        let mut out = Vec::new();
        pool.take(10, &mut out);
        assert_eq!(out.len(), 10);
        pool.give_back(vec![entry(1, 2)]);
        assert_eq!(pool.spare_lists(), MAX_KEPT_FIELDS / 2 - 9);
    }
}
