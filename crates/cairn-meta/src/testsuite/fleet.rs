//! Suite tests for the agents' control plane ([`crate::FleetStore`]): groups, configs and
//! applications here, machines and agents in [`machines`].

mod machines;

pub use machines::machines_and_agents_are_kept_per_heartbeat;
use serde_json::json;

use super::{account, account_id, project, project_name};
use crate::{
    FleetStoreError, GroupAttribute, ListQuery, MachineGroupRecord, MachineIdentifyType, Metastore,
    NewPipelineConfig,
};

/// Accounts 1 and 2 with projects `web` (1) and `ops` (2).
pub(super) async fn two_projects(metastore: &dyn Metastore) {
    for (n, name, project_text) in [(1, "first", "web"), (2, "second", "ops")] {
        metastore
            .create_account(&account(n, name))
            .await
            .expect("account");
        metastore
            .create_project(&project(project_text, account_id(n)))
            .await
            .expect("project");
    }
}

pub(super) fn group(
    project_text: &str,
    name: &str,
    kind: MachineIdentifyType,
    list: &[&str],
) -> MachineGroupRecord {
    MachineGroupRecord {
        project: project_name(project_text),
        name: name.to_owned(),
        group_type: String::new(),
        machine_identify_type: kind,
        machine_list: list.iter().map(|entry| (*entry).to_owned()).collect(),
        attribute: GroupAttribute {
            external_name: "ext".to_owned(),
            group_topic: "topic".to_owned(),
            trusted_accounts: vec![account_id(2)],
            trust_directory: true,
        },
        created_at: 1_700_000_500,
        last_modified_at: 1_700_000_500,
    }
}

fn new_config(project_text: &str, name: &str, logstore: &str) -> NewPipelineConfig {
    NewPipelineConfig {
        project: project_name(project_text),
        name: name.to_owned(),
        detail: json!({
            "configName": name,
            "inputs": [{"Type": "input_file", "FilePaths": ["/var/log/*.log"]}],
            "flushers": [{"Type": "flusher_sls", "Project": project_text, "Logstore": logstore}],
        }),
        created_at: 1_700_000_600,
    }
}

/// Groups: created in an existing project, unique there, read back with a de-duplicated
/// machine list, updated whole (creation time kept), listed with paging and filter, deleted.
pub async fn machine_groups_round_trip(metastore: &dyn Metastore) {
    two_projects(metastore).await;
    let kind = MachineIdentifyType::UserDefined;
    let orphan = metastore
        .create_machine_group(&group("nowhere", "g1", kind, &["a"]))
        .await
        .expect_err("no project");
    assert!(
        matches!(orphan, FleetStoreError::ProjectNotFound { .. }),
        "{orphan:?}"
    );

    let web = group("web", "web-servers", kind, &["web", "eu", "web"]);
    metastore.create_machine_group(&web).await.expect("create");
    let clash = metastore
        .create_machine_group(&web)
        .await
        .expect_err("duplicate");
    assert!(matches!(
        clash,
        FleetStoreError::MachineGroupAlreadyExists { .. }
    ));
    assert!(!clash.is_transient());
    let stored = metastore
        .get_machine_group(&project_name("web"), "web-servers")
        .await
        .expect("get");
    assert_eq!(stored.machine_list, ["web", "eu"]);
    assert_eq!(stored.attribute, web.attribute);
    assert_eq!(stored.machine_identify_type, kind);

    let mut changed = group("web", "web-servers", MachineIdentifyType::Ip, &["10.0.0.2"]);
    changed.attribute = GroupAttribute::default();
    changed.created_at = 1;
    changed.last_modified_at = 1_700_000_900;
    metastore
        .update_machine_group(&changed)
        .await
        .expect("update");
    let stored = metastore
        .get_machine_group(&project_name("web"), "web-servers")
        .await
        .expect("get");
    assert_eq!(stored.machine_list, ["10.0.0.2"]);
    assert_eq!(stored.machine_identify_type, MachineIdentifyType::Ip);
    assert_eq!(stored.attribute, GroupAttribute::default());
    assert_eq!(
        (stored.created_at, stored.last_modified_at),
        (1_700_000_500, 1_700_000_900)
    );

    for name in ["db-servers", "web-canary"] {
        metastore
            .create_machine_group(&group("web", name, kind, &[]))
            .await
            .expect("create");
    }
    metastore
        .create_machine_group(&group("ops", "web-other-project", kind, &[]))
        .await
        .expect("create");
    let page = metastore
        .list_machine_groups(&project_name("web"), &ListQuery::page(1, 1))
        .await
        .expect("list");
    assert_eq!((page.total, page.items), (3, vec!["web-canary".to_owned()]));
    let filtered = metastore
        .list_machine_groups(
            &project_name("web"),
            &ListQuery::page(0, 10).with_name_containing("web"),
        )
        .await
        .expect("list");
    assert_eq!(filtered.items, ["web-canary", "web-servers"]);
    let missing = metastore
        .list_machine_groups(&project_name("nowhere"), &ListQuery::page(0, 10))
        .await
        .expect_err("no project");
    assert!(matches!(missing, FleetStoreError::ProjectNotFound { .. }));

    metastore
        .delete_machine_group(&project_name("web"), "web-servers")
        .await
        .expect("delete");
    for result in [
        metastore
            .get_machine_group(&project_name("web"), "web-servers")
            .await
            .map(|_| ()),
        metastore
            .delete_machine_group(&project_name("web"), "web-servers")
            .await,
        metastore.update_machine_group(&changed).await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(FleetStoreError::MachineGroupNotFound { .. })),
            "{result:?}"
        );
    }
}

/// Heartbeats find groups by IP (ip groups only) and by custom id (userdefined groups only),
/// across projects and accounts, with each group's owner; changes to lists take effect.
pub async fn candidate_groups_match_by_identify_type(metastore: &dyn Metastore) {
    two_projects(metastore).await;
    let ip = MachineIdentifyType::Ip;
    let custom = MachineIdentifyType::UserDefined;
    for record in [
        group("web", "by-ip", ip, &["10.0.0.1", "10.0.0.2"]),
        group("web", "by-id", custom, &["web", "eu"]),
        group("web", "id-looks-like-ip", custom, &["10.0.0.1"]),
        group("ops", "other-account", custom, &["eu"]),
        group("ops", "unrelated", custom, &["db"]),
    ] {
        metastore
            .create_machine_group(&record)
            .await
            .expect("create");
    }
    let names = |found: Vec<crate::CandidateGroup>| -> Vec<(String, String, u64)> {
        found
            .into_iter()
            .map(|c| {
                (
                    c.group.project.to_string(),
                    c.group.name,
                    c.owner.as_u64() % 10,
                )
            })
            .collect()
    };
    let found = metastore
        .candidate_groups("10.0.0.1", &["eu".to_owned(), "nothing".to_owned()])
        .await
        .expect("candidates");
    assert_eq!(
        names(found),
        [
            ("ops".to_owned(), "other-account".to_owned(), 2),
            ("web".to_owned(), "by-id".to_owned(), 1),
            ("web".to_owned(), "by-ip".to_owned(), 1),
        ]
    );
    assert!(metastore
        .candidate_groups("", &[])
        .await
        .expect("none")
        .is_empty());

    let mut narrowed = group("web", "by-ip", ip, &["10.0.0.2"]);
    narrowed.last_modified_at = 1_700_000_700;
    metastore
        .update_machine_group(&narrowed)
        .await
        .expect("update");
    let found = metastore
        .candidate_groups("10.0.0.1", &[])
        .await
        .expect("candidates");
    assert!(found.is_empty(), "{found:?}");

    // Deleting a project takes its groups along.
    metastore
        .delete_project(&project_name("ops"))
        .await
        .expect("delete project");
    let found = metastore
        .candidate_groups("", &["eu".to_owned()])
        .await
        .expect("candidates");
    assert_eq!(names(found), [("web".to_owned(), "by-id".to_owned(), 1)]);
}

/// Configs: version 1 on create, +1 per update, and above every earlier version when created
/// again after a delete; unique per project; listed; deleted.
pub async fn pipeline_config_versions_only_grow(metastore: &dyn Metastore) {
    two_projects(metastore).await;
    let orphan = metastore
        .create_pipeline_config(&new_config("nowhere", "nginx", "access"))
        .await
        .expect_err("no project");
    assert!(matches!(orphan, FleetStoreError::ProjectNotFound { .. }));

    let created = metastore
        .create_pipeline_config(&new_config("web", "nginx", "access"))
        .await
        .expect("create");
    assert_eq!(created.version, 1);
    assert_eq!(created.detail["flushers"][0]["Logstore"], "access");
    let clash = metastore
        .create_pipeline_config(&new_config("web", "nginx", "other"))
        .await
        .expect_err("duplicate");
    assert!(matches!(clash, FleetStoreError::ConfigAlreadyExists { .. }));
    // The same name in another project is another config.
    let other = metastore
        .create_pipeline_config(&new_config("ops", "nginx", "access"))
        .await
        .expect("other project");
    assert_eq!(other.version, 1);

    let web = project_name("web");
    for expected in [2, 3] {
        let detail = json!({"configName": "nginx", "inputs": [], "version": expected});
        let updated = metastore
            .update_pipeline_config(&web, "nginx", &detail, 1_700_000_700 + expected)
            .await
            .expect("update");
        assert_eq!(updated.version, expected);
        assert_eq!(updated.detail, detail);
        assert_eq!(updated.created_at, 1_700_000_600);
    }
    let stored = metastore
        .get_pipeline_config(&web, "nginx")
        .await
        .expect("get");
    assert_eq!(
        (stored.version, stored.last_modified_at),
        (3, 1_700_000_703)
    );

    metastore
        .create_pipeline_config(&new_config("web", "apache", "access"))
        .await
        .expect("create");
    let page = metastore
        .list_pipeline_configs(&web, &ListQuery::page(0, 10))
        .await
        .expect("list");
    assert_eq!(
        (page.total, page.items),
        (2, vec!["apache".to_owned(), "nginx".to_owned()])
    );

    metastore
        .delete_pipeline_config(&web, "nginx")
        .await
        .expect("delete");
    let gone = metastore
        .get_pipeline_config(&web, "nginx")
        .await
        .expect_err("deleted");
    assert!(matches!(gone, FleetStoreError::ConfigNotFound { .. }));
    let again = metastore
        .create_pipeline_config(&new_config("web", "nginx", "access"))
        .await
        .expect("create again");
    assert_eq!(again.version, 4);
    let missing = metastore
        .update_pipeline_config(&web, "missing", &json!({}), 1)
        .await
        .expect_err("missing");
    assert!(matches!(missing, FleetStoreError::ConfigNotFound { .. }));
}

/// Applications: a config is applied to a group of its project once, listed both ways and
/// read whole; removed; gone with the config or the group.
pub async fn configs_are_applied_to_groups(metastore: &dyn Metastore) {
    two_projects(metastore).await;
    let web = project_name("web");
    let kind = MachineIdentifyType::UserDefined;
    for name in ["web-servers", "canary"] {
        metastore
            .create_machine_group(&group("web", name, kind, &[name]))
            .await
            .expect("group");
    }
    for name in ["nginx", "app"] {
        metastore
            .create_pipeline_config(&new_config("web", name, "access"))
            .await
            .expect("config");
    }
    for (group_name, config) in [
        ("web-servers", "nginx"),
        ("web-servers", "nginx"),
        ("web-servers", "app"),
        ("canary", "nginx"),
    ] {
        metastore
            .apply_config_to_group(&web, group_name, config, 1_700_000_800)
            .await
            .expect("apply");
    }
    for (group_name, config, missing_group) in [("nope", "nginx", true), ("canary", "nope", false)]
    {
        let error = metastore
            .apply_config_to_group(&web, group_name, config, 1)
            .await
            .expect_err("missing");
        if missing_group {
            assert!(matches!(
                error,
                FleetStoreError::MachineGroupNotFound { .. }
            ));
        } else {
            assert!(matches!(error, FleetStoreError::ConfigNotFound { .. }));
        }
    }
    // Groups and configs of another project are not this project's.
    let cross = metastore
        .apply_config_to_group(&project_name("ops"), "canary", "nginx", 1)
        .await
        .expect_err("other project");
    assert!(matches!(
        cross,
        FleetStoreError::MachineGroupNotFound { .. }
    ));

    let configs = metastore
        .list_group_configs(&web, "web-servers")
        .await
        .expect("list");
    assert_eq!(configs, ["app", "nginx"]);
    let groups = metastore
        .list_config_groups(&web, "nginx")
        .await
        .expect("list");
    assert_eq!(groups, ["canary", "web-servers"]);
    let applied = metastore
        .configs_applied_to(&web, "web-servers")
        .await
        .expect("applied");
    assert_eq!(
        applied.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["app", "nginx"]
    );
    assert_eq!(applied[1].version, 1);

    metastore
        .remove_config_from_group(&web, "web-servers", "app")
        .await
        .expect("remove");
    metastore
        .remove_config_from_group(&web, "web-servers", "app")
        .await
        .expect("remove again");
    metastore
        .delete_pipeline_config(&web, "nginx")
        .await
        .expect("delete config");
    assert!(metastore
        .list_group_configs(&web, "web-servers")
        .await
        .expect("list")
        .is_empty());
    metastore
        .apply_config_to_group(&web, "canary", "app", 1)
        .await
        .expect("apply");
    metastore
        .delete_machine_group(&web, "canary")
        .await
        .expect("delete group");
    assert!(metastore
        .list_config_groups(&web, "app")
        .await
        .expect("list")
        .is_empty());
    let error = metastore
        .list_group_configs(&web, "canary")
        .await
        .expect_err("gone");
    assert!(matches!(
        error,
        FleetStoreError::MachineGroupNotFound { .. }
    ));
}
