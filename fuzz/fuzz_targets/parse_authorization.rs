//! Fuzzes `Authorization` header parsing: it must never panic, and what it accepts must be
//! well formed.
#![no_main]

use cairn_protocol::signing::{parse_authorization, Authorization};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(header) = std::str::from_utf8(input) else {
        return;
    };
    match parse_authorization(header) {
        Ok(Authorization::V1 {
            access_key_id,
            signature,
        }) => assert!(!access_key_id.is_empty() && !signature.is_empty()),
        Ok(Authorization::V4 {
            access_key_id,
            date,
            region,
            signature,
        }) => {
            assert!(!access_key_id.is_empty() && !region.is_empty() && !signature.is_empty());
            assert!(date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()));
        }
        Err(_) => {}
    }
});
