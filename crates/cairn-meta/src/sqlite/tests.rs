//! The shared suite run against SQLite, plus what only SQLite has: the file, its pragmas,
//! persistence across reopen, and detection of values corrupted behind Cairn's back.

use std::sync::Arc;

use tempfile::TempDir;

use super::SqliteMetastore;
use crate::testsuite::{access_key, account, account_id, new_logstore, project, project_name};
use crate::{EntityKind, ListQuery, MetaError, Metastore};

/// A fresh metastore in its own temp dir; the dir lives as long as the returned guard.
async fn fresh_sqlite() -> (TempDir, Arc<dyn Metastore>) {
    let (dir, metastore) = fresh_sqlite_concrete().await;
    (dir, Arc::new(metastore))
}

async fn fresh_sqlite_concrete() -> (TempDir, SqliteMetastore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let metastore = SqliteMetastore::open(&dir.path().join("meta.db"))
        .await
        .expect("open metastore");
    (dir, metastore)
}

crate::metastore_test_suite!(fresh_sqlite());

#[tokio::test]
async fn opens_in_wal_mode_with_foreign_keys() {
    let (_dir, metastore) = fresh_sqlite_concrete().await;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&metastore.pool)
        .await
        .expect("pragma");
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&metastore.pool)
        .await
        .expect("pragma");
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested-name.db");
    let (logstore_id, key) = {
        let metastore = SqliteMetastore::open(&path).await.expect("open");
        metastore
            .create_account(&account(1, "first"))
            .await
            .expect("account");
        let key = access_key("LTAIaaaaaaaaaaaaaaaaaaaa", account_id(1), None);
        metastore.create_access_key(&key).await.expect("key");
        metastore
            .create_project(&project("web", account_id(1)))
            .await
            .expect("project");
        let logstore = metastore
            .create_logstore(&new_logstore("web", "logs"))
            .await
            .expect("logstore");
        metastore
            .delete_logstore(&logstore.project, &logstore.name)
            .await
            .expect("delete");
        metastore.close().await;
        (logstore.id, key)
    };

    let reopened = SqliteMetastore::open(&path).await.expect("reopen");
    assert_eq!(
        reopened.get_account(account_id(1)).await.expect("account"),
        account(1, "first")
    );
    assert_eq!(reopened.get_access_key(&key.id).await.expect("key"), key);
    let projects = reopened
        .list_projects(account_id(1), &ListQuery::page(0, 10))
        .await
        .expect("projects");
    assert_eq!(projects.total, 1);
    // The id sequence survives too: the deleted id is not handed out again.
    let recreated = reopened
        .create_logstore(&new_logstore("web", "logs"))
        .await
        .expect("recreate");
    assert!(recreated.id > logstore_id);
}

#[tokio::test]
async fn corrupt_stored_values_are_reported_not_trusted() {
    let (_dir, metastore) = fresh_sqlite_concrete().await;
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    // Written behind the metastore's back: a project name breaking the naming rule, and a
    // logstore whose settings are not JSON.
    sqlx::query(
        "INSERT INTO projects (name, account_id, description, created_at, last_modified_at) \
         VALUES ('Bad_Name', ?, '', 0, 0)",
    )
    .bind(super::account_param(account_id(1)))
    .execute(&metastore.pool)
    .await
    .expect("raw insert");
    let listed = metastore
        .list_projects(account_id(1), &ListQuery::page(0, 10))
        .await
        .expect_err("corrupt name");
    assert!(matches!(listed, MetaError::Corrupt(_)), "{listed:?}");
    assert!(!listed.is_transient());

    metastore
        .create_project(&project("web", account_id(1)))
        .await
        .expect("project");
    let logstore = metastore
        .create_logstore(&new_logstore("web", "logs"))
        .await
        .expect("logstore");
    sqlx::query("UPDATE logstores SET settings = '{not json' WHERE id = ?")
        .bind(logstore.id.0)
        .execute(&metastore.pool)
        .await
        .expect("raw update");
    let read = metastore
        .get_logstore(&project_name("web"), &logstore.name)
        .await
        .expect_err("corrupt settings");
    assert!(matches!(read, MetaError::Corrupt(_)), "{read:?}");
}

#[tokio::test]
async fn errors_read_like_their_kind() {
    let (_dir, metastore) = fresh_sqlite_concrete().await;
    let err = metastore
        .get_project(&project_name("web"))
        .await
        .expect_err("missing");
    assert!(err.is_not_found(EntityKind::Project));
    assert_eq!(err.to_string(), "project web does not exist");
}

#[tokio::test]
async fn concurrent_creates_of_one_name_have_exactly_one_winner() {
    let (_dir, metastore) = fresh_sqlite().await;
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    metastore
        .create_project(&project("web", account_id(1)))
        .await
        .expect("project");
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let metastore = Arc::clone(&metastore);
            tokio::spawn(async move {
                // Half race for one name, half create their own.
                let name = if n % 2 == 0 {
                    "contended".to_owned()
                } else {
                    format!("own-{n}")
                };
                metastore.create_logstore(&new_logstore("web", &name)).await
            })
        })
        .collect();
    let mut winners = 0;
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(_) => winners += usize::from(n % 2 == 0),
            Err(err) if n % 2 == 0 => {
                assert!(err.is_already_exists(EntityKind::Logstore), "{err:?}")
            }
            Err(err) => panic!("uncontended create failed: {err:?}"),
        }
    }
    assert_eq!(winners, 1);
    let page = metastore
        .list_logstores(&project_name("web"), &ListQuery::page(0, 100))
        .await
        .expect("list");
    assert_eq!(page.total, 9);
}

#[tokio::test]
async fn concurrent_first_heartbeats_hand_a_shard_to_exactly_one_consumer() {
    use cairn_model::{ConsumerGroupName, ConsumerName};

    use crate::{ConsumerGroupRecord, ConsumerHeartbeat};

    let (_dir, metastore) = fresh_sqlite().await;
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    metastore
        .create_project(&project("web", account_id(1)))
        .await
        .expect("project");
    let logstore = metastore
        .create_logstore(&new_logstore("web", "logs"))
        .await
        .expect("logstore");
    let group = ConsumerGroupName::parse("readers").expect("name");
    metastore
        .create_consumer_group(&ConsumerGroupRecord {
            logstore: logstore.id,
            name: group.clone(),
            timeout_seconds: 60,
            in_order: false,
            created_at: 1_700_000_000,
            last_modified_at: 1_700_000_000,
        })
        .await
        .expect("group");
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let metastore = Arc::clone(&metastore);
            let heartbeat = ConsumerHeartbeat {
                logstore: logstore.id,
                group: group.clone(),
                consumer: ConsumerName::parse(&format!("consumer-{n}")).expect("name"),
                held_shards: Vec::new(),
                shards: vec![0],
                at: 1_700_000_001,
            };
            tokio::spawn(async move { metastore.consumer_group_heartbeat(&heartbeat).await })
        })
        .collect();
    let mut holders = 0;
    for task in tasks {
        let assigned = task.await.expect("task").expect("heartbeat");
        holders += usize::from(assigned == [0]);
    }
    assert_eq!(holders, 1);
}
