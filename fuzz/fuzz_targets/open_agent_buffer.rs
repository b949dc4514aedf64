//! Fuzzes the agent's disk buffer, the decoder of batches it kept on disk through an outage:
//! the input becomes the buffer's one segment file (see `common/frames.rs` for how checksums
//! are sealed). Opening must succeed or fail with an error, never panic, and draining what
//! opened must end: every batch is either returned or dropped as unreadable.
#![no_main]

use cairn_agent::delivery::{DiskBuffer, DiskBufferOptions};
use libfuzzer_sys::fuzz_target;

#[path = "common/frames.rs"]
mod frames;

fuzz_target!(|data: &[u8]| {
    let directory = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        directory.path().join("seg-0000000000000000.buf"),
        frames::file_from_input(data),
    )
    .expect("segment");
    let Ok(mut buffer) = DiskBuffer::open(directory.path(), DiskBufferOptions::default()) else {
        return;
    };
    let held = buffer.len();
    for _ in 0..=held {
        match buffer.front() {
            Ok(Some(_)) | Err(_) => {
                if buffer.pop_front().is_err() {
                    return;
                }
            }
            Ok(None) => break,
        }
    }
    assert!(buffer.is_empty(), "{held} batches drain in as many steps");
});
