//! Fuzzes lz4 body decompression: it must never panic, never return more than the limit,
//! and honour a declared raw size exactly.
//!
//! Input layout: 1 flag byte (odd: a raw size follows), then 4 bytes little-endian raw size
//! (when flagged), then the body.
#![no_main]

use cairn_protocol::compression::{decompress, CompressionType};
use libfuzzer_sys::fuzz_target;

/// Small, so that bombs are hit quickly.
const LIMIT: usize = 1 << 20;

fuzz_target!(|input: &[u8]| {
    let Some((&flag, rest)) = input.split_first() else {
        return;
    };
    let (raw_size, body) = if flag % 2 == 1 && rest.len() >= 4 {
        let (size, body) = rest.split_at(4);
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
        (Some(size % (2 * LIMIT)), body)
    } else {
        (None, rest)
    };
    if let Ok(out) = decompress(CompressionType::Lz4, body, raw_size, LIMIT) {
        assert!(out.len() <= LIMIT);
        if let Some(size) = raw_size {
            assert_eq!(out.len(), size);
        }
    }
});
