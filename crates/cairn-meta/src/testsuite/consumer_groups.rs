//! Suite tests for consumer groups ([`crate::ConsumerGroupStore`]): groups per logstore,
//! heartbeats that hand each shard to one live consumer, checkpoints guarded by ownership,
//! and cascading deletes.

use cairn_model::{ConsumerGroupName, ConsumerName, LogstoreId};

use super::{account, account_id, new_logstore, project};
use crate::{
    CheckpointUpdate, ConsumerGroupRecord, ConsumerGroupStoreError, ConsumerGroupUpdate,
    ConsumerHeartbeat, LogstoreRecord, Metastore,
};

/// The time the tests' clocks start at.
const T0: i64 = 1_700_001_000;

fn group_name(name: &str) -> ConsumerGroupName {
    ConsumerGroupName::parse(name).expect("valid test consumer group name")
}

fn consumer(name: &str) -> ConsumerName {
    ConsumerName::parse(name).expect("valid test consumer name")
}

fn group(logstore: LogstoreId, name: &str, timeout_seconds: u32) -> ConsumerGroupRecord {
    ConsumerGroupRecord {
        logstore,
        name: group_name(name),
        timeout_seconds,
        in_order: false,
        created_at: T0,
        last_modified_at: T0,
    }
}

/// An account, a project `web` and logstores named `names` in it.
async fn logstores(metastore: &dyn Metastore, names: &[&str]) -> Vec<LogstoreRecord> {
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    metastore
        .create_project(&project("web", account_id(1)))
        .await
        .expect("project");
    let mut created = Vec::new();
    for name in names {
        created.push(
            metastore
                .create_logstore(&new_logstore("web", name))
                .await
                .expect("logstore"),
        );
    }
    created
}

async fn heartbeat(
    metastore: &dyn Metastore,
    logstore: LogstoreId,
    who: &str,
    held: &[u32],
    shards: &[u32],
    at: i64,
) -> Vec<u32> {
    metastore
        .consumer_group_heartbeat(&ConsumerHeartbeat {
            logstore,
            group: group_name("readers"),
            consumer: consumer(who),
            held_shards: held.to_vec(),
            shards: shards.to_vec(),
            at,
        })
        .await
        .expect("heartbeat")
}

fn checkpoint(
    logstore: LogstoreId,
    who: Option<&str>,
    value: &str,
    force: bool,
    at: i64,
) -> CheckpointUpdate {
    CheckpointUpdate {
        logstore,
        group: group_name("readers"),
        shard: 0,
        consumer: who.map(consumer),
        checkpoint: value.to_owned(),
        force,
        at,
    }
}

/// Groups: created on an existing logstore, unique per logstore, listed by name, updated
/// field by field, deleted.
pub async fn consumer_groups_round_trip(metastore: &dyn Metastore) {
    let stores = logstores(metastore, &["app", "other"]).await;
    let (app, other) = (stores[0].id, stores[1].id);
    let missing = metastore
        .create_consumer_group(&group(LogstoreId(9_999), "readers", 60))
        .await
        .expect_err("no such logstore");
    assert!(
        matches!(missing, ConsumerGroupStoreError::LogstoreNotFound { logstore } if logstore == LogstoreId(9_999)),
        "{missing:?}"
    );

    let readers = group(app, "readers", 60);
    metastore
        .create_consumer_group(&readers)
        .await
        .expect("readers");
    metastore
        .create_consumer_group(&group(app, "archiver", 30))
        .await
        .expect("archiver");
    // The same name on another logstore is another group.
    metastore
        .create_consumer_group(&group(other, "readers", 10))
        .await
        .expect("other logstore");
    let clash = metastore
        .create_consumer_group(&group(app, "readers", 5))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(clash, ConsumerGroupStoreError::GroupAlreadyExists { .. }),
        "{clash:?}"
    );
    assert!(!clash.is_transient());

    assert_eq!(
        metastore
            .get_consumer_group(app, &group_name("readers"))
            .await
            .expect("get"),
        readers
    );
    let names: Vec<String> = metastore
        .list_consumer_groups(app)
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.name.to_string())
        .collect();
    assert_eq!(names, ["archiver", "readers"]);
    assert!(metastore
        .list_consumer_groups(LogstoreId(9_999))
        .await
        .expect("list unknown")
        .is_empty());

    let ordered = metastore
        .update_consumer_group(
            app,
            &group_name("readers"),
            &ConsumerGroupUpdate {
                timeout_seconds: None,
                in_order: Some(true),
                modified_at: T0 + 5,
            },
        )
        .await
        .expect("update order");
    assert_eq!(
        (
            ordered.timeout_seconds,
            ordered.in_order,
            ordered.last_modified_at
        ),
        (60, true, T0 + 5)
    );
    let longer = metastore
        .update_consumer_group(
            app,
            &group_name("readers"),
            &ConsumerGroupUpdate {
                timeout_seconds: Some(120),
                in_order: None,
                modified_at: T0 + 6,
            },
        )
        .await
        .expect("update timeout");
    assert_eq!((longer.timeout_seconds, longer.in_order), (120, true));
    assert_eq!(longer.created_at, T0);

    metastore
        .delete_consumer_group(app, &group_name("readers"))
        .await
        .expect("delete");
    for error in [
        metastore
            .get_consumer_group(app, &group_name("readers"))
            .await
            .expect_err("deleted"),
        metastore
            .delete_consumer_group(app, &group_name("readers"))
            .await
            .expect_err("deleted twice"),
        metastore
            .consumer_group_checkpoints(app, &group_name("readers"))
            .await
            .expect_err("no checkpoints of a deleted group"),
    ] {
        assert!(
            matches!(error, ConsumerGroupStoreError::GroupNotFound { .. }),
            "{error:?}"
        );
    }
    // The other logstore's group of the same name is untouched.
    assert_eq!(
        metastore
            .get_consumer_group(other, &group_name("readers"))
            .await
            .expect("other")
            .timeout_seconds,
        10
    );
}

/// Heartbeats: a shard goes to one live consumer; a consumer that misses its heartbeats for
/// longer than the timeout loses its shards to another; shards spread by fair share, handed
/// over only once the giver stops reporting them.
pub async fn heartbeats_hand_each_shard_to_one_live_consumer(metastore: &dyn Metastore) {
    let app = logstores(metastore, &["app"]).await[0].id;
    metastore
        .create_consumer_group(&group(app, "readers", 10))
        .await
        .expect("group");

    assert_eq!(heartbeat(metastore, app, "a", &[], &[0], T0).await, [0]);
    assert!(heartbeat(metastore, app, "b", &[], &[0], T0 + 1)
        .await
        .is_empty());
    assert_eq!(
        heartbeat(metastore, app, "a", &[0], &[0], T0 + 9).await,
        [0]
    );
    assert!(heartbeat(metastore, app, "b", &[], &[0], T0 + 10)
        .await
        .is_empty());
    // a is live up to T0 + 9 + 10; one second later it has missed its heartbeats.
    assert!(heartbeat(metastore, app, "b", &[], &[0], T0 + 19)
        .await
        .is_empty());
    assert_eq!(
        heartbeat(metastore, app, "b", &[], &[0], T0 + 20).await,
        [0]
    );
    // a comes back: the shard stays with b.
    assert!(heartbeat(metastore, app, "a", &[0], &[0], T0 + 21)
        .await
        .is_empty());

    // Four shards and a newcomer: the holder keeps its share and hands the rest over once its
    // heartbeat stops reporting them.
    let all = [0, 1, 2, 3];
    assert_eq!(
        heartbeat(metastore, app, "b", &[0], &all, T0 + 22).await,
        [0, 1]
    );
    assert_eq!(
        heartbeat(metastore, app, "a", &[], &all, T0 + 22).await,
        [2, 3]
    );
    let c_first = heartbeat(metastore, app, "c", &[], &all, T0 + 23).await;
    assert!(c_first.is_empty(), "{c_first:?}");
    // ⌈4 / 3⌉ = 2: nobody is above its share, so c waits for a free shard.
    assert_eq!(
        heartbeat(metastore, app, "a", &[2, 3], &all, T0 + 24).await,
        [2, 3]
    );
}

/// Checkpoints: saved by the holder of the shard, refused from others unless forced, read
/// back per shard with who saved them and when.
pub async fn checkpoints_are_guarded_by_shard_ownership(metastore: &dyn Metastore) {
    let app = logstores(metastore, &["app"]).await[0].id;
    metastore
        .create_consumer_group(&group(app, "readers", 10))
        .await
        .expect("group");
    assert!(metastore
        .consumer_group_checkpoints(app, &group_name("readers"))
        .await
        .expect("none yet")
        .is_empty());

    let stranger = metastore
        .update_consumer_group_checkpoint(&checkpoint(app, Some("a"), "MA==", false, T0))
        .await
        .expect_err("a never heartbeat");
    assert!(
        matches!(stranger, ConsumerGroupStoreError::ConsumerNotFound { .. }),
        "{stranger:?}"
    );
    assert_eq!(heartbeat(metastore, app, "a", &[], &[0], T0).await, [0]);
    assert!(heartbeat(metastore, app, "b", &[], &[0], T0)
        .await
        .is_empty());
    metastore
        .update_consumer_group_checkpoint(&checkpoint(app, Some("a"), "MTA=", false, T0 + 1))
        .await
        .expect("holder saves");
    let not_holder = metastore
        .update_consumer_group_checkpoint(&checkpoint(app, Some("b"), "OTk=", false, T0 + 2))
        .await
        .expect_err("b does not hold shard 0");
    assert!(
        matches!(
            not_holder,
            ConsumerGroupStoreError::ShardNotHeld { shard: 0, .. }
        ),
        "{not_holder:?}"
    );
    let anonymous = metastore
        .update_consumer_group_checkpoint(&checkpoint(app, None, "OTk=", false, T0 + 2))
        .await
        .expect_err("unforced without a consumer");
    assert!(
        matches!(anonymous, ConsumerGroupStoreError::ConsumerNotFound { .. }),
        "{anonymous:?}"
    );
    let saved = metastore
        .consumer_group_checkpoints(app, &group_name("readers"))
        .await
        .expect("checkpoints");
    assert_eq!(saved.len(), 1);
    assert_eq!(
        (
            saved[0].shard,
            saved[0].checkpoint.as_str(),
            saved[0].consumer.as_str()
        ),
        (0, "MTA=", "a")
    );
    assert_eq!(saved[0].updated_at, T0 + 1);

    // The holder, once expired, may no longer save unforced; a forced save always lands.
    let expired = metastore
        .update_consumer_group_checkpoint(&checkpoint(app, Some("a"), "MjA=", false, T0 + 30))
        .await
        .expect_err("a expired");
    assert!(
        matches!(expired, ConsumerGroupStoreError::ConsumerNotFound { .. }),
        "{expired:?}"
    );
    metastore
        .update_consumer_group_checkpoint(&checkpoint(app, None, "MzA=", true, T0 + 31))
        .await
        .expect("forced");
    let saved = metastore
        .consumer_group_checkpoints(app, &group_name("readers"))
        .await
        .expect("checkpoints");
    assert_eq!(
        (
            saved[0].checkpoint.as_str(),
            saved[0].consumer.as_str(),
            saved[0].updated_at
        ),
        ("MzA=", "", T0 + 31)
    );
    let missing = metastore
        .update_consumer_group_checkpoint(&CheckpointUpdate {
            group: group_name("nobody"),
            ..checkpoint(app, Some("a"), "MA==", true, T0)
        })
        .await
        .expect_err("no such group");
    assert!(
        matches!(missing, ConsumerGroupStoreError::GroupNotFound { .. }),
        "{missing:?}"
    );
}

/// Deleting a logstore or its project deletes its consumer groups; a logstore created again
/// under the same name starts without them.
pub async fn deleting_a_logstore_deletes_its_consumer_groups(metastore: &dyn Metastore) {
    let stores = logstores(metastore, &["app", "other"]).await;
    for store in &stores {
        metastore
            .create_consumer_group(&group(store.id, "readers", 10))
            .await
            .expect("group");
        assert_eq!(
            heartbeat(metastore, store.id, "a", &[], &[0], T0).await,
            [0]
        );
        metastore
            .update_consumer_group_checkpoint(&checkpoint(store.id, Some("a"), "MQ==", false, T0))
            .await
            .expect("checkpoint");
    }
    let app = &stores[0];
    metastore
        .delete_logstore(&app.project, &app.name)
        .await
        .expect("delete logstore");
    assert!(metastore
        .list_consumer_groups(app.id)
        .await
        .expect("list")
        .is_empty());
    let again = metastore
        .create_logstore(&new_logstore("web", "app"))
        .await
        .expect("recreate");
    assert!(metastore
        .list_consumer_groups(again.id)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        metastore
            .list_consumer_groups(stores[1].id)
            .await
            .expect("list")
            .len(),
        1
    );
    metastore
        .delete_project(&stores[1].project)
        .await
        .expect("delete project");
    assert!(metastore
        .list_consumer_groups(stores[1].id)
        .await
        .expect("list")
        .is_empty());
}
