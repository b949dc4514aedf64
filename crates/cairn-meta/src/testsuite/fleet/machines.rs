//! Suite test for the machines seen in a group and the agents' heartbeat state.

use std::collections::BTreeMap;

use super::super::{account_id, project_name};
use super::{group, two_projects};
use crate::{
    AgentRecord, FleetStoreError, ListQuery, MachineIdentifyType, MachineRecord, MachineStatus,
    Metastore,
};

fn machine(group_name: &str, key: &str, status: MachineStatus, at: i64) -> MachineRecord {
    MachineRecord {
        project: project_name("web"),
        group: group_name.to_owned(),
        machine_key: key.to_owned(),
        ip: "10.0.0.1".to_owned(),
        hostname: format!("host-{key}"),
        host_id: key.to_owned(),
        user_defined_id: "web-servers".to_owned(),
        instance_id: format!("{key}_10.0.0.1_1700000000"),
        agent_account: account_id(1),
        status,
        reason: match status {
            MachineStatus::Ok => String::new(),
            MachineStatus::Fail => "the host has no users file".to_owned(),
        },
        last_heartbeat_time: at,
    }
}

/// Machines: one row per host and group, replaced by each heartbeat, listed with paging,
/// never written for a deleted group; agents' state saved and replaced; both purged by age.
pub async fn machines_and_agents_are_kept_per_heartbeat(metastore: &dyn Metastore) {
    two_projects(metastore).await;
    let web = project_name("web");
    metastore
        .create_machine_group(&group(
            "web",
            "web-servers",
            MachineIdentifyType::UserDefined,
            &["web-servers"],
        ))
        .await
        .expect("group");
    metastore
        .record_machines(&[
            machine("web-servers", "host-b", MachineStatus::Fail, 1_700_001_000),
            machine("web-servers", "host-a", MachineStatus::Ok, 1_700_001_000),
            machine("deleted-group", "host-a", MachineStatus::Ok, 1_700_001_000),
        ])
        .await
        .expect("record");
    let joined = machine("web-servers", "host-b", MachineStatus::Ok, 1_700_002_000);
    metastore
        .record_machines(std::slice::from_ref(&joined))
        .await
        .expect("record");
    let page = metastore
        .list_machines(&web, "web-servers", &ListQuery::page(0, 10))
        .await
        .expect("list");
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].machine_key, "host-a");
    assert_eq!(page.items[1], joined);
    let second = metastore
        .list_machines(&web, "web-servers", &ListQuery::page(1, 1))
        .await
        .expect("list");
    assert_eq!(second.items, std::slice::from_ref(&joined));
    let missing = metastore
        .list_machines(&web, "deleted-group", &ListQuery::page(0, 10))
        .await
        .expect_err("no group");
    assert!(matches!(
        missing,
        FleetStoreError::MachineGroupNotFound { .. }
    ));

    assert_eq!(
        metastore
            .get_agent(account_id(1), "abc_10.0.0.1_1")
            .await
            .expect("get"),
        None
    );
    let mut agent = AgentRecord {
        account: account_id(1),
        instance_id: "abc_10.0.0.1_1".to_owned(),
        sequence_num: u64::MAX,
        ip: "10.0.0.1".to_owned(),
        hostname: "web-1".to_owned(),
        host_id: "host-a".to_owned(),
        user_defined_ids: vec!["web-servers".to_owned()],
        authorized_accounts: vec![account_id(1).to_string()],
        held_configs: BTreeMap::from([("1/web/nginx".to_owned(), 3)]),
        token_scope: "scope".to_owned(),
        token_ids: vec!["STS.abc".to_owned()],
        tokens_issued_at: Some(1_700_001_000),
        last_heartbeat_time: 1_700_001_000,
    };
    metastore.save_agent(&agent).await.expect("save");
    assert_eq!(
        metastore
            .get_agent(account_id(1), "abc_10.0.0.1_1")
            .await
            .expect("get"),
        Some(agent.clone())
    );
    // Another account's agent with the same instance id is another agent.
    assert_eq!(
        metastore
            .get_agent(account_id(2), "abc_10.0.0.1_1")
            .await
            .expect("get"),
        None
    );
    agent.sequence_num = 0;
    agent.tokens_issued_at = None;
    agent.last_heartbeat_time = 1_700_002_000;
    metastore.save_agent(&agent).await.expect("replace");
    assert_eq!(
        metastore
            .get_agent(account_id(1), "abc_10.0.0.1_1")
            .await
            .expect("get"),
        Some(agent.clone())
    );

    // host-a (1_700_001_000) goes; host-b and the agent (1_700_002_000) stay.
    let purged = metastore.purge_fleet(1_700_001_500).await.expect("purge");
    assert_eq!(purged, 1);
    let page = metastore
        .list_machines(&web, "web-servers", &ListQuery::page(0, 10))
        .await
        .expect("list");
    assert_eq!(page.items, [joined]);
    assert!(metastore
        .get_agent(account_id(1), "abc_10.0.0.1_1")
        .await
        .expect("get")
        .is_some());
}
