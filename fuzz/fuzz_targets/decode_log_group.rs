//! Fuzzes PutLogs body decoding: it must never panic, the direct decoder must agree with
//! prost's (the same group, or both refusing), and whatever decodes must survive an
//! encode/decode round trip unchanged.
#![no_main]

use cairn_protocol::{
    decode_log_group, decode_log_group_with_prost, encode_log_group, ProtocolError,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let direct = decode_log_group(bytes::Bytes::copy_from_slice(body));
    let reference = decode_log_group_with_prost(bytes::Bytes::copy_from_slice(body));
    match (&direct, &reference) {
        (Err(ProtocolError::InvalidProtobuf(_)), Err(ProtocolError::InvalidProtobuf(_))) => {}
        _ => assert_eq!(direct, reference),
    }
    if let Ok(group) = direct {
        assert!(group.logs.iter().all(|log| log.time.nanos < 1_000_000_000));
        let again = decode_log_group(encode_log_group(&group).into());
        assert_eq!(again.as_ref(), Ok(&group));
    }
});
