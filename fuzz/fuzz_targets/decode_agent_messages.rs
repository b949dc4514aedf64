//! Fuzzes the decoders of bytes that come back over the network to a client: the agent's
//! heartbeat and config replies (from the server it polls) and PullLogs' LogGroupList (read
//! by cross-account copy jobs from another server). Any bytes must decode or fail with an
//! error, never panic; what decodes must survive an encode/decode round trip unchanged.
#![no_main]

use cairn_protocol::agent::{
    FetchConfigRequest, FetchConfigResponse, HeartbeatRequest, HeartbeatResponse,
};
use cairn_protocol::{decode_log_group_list, encode_log_group_list};
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($message:ty, $data:expr) => {
        if let Ok(message) = <$message>::from_bytes($data) {
            let again = <$message>::from_bytes(&message.to_bytes()).expect("re-encoded decodes");
            assert_eq!(again, message);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    round_trip!(HeartbeatRequest, data);
    round_trip!(HeartbeatResponse, data);
    round_trip!(FetchConfigRequest, data);
    round_trip!(FetchConfigResponse, data);
    if let Ok(groups) = decode_log_group_list(bytes::Bytes::copy_from_slice(data)) {
        let again = decode_log_group_list(encode_log_group_list(&groups).into());
        assert_eq!(again.as_ref(), Ok(&groups));
    }
});
