//! The set of distinct token hashes of the block being built.
//!
//! A block adds tens of thousands of token hashes, most of them repeats, and only needs their
//! distinct values when it closes. The hashes are xxh3 outputs, so their top bits already make
//! a good slot number: this is an open-addressing table of `u64` with linear probing, kept at
//! most half full, where an empty slot holds 0 (the hash 0 itself is tracked apart). It
//! replaced a `HashSet<u64>` whose inserts were 4 % of the ingest CPU.
//!
//! Invariants: `values` holds every member exactly once, in insertion order; the table holds
//! the nonzero members; the table's length is a power of two at least twice the members.

/// Slots of a new table.
const MIN_SLOTS: usize = 1024;

/// A set of token hashes (see the module doc).
#[derive(Debug)]
pub(crate) struct TokenHashSet {
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: a hash shifted right by this is its home slot.
    shift: u32,
    values: Vec<u64>,
    /// Whether 0 (which the table cannot hold) is a member.
    has_zero: bool,
}

impl Default for TokenHashSet {
    fn default() -> Self {
        Self::with_slots(MIN_SLOTS)
    }
}

impl TokenHashSet {
    fn with_slots(slots: usize) -> Self {
        Self {
            slots: vec![0; slots],
            shift: 64 - slots.trailing_zeros(),
            values: Vec::new(),
            has_zero: false,
        }
    }

    /// Adds `hash`; returns whether it was new.
    pub(crate) fn insert(&mut self, hash: u64) -> bool {
        if hash == 0 {
            if self.has_zero {
                return false;
            }
            self.has_zero = true;
            self.values.push(0);
            return true;
        }
        let mask = self.slots.len() - 1;
        let mut slot = (hash >> self.shift) as usize;
        loop {
            let held = self.slots[slot];
            if held == hash {
                return false;
            }
            if held == 0 {
                self.slots[slot] = hash;
                self.values.push(hash);
                if self.values.len() * 2 > self.slots.len() {
                    self.grow();
                }
                return true;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The members, in insertion order.
    pub(crate) fn values(&self) -> &[u64] {
        &self.values
    }

    /// How many members.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Empties the set, keeping its table unless that is far larger than this block needed.
    pub(crate) fn clear(&mut self) {
        let needed = (self.values.len() * 4).next_power_of_two().max(MIN_SLOTS);
        if self.slots.len() > 4 * needed {
            *self = Self::with_slots(needed);
        } else {
            self.slots.fill(0);
            self.values.clear();
            self.has_zero = false;
        }
    }

    fn grow(&mut self) {
        let slots = self.slots.len() * 2;
        self.slots = vec![0; slots];
        self.shift = 64 - slots.trailing_zeros();
        let mask = slots - 1;
        for &hash in self.values.iter().filter(|&&hash| hash != 0) {
            let mut slot = (hash >> self.shift) as usize;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = hash;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn members_are_kept_once_through_growth_and_clearing() {
        let mut set = TokenHashSet::default();
        let mut model = HashSet::new();
        // Small values share a home slot (the top bits are zero): long probe runs.
        let hashes = (0..5000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .chain(0..3000)
            .chain([0, u64::MAX, 0, u64::MAX]);
        for hash in hashes {
            assert_eq!(set.insert(hash), model.insert(hash), "{hash}");
        }
        assert_eq!(set.len(), model.len());
        let members: HashSet<u64> = set.values().iter().copied().collect();
        assert_eq!(members, model);
        assert!(set.slots.len() >= 2 * set.len());

        set.clear();
        assert_eq!(set.len(), 0);
        assert!(set.insert(7) && !set.insert(7) && set.insert(0) && !set.insert(0));
        assert_eq!(set.values(), [7, 0]);
    }

    #[test]
    fn a_huge_block_does_not_leave_a_huge_table_behind() {
        let mut set = TokenHashSet::default();
        for n in 1..=100_000u64 {
            set.insert(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        set.clear();
        set.insert(1);
        set.clear();
        assert_eq!(set.slots.len(), MIN_SLOTS);
    }
}
