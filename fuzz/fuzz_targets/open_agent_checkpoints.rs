//! Fuzzes the agent's checkpoint table (`checkpoints.json`), read at every start: any bytes
//! must load or be refused with an error (a table that does not parse is never taken as
//! empty), never panic; a table that loads is written back and loads again to the same
//! entries.
#![no_main]

use cairn_agent::input::checkpoint::{CheckpointStore, CHECKPOINT_FILE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let directory = tempfile::tempdir().expect("temp dir");
    std::fs::write(directory.path().join(CHECKPOINT_FILE), data).expect("table");
    let Ok(store) = CheckpointStore::open(directory.path()) else {
        return;
    };
    let entries = store.all();
    // A durable change writes the whole table back.
    store.mark_config_known("fuzz").expect("written back");
    drop(store);
    let again = CheckpointStore::open(directory.path()).expect("a table it wrote loads");
    assert_eq!(again.all(), entries);
    assert!(again.config_known("fuzz"));
});
