//! Histogram tests: interval choice, alignment to the interval, clipping, empty buckets.

use cairn_query::{auto_interval, histogram, HistogramBucket, MAX_AUTO_BUCKETS, MAX_BUCKETS};

fn bucket(from: u32, to: u32, count: u64) -> HistogramBucket {
    HistogramBucket { from, to, count }
}

#[test]
fn empty_range_has_no_buckets() {
    assert!(histogram(100, 100, None, [100].into_iter()).is_empty());
    assert!(histogram(200, 100, Some(10), std::iter::empty()).is_empty());
}

#[test]
fn buckets_align_to_the_interval_and_clip_to_the_range() {
    let times = [1000, 1019, 1020, 1049, 1099, 999, 1100, 5000];
    let buckets = histogram(1000, 1100, Some(30), times.into_iter());
    assert_eq!(
        buckets,
        vec![
            bucket(1000, 1020, 2),
            bucket(1020, 1050, 2),
            bucket(1050, 1080, 0),
            bucket(1080, 1100, 1),
        ]
    );
}

#[test]
fn empty_buckets_are_present() {
    let buckets = histogram(0, 60, Some(10), [5, 55].into_iter());
    let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
    assert_eq!(counts, vec![1, 0, 0, 0, 0, 1]);
}

#[test]
fn interval_is_chosen_for_at_most_sixty_round_buckets() {
    // 15 minutes aligned: 60 buckets of 15 seconds.
    assert_eq!(auto_interval(1_700_000_100, 1_700_001_000), 15);
    assert_eq!(
        histogram(1_700_000_100, 1_700_001_000, None, std::iter::empty()).len(),
        60
    );
    // An hour aligned to the minute: 60 one-minute buckets.
    assert_eq!(auto_interval(3600, 7200), 60);
    // A day: 48 half-hour buckets.
    assert_eq!(auto_interval(86_400, 172_800), 1800);
    // Small ranges get one-second buckets.
    assert_eq!(auto_interval(10, 20), 1);
    assert_eq!(histogram(10, 20, None, [10, 10, 19].into_iter()).len(), 10);
    // A year: whole days.
    let interval = auto_interval(0, 365 * 86_400);
    assert_eq!(interval % 86_400, 0);
    assert!(histogram(0, 365 * 86_400, None, std::iter::empty()).len() as u64 <= MAX_AUTO_BUCKETS);
    // The full u32 range still works.
    let all = histogram(0, u32::MAX, None, [0, u32::MAX - 1].into_iter());
    assert!(all.len() as u64 <= MAX_AUTO_BUCKETS);
    assert_eq!(all.iter().map(|b| b.count).sum::<u64>(), 2);
    assert_eq!(all.last().map(|b| b.to), Some(u32::MAX));
}

#[test]
fn alignment_can_add_a_bucket_but_never_past_sixty() {
    // 900 s not aligned to 15 s would need 61 buckets of 15 s, so 30 s is chosen.
    let buckets = histogram(1_700_000_007, 1_700_000_907, None, std::iter::empty());
    assert!(
        buckets.len() as u64 <= MAX_AUTO_BUCKETS,
        "{}",
        buckets.len()
    );
    assert_eq!(auto_interval(1_700_000_007, 1_700_000_907), 30);
    assert_eq!(buckets[0].from, 1_700_000_007);
    assert_eq!(buckets[1].from % 30, 0);
}

#[test]
fn tiny_requested_intervals_are_widened() {
    let buckets = histogram(0, u32::MAX, Some(1), std::iter::empty());
    assert!(buckets.len() as u64 <= MAX_BUCKETS);
    // Zero means "choose for me".
    assert_eq!(histogram(0, 600, Some(0), std::iter::empty()).len(), 60);
}
