//! Which shards a heartbeating consumer is to hold: the one balancing rule every metastore
//! backend applies inside its heartbeat transaction, kept here as a pure function.
//!
//! Rule: with `S` assignable shards and `L` live consumers, nobody should hold more than
//! `⌈S / L⌉`. A consumer below that takes free shards (lowest ids first); a consumer above it
//! keeps its lowest shards and is told to give up the rest, which stay held by it until its
//! heartbeat no longer reports them (its worker stopped), and only then become free. So a
//! shard is never processed by two consumers at once, and a holder is never asked to give a
//! shard up unless it holds more than its share (with one shard, the holder keeps it until it
//! stops heartbeating).
//!
//! Invariants of [`assign_shards`]: `assigned`, `taken` and `released` are ascending, disjoint
//! from each other where it matters (`taken ⊆ assigned`, `released ∩ assigned = ∅`); `taken`
//! only holds shards nobody held; `released` only shards the consumer held.

use std::collections::BTreeMap;

/// What the heartbeating consumer and the group look like before the decision.
#[derive(Debug, Clone, Copy)]
pub struct AssignmentInput<'a> {
    /// Every assignable shard of the logstore, ascending.
    pub shards: &'a [u32],
    /// How many consumers are live, the heartbeating one included (at least 1).
    pub live_consumers: usize,
    /// The holder of every held shard (live holders only).
    pub holders: &'a BTreeMap<u32, String>,
    /// The consumer that heartbeats.
    pub consumer: &'a str,
    /// The shards the consumer reports it is still processing.
    pub reported: &'a [u32],
}

/// The decision for one heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The shards the consumer is to hold: the heartbeat's answer.
    pub assigned: Vec<u32>,
    /// Free shards the consumer now holds.
    pub taken: Vec<u32>,
    /// Shards the consumer held, was asked to give up and no longer reports: now free.
    pub released: Vec<u32>,
}

/// Decides which shards the heartbeating consumer holds (see the module documentation).
pub fn assign_shards(input: &AssignmentInput<'_>) -> Assignment {
    let AssignmentInput {
        shards,
        live_consumers,
        holders,
        consumer,
        reported,
    } = *input;
    let fair_share = shards.len().div_ceil(live_consumers.max(1));
    let held: Vec<u32> = shards
        .iter()
        .copied()
        .filter(|shard| holders.get(shard).is_some_and(|holder| holder == consumer))
        .collect();
    if held.len() > fair_share {
        let (kept, excess) = held.split_at(fair_share);
        return Assignment {
            assigned: kept.to_vec(),
            taken: Vec::new(),
            released: excess
                .iter()
                .copied()
                .filter(|shard| !reported.contains(shard))
                .collect(),
        };
    }
    let taken: Vec<u32> = shards
        .iter()
        .copied()
        .filter(|shard| !holders.contains_key(shard))
        .take(fair_share - held.len())
        .collect();
    let mut assigned = held;
    assigned.extend_from_slice(&taken);
    assigned.sort_unstable();
    Assignment {
        assigned,
        taken,
        released: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holders(pairs: &[(u32, &str)]) -> BTreeMap<u32, String> {
        pairs.iter().map(|(s, c)| (*s, (*c).to_owned())).collect()
    }

    fn decide(
        shards: &[u32],
        live: usize,
        held: &[(u32, &str)],
        consumer: &str,
        reported: &[u32],
    ) -> Assignment {
        assign_shards(&AssignmentInput {
            shards,
            live_consumers: live,
            holders: &holders(held),
            consumer,
            reported,
        })
    }

    #[test]
    fn a_single_shard_stays_with_its_holder() {
        let first = decide(&[0], 1, &[], "a", &[]);
        assert_eq!(first.assigned, [0]);
        assert_eq!(first.taken, [0]);
        // A second consumer joins: the holder keeps the shard, the newcomer gets nothing.
        assert_eq!(
            decide(&[0], 2, &[(0, "a")], "b", &[]).assigned,
            Vec::<u32>::new()
        );
        assert_eq!(decide(&[0], 2, &[(0, "a")], "a", &[0]).assigned, [0]);
    }

    #[test]
    fn shards_spread_by_fair_share_with_a_safe_handover() {
        let all = [0, 1, 2, 3];
        assert_eq!(decide(&all, 1, &[], "a", &[]).assigned, all);
        let everything_with_a = [(0, "a"), (1, "a"), (2, "a"), (3, "a")];
        // b joins: nothing is free yet.
        assert!(decide(&all, 2, &everything_with_a, "b", &[])
            .assigned
            .is_empty());
        // a is told to keep two; it still reports all four, so nothing is freed yet.
        let asked = decide(&all, 2, &everything_with_a, "a", &all);
        assert_eq!(asked.assigned, [0, 1]);
        assert!(asked.released.is_empty());
        // a stopped 2 and 3: they are released, and b takes them next.
        let released = decide(&all, 2, &everything_with_a, "a", &[0, 1]);
        assert_eq!(released.released, [2, 3]);
        let taken = decide(&all, 2, &[(0, "a"), (1, "a")], "b", &[]);
        assert_eq!((taken.assigned, taken.taken), (vec![2, 3], vec![2, 3]));
    }
}
