//! What only the SQLite directory store has: its event log survives a reopen, and a change
//! whose event cannot be logged does not happen.

use crate::testsuite::{account, account_id};
use crate::{DirectoryRecord, DirectoryStore, Metastore, SqliteMetastore};

fn directory(management: u64) -> DirectoryRecord {
    DirectoryRecord {
        directory_id: "rd-aaaaaaaaaa".to_owned(),
        management_account: account_id(management),
        enabled_at: 1_700_000_000,
    }
}

#[tokio::test]
async fn the_event_log_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("meta.db");
    let written = {
        let metastore = SqliteMetastore::open(&path).await.expect("open");
        for n in 1..=2 {
            metastore
                .create_account(&account(n, "acct"))
                .await
                .expect("account");
        }
        let (_, mut events) = metastore
            .create_directory(&directory(1))
            .await
            .expect("enable");
        let (_, joined) = metastore
            .add_created_member("rd-aaaaaaaaaa", account_id(2), 1_700_000_001)
            .await
            .expect("member");
        events.extend(joined);
        metastore.close().await;
        events
    };

    let reopened = SqliteMetastore::open(&path).await.expect("reopen");
    assert_eq!(
        reopened
            .directory_events_since("rd-aaaaaaaaaa", 0)
            .await
            .expect("log"),
        written
    );
    // Sequences keep growing after the reopen.
    let removed = reopened
        .remove_member("rd-aaaaaaaaaa", account_id(2), 1_700_000_002)
        .await
        .expect("remove");
    assert!(removed[0].0 > written[1].0, "{removed:?} after {written:?}");
}

#[tokio::test]
async fn a_change_without_its_event_is_rolled_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metastore = SqliteMetastore::open(&dir.path().join("meta.db"))
        .await
        .expect("open");
    for n in 1..=2 {
        metastore
            .create_account(&account(n, "acct"))
            .await
            .expect("account");
    }
    metastore
        .create_directory(&directory(1))
        .await
        .expect("enable");
    // Make every event insert fail, as a full disk or a bug would.
    sqlx::query(
        "CREATE TRIGGER refuse_events BEFORE INSERT ON directory_events \
         BEGIN SELECT RAISE(ABORT, 'no events today'); END",
    )
    .execute(&metastore.pool)
    .await
    .expect("trigger");

    metastore
        .add_created_member("rd-aaaaaaaaaa", account_id(2), 1_700_000_001)
        .await
        .expect_err("the event cannot be logged");
    assert_eq!(
        metastore
            .directory_membership(account_id(2))
            .await
            .expect("membership"),
        None,
        "the member row was rolled back with its event"
    );
    assert_eq!(
        metastore
            .list_directory_members("rd-aaaaaaaaaa")
            .await
            .expect("members")
            .len(),
        1
    );
}

#[tokio::test]
async fn concurrent_writers_cannot_put_an_account_in_two_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metastore = SqliteMetastore::open(&dir.path().join("meta.db"))
        .await
        .expect("open");
    for n in 1..=9 {
        metastore
            .create_account(&account(n, "acct"))
            .await
            .expect("account");
    }
    // Eight directories race to take account 9: one by enabling it, seven by adding it.
    let mut racers = tokio::task::JoinSet::new();
    for n in 1..=8u64 {
        let metastore = metastore.clone();
        racers.spawn(async move {
            if n == 8 {
                metastore.create_directory(&directory(9)).await.map(|_| ())
            } else {
                let id = format!("rd-racer0000{n}");
                metastore
                    .create_directory(&DirectoryRecord {
                        directory_id: id.clone(),
                        ..directory(n)
                    })
                    .await
                    .expect("enable");
                metastore
                    .add_created_member(&id, account_id(9), 1_700_000_001)
                    .await
                    .map(|_| ())
            }
        });
    }
    let mut won = 0;
    while let Some(outcome) = racers.join_next().await {
        match outcome.expect("task") {
            Ok(()) => won += 1,
            Err(crate::DirectoryStoreError::AlreadyInDirectory { .. }) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one directory got the account");
    assert!(metastore
        .directory_membership(account_id(9))
        .await
        .expect("membership")
        .is_some());
}
