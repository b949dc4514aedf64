//! Suite tests for the split catalog ([`crate::SplitStore`]).

use cairn_model::LogstoreId;

use super::{account, account_id, logstore_name, project, project_name};
use crate::{Metastore, NewLogstore, SplitRecord, SplitStoreError};

fn split(id: &str, logstore: i64, offsets: std::ops::Range<u64>, max_time: i64) -> SplitRecord {
    SplitRecord {
        split_id: id.to_owned(),
        logstore: LogstoreId(logstore),
        first_offset: offsets.start,
        end_offset: offsets.end,
        min_time: max_time - 10,
        max_time,
        row_count: offsets.end - offsets.start,
        raw_bytes: 1000,
        parquet_bytes: 100,
        index_bytes: 10,
        merge_level: 0,
        published_at: 1_700_000_000,
    }
}

/// Splits: published without overlap, listed by offset, replaced atomically by a merge,
/// expired by their logstore's TTL, deleted.
pub async fn splits_are_published_merged_expired_and_deleted(meta: &dyn Metastore) {
    meta.create_account(&account(1, "owner"))
        .await
        .expect("account");
    meta.create_project(&project("proj", account_id(1)))
        .await
        .expect("project");
    let logstore = meta
        .create_logstore(&NewLogstore {
            project: project_name("proj"),
            name: logstore_name("store"),
            ttl_days: 7,
            shard_count: 1,
            settings: serde_json::json!({}),
            created_at: 1_700_000_000,
        })
        .await
        .expect("logstore");
    let id = logstore.id.0;
    meta.publish_split(&split("b", id, 100..200, 2_000))
        .await
        .expect("publish b");
    meta.publish_split(&split("a", id, 0..100, 1_000))
        .await
        .expect("publish a");
    let refused = meta.publish_split(&split("c", id, 150..250, 3_000)).await;
    assert!(
        matches!(refused, Err(SplitStoreError::Overlap { ref existing, .. }) if existing == "b"),
        "{refused:?}"
    );
    meta.publish_split(&split("other", id + 1, 150..250, 3_000))
        .await
        .expect("another logstore's offsets are independent");
    let listed: Vec<String> = meta
        .list_splits(logstore.id)
        .await
        .expect("list")
        .into_iter()
        .map(|split| split.split_id)
        .collect();
    assert_eq!(listed, ["a", "b"]);
    assert_eq!(
        meta.list_splits(logstore.id).await.expect("list")[0],
        split("a", id, 0..100, 1_000)
    );

    // A merge replaces its inputs atomically, and only if they are all still published.
    let mut merged = split("ab", id, 0..200, 2_000);
    merged.merge_level = 1;
    let missing = meta
        .replace_splits(&["a".to_owned(), "gone".to_owned()], &merged)
        .await;
    assert!(
        matches!(missing, Err(SplitStoreError::NotPublished { .. })),
        "{missing:?}"
    );
    let overlapping = meta.replace_splits(&["a".to_owned()], &merged).await;
    assert!(
        matches!(overlapping, Err(SplitStoreError::Overlap { .. })),
        "{overlapping:?}"
    );
    meta.replace_splits(&["a".to_owned(), "b".to_owned()], &merged)
        .await
        .expect("merge");
    let after = meta.list_splits(logstore.id).await.expect("list");
    assert_eq!(after, vec![merged.clone()]);
    assert_eq!(meta.list_all_splits().await.expect("all").len(), 2);

    // TTL 7 days: a split whose newest record is older than that has expired; splits of
    // logstores that do not exist are not listed.
    let week = 7 * 86_400;
    assert!(meta
        .expired_splits(2_000 + week)
        .await
        .expect("expired")
        .is_empty());
    let expired = meta.expired_splits(2_001 + week).await.expect("expired");
    assert_eq!(expired, vec![merged]);

    meta.delete_splits(&["ab".to_owned(), "never".to_owned()])
        .await
        .expect("delete");
    assert!(meta
        .list_splits(logstore.id)
        .await
        .expect("list")
        .is_empty());
}
