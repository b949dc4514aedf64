//! # The split token index
//!
//! A split's records are cut into blocks of consecutive rows. For each block the index keeps
//! its row count, its time range and a split-block Bloom filter of the folded hashes of every
//! token in the block (content keys and values, tag keys and values, topic, source; tokenized
//! with SLS's default delimiters, see `cairn_model::fold_token_hash`). A search turns into a
//! [`TokenQuery`]; a block is read only if its time range meets the query's and its filter
//! may contain the query's tokens. ADR 0009 says why this, not tantivy.
//!
//! Blocks never cross a Parquet page boundary (a split's writer starts a page every
//! [`PAGE_ROWS`] rows of a row group; a spliced merge keeps its inputs' row groups and pages),
//! so a block is read by selecting its rows and costs at most one page per column. A page is
//! one block, or several when rows inside it jump in time ([`builder`] says when). A merge
//! concatenates its inputs' blocks ([`TokenIndex::concatenate`]).
//!
//! Invariants:
//! - No false negatives: a block holding a token always answers "maybe" for it. False
//!   positives (about 0.5 % per absent token at [`BITS_PER_TOKEN`]) only cost a read.
//! - The filter is sized per block by its distinct token count, so a block of repetitive
//!   lines costs little and a block of unique ids stays accurate.
//! - Blocks cover the rows in order, without gap or overlap, none empty (checked on parse);
//!   none crosses a page (kept by the writers).
//! - The file is checksummed; a damaged file is refused, never half-used.
//!
//! ## Format (little-endian)
//!
//! ```text
//! magic "CAIRNTI1"  version:u32 (=2)  page_rows:u32  row_count:u64  block_count:u32
//! delimiters_len:u32  delimiters[delimiters_len]          (UTF-8, the tokenizer's set)
//! block_count × { rows:u32  buckets:u32  min_time:i64  max_time:i64 }
//! filters: for each block, buckets × 8 × u32                (256-bit buckets)
//! crc32c:u32                                                (of everything before it)
//! ```
//!
//! Version 1 files (still read) have no `rows` field: every block is a whole page but the last.
//!
//! Filter: the split-block Bloom filter of the Parquet spec: a token's hash picks a bucket
//! with its high 32 bits and sets one bit in each of the bucket's eight words from its low
//! 32 bits and eight salts.

mod builder;
mod hash_set;

use std::ops::Range;

use cairn_model::{TokenQuery, DEFAULT_TOKEN_DELIMITERS};

use crate::StoreError;

pub use builder::{build_token_index, TokenIndexBuilder};

/// Rows per Parquet page of a split; a block is at most a page.
pub const PAGE_ROWS: usize = 1024;
/// Filter bits per distinct token of a block.
const BITS_PER_TOKEN: usize = 12;
const MAGIC: &[u8; 8] = b"CAIRNTI1";
/// The version written.
const VERSION: u32 = 2;
/// The version whose blocks are whole pages (no row counts).
const VERSION_WHOLE_PAGES: u32 = 1;
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

/// A block as the file's block table holds it.
struct BlockHeader {
    rows: u32,
    buckets: u32,
    min_time: i64,
    max_time: i64,
}

/// The bytes of an index file (current version) of `row_count` rows in `blocks`, whose
/// filters are `words` in block order.
fn encode(row_count: u64, blocks: &[BlockHeader], words: &[u32]) -> Vec<u8> {
    let delimiters = DEFAULT_TOKEN_DELIMITERS.as_bytes();
    let mut out = Vec::with_capacity(40 + delimiters.len() + blocks.len() * 24 + words.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(PAGE_ROWS as u32).to_le_bytes());
    out.extend_from_slice(&row_count.to_le_bytes());
    out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    out.extend_from_slice(&(delimiters.len() as u32).to_le_bytes());
    out.extend_from_slice(delimiters);
    for block in blocks {
        out.extend_from_slice(&block.rows.to_le_bytes());
        out.extend_from_slice(&block.buckets.to_le_bytes());
        out.extend_from_slice(&block.min_time.to_le_bytes());
        out.extend_from_slice(&block.max_time.to_le_bytes());
    }
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One block's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BlockSummary {
    first_row: u64,
    rows: u32,
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
        if version != VERSION && version != VERSION_WHOLE_PAGES {
            return Err(StoreError::split(format!(
                "token index version {version} is not supported"
            )));
        }
        let page_rows = cursor.u32()? as usize;
        let row_count = cursor.u64()?;
        let block_count = cursor.u32()? as usize;
        let inconsistent = || StoreError::split("the token index's block layout is inconsistent");
        if page_rows != PAGE_ROWS
            || (version == VERSION_WHOLE_PAGES
                && (row_count as usize).div_ceil(PAGE_ROWS) != block_count)
        {
            return Err(inconsistent());
        }
        let delimiters_len = cursor.u32()? as usize;
        let delimiters = String::from_utf8(cursor.take(delimiters_len)?.to_vec())
            .map_err(|_| StoreError::split("the token index's delimiters are not UTF-8"))?;
        let summary_bytes = if version == VERSION { 24 } else { 20 };
        if cursor.bytes.len() < block_count.saturating_mul(summary_bytes) {
            return Err(StoreError::split("the token index is cut short"));
        }
        let mut blocks = Vec::with_capacity(block_count);
        let mut first_word = 0usize;
        let mut first_row = 0u64;
        for _ in 0..block_count {
            let rows = if version == VERSION {
                cursor.u32()?
            } else {
                (row_count - first_row).min(PAGE_ROWS as u64) as u32
            };
            let buckets = cursor.u32()? as usize;
            let min_time = cursor.i64()?;
            let max_time = cursor.i64()?;
            if buckets == 0 {
                return Err(StoreError::split("a token index block has no filter"));
            }
            let end_row = first_row + u64::from(rows);
            if rows == 0 || end_row > row_count {
                return Err(inconsistent());
            }
            blocks.push(BlockSummary {
                first_row,
                rows,
                min_time,
                max_time,
                first_word,
                buckets,
            });
            first_row = end_row;
            first_word = first_word
                .checked_add(buckets * 8)
                .ok_or_else(|| StoreError::split("the token index is too large"))?;
        }
        if first_row != row_count {
            return Err(inconsistent());
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

    /// The rows of block `block`, by row number in the split.
    pub fn block_rows(&self, block: usize) -> Option<Range<u64>> {
        self.blocks
            .get(block)
            .map(|summary| summary.first_row..summary.first_row + u64::from(summary.rows))
    }

    /// The time range `(min, max)` of block `block`, seconds.
    pub fn block_time_range(&self, block: usize) -> Option<(i64, i64)> {
        self.blocks
            .get(block)
            .map(|summary| (summary.min_time, summary.max_time))
    }

    /// The index file of `indexes` one after the other (the splits of a merge, in row
    /// order): their blocks and filters unchanged, rows renumbered. Fails if they were
    /// tokenized with different delimiters.
    pub fn concatenate(indexes: &[&TokenIndex]) -> Result<Vec<u8>, StoreError> {
        if indexes
            .iter()
            .any(|index| index.delimiters != DEFAULT_TOKEN_DELIMITERS)
        {
            return Err(StoreError::split(
                "token indexes with other delimiters cannot be concatenated",
            ));
        }
        // Each index's words are its blocks' filters in block order, so they concatenate too.
        let blocks: Vec<BlockHeader> = indexes
            .iter()
            .flat_map(|index| &index.blocks)
            .map(|block| BlockHeader {
                rows: block.rows,
                buckets: block.buckets as u32,
                min_time: block.min_time,
                max_time: block.max_time,
            })
            .collect();
        let words: Vec<u32> = indexes
            .iter()
            .flat_map(|index| index.words.iter().copied())
            .collect();
        let row_count = indexes.iter().map(|index| index.row_count).sum();
        Ok(encode(row_count, &blocks, &words))
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
    use cairn_model::{Field, LogRecord, LogTime};

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
                candidates.contains(&(row as usize / PAGE_ROWS)),
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
    fn a_record_far_away_in_time_gets_a_block_of_its_own() {
        // Rows 0..3000 at ~1 s apart, with row 1500 stamped two hours later.
        let records: Vec<LogRecord> = (0..3000u32)
            .map(|row| {
                let seconds = if row == 1500 {
                    10_000 + 7200
                } else {
                    10_000 + row / 4
                };
                record(seconds, &format!("line {row}"))
            })
            .collect();
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let index = TokenIndex::parse(&build_token_index(&borrowed)).expect("parse");
        let blocks: Vec<(Range<u64>, (i64, i64))> = (0..index.block_count())
            .map(|block| {
                let rows = index.block_rows(block).expect("rows");
                (rows, index.block_time_range(block).expect("range"))
            })
            .collect();
        assert_eq!(
            blocks
                .iter()
                .map(|(rows, _)| rows.clone())
                .collect::<Vec<_>>(),
            [0..1024, 1024..1500, 1500..1501, 1501..2048, 2048..3000]
        );
        assert_eq!(blocks[2].1, (17_200, 17_200));
        // Its neighbours keep tight ranges, so a newest-first search does not read them.
        assert!(blocks[1].1 .1 < 10_000 + 400 && blocks[3].1 .1 < 10_000 + 600);
        let late = TokenQuery::all_tokens([&b"1500"[..]]);
        assert_eq!(index.candidate_blocks(&late, 17_000, i64::MAX), [2]);
    }

    #[test]
    fn rows_alternating_in_time_cost_a_bounded_number_of_blocks() {
        let records: Vec<LogRecord> = (0..2048u32)
            .map(|row| record(if row % 2 == 0 { 1_000 } else { 90_000 }, "x"))
            .collect();
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let index = TokenIndex::parse(&build_token_index(&borrowed)).expect("parse");
        assert_eq!(
            index.block_count(),
            2 * (1 + builder::MAX_TIME_CUTS_PER_PAGE)
        );
        let covered: u64 = (0..index.block_count())
            .map(|block| {
                let rows = index.block_rows(block).expect("rows");
                assert_eq!(rows.start / 1024, (rows.end - 1) / 1024, "{rows:?}");
                rows.end - rows.start
            })
            .sum();
        assert_eq!(covered, 2048);
    }

    /// A version 1 file (blocks are whole pages, no row counts) made from a version 2 one.
    fn as_version_1(bytes: &[u8]) -> Vec<u8> {
        let body = &bytes[..bytes.len() - 4];
        let block_count = u32::from_le_bytes(body[24..28].try_into().expect("4 bytes")) as usize;
        let delimiters = u32::from_le_bytes(body[28..32].try_into().expect("4 bytes")) as usize;
        let table = 32 + delimiters;
        let mut out = body[..table].to_vec();
        out[8..12].copy_from_slice(&1u32.to_le_bytes());
        for block in 0..block_count {
            let at = table + block * 24;
            out.extend_from_slice(&body[at + 4..at + 24]);
        }
        out.extend_from_slice(&body[table + block_count * 24..]);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn version_1_files_are_still_read() {
        let records: Vec<LogRecord> = (0..2500)
            .map(|row| record(1000 + row / 100, &format!("GET /item/{row}")))
            .collect();
        let borrowed: Vec<&LogRecord> = records.iter().collect();
        let current = TokenIndex::parse(&build_token_index(&borrowed)).expect("v2");
        let old = TokenIndex::parse(&as_version_1(&build_token_index(&borrowed))).expect("v1");
        assert_eq!(old, current);
        assert_eq!(old.block_rows(2), Some(2048..2500));
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
