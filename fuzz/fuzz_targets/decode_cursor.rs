//! Fuzzes cursor decoding (PullLogs `cursor`, consumer-group checkpoints): it must never
//! panic, and a decoded offset must encode back to a cursor that decodes to it.
#![no_main]

use cairn_protocol::cursor::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(offset) = decode_cursor(text) {
        assert_eq!(decode_cursor(&encode_cursor(offset)), Ok(offset));
    }
});
