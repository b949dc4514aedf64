//! Building a token index row by row, and where its blocks end.
//!
//! A block ends at every page boundary (every [`PAGE_ROWS`] rows of the split), so that
//! reading a block never decodes more than one page per column. Inside a page a block also
//! ends before a row whose time is far outside the block's range (see [`is_time_jump`]): a
//! record stamped hours away from its neighbours (a late upload, a clock gone wrong) gets a
//! block of its own instead of stretching its neighbours' time range, which would make every
//! time-ordered search read them. At most [`MAX_TIME_CUTS_PER_PAGE`] such cuts happen per
//! page, so rows whose times alternate wildly cost a bounded number of blocks.

use std::collections::HashSet;

use cairn_model::{fold_token_hash, Field, LogRecord, Tokenizer};

use super::hash_set::TokenHashSet;
use super::{bucket_of, encode, masks, BlockHeader, BITS_PER_TOKEN, PAGE_ROWS};
use crate::split::shapes::ShapeCache;

/// A row this far (seconds) outside its block's time range starts a new block, unless the
/// block already spans more than this (then the span itself is the tolerance).
pub(crate) const TIME_JUMP_SECONDS: i64 = 600;
/// Blocks cut by time jumps within one page, at most.
pub(crate) const MAX_TIME_CUTS_PER_PAGE: usize = 4;

/// Whether a row at `time` is too far from a block spanning `min..=max` to join it.
fn is_time_jump(min: i64, max: i64, time: i64) -> bool {
    let tolerance = TIME_JUMP_SECONDS.max(max.saturating_sub(min));
    time < min.saturating_sub(tolerance) || time > max.saturating_add(tolerance)
}

/// Builds a token index row by row: [`TokenIndexBuilder::start_row`], then the row's texts
/// with [`TokenIndexBuilder::add_text`]; blocks close as the module doc says.
pub struct TokenIndexBuilder {
    tokenizer: Tokenizer,
    closed: Vec<BlockHeader>,
    words: Vec<u32>,
    /// The open block's distinct token hashes.
    hashes: TokenHashSet,
    rows_in_block: usize,
    /// Blocks cut by a time jump in the current page.
    time_cuts_in_page: usize,
    row_count: u64,
    min_time: i64,
    max_time: i64,
}

impl Default for TokenIndexBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenIndexBuilder {
    /// An empty index, tokenizing with SLS's default delimiters.
    pub fn new() -> Self {
        TokenIndexBuilder {
            tokenizer: Tokenizer::sls_default(),
            closed: Vec::new(),
            words: Vec::new(),
            hashes: TokenHashSet::default(),
            rows_in_block: 0,
            time_cuts_in_page: 0,
            row_count: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    /// Starts the next row, whose time is `time_seconds`. Returns whether the row opens a new
    /// block (texts common to many rows need only be added once per block).
    pub fn start_row(&mut self, time_seconds: i64) -> bool {
        if self.rows_in_block > 0 {
            if self.row_count.is_multiple_of(PAGE_ROWS as u64) {
                self.close_block();
                self.time_cuts_in_page = 0;
            } else if self.time_cuts_in_page < MAX_TIME_CUTS_PER_PAGE
                && is_time_jump(self.min_time, self.max_time, time_seconds)
            {
                self.close_block();
                self.time_cuts_in_page += 1;
            }
        }
        self.rows_in_block += 1;
        self.row_count += 1;
        self.min_time = self.min_time.min(time_seconds);
        self.max_time = self.max_time.max(time_seconds);
        self.rows_in_block == 1
    }

    /// Adds the tokens of `text` to the current row's block.
    pub fn add_text(&mut self, text: &[u8]) {
        for token in self.tokenizer.tokens(text) {
            self.hashes.insert(fold_token_hash(token));
        }
    }

    fn close_block(&mut self) {
        let buckets = (self.hashes.len() * BITS_PER_TOKEN).div_ceil(256).max(1);
        let first = self.words.len();
        self.words.resize(first + buckets * 8, 0);
        let filter = &mut self.words[first..];
        for &hash in self.hashes.values() {
            let bucket = bucket_of(hash, buckets);
            for (word, mask) in filter[bucket * 8..bucket * 8 + 8]
                .iter_mut()
                .zip(masks(hash))
            {
                *word |= mask;
            }
        }
        self.closed.push(BlockHeader {
            rows: self.rows_in_block as u32,
            buckets: buckets as u32,
            min_time: self.min_time,
            max_time: self.max_time,
        });
        self.hashes.clear();
        self.rows_in_block = 0;
        self.min_time = i64::MAX;
        self.max_time = i64::MIN;
    }

    /// The index file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.rows_in_block > 0 {
            self.close_block();
        }
        encode(self.row_count, &self.closed, &self.words)
    }
}

/// Values at least this long are tokenized once per block: a repeat (a user agent, a
/// referer, a timestamp shared by the block's rows) is looked up instead.
const REPEATED_VALUE_BYTES: usize = 16;

/// Builds the token index of `records` (in row order) into its file bytes.
pub fn build_token_index(records: &[&LogRecord]) -> Vec<u8> {
    let mut builder = TokenIndexBuilder::new();
    let mut previous: Option<&LogRecord> = None;
    // Keys repeat from record to record: the keys of a shape already seen in this block
    // are already in the block's set (see `shapes`).
    let mut tag_shapes = ShapeCache::default();
    let mut content_shapes = ShapeCache::default();
    // Long values already tokenized in this block (compared by bytes, so never wrong).
    let mut seen: HashSet<&[u8], foldhash::fast::RandomState> = HashSet::default();
    for &record in records {
        if builder.start_row(i64::from(record.time.seconds)) {
            previous = None;
            tag_shapes.clear();
            content_shapes.clear();
            seen.clear();
        }
        if previous.is_none_or(|previous| previous.topic != record.topic) {
            builder.add_text(&record.topic);
        }
        if previous.is_none_or(|previous| previous.source != record.source) {
            builder.add_text(&record.source);
        }
        add_fields(&mut builder, &mut tag_shapes, &mut seen, &record.tags);
        add_fields(
            &mut builder,
            &mut content_shapes,
            &mut seen,
            &record.contents,
        );
        previous = Some(record);
    }
    builder.finish()
}

/// Adds the values of `fields` to the open block, and their keys unless a record of the
/// same shape already added them.
fn add_fields<'r>(
    builder: &mut TokenIndexBuilder,
    shapes: &mut ShapeCache<'r, ()>,
    seen: &mut HashSet<&'r [u8], foldhash::fast::RandomState>,
    fields: &'r [Field],
) {
    if shapes.get(fields).is_none() {
        shapes.insert(fields, ());
        for field in fields {
            builder.add_text(&field.key);
        }
    }
    for field in fields {
        add_value(builder, seen, &field.value);
    }
}

/// Adds `value` to the open block, unless it is a long value the block already holds.
fn add_value<'r>(
    builder: &mut TokenIndexBuilder,
    seen: &mut HashSet<&'r [u8], foldhash::fast::RandomState>,
    value: &'r [u8],
) {
    if value.len() < REPEATED_VALUE_BYTES || seen.insert(value) {
        builder.add_text(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_long_value_is_in_every_block_that_holds_it() {
        use crate::split::token_index::TokenIndex;
        use cairn_model::{LogTime, TokenQuery};
        let records: Vec<LogRecord> = (0..3000u32)
            .map(|row| LogRecord {
                time: LogTime::new(1000, 0),
                contents: vec![
                    Field::new("agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/118.0"),
                    Field::new("row", format!("row number {row:08}")),
                ],
                ..LogRecord::default()
            })
            .collect();
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let index = TokenIndex::parse(&build_token_index(&borrowed)).expect("parse");
        let firefox = TokenQuery::all_tokens([&b"firefox"[..]]);
        assert_eq!(index.candidate_blocks(&firefox, 0, i64::MAX), [0, 1, 2]);
        let last = TokenQuery::all_tokens([&b"00002999"[..]]);
        assert_eq!(index.candidate_blocks(&last, 0, i64::MAX), [2]);
    }

    #[test]
    fn time_jumps_are_relative_to_the_block_span() {
        assert!(!is_time_jump(1000, 1000, 1000 + TIME_JUMP_SECONDS));
        assert!(is_time_jump(1000, 1000, 1001 + TIME_JUMP_SECONDS));
        assert!(is_time_jump(1000, 1000, 999 - TIME_JUMP_SECONDS));
        // A block spanning an hour takes a row an hour past it, not two.
        assert!(!is_time_jump(0, 3600, 7200));
        assert!(is_time_jump(0, 3600, 7201));
        assert!(!is_time_jump(i64::MIN, i64::MAX, 0));
    }
}
