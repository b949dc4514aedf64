//! The exactly-once table: the last committed sequence id per (logstore, shard, producer key).
//!
//! Invariants:
//! - Owned by the WAL writer thread alone (and by replay before it starts), so a check and
//!   the commit that follows it can never race with another append of the same key.
//! - An entry is only ever raised: [`ProducerTable::commit`] keeps the larger id.
//! - After replay the table equals the one before the crash: every committed id travels in
//!   the same WAL record as its data.

use std::collections::HashMap;

use cairn_model::LogstoreId;

/// Last committed sequence ids.
#[derive(Debug, Default)]
pub(crate) struct ProducerTable {
    /// (logstore, shard) → producer key → last committed sequence id. Nested so a lookup by
    /// `&str` needs no allocation.
    last_committed: HashMap<(LogstoreId, u32), HashMap<String, u64>>,
}

impl ProducerTable {
    /// The last committed sequence id of a producer key, if it ever committed one.
    pub(crate) fn last_committed(
        &self,
        logstore: LogstoreId,
        shard: u32,
        key: &str,
    ) -> Option<u64> {
        self.last_committed
            .get(&(logstore, shard))
            .and_then(|keys| keys.get(key))
            .copied()
    }

    /// Every (logstore, shard, key, last committed sequence id), for a WAL checkpoint.
    pub(crate) fn entries(&self) -> Vec<(LogstoreId, u32, String, u64)> {
        let mut entries: Vec<(LogstoreId, u32, String, u64)> = self
            .last_committed
            .iter()
            .flat_map(|((logstore, shard), keys)| {
                keys.iter()
                    .map(|(key, last)| (*logstore, *shard, key.clone(), *last))
            })
            .collect();
        entries.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        entries
    }

    /// Records `sequence_id` as committed (keeping a larger one already there); returns the
    /// previous value, for undoing.
    pub(crate) fn commit(
        &mut self,
        logstore: LogstoreId,
        shard: u32,
        key: &str,
        sequence_id: u64,
    ) -> Option<u64> {
        let keys = self.last_committed.entry((logstore, shard)).or_default();
        match keys.get_mut(key) {
            Some(last) => {
                let previous = *last;
                *last = previous.max(sequence_id);
                Some(previous)
            }
            None => {
                keys.insert(key.to_owned(), sequence_id);
                None
            }
        }
    }

    /// Puts back the value [`ProducerTable::commit`] returned (for a batch that failed).
    pub(crate) fn restore(
        &mut self,
        logstore: LogstoreId,
        shard: u32,
        key: &str,
        previous: Option<u64>,
    ) {
        match previous {
            Some(sequence_id) => {
                if let Some(last) = self
                    .last_committed
                    .get_mut(&(logstore, shard))
                    .and_then(|keys| keys.get_mut(key))
                {
                    *last = sequence_id;
                }
            }
            None => {
                if let Some(keys) = self.last_committed.get_mut(&(logstore, shard)) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.last_committed.remove(&(logstore, shard));
                    }
                }
            }
        }
    }

    /// Forgets every producer of a dropped logstore.
    pub(crate) fn forget_logstore(&mut self, logstore: LogstoreId) {
        self.last_committed
            .retain(|(entry_logstore, _), _| *entry_logstore != logstore);
    }

    /// Number of (logstore, shard, key) entries.
    pub(crate) fn len(&self) -> usize {
        self.last_committed.values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_independent_raised_only_and_undoable() {
        let mut table = ProducerTable::default();
        let (first, second) = (LogstoreId(1), LogstoreId(2));
        assert_eq!(table.commit(first, 0, "a", 5), None);
        assert_eq!(table.commit(first, 1, "a", 2), None);
        assert_eq!(table.commit(second, 0, "a", 9), None);
        assert_eq!(table.commit(first, 0, "b", 1), None);
        assert_eq!(table.last_committed(first, 0, "a"), Some(5));
        assert_eq!(table.last_committed(first, 1, "a"), Some(2));
        assert_eq!(table.last_committed(first, 2, "a"), None);
        assert_eq!(table.len(), 4);

        // Never lowered.
        assert_eq!(table.commit(first, 0, "a", 3), Some(5));
        assert_eq!(table.last_committed(first, 0, "a"), Some(5));

        assert_eq!(table.commit(first, 0, "a", 8), Some(5));
        table.restore(first, 0, "a", Some(5));
        assert_eq!(table.last_committed(first, 0, "a"), Some(5));
        assert_eq!(table.commit(first, 3, "c", 1), None);
        table.restore(first, 3, "c", None);
        assert_eq!(table.last_committed(first, 3, "c"), None);
        assert_eq!(table.len(), 4);

        table.forget_logstore(first);
        assert_eq!(table.last_committed(first, 0, "a"), None);
        assert_eq!(table.last_committed(second, 0, "a"), Some(9));
        assert_eq!(table.len(), 1);
    }
}
