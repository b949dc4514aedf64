//! Suite tests for projects, logstores and index configs.

use cairn_model::{FieldIndex, FieldIndexType, FullTextIndex, IndexConfig};

use super::{account, account_id, logstore_name, new_logstore, project, project_name};
use crate::{EntityKind, ListQuery, LogstoreUpdate, Metastore};

/// Creates accounts 1 and 2 and project `name` owned by account 1.
async fn with_project(metastore: &dyn Metastore, name: &str) {
    for (n, label) in [(1, "first"), (2, "second")] {
        metastore
            .create_account(&account(n, label))
            .await
            .expect("account");
    }
    metastore
        .create_project(&project(name, account_id(1)))
        .await
        .expect("project");
}

fn sample_index(token: &str) -> IndexConfig {
    let mut config = IndexConfig {
        line: Some(FullTextIndex::with_default_tokens()),
        ..IndexConfig::default()
    };
    config.keys.insert(
        "status".to_owned(),
        FieldIndex {
            field_type: FieldIndexType::Long,
            token: vec![token.to_owned()],
            case_sensitive: false,
            alias: None,
            doc_value: true,
            chn: false,
            json_keys: None,
            extra: Default::default(),
        },
    );
    config
        .extra
        .insert("log_reduce".to_owned(), serde_json::json!(false));
    config
}

/// Project names are unique across all accounts; get, update and missing cases.
pub async fn projects_have_globally_unique_names(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    let web = project("web", account_id(1));
    assert_eq!(metastore.get_project(&web.name).await.expect("get"), web);

    let taken = metastore
        .create_project(&project("web", account_id(2)))
        .await
        .expect_err("name taken by another account");
    assert!(taken.is_already_exists(EntityKind::Project), "{taken:?}");

    let orphan = metastore
        .create_project(&project("orphan", account_id(99)))
        .await
        .expect_err("no such account");
    assert!(orphan.is_not_found(EntityKind::Account), "{orphan:?}");

    let updated = metastore
        .update_project_description(&web.name, "new words", 1_800_000_000)
        .await
        .expect("update");
    assert_eq!(updated.description, "new words");
    assert_eq!(updated.last_modified_at, 1_800_000_000);
    assert_eq!(updated.created_at, web.created_at);
    assert_eq!(
        metastore.get_project(&web.name).await.expect("get"),
        updated
    );

    let missing = project_name("missing");
    for err in [
        metastore.get_project(&missing).await.map(|_| ()),
        metastore
            .update_project_description(&missing, "x", 1)
            .await
            .map(|_| ()),
        metastore.delete_project(&missing).await.map(|_| ()),
    ] {
        let err = err.expect_err("missing project");
        assert!(err.is_not_found(EntityKind::Project), "{err:?}");
    }
}

/// Listing projects: only the account's, by name, paged, filtered by substring.
pub async fn projects_are_listed_by_account_with_paging_and_filter(metastore: &dyn Metastore) {
    with_project(metastore, "zz-last").await;
    for name in ["web-prod", "web-dev", "db-prod", "audit"] {
        metastore
            .create_project(&project(name, account_id(1)))
            .await
            .expect("project");
    }
    metastore
        .create_project(&project("web-other", account_id(2)))
        .await
        .expect("other account's project");

    let names = |page: crate::Page<crate::ProjectRecord>| {
        (
            page.total,
            page.items
                .into_iter()
                .map(|p| p.name.to_string())
                .collect::<Vec<_>>(),
        )
    };
    let all = metastore
        .list_projects(account_id(1), &ListQuery::page(0, 100))
        .await
        .expect("list");
    assert_eq!(
        names(all),
        (
            5,
            vec!["audit", "db-prod", "web-dev", "web-prod", "zz-last"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    let second_page = metastore
        .list_projects(account_id(1), &ListQuery::page(2, 2))
        .await
        .expect("list");
    assert_eq!(
        names(second_page),
        (5, vec!["web-dev".to_owned(), "web-prod".to_owned()])
    );
    let past_end = metastore
        .list_projects(account_id(1), &ListQuery::page(10, 2))
        .await
        .expect("list");
    assert_eq!(names(past_end), (5, vec![]));
    let filtered = metastore
        .list_projects(
            account_id(1),
            &ListQuery::page(0, 1).with_name_containing("prod"),
        )
        .await
        .expect("list");
    assert_eq!(names(filtered), (2, vec!["db-prod".to_owned()]));
    let nobody = metastore
        .list_projects(account_id(99), &ListQuery::page(0, 10))
        .await
        .expect("list");
    assert_eq!(names(nobody), (0, vec![]));
}

/// Logstores: create assigns an id, settings come back verbatim, update replaces, delete
/// returns the id; duplicates and missing parents are reported.
pub async fn logstores_round_trip(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    metastore
        .create_project(&project("api", account_id(1)))
        .await
        .expect("project");
    let spec = new_logstore("web", "access_log");
    let created = metastore.create_logstore(&spec).await.expect("create");
    assert_eq!(created.name, spec.name);
    assert_eq!(created.settings, spec.settings);
    assert_eq!(created.last_modified_at, spec.created_at);
    assert_eq!(
        metastore
            .get_logstore(&spec.project, &spec.name)
            .await
            .expect("get"),
        created
    );

    let clash = metastore
        .create_logstore(&spec)
        .await
        .expect_err("duplicate");
    assert!(clash.is_already_exists(EntityKind::Logstore), "{clash:?}");
    let elsewhere = metastore
        .create_logstore(&new_logstore("api", "access_log"))
        .await
        .expect("same name in another project");
    assert_ne!(elsewhere.id, created.id);
    let orphan = metastore
        .create_logstore(&new_logstore("missing", "access_log"))
        .await
        .expect_err("no such project");
    assert!(orphan.is_not_found(EntityKind::Project), "{orphan:?}");

    let update = LogstoreUpdate {
        ttl_days: 90,
        shard_count: 4,
        settings: serde_json::json!({ "autoSplit": false, "unknownKey": [1, 2] }),
        modified_at: 1_800_000_000,
    };
    let updated = metastore
        .update_logstore(&spec.project, &spec.name, &update)
        .await
        .expect("update");
    assert_eq!((updated.ttl_days, updated.shard_count), (90, 4));
    assert_eq!(updated.settings, update.settings);
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.last_modified_at, 1_800_000_000);
    assert_eq!(
        metastore
            .get_logstore(&spec.project, &spec.name)
            .await
            .expect("get"),
        updated
    );

    assert_eq!(
        metastore
            .delete_logstore(&spec.project, &spec.name)
            .await
            .expect("delete"),
        created.id
    );
    let missing = logstore_name("access_log");
    let web = project_name("web");
    for err in [
        metastore.get_logstore(&web, &missing).await.map(|_| ()),
        metastore
            .update_logstore(&web, &missing, &update)
            .await
            .map(|_| ()),
        metastore.delete_logstore(&web, &missing).await.map(|_| ()),
    ] {
        let err = err.expect_err("deleted logstore");
        assert!(err.is_not_found(EntityKind::Logstore), "{err:?}");
    }
    // The other project's logstore of the same name is untouched.
    metastore
        .get_logstore(&project_name("api"), &missing)
        .await
        .expect("api/access_log still there");
}

/// Listing logstores: by name, paged, filtered literally (an `_` is not a wildcard).
pub async fn logstores_are_listed_with_paging_and_filter(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    for name in ["nginx_access", "nginx-error", "app_log", "nginxaccess"] {
        metastore
            .create_logstore(&new_logstore("web", name))
            .await
            .expect("logstore");
    }
    let web = project_name("web");
    let list = |query: ListQuery| {
        let web = web.clone();
        async move {
            let page = metastore.list_logstores(&web, &query).await.expect("list");
            let names: Vec<String> = page.items.iter().map(ToString::to_string).collect();
            (page.total, names)
        }
    };
    assert_eq!(
        list(ListQuery::page(0, 10)).await,
        (
            4,
            vec![
                "app_log".into(),
                "nginx-error".into(),
                "nginx_access".into(),
                "nginxaccess".into()
            ]
        )
    );
    assert_eq!(
        list(ListQuery::page(1, 2)).await,
        (4, vec!["nginx-error".into(), "nginx_access".into()])
    );
    assert_eq!(
        list(ListQuery::page(0, 10).with_name_containing("x_a")).await,
        (1, vec!["nginx_access".into()])
    );
    assert_eq!(
        list(ListQuery::page(0, 10).with_name_containing("NGINX")).await,
        (0, vec![])
    );
    assert_eq!(list(ListQuery::page(0, 0)).await, (4, vec![]));

    let missing = metastore
        .list_logstores(&project_name("missing"), &ListQuery::page(0, 10))
        .await
        .expect_err("no such project");
    assert!(missing.is_not_found(EntityKind::Project), "{missing:?}");
}

/// A logstore deleted and created again gets a new id, even when it held the highest id.
pub async fn logstore_ids_are_never_reused(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    let first = metastore
        .create_logstore(&new_logstore("web", "first"))
        .await
        .expect("create");
    let second = metastore
        .create_logstore(&new_logstore("web", "second"))
        .await
        .expect("create");
    assert!(second.id > first.id);
    let deleted = metastore
        .delete_logstore(&second.project, &second.name)
        .await
        .expect("delete");
    let again = metastore
        .create_logstore(&new_logstore("web", "second"))
        .await
        .expect("recreate");
    assert!(
        again.id > deleted,
        "{:?} reused after {:?}",
        again.id,
        deleted
    );
}

/// Deleting a project deletes its logstores and their index configs, and names their ids.
pub async fn deleting_a_project_cascades_to_logstores_and_indexes(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    metastore
        .create_project(&project("keep", account_id(1)))
        .await
        .expect("project");
    let mut ids = Vec::new();
    for name in ["zeta", "alpha"] {
        let created = metastore
            .create_logstore(&new_logstore("web", name))
            .await
            .expect("logstore");
        ids.push(created.id);
    }
    ids.sort();
    let kept = metastore
        .create_logstore(&new_logstore("keep", "alpha"))
        .await
        .expect("logstore");
    let web = project_name("web");
    let alpha = logstore_name("alpha");
    metastore
        .create_index(&web, &alpha, &sample_index(","), 1)
        .await
        .expect("index");

    assert_eq!(metastore.delete_project(&web).await.expect("delete"), ids);
    let gone = metastore.get_project(&web).await.expect_err("deleted");
    assert!(gone.is_not_found(EntityKind::Project), "{gone:?}");
    let gone = metastore
        .get_logstore(&web, &alpha)
        .await
        .expect_err("deleted with project");
    assert!(gone.is_not_found(EntityKind::Logstore), "{gone:?}");
    assert_eq!(
        metastore
            .get_logstore(&project_name("keep"), &alpha)
            .await
            .expect("other project untouched"),
        kept
    );

    // Recreated under the same names: new ids, no index config inherited.
    metastore
        .create_project(&project("web", account_id(2)))
        .await
        .expect("name free again");
    let reborn = metastore
        .create_logstore(&new_logstore("web", "alpha"))
        .await
        .expect("logstore");
    assert!(ids.iter().all(|old| reborn.id > *old));
    let no_index = metastore
        .get_index(&web, &alpha)
        .await
        .expect_err("index went with the old logstore");
    assert!(no_index.is_not_found(EntityKind::Index), "{no_index:?}");
}

/// Index configs: create only when absent, update only when present, get, delete; all report
/// a missing logstore as such; the config round-trips, unknown keys included.
pub async fn index_configs_create_update_get_delete(metastore: &dyn Metastore) {
    with_project(metastore, "web").await;
    let web = project_name("web");
    let logs = logstore_name("logs");
    metastore
        .create_logstore(&new_logstore("web", "logs"))
        .await
        .expect("logstore");

    let absent = metastore
        .get_index(&web, &logs)
        .await
        .expect_err("none yet");
    assert!(absent.is_not_found(EntityKind::Index), "{absent:?}");
    let absent = metastore
        .update_index(&web, &logs, &sample_index(","), 1)
        .await
        .expect_err("update needs an index");
    assert!(absent.is_not_found(EntityKind::Index), "{absent:?}");
    let absent = metastore
        .delete_index(&web, &logs)
        .await
        .expect_err("delete needs an index");
    assert!(absent.is_not_found(EntityKind::Index), "{absent:?}");

    let first = sample_index(",");
    metastore
        .create_index(&web, &logs, &first, 1)
        .await
        .expect("create");
    assert_eq!(metastore.get_index(&web, &logs).await.expect("get"), first);
    let twice = metastore
        .create_index(&web, &logs, &first, 2)
        .await
        .expect_err("already there");
    assert!(twice.is_already_exists(EntityKind::Index), "{twice:?}");

    let second = sample_index(";");
    metastore
        .update_index(&web, &logs, &second, 3)
        .await
        .expect("update");
    assert_eq!(metastore.get_index(&web, &logs).await.expect("get"), second);

    metastore.delete_index(&web, &logs).await.expect("delete");
    let gone = metastore.get_index(&web, &logs).await.expect_err("deleted");
    assert!(gone.is_not_found(EntityKind::Index), "{gone:?}");

    let nowhere = logstore_name("nowhere");
    for err in [
        metastore
            .create_index(&web, &nowhere, &first, 1)
            .await
            .map(|_| ()),
        metastore
            .update_index(&web, &nowhere, &first, 1)
            .await
            .map(|_| ()),
        metastore.get_index(&web, &nowhere).await.map(|_| ()),
        metastore.delete_index(&web, &nowhere).await.map(|_| ()),
    ] {
        let err = err.expect_err("missing logstore");
        assert!(err.is_not_found(EntityKind::Logstore), "{err:?}");
    }
}
