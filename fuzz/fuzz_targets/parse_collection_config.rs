//! Fuzzes the collection-config parser: the agent reads these JSON documents from the server
//! and compiles their patterns. Any bytes must give a config or an error, never panic.
#![no_main]

use cairn_agent::config::PipelineConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PipelineConfig::from_json("fuzzed", 1, data);
});
