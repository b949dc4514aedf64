//! The behavioural test suite every [`Metastore`](crate::Metastore) backend must pass.
//!
//! Each test is a plain `async fn(&dyn Metastore)` that starts from an empty metastore, so a
//! backend runs the whole suite with one line:
//!
//! ```ignore
//! cairn_meta::metastore_test_suite!(fresh_postgres_metastore());
//! ```
//!
//! where `fresh_postgres_metastore()` is an async call returning `(guard, metastore)`: the guard
//! (a temp dir, a container, `()`) is kept alive for the test, `metastore` derefs to a
//! `Metastore`. Tests assert with panics, as tests do. A test added here must also be added to
//! the list in [`metastore_test_suite!`](crate::metastore_test_suite).

mod consumer_groups;
mod directory;
mod fleet;
mod iam;
mod identity;
mod jobs;
mod logs;
mod sessions;
mod splits;

use cairn_model::{AccessKeyId, AccountId, LogstoreName, ProjectName, UserName};

use crate::{AccessKeyRecord, AccessKeyStatus, Account, NewLogstore, ProjectRecord, User};

pub use consumer_groups::{
    checkpoints_are_guarded_by_shard_ownership, consumer_groups_round_trip,
    deleting_a_logstore_deletes_its_consumer_groups,
    heartbeats_hand_each_shard_to_one_live_consumer,
};
pub use directory::{
    delegated_administrators_follow_membership, directories_are_enabled_once_per_account,
    directory_events_are_logged_in_order, invitations_are_answered_once, members_join_and_leave,
};
pub use fleet::{
    candidate_groups_match_by_identify_type, configs_are_applied_to_groups,
    machine_groups_round_trip, machines_and_agents_are_kept_per_heartbeat,
    pipeline_config_versions_only_grow,
};
pub use iam::{
    custom_policies_round_trip, policies_attach_to_users_and_roles, roles_round_trip,
    sts_sessions_live_with_their_role,
};
pub use identity::{
    access_key_status_and_deletion_are_scoped_to_the_account, access_keys_round_trip,
    accounts_are_created_listed_and_unique, deleting_a_user_deletes_its_access_keys,
    users_live_inside_an_account,
};
pub use jobs::jobs_round_trip_with_progress_and_incarnations;
pub use logs::{
    deleting_a_project_cascades_to_logstores_and_indexes, index_configs_create_update_get_delete,
    logstore_ids_are_never_reused, logstores_are_listed_with_paging_and_filter,
    logstores_round_trip, projects_are_listed_by_account_with_paging_and_filter,
    projects_have_globally_unique_names,
};
pub use sessions::sts_session_policies_round_trip;
pub use splits::splits_are_published_merged_expired_and_deleted;

/// Generates one `#[tokio::test]` per suite test, each on a fresh metastore from `$fresh`
/// (an expression evaluating to a future of `(guard, metastore)`).
#[macro_export]
macro_rules! metastore_test_suite {
    ($fresh:expr) => {
        $crate::metastore_test_suite!(@each $fresh;
            accounts_are_created_listed_and_unique,
            users_live_inside_an_account,
            deleting_a_user_deletes_its_access_keys,
            access_keys_round_trip,
            access_key_status_and_deletion_are_scoped_to_the_account,
            projects_have_globally_unique_names,
            projects_are_listed_by_account_with_paging_and_filter,
            logstores_round_trip,
            logstores_are_listed_with_paging_and_filter,
            logstore_ids_are_never_reused,
            deleting_a_project_cascades_to_logstores_and_indexes,
            index_configs_create_update_get_delete,
            custom_policies_round_trip, policies_attach_to_users_and_roles, roles_round_trip, sts_sessions_live_with_their_role,
            directories_are_enabled_once_per_account,
            members_join_and_leave,
            invitations_are_answered_once,
            delegated_administrators_follow_membership,
            directory_events_are_logged_in_order,
            jobs_round_trip_with_progress_and_incarnations,
            splits_are_published_merged_expired_and_deleted,
            machine_groups_round_trip,
            candidate_groups_match_by_identify_type,
            pipeline_config_versions_only_grow,
            configs_are_applied_to_groups,
            machines_and_agents_are_kept_per_heartbeat,
            sts_session_policies_round_trip,
            consumer_groups_round_trip,
            heartbeats_hand_each_shard_to_one_live_consumer,
            checkpoints_are_guarded_by_shard_ownership,
            deleting_a_logstore_deletes_its_consumer_groups,
        );
    };
    (@each $fresh:expr; $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let (_guard, metastore) = $fresh.await;
                $crate::testsuite::$test(&*metastore).await;
            }
        )+
    };
}

/// The `n`-th test account id (16 digits).
pub fn account_id(n: u64) -> AccountId {
    AccountId::from_u64(1_000_000_000_000_000 + n).expect("16-digit test account id")
}

/// An account record for tests.
pub fn account(n: u64, name: &str) -> Account {
    Account {
        id: account_id(n),
        name: name.to_owned(),
        created_at: 1_700_000_000 + n as i64,
    }
}

/// A user record for tests.
pub fn user(account: AccountId, name: &str) -> User {
    User {
        account,
        name: user_name(name),
        display_name: format!("{name} (display)"),
        created_at: 1_700_000_100,
    }
}

/// A validated user name.
pub fn user_name(name: &str) -> UserName {
    UserName::parse(name).expect("valid test user name")
}

/// A validated AccessKey id.
pub fn key_id(id: &str) -> AccessKeyId {
    AccessKeyId::parse(id).expect("valid test AccessKey id")
}

/// An active AccessKey record with recognisable sealed bytes.
pub fn access_key(id: &str, account: AccountId, user: Option<&str>) -> AccessKeyRecord {
    AccessKeyRecord {
        id: key_id(id),
        account,
        user: user.map(user_name),
        secret_ciphertext: format!("sealed-{id}").into_bytes(),
        secret_nonce: vec![7; 12],
        status: AccessKeyStatus::Active,
        created_at: 1_700_000_200,
        last_used_at: None,
    }
}

/// A validated project name.
pub fn project_name(name: &str) -> ProjectName {
    ProjectName::parse(name).expect("valid test project name")
}

/// A validated logstore name.
pub fn logstore_name(name: &str) -> LogstoreName {
    LogstoreName::parse(name).expect("valid test logstore name")
}

/// A project record for tests.
pub fn project(name: &str, account: AccountId) -> ProjectRecord {
    ProjectRecord {
        name: project_name(name),
        account,
        description: format!("{name} description"),
        created_at: 1_700_000_300,
        last_modified_at: 1_700_000_300,
    }
}

/// A logstore to create in tests.
pub fn new_logstore(project: &str, name: &str) -> NewLogstore {
    NewLogstore {
        project: project_name(project),
        name: logstore_name(name),
        ttl_days: 30,
        shard_count: 2,
        settings: serde_json::json!({ "autoSplit": true, "maxSplitShard": 64 }),
        created_at: 1_700_000_400,
    }
}
