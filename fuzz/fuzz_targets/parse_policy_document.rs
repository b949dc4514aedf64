//! Fuzzes the IAM policy languages, which users write: permission policies, session policies
//! and role trust policies. Any text must parse or be refused with an error, never panic, and
//! a policy that parses must evaluate any request (with and without a source address and key)
//! to a decision without panicking.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use cairn_iam::policy::RequestContext;
use cairn_iam::{PolicyDocument, TrustPolicy};
use libfuzzer_sys::fuzz_target;

const REQUESTS: [(&str, &str); 3] = [
    (
        "log:PostLogStoreLogs",
        "acs:log:*:1000000000000001:project/web/logstore/access",
    ),
    (
        "log:GetLogStoreLogs",
        "acs:log:cn-hangzhou:1000000000000002:project/audit",
    ),
    ("sts:AssumeRole", "acs:ram::1000000000000001:role/reader"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = TrustPolicy::parse(text);
    let _ = PolicyDocument::parse_session_policy(text);
    let Ok(policy) = PolicyDocument::parse(text) else {
        return;
    };
    let contexts = [
        RequestContext {
            source_ip: None,
            access_key_id: None,
            external_id: None,
        },
        RequestContext {
            source_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
            access_key_id: Some("LTAIexample"),
            external_id: Some("abc"),
        },
    ];
    for (action, resource) in REQUESTS {
        for context in &contexts {
            let _ = policy.evaluate(action, resource, context);
        }
    }
});
