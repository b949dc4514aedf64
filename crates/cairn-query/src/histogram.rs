//! Counting records per time bucket, for GetHistograms.
//!
//! SLS splits `[from, to)` into subintervals that depend only on the requested range ("if the
//! time range is the same, the division is the same"). Cairn picks the smallest interval from
//! a list of round values (1 s, 2 s, 5 s, ... 1 h, ... 1 day, then whole days) that yields at
//! most [`MAX_AUTO_BUCKETS`] buckets, aligns bucket boundaries to multiples of the interval
//! since the epoch (so days start at 00:00 UTC), and clips the first and last bucket to
//! `[from, to)`.
//!
//! Invariants of the result: buckets are in order, contiguous, cover exactly `[from, to)`,
//! empty buckets are present, and there are never more than [`MAX_BUCKETS`].

/// The number of records in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HistogramBucket {
    /// Start of the bucket, seconds since the epoch, inclusive.
    pub from: u32,
    /// End of the bucket, seconds since the epoch, exclusive.
    pub to: u32,
    /// Records whose time falls in `[from, to)`.
    pub count: u64,
}

/// The most buckets an automatically chosen interval produces.
pub const MAX_AUTO_BUCKETS: u64 = 60;

/// The most buckets any call produces; a requested interval too small for the range is
/// widened to respect it.
pub const MAX_BUCKETS: u64 = 10_000;

const DAY: u64 = 86_400;

/// Round intervals tried in order, in seconds.
const ROUND_INTERVALS: [u64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, DAY,
];

/// How many aligned buckets of `interval` seconds touch `[from, to)` (`from < to`).
fn bucket_count(from: u64, to: u64, interval: u64) -> u64 {
    (to - 1) / interval - from / interval + 1
}

/// The interval, in seconds, [`histogram`] uses for `[from, to)` when none is requested.
pub fn auto_interval(from: u32, to: u32) -> u32 {
    let (from, to) = (u64::from(from), u64::from(to));
    if from >= to {
        return 1;
    }
    let fits = |interval: u64| bucket_count(from, to, interval) <= MAX_AUTO_BUCKETS;
    let interval = ROUND_INTERVALS
        .into_iter()
        .find(|&interval| fits(interval))
        .unwrap_or_else(|| {
            let mut days = ((to - from).div_ceil(MAX_AUTO_BUCKETS))
                .div_ceil(DAY)
                .max(1);
            while !fits(days * DAY) {
                days += 1;
            }
            days * DAY
        });
    u32::try_from(interval).unwrap_or(u32::MAX)
}

/// The interval actually used when `requested` seconds are asked for: at least 1, and wide
/// enough that `[from, to)` has at most [`MAX_BUCKETS`] buckets.
fn effective_interval(from: u64, to: u64, requested: u64) -> u64 {
    let span = to.saturating_sub(from).max(1);
    // With interval >= span / (MAX - 2), at most MAX - 2 + 2 aligned buckets touch the range.
    requested.max(span.div_ceil(MAX_BUCKETS - 2)).max(1)
}

/// Buckets covering `[from, to)` with the count of `times` (record times in seconds) in each.
///
/// `interval` (seconds) fixes the bucket width; `None` or `Some(0)` picks one automatically
/// (see [`auto_interval`]). Times outside `[from, to)` are ignored. An empty range gives no
/// buckets.
pub fn histogram(
    from: u32,
    to: u32,
    interval: Option<u32>,
    times: impl Iterator<Item = u32>,
) -> Vec<HistogramBucket> {
    histogram_of_counts(from, to, interval, times.map(|time| (time, 1)))
}

/// The bucket width [`histogram`] uses for `[from, to)` and a requested `interval`.
pub(crate) fn bucket_interval(from: u32, to: u32, interval: Option<u32>) -> u64 {
    let requested = match interval {
        Some(interval) if interval > 0 => interval,
        _ => auto_interval(from, to),
    };
    effective_interval(u64::from(from), u64::from(to), u64::from(requested))
}

/// Like [`histogram`], from `(time, count)` pairs: each adds `count` to the bucket of `time`.
pub(crate) fn histogram_of_counts(
    from: u32,
    to: u32,
    interval: Option<u32>,
    counts: impl Iterator<Item = (u32, u64)>,
) -> Vec<HistogramBucket> {
    if from >= to {
        return Vec::new();
    }
    let (from64, to64) = (u64::from(from), u64::from(to));
    let interval = bucket_interval(from, to, interval);
    let first = from64 / interval;
    let count = bucket_count(from64, to64, interval);
    let mut buckets: Vec<HistogramBucket> = (0..count)
        .map(|index| {
            let start = (first + index) * interval;
            HistogramBucket {
                from: clamp_u32(start.max(from64)),
                to: clamp_u32((start + interval).min(to64)),
                count: 0,
            }
        })
        .collect();
    for (time, records) in counts {
        if (from..to).contains(&time) {
            let index = u64::from(time) / interval - first;
            if let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
                bucket.count += records;
            }
        }
    }
    buckets
}

/// `value` as `u32`; callers only pass values bounded by a `u32` (`to`).
fn clamp_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
