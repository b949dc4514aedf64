//! # The split token index
//!
//! A split's records are cut into blocks of [`BLOCK_ROWS`] consecutive rows (the Parquet
//! file's pages hold the same rows, so a block is read by selecting its rows). For each block
//! the index keeps its time range and a split-block Bloom filter of the folded hashes of
//! every token in the block (content keys and values, tag keys and values, topic, source;
//! tokenized with SLS's default delimiters, see `cairn_model::fold_token_hash`). A search
//! turns into a [`TokenQuery`]; a block is read only if its time range meets the query's and
//! its filter may contain the query's tokens. ADR 0009 says why this, not tantivy.
//!
//! Invariants:
//! - No false negatives: a block holding a token always answers "maybe" for it. False
//!   positives (about 0.5 % per absent token at [`BITS_PER_TOKEN`]) only cost a read.
//! - The filter is sized per block by its distinct token count, so a block of repetitive
//!   lines costs little and a block of unique ids stays accurate.
//! - The file is checksummed; a damaged file is refused, never half-used.
//!
//! ## Format (little-endian)
//!
//! ```text
//! magic "CAIRNTI1"  version:u32 (=1)  block_rows:u32  row_count:u64  block_count:u32
//! delimiters_len:u32  delimiters[delimiters_len]          (UTF-8, the tokenizer's set)
//! block_count × { buckets:u32  min_time:i64  max_time:i64 }
//! filters: for each block, buckets × 8 × u32                (256-bit buckets)
//! crc32c:u32                                                (of everything before it)
//! ```
//!
//! Filter: the split-block Bloom filter of the Parquet spec: a token's hash picks a bucket
//! with its high 32 bits and sets one bit in each of the bucket's eight words from its low
//! 32 bits and eight salts.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use cairn_model::{
    fold_token_hash, Field, LogRecord, TokenQuery, Tokenizer, DEFAULT_TOKEN_DELIMITERS,
};

use crate::StoreError;

/// Rows per block (and per Parquet page).
pub const BLOCK_ROWS: usize = 1024;
/// Filter bits per distinct token of a block.
const BITS_PER_TOKEN: usize = 12;
const MAGIC: &[u8; 8] = b"CAIRNTI1";
const VERSION: u32 = 1;
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// One block's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BlockSummary {
    min_time: i64,
    max_time: i64,
    /// Word range of its filter in [`TokenIndex::words`].
    first_word: usize,
    buckets: usize,
}

/// A parsed token index, ready to answer which blocks may hold a search's matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIndex {
    row_count: u64,
    delimiters: String,
    blocks: Vec<BlockSummary>,
    words: Vec<u32>,
}

fn bucket_of(hash: u64, buckets: usize) -> usize {
    (((hash >> 32) * buckets as u64) >> 32) as usize
}

fn masks(hash: u64) -> [u32; 8] {
    let key = hash as u32;
    SALT.map(|salt| 1u32 << (key.wrapping_mul(salt) >> 27))
}

/// Hashes a token hash to itself: the values are already xxh3 outputs, evenly spread, so the
/// set that deduplicates a block's tokens need not hash them again.
#[derive(Debug, Default)]
struct TokenHashHasher(u64);

impl Hasher for TokenHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Builds a token index row by row: [`TokenIndexBuilder::start_row`], then the row's texts
/// with [`TokenIndexBuilder::add_text`]; every [`BLOCK_ROWS`] rows close a block.
pub struct TokenIndexBuilder {
    tokenizer: Tokenizer,
    /// Per closed block: filter buckets, min and max time.
    summaries: Vec<(u32, i64, i64)>,
    words: Vec<u32>,
    /// The open block's distinct token hashes.
    hashes: HashSet<u64, BuildHasherDefault<TokenHashHasher>>,
    rows_in_block: usize,
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
            summaries: Vec::new(),
            words: Vec::new(),
            hashes: HashSet::default(),
            rows_in_block: 0,
            row_count: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    /// Starts the next row, whose time is `time_seconds`. Returns whether the row opens a new
    /// block (texts common to many rows need only be added once per block).
    pub fn start_row(&mut self, time_seconds: i64) -> bool {
        if self.rows_in_block == BLOCK_ROWS {
            self.close_block();
        }
        self.rows_in_block += 1;
        self.row_count += 1;
        self.min_time = self.min_time.min(time_seconds);
        self.max_time = self.max_time.max(time_seconds);
        self.rows_in_block == 1
    }

    /// Adds the tokens of `text` to the current row's block.
    pub fn add_text(&mut self, text: &[u8]) {
        self.hashes
            .extend(self.tokenizer.tokens(text).map(fold_token_hash));
    }

    fn close_block(&mut self) {
        let buckets = (self.hashes.len() * BITS_PER_TOKEN).div_ceil(256).max(1);
        let first = self.words.len();
        self.words.resize(first + buckets * 8, 0);
        let filter = &mut self.words[first..];
        for &hash in &self.hashes {
            let bucket = bucket_of(hash, buckets);
            for (word, mask) in filter[bucket * 8..bucket * 8 + 8]
                .iter_mut()
                .zip(masks(hash))
            {
                *word |= mask;
            }
        }
        self.summaries
            .push((buckets as u32, self.min_time, self.max_time));
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
        let delimiters = DEFAULT_TOKEN_DELIMITERS.as_bytes();
        let mut out = Vec::with_capacity(
            40 + delimiters.len() + self.summaries.len() * 20 + self.words.len() * 4,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(BLOCK_ROWS as u32).to_le_bytes());
        out.extend_from_slice(&self.row_count.to_le_bytes());
        out.extend_from_slice(&(self.summaries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(delimiters.len() as u32).to_le_bytes());
        out.extend_from_slice(delimiters);
        for (buckets, min_time, max_time) in &self.summaries {
            out.extend_from_slice(&buckets.to_le_bytes());
            out.extend_from_slice(&min_time.to_le_bytes());
            out.extend_from_slice(&max_time.to_le_bytes());
        }
        for word in &self.words {
            out.extend_from_slice(&word.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Builds the token index of `records` (in row order) into its file bytes.
pub fn build_token_index(records: &[&LogRecord]) -> Vec<u8> {
    let mut builder = TokenIndexBuilder::new();
    // Keys repeat from record to record: a key equal to the previous record's key at the
    // same position (in the same block) is already in the block's set.
    let mut previous: Option<&LogRecord> = None;
    for &record in records {
        if builder.start_row(i64::from(record.time.seconds)) {
            previous = None;
        }
        if previous.is_none_or(|previous| previous.topic != record.topic) {
            builder.add_text(&record.topic);
        }
        if previous.is_none_or(|previous| previous.source != record.source) {
            builder.add_text(&record.source);
        }
        let same_key = |fields: fn(&LogRecord) -> &[Field], at: usize, key: &[u8]| {
            previous
                .and_then(|previous| fields(previous).get(at))
                .is_some_and(|earlier| earlier.key == key)
        };
        for (at, tag) in record.tags.iter().enumerate() {
            if !same_key(|r| &r.tags, at, &tag.key) {
                builder.add_text(&tag.key);
            }
            builder.add_text(&tag.value);
        }
        for (at, field) in record.contents.iter().enumerate() {
            if !same_key(|r| &r.contents, at, &field.key) {
                builder.add_text(&field.key);
            }
            builder.add_text(&field.value);
        }
        previous = Some(record);
    }
    builder.finish()
}

/// Reads little-endian fields off the front of a slice, refusing to read past its end.
struct Cursor<'b> {
    bytes: &'b [u8],
}

impl<'b> Cursor<'b> {
    fn take(&mut self, count: usize) -> Result<&'b [u8], StoreError> {
        if self.bytes.len() < count {
            return Err(StoreError::split("the token index is cut short"));
        }
        let (head, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, StoreError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(raw))
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(raw))
    }
    fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(self.u64()? as i64)
    }
}

impl TokenIndex {
    /// Parses an index file, checking its checksum and every length against its size.
    pub fn parse(bytes: &[u8]) -> Result<TokenIndex, StoreError> {
        if bytes.len() < MAGIC.len() + 4 {
            return Err(StoreError::split("the token index is cut short"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(crc);
        if crc32c::crc32c(body) != u32::from_le_bytes(stored) {
            return Err(StoreError::split("the token index fails its checksum"));
        }
        let mut cursor = Cursor { bytes: body };
        if cursor.take(8)? != MAGIC {
            return Err(StoreError::split("not a token index (bad magic)"));
        }
        let version = cursor.u32()?;
        if version != VERSION {
            return Err(StoreError::split(format!(
                "token index version {version} is not supported"
            )));
        }
        let block_rows = cursor.u32()? as usize;
        let row_count = cursor.u64()?;
        let block_count = cursor.u32()? as usize;
        if block_rows != BLOCK_ROWS || (row_count as usize).div_ceil(BLOCK_ROWS) != block_count {
            return Err(StoreError::split(
                "the token index's block layout is inconsistent",
            ));
        }
        let delimiters_len = cursor.u32()? as usize;
        let delimiters = String::from_utf8(cursor.take(delimiters_len)?.to_vec())
            .map_err(|_| StoreError::split("the token index's delimiters are not UTF-8"))?;
        if cursor.bytes.len() < block_count.saturating_mul(20) {
            return Err(StoreError::split("the token index is cut short"));
        }
        let mut blocks = Vec::with_capacity(block_count);
        let mut first_word = 0usize;
        for _ in 0..block_count {
            let buckets = cursor.u32()? as usize;
            let min_time = cursor.i64()?;
            let max_time = cursor.i64()?;
            if buckets == 0 {
                return Err(StoreError::split("a token index block has no filter"));
            }
            blocks.push(BlockSummary {
                min_time,
                max_time,
                first_word,
                buckets,
            });
            first_word = first_word
                .checked_add(buckets * 8)
                .ok_or_else(|| StoreError::split("the token index is too large"))?;
        }
        if cursor.bytes.len() != first_word * 4 {
            return Err(StoreError::split(
                "the token index's filters have the wrong size",
            ));
        }
        let words = cursor
            .bytes
            .chunks_exact(4)
            .map(|raw| u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            .collect();
        Ok(TokenIndex {
            row_count,
            delimiters,
            blocks,
            words,
        })
    }

    /// Whether block `block` may contain a token of folded hash `hash`.
    fn may_contain(&self, block: &BlockSummary, hash: u64) -> bool {
        let bucket = bucket_of(hash, block.buckets);
        let start = block.first_word + bucket * 8;
        self.words[start..start + 8]
            .iter()
            .zip(masks(hash))
            .all(|(word, mask)| word & mask != 0)
    }

    /// The blocks (by number) that may hold records matching `query` with a time in
    /// `[from, to)` seconds, in row order. A query built for other delimiters than the
    /// index's is the caller's concern: it must pass [`TokenQuery::Everything`] then.
    pub fn candidate_blocks(&self, query: &TokenQuery, from: i64, to: i64) -> Vec<usize> {
        self.blocks
            .iter()
            .enumerate()
            .filter(|(_, block)| block.max_time >= from && block.min_time < to)
            .filter(|(_, block)| query.admits(&|hash| self.may_contain(block, hash)))
            .map(|(number, _)| number)
            .collect()
    }

    /// The time range `(min, max)` of block `block`, seconds.
    pub fn block_time_range(&self, block: usize) -> Option<(i64, i64)> {
        self.blocks
            .get(block)
            .map(|summary| (summary.min_time, summary.max_time))
    }

    /// Number of rows indexed.
    pub fn row_count(&self) -> u64 {
        self.row_count
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The delimiter characters the index was tokenized with.
    pub fn delimiters(&self) -> &str {
        &self.delimiters
    }

    /// Bytes held in memory (for cache accounting).
    pub fn memory_bytes(&self) -> usize {
        self.words.len() * 4 + self.blocks.len() * std::mem::size_of::<BlockSummary>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{Field, LogTime};

    fn record(seconds: u32, message: &str) -> LogRecord {
        LogRecord {
            time: LogTime::new(seconds, 0),
            contents: vec![Field::new("message", message)],
            ..LogRecord::default()
        }
    }

    #[test]
    fn blocks_with_a_token_are_always_candidates_and_most_others_are_not() {
        let records: Vec<LogRecord> = (0..5000)
            .map(|row| {
                let rare = if row == 4321 { " needle-7f3a" } else { "" };
                record(1000 + row / 100, &format!("GET /item/{row} 200{rare}"))
            })
            .collect();
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let index = TokenIndex::parse(&build_token_index(&borrowed)).expect("parse");
        assert_eq!(index.block_count(), 5);
        assert_eq!(index.row_count(), 5000);
        let needle = TokenQuery::all_tokens([&b"NEEDLE-7F3A"[..]]);
        assert_eq!(index.candidate_blocks(&needle, 0, i64::MAX), [4]);
        // Every block that holds a token answers for it (no false negatives).
        for row in (0..5000).step_by(97) {
            let token = format!("{row}");
            let query = TokenQuery::all_tokens([token.as_bytes()]);
            let candidates = index.candidate_blocks(&query, 0, i64::MAX);
            assert!(
                candidates.contains(&(row as usize / BLOCK_ROWS)),
                "row {row}"
            );
        }
        let absent = TokenQuery::all_tokens([&b"absent-token-xyz"[..]]);
        assert!(index.candidate_blocks(&absent, 0, i64::MAX).len() <= 1);
        // Time pruning: rows 0..1024 have times 1000..=1010, block 1 starts at 1010.
        assert_eq!(
            index.candidate_blocks(&TokenQuery::Everything, 0, 1010),
            [0]
        );
    }

    #[test]
    fn damaged_files_are_refused() {
        let records = [record(1, "a b c")];
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let bytes = build_token_index(&borrowed);
        assert!(TokenIndex::parse(&bytes).is_ok());
        for cut in [0, 5, bytes.len() - 1] {
            assert!(TokenIndex::parse(&bytes[..cut]).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(TokenIndex::parse(&flipped).is_err());
    }

    proptest::proptest! {
        /// The parser is a decoder of files read back from storage: whatever the bytes, it
        /// answers with an index or an error, never a panic; a flipped byte is always caught.
        #[test]
        fn arbitrary_or_damaged_bytes_never_panic(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            flip in proptest::prelude::any::<usize>(),
        ) {
            let _ = TokenIndex::parse(&noise);
            let records = [record(1, "a b c"), record(2, "d e")];
            let borrowed: Vec<&LogRecord> = records.iter().collect();
            let mut bytes = build_token_index(&borrowed);
            let at = flip % bytes.len();
            bytes[at] ^= 0x5a;
            proptest::prop_assert!(TokenIndex::parse(&bytes).is_err());
        }
    }
}
