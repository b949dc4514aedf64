//! # Deleting split files: after a grace period, never under a running query
//!
//! A split leaves the catalog (merged away, expired, its logstore dropped, or never published
//! after a failed step) before its files leave the object store. [`SplitFileDeletions`] is the
//! queue between the two: each of the split's two files waits until
//!
//! 1. its grace period has passed (a reader on another node, or one that listed the catalog
//!    just before, still finds the files), and
//! 2. no memtable snapshot holds the split any more: a query that took its snapshot before
//!    the split was replaced reads the files it planned to, however long it runs. The queue
//!    holds a `Weak` to the split as snapshots hold it; while it upgrades, the files stay.
//!
//! Deleting is best effort: a missing object is fine, any other failure is logged and left
//! to [`sweep_orphans`], which at every start deletes files no published split owns. The
//! queue lives in memory only; a crash forgets it and the sweep does its work instead.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use cairn_meta::SplitRecord;
use cairn_model::LogstoreId;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::split::files::{index_path, object_error, parquet_path};
use crate::split::reader::SplitReader;
use crate::StoreError;

/// Split files waiting to be deleted (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct SplitFileDeletions {
    pending: Mutex<Vec<PendingDeletion>>,
}

/// A split file waiting to be deleted.
#[derive(Debug)]
struct PendingDeletion {
    /// Not before this.
    at: Instant,
    path: Path,
    /// Its split: a query that read the split after it was replaced cached it again, so the
    /// reader's cache forgets it once more when the files go.
    split_id: String,
    /// The split as memtable snapshots hold it. While it can be upgraded, a query that took
    /// its snapshot before the split was replaced may still open the file. Empty for files no
    /// reader ever saw (a failed merge's output, a dropped logstore's splits).
    readers: Weak<SplitRecord>,
}

impl SplitFileDeletions {
    /// Deletes a split's files after `grace`; for files no snapshot can hold.
    pub(crate) fn schedule(&self, logstore: LogstoreId, split_id: &str, grace: Duration) {
        self.push(logstore, split_id, grace, Weak::new());
    }

    /// Deletes a split's files after `grace` and once no snapshot holds `split`.
    pub(crate) fn schedule_after_readers(&self, split: &Arc<SplitRecord>, grace: Duration) {
        self.push(
            split.logstore,
            &split.split_id,
            grace,
            Arc::downgrade(split),
        );
    }

    fn push(
        &self,
        logstore: LogstoreId,
        split_id: &str,
        grace: Duration,
        readers: Weak<SplitRecord>,
    ) {
        let at = Instant::now() + grace;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for path in [
            parquet_path(logstore, split_id),
            index_path(logstore, split_id),
        ] {
            pending.push(PendingDeletion {
                at,
                path,
                split_id: split_id.to_owned(),
                readers: readers.clone(),
            });
        }
    }

    /// Takes the deletions that are due at `now`; the rest stay queued.
    fn take_due(&self, now: Instant) -> Vec<PendingDeletion> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (due, later): (Vec<_>, Vec<_>) = pending
            .drain(..)
            .partition(|deletion| deletion.at <= now && deletion.readers.upgrade().is_none());
        *pending = later;
        due
    }

    /// Deletes every file that is due, then forgets their splits in `reader`'s cache under
    /// one lock.
    pub(crate) async fn delete_due(&self, store: &dyn ObjectStore, reader: &SplitReader) {
        let mut split_ids = Vec::new();
        for deletion in self.take_due(Instant::now()) {
            delete_object(store, &deletion.path).await;
            split_ids.push(deletion.split_id);
        }
        reader.evict(&split_ids);
    }
}

/// Deletes an object; a missing one is fine, other failures are logged (the orphan sweep at
/// the next start retries).
pub(crate) async fn delete_object(store: &dyn ObjectStore, path: &Path) {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => {
            tracing::warn!(path = %path, error = %object_error("deleting", path, error), "split file not deleted");
        }
    }
}

/// Deletes split files that no published split owns: leftovers of a crash between upload and
/// publish, or of a merge or retention before its grace period ended. Run at start, before
/// anything is flushed.
pub(crate) async fn sweep_orphans(
    store: &dyn ObjectStore,
    published: &HashSet<String>,
) -> Result<usize, StoreError> {
    let prefix = Path::from("splits");
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|error| object_error("listing", &prefix, error))?;
    let mut removed = 0;
    for object in listed {
        let owner = object
            .location
            .filename()
            .and_then(|name| name.split('.').next())
            .map(str::to_owned);
        if owner.is_some_and(|id| !published.contains(&id)) {
            delete_object(store, &object.location).await;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use cairn_model::{Field, LogRecord, LogTime};
    use object_store::memory::InMemory;

    use super::*;
    use crate::split::files::{build_split, upload_split};

    const LOGSTORE: LogstoreId = LogstoreId(7);

    /// A published-looking split of two records, its files in `store`.
    async fn uploaded_split(store: &dyn ObjectStore, split_id: &str) -> Arc<SplitRecord> {
        let records: Vec<LogRecord> = ["one", "two"]
            .iter()
            .map(|message| LogRecord {
                time: LogTime::new(1_700_000_000, 0),
                topic: Bytes::new(),
                source: Bytes::new(),
                tags: Vec::new(),
                contents: vec![Field::new("message", *message)],
            })
            .collect();
        let with_offsets: Vec<(u64, &LogRecord)> =
            records.iter().zip(0..).map(|(r, o)| (o, r)).collect();
        let built = build_split(&with_offsets, 20).expect("build");
        upload_split(store, LOGSTORE, split_id, &built)
            .await
            .expect("upload");
        Arc::new(built.catalog_record(split_id.to_owned(), LOGSTORE, 0, 1))
    }

    fn due_paths(deletions: &SplitFileDeletions, now: Instant) -> Vec<String> {
        let mut paths: Vec<String> = deletions
            .take_due(now)
            .into_iter()
            .map(|deletion| deletion.path.to_string())
            .collect();
        paths.sort();
        paths
    }

    fn split_paths(split_id: &str) -> Vec<String> {
        let mut paths = vec![
            parquet_path(LOGSTORE, split_id).to_string(),
            index_path(LOGSTORE, split_id).to_string(),
        ];
        paths.sort();
        paths
    }

    #[test]
    fn both_files_of_a_split_wait_for_the_grace_period() {
        let deletions = SplitFileDeletions::default();
        deletions.schedule(LOGSTORE, "aaa", Duration::from_secs(60));
        assert!(due_paths(&deletions, Instant::now()).is_empty());
        let later = Instant::now() + Duration::from_secs(61);
        assert_eq!(due_paths(&deletions, later), split_paths("aaa"));
        assert!(due_paths(&deletions, later).is_empty(), "taken once");
    }

    #[tokio::test]
    async fn a_held_split_waits_past_its_grace_until_the_last_snapshot_goes() {
        let store = InMemory::new();
        let held = uploaded_split(&store, "bbb").await;
        let snapshot = Arc::clone(&held);
        let deletions = SplitFileDeletions::default();
        deletions.schedule_after_readers(&held, Duration::ZERO);
        drop(held);
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(
            due_paths(&deletions, later).is_empty(),
            "a snapshot holds it"
        );
        drop(snapshot);
        assert_eq!(due_paths(&deletions, later), split_paths("bbb"));
    }

    #[tokio::test]
    async fn deleting_a_split_removes_its_files_and_its_cache_entry() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let kept = uploaded_split(&*store, "kept").await;
        let gone = uploaded_split(&*store, "gone").await;
        let reader = SplitReader::new(Arc::clone(&store));
        reader.cached(&kept).await.expect("read kept");
        reader.cached(&gone).await.expect("read gone");
        assert!(reader.is_cached("kept") && reader.is_cached("gone"));

        let deletions = SplitFileDeletions::default();
        deletions.schedule_after_readers(&gone, Duration::ZERO);
        drop(gone);
        deletions.delete_due(&*store, &reader).await;

        for path in split_paths("gone") {
            assert!(
                store.head(&Path::from(path.as_str())).await.is_err(),
                "{path} deleted"
            );
        }
        for path in split_paths("kept") {
            assert!(
                store.head(&Path::from(path.as_str())).await.is_ok(),
                "{path} kept"
            );
        }
        assert!(
            !reader.is_cached("gone"),
            "the cache forgot the deleted split"
        );
        assert!(reader.is_cached("kept"));
    }
}
