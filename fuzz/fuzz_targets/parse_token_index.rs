//! Fuzzes the split token-index parser (a decoder of files read back from object storage):
//! any bytes must parse or fail with an error, never panic; whatever parses must answer
//! queries within its rows and concatenate into a file that parses to the same blocks. The
//! input is tried as it is and with its checksum appended, so that the fuzzer reaches the
//! parsing behind the checksum.
#![no_main]

use cairn_model::TokenQuery;
use cairn_store::split::token_index::TokenIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&crc32c::crc32c(data).to_le_bytes());
    check(&sealed);
});

fn check(data: &[u8]) {
    let Ok(index) = TokenIndex::parse(data) else {
        return;
    };
    let query = TokenQuery::all_tokens([&b"needle"[..]]);
    for block in index.candidate_blocks(&query, i64::MIN, i64::MAX) {
        let rows = index.block_rows(block).expect("a candidate block has rows");
        assert!(rows.start < rows.end && rows.end <= index.row_count());
    }
    if index.delimiters() == cairn_model::DEFAULT_TOKEN_DELIMITERS {
        let joined = TokenIndex::concatenate(&[&index, &index]).expect("same delimiters");
        let again = TokenIndex::parse(&joined).expect("a concatenation parses");
        assert_eq!(again.row_count(), 2 * index.row_count());
        assert_eq!(again.block_count(), 2 * index.block_count());
    }
}
