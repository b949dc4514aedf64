//! Fuzzes PutLogs body decoding: it must never panic, and whatever decodes must survive an
//! encode/decode round trip unchanged.
#![no_main]

use cairn_protocol::{decode_log_group, encode_log_group};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(group) = decode_log_group(bytes::Bytes::copy_from_slice(body)) {
        assert!(group.logs.iter().all(|log| log.time.nanos < 1_000_000_000));
        let again = decode_log_group(encode_log_group(&group).into());
        assert_eq!(again.as_ref(), Ok(&group));
    }
});
