//! How the candidate blocks of a search become read steps and read tasks.
//!
//! A search reads its candidate blocks in steps (a time-ordered search stops as soon as no
//! later block can improve its page); each step's blocks are cut into tasks that run in
//! parallel. Invariants: every block of a step is in exactly one task, in offset order; a task
//! never holds blocks of two row groups (opening a row group's column chunks, with their
//! decompression contexts and dictionaries, is a task's fixed cost) nor more than
//! [`BLOCKS_PER_TASK`] blocks; a step is between 1 and [`UNITS_PER_READ`] blocks.

use std::ops::Range;

use parquet::arrow::arrow_reader::ArrowReaderMetadata;

/// Blocks read per step by `SplitReader::visit` and the largest step of
/// `SplitReader::top_by_time`.
pub(crate) const UNITS_PER_READ: usize = 16;
/// Blocks one read task decodes; a step's tasks run in parallel.
pub(crate) const BLOCKS_PER_TASK: usize = 4;

/// The row (exclusive) where each row group of a Parquet file ends.
pub(crate) fn row_group_ends(metadata: &ArrowReaderMetadata) -> Vec<u64> {
    metadata
        .metadata()
        .row_groups()
        .iter()
        .scan(0u64, |end, group| {
            *end += u64::try_from(group.num_rows()).unwrap_or(0);
            Some(*end)
        })
        .collect()
}

/// `ranges` (sorted row ranges of blocks) cut into runs of at most [`BLOCKS_PER_TASK`]
/// blocks that start in the same row group (`group_ends` as from [`row_group_ends`]).
pub(crate) fn runs_within_row_groups<'r>(
    ranges: &'r [Range<u64>],
    group_ends: &[u64],
) -> Vec<&'r [Range<u64>]> {
    let group_of = |row: u64| group_ends.partition_point(|&end| end <= row);
    let mut runs = Vec::new();
    let mut start = 0;
    for at in 1..=ranges.len() {
        let ends_run = at == ranges.len()
            || at - start == BLOCKS_PER_TASK
            || group_of(ranges[at].start) != group_of(ranges[start].start);
        if ends_run {
            runs.push(&ranges[start..at]);
            start = at;
        }
    }
    runs
}

/// How many blocks the next step of a time-ordered read takes: enough for the `wanted`
/// matches still missing at the rate of matches per block read so far (`accepted` in
/// `blocks_read`), doubling the previous step when nothing matched yet, and between 1 and
/// [`UNITS_PER_READ`]. A rare token (a match every few blocks) goes to full steps at once,
/// which keeps every core busy; a common one stays at a block or two.
pub(crate) fn next_step(
    previous: usize,
    wanted: usize,
    accepted: usize,
    blocks_read: usize,
) -> usize {
    let step = if accepted == 0 || wanted == 0 {
        previous.saturating_mul(2)
    } else {
        (wanted.saturating_mul(blocks_read)).div_ceil(accepted)
    };
    step.clamp(1, UNITS_PER_READ)
}

#[cfg(test)]
mod tests {
    use super::{next_step, runs_within_row_groups, BLOCKS_PER_TASK, UNITS_PER_READ};

    #[test]
    fn runs_stay_within_a_row_group_and_a_task() {
        let block = |n: u64| n * 10..n * 10 + 10;
        // Row groups of 50 rows: blocks 0–4, 5–9, 10–14.
        let ends = [50, 100, 150];
        let ranges: Vec<_> = [0, 1, 4, 5, 9, 12].into_iter().map(block).collect();
        let runs: Vec<Vec<_>> = runs_within_row_groups(&ranges, &ends)
            .into_iter()
            .map(<[_]>::to_vec)
            .collect();
        assert_eq!(
            runs,
            [
                vec![block(0), block(1), block(4)],
                vec![block(5), block(9)],
                vec![block(12)]
            ]
        );
        let many: Vec<_> = (0..BLOCKS_PER_TASK as u64 + 1).map(block).collect();
        let runs = runs_within_row_groups(&many, &[1000]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].len(), BLOCKS_PER_TASK);
        assert!(runs_within_row_groups(&[], &ends).is_empty());
    }

    #[test]
    fn steps_follow_the_match_rate_within_bounds() {
        // Nothing matched yet: double.
        assert_eq!(next_step(1, 100, 0, 1), 2);
        assert_eq!(next_step(UNITS_PER_READ, 100, 0, 40), UNITS_PER_READ);
        // One match per block, 99 missing: a full step at once.
        assert_eq!(next_step(1, 99, 1, 1), UNITS_PER_READ);
        // Five missing at one match per two blocks: ten blocks.
        assert_eq!(next_step(16, 5, 8, 16), 10);
        // A common token: one more block will do.
        assert_eq!(next_step(1, 20, 80, 1), 1);
        // Nothing missing (the caller stops on time, not on the step).
        assert_eq!(next_step(4, 0, 100, 4), 8);
    }
}
