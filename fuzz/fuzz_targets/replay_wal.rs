//! Fuzzes WAL recovery, the decoder of what a crash leaves on disk: the input becomes the one
//! segment of a WAL directory (see `common/frames.rs` for how checksums are sealed), and the
//! engine opens it. Any bytes must open (a torn tail cut off) or be refused with an error,
//! never panic; what opens must read back every record it holds, in offset order, and shut
//! down cleanly.
#![no_main]

use std::sync::OnceLock;

use cairn_model::LogstoreId;
use cairn_store::{EngineConfig, LogEngine};
use libfuzzer_sys::fuzz_target;

#[path = "common/frames.rs"]
mod frames;

/// Logstore ids whose records are read back (the seeds use small ids).
const LOGSTORES: std::ops::Range<i64> = 0..8;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let directory = tempfile::tempdir().expect("temp dir");
    let wal = directory.path().join("wal");
    std::fs::create_dir_all(&wal).expect("wal dir");
    std::fs::write(
        wal.join("wal-00000000000000000000.log"),
        frames::file_from_input(data),
    )
    .expect("segment");
    runtime().block_on(async {
        let config = EngineConfig {
            wal_dir: wal,
            min_free_disk_bytes: 0,
            ..EngineConfig::default()
        };
        let Ok(engine) = LogEngine::open(config).await else {
            return;
        };
        for logstore in LOGSTORES.map(LogstoreId) {
            let mut offset = engine.first_offset(logstore);
            loop {
                let (records, next) = engine
                    .read_from(logstore, offset, 1000)
                    .await
                    .expect("a recovered engine reads what it holds");
                if records.is_empty() {
                    break;
                }
                for (expected, (at, _)) in (offset..).zip(&records) {
                    assert_eq!(*at, expected, "offsets are contiguous");
                }
                offset = next;
            }
            assert_eq!(offset, engine.next_offset(logstore));
        }
        engine.shutdown().await.expect("shutdown");
    });
});
