//! Suite tests for accounts, users and AccessKeys.

use super::{access_key, account, account_id, key_id, user, user_name};
use crate::{AccessKeyStatus, EntityKind, Metastore};

/// Accounts: create, get, list ordered by name, duplicate id refused, unknown id not found.
pub async fn accounts_are_created_listed_and_unique(metastore: &dyn Metastore) {
    assert_eq!(metastore.list_accounts().await.expect("list"), vec![]);
    let zeta = account(1, "zeta");
    let alpha = account(2, "alpha");
    metastore.create_account(&zeta).await.expect("create zeta");
    metastore
        .create_account(&alpha)
        .await
        .expect("create alpha");

    assert_eq!(metastore.get_account(zeta.id).await.expect("get"), zeta);
    assert_eq!(
        metastore.list_accounts().await.expect("list"),
        vec![alpha.clone(), zeta.clone()]
    );

    let clash = metastore
        .create_account(&account(1, "other name, same id"))
        .await
        .expect_err("duplicate id");
    assert!(clash.is_already_exists(EntityKind::Account), "{clash:?}");
    assert!(!clash.is_transient());

    let missing = metastore
        .get_account(account_id(99))
        .await
        .expect_err("unknown");
    assert!(missing.is_not_found(EntityKind::Account), "{missing:?}");
}

/// Users: scoped to an account, unique per account, listed by name, deletable.
pub async fn users_live_inside_an_account(metastore: &dyn Metastore) {
    let first = account(1, "first");
    let second = account(2, "second");
    metastore.create_account(&first).await.expect("account");
    metastore.create_account(&second).await.expect("account");

    let orphan = metastore
        .create_user(&user(account_id(99), "alice"))
        .await
        .expect_err("no such account");
    assert!(orphan.is_not_found(EntityKind::Account), "{orphan:?}");

    let bob = user(first.id, "bob");
    let alice = user(first.id, "alice");
    metastore.create_user(&bob).await.expect("bob");
    metastore.create_user(&alice).await.expect("alice");
    // The same name in another account is another user.
    metastore
        .create_user(&user(second.id, "alice"))
        .await
        .expect("alice in second account");

    let clash = metastore.create_user(&alice).await.expect_err("duplicate");
    assert!(clash.is_already_exists(EntityKind::User), "{clash:?}");

    assert_eq!(
        metastore
            .get_user(first.id, &alice.name)
            .await
            .expect("get"),
        alice
    );
    assert_eq!(
        metastore.list_users(first.id).await.expect("list"),
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(
        metastore.list_users(account_id(99)).await.expect("list"),
        vec![]
    );

    assert_eq!(
        metastore
            .delete_user(first.id, &alice.name)
            .await
            .expect("delete"),
        vec![]
    );
    let gone = metastore
        .get_user(first.id, &alice.name)
        .await
        .expect_err("deleted");
    assert!(gone.is_not_found(EntityKind::User), "{gone:?}");
    let again = metastore
        .delete_user(first.id, &alice.name)
        .await
        .expect_err("already deleted");
    assert!(again.is_not_found(EntityKind::User), "{again:?}");
    // The other account's alice is untouched.
    metastore
        .get_user(second.id, &user_name("alice"))
        .await
        .expect("second alice still there");
}

/// Deleting a user deletes its keys, reports their ids, and leaves root's keys alone.
pub async fn deleting_a_user_deletes_its_access_keys(metastore: &dyn Metastore) {
    let owner = account(1, "owner");
    metastore.create_account(&owner).await.expect("account");
    metastore
        .create_user(&user(owner.id, "carol"))
        .await
        .expect("user");
    for key in [
        access_key("LTAIcarol0000000000000002", owner.id, Some("carol")),
        access_key("LTAIcarol0000000000000001", owner.id, Some("carol")),
        access_key("LTAIroot00000000000000001", owner.id, None),
    ] {
        metastore.create_access_key(&key).await.expect("key");
    }

    let deleted = metastore
        .delete_user(owner.id, &user_name("carol"))
        .await
        .expect("delete user");
    assert_eq!(
        deleted,
        vec![
            key_id("LTAIcarol0000000000000001"),
            key_id("LTAIcarol0000000000000002")
        ]
    );
    for id in &deleted {
        let gone = metastore.get_access_key(id).await.expect_err("key deleted");
        assert!(gone.is_not_found(EntityKind::AccessKey), "{gone:?}");
    }
    let remaining = metastore.list_access_keys(owner.id).await.expect("list");
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].user, None);
}

/// AccessKeys: stored and read back byte for byte, owner checked, id unique, listed by id.
pub async fn access_keys_round_trip(metastore: &dyn Metastore) {
    let owner = account(1, "owner");
    let other = account(2, "other");
    metastore.create_account(&owner).await.expect("account");
    metastore.create_account(&other).await.expect("account");
    metastore
        .create_user(&user(owner.id, "dave"))
        .await
        .expect("user");

    let user_key = access_key("LTAIbbbbbbbbbbbbbbbbbbbb", owner.id, Some("dave"));
    let root_key = access_key("LTAIaaaaaaaaaaaaaaaaaaaa", owner.id, None);
    let other_key = access_key("LTAIcccccccccccccccccccc", other.id, None);
    for key in [&user_key, &root_key, &other_key] {
        metastore.create_access_key(key).await.expect("create key");
    }

    assert_eq!(
        metastore.get_access_key(&user_key.id).await.expect("get"),
        user_key
    );
    assert_eq!(
        metastore.list_access_keys(owner.id).await.expect("list"),
        vec![root_key.clone(), user_key.clone()]
    );

    let clash = metastore
        .create_access_key(&access_key("LTAIaaaaaaaaaaaaaaaaaaaa", other.id, None))
        .await
        .expect_err("duplicate id");
    assert!(clash.is_already_exists(EntityKind::AccessKey), "{clash:?}");

    let no_account = metastore
        .create_access_key(&access_key(
            "LTAIdddddddddddddddddddd",
            account_id(99),
            None,
        ))
        .await
        .expect_err("no such account");
    assert!(
        no_account.is_not_found(EntityKind::Account),
        "{no_account:?}"
    );

    // A user of another account does not count.
    let no_user = metastore
        .create_access_key(&access_key(
            "LTAIdddddddddddddddddddd",
            other.id,
            Some("dave"),
        ))
        .await
        .expect_err("no such user");
    assert!(no_user.is_not_found(EntityKind::User), "{no_user:?}");

    let unknown = metastore
        .get_access_key(&key_id("LTAIzzzzzzzzzzzzzzzzzzzz"))
        .await
        .expect_err("unknown key");
    assert!(unknown.is_not_found(EntityKind::AccessKey), "{unknown:?}");
}

/// Status changes and deletes only reach keys of the caller's account; `last_used_at` only
/// moves forward.
pub async fn access_key_status_and_deletion_are_scoped_to_the_account(metastore: &dyn Metastore) {
    let owner = account(1, "owner");
    let other = account(2, "other");
    metastore.create_account(&owner).await.expect("account");
    metastore.create_account(&other).await.expect("account");
    let key = access_key("LTAIaaaaaaaaaaaaaaaaaaaa", owner.id, None);
    metastore.create_access_key(&key).await.expect("key");

    let foreign = metastore
        .set_access_key_status(other.id, &key.id, AccessKeyStatus::Disabled)
        .await
        .expect_err("other account");
    assert!(foreign.is_not_found(EntityKind::AccessKey), "{foreign:?}");
    let foreign = metastore
        .delete_access_key(other.id, &key.id)
        .await
        .expect_err("other account");
    assert!(foreign.is_not_found(EntityKind::AccessKey), "{foreign:?}");

    metastore
        .set_access_key_status(owner.id, &key.id, AccessKeyStatus::Disabled)
        .await
        .expect("disable");
    let stored = metastore.get_access_key(&key.id).await.expect("get");
    assert_eq!(stored.status, AccessKeyStatus::Disabled);
    metastore
        .set_access_key_status(owner.id, &key.id, AccessKeyStatus::Active)
        .await
        .expect("enable");
    let stored = metastore.get_access_key(&key.id).await.expect("get");
    assert_eq!(stored.status, AccessKeyStatus::Active);

    metastore
        .touch_access_key(&key.id, 1_800_000_000)
        .await
        .expect("touch");
    metastore
        .touch_access_key(&key.id, 1_700_000_000)
        .await
        .expect("older touch");
    let stored = metastore.get_access_key(&key.id).await.expect("get");
    assert_eq!(stored.last_used_at, Some(1_800_000_000));

    metastore
        .delete_access_key(owner.id, &key.id)
        .await
        .expect("delete");
    let gone = metastore
        .get_access_key(&key.id)
        .await
        .expect_err("deleted");
    assert!(gone.is_not_found(EntityKind::AccessKey), "{gone:?}");
    for result in [
        metastore.delete_access_key(owner.id, &key.id).await,
        metastore
            .set_access_key_status(owner.id, &key.id, AccessKeyStatus::Active)
            .await,
        metastore.touch_access_key(&key.id, 1_900_000_000).await,
    ] {
        let err = result.expect_err("deleted key");
        assert!(err.is_not_found(EntityKind::AccessKey), "{err:?}");
    }
}
