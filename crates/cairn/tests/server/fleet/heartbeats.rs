//! Heartbeats: configs delivered and withdrawn, FAIL with reasons, trust, write tokens, IP
//! groups.

use cairn_protocol::agent::{response_flags, WriteToken, DELETED_VERSION};
use cairn_protocol::compression::CompressionType;
use serde_json::{json, Value};

use super::{
    beat, config_body, group_body, heartbeat, holding, machines, new_account, setup, versions,
};
use crate::harness::{group_of, now_seconds, Call, Client, TestServer};

#[tokio::test]
async fn applied_configs_reach_the_next_heartbeat_and_removed_ones_are_dropped() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = server.credentials.account_id.clone();
    setup(&client, json!({})).await;
    let name = format!("{a}/web/nginx");
    let applied = client
        .send(Call::new(
            "GET",
            Some("web"),
            "/machinegroups/web-servers/configs",
        ))
        .await;
    assert_eq!(applied.json(), json!({"count": 1, "configs": ["nginx"]}));
    let groups = client
        .send(Call::new(
            "GET",
            Some("web"),
            "/configs/nginx/machinegroups",
        ))
        .await;
    assert_eq!(
        groups.json(),
        json!({"count": 1, "machinegroups": ["web-servers"]})
    );

    let first = heartbeat(&client, &beat("host-1", 0, "10.0.0.7", &["web"], &[&a])).await;
    assert_eq!(
        first.flags & response_flags::REPORT_FULL_STATE,
        response_flags::REPORT_FULL_STATE
    );
    assert_eq!(versions(&first), [(name.clone(), 1)]);
    let update = &first.continuous_pipeline_config_updates[0];
    let detail: Value = serde_json::from_slice(&update.detail).expect("detail json");
    assert_eq!(detail["inputs"][0]["FilePaths"][0], "/var/log/nginx/*.log");
    assert_eq!(detail["flushers"][0]["Logstore"], "access");
    assert_eq!(
        update.extra.get("logstore").map(Vec::as_slice),
        Some(&b"access"[..])
    );
    assert!(first.memberships[0].ok);

    // In sequence and up to date: nothing to do.
    let second = heartbeat(
        &client,
        &holding(
            beat("host-1", 1, "10.0.0.7", &["web"], &[&a]),
            &[(&name, 1)],
        ),
    )
    .await;
    assert_eq!(second.flags, 0);
    assert!(second.continuous_pipeline_config_updates.is_empty());

    client
        .send(
            Call::new("PUT", Some("web"), "/pipelineconfigs/nginx").json(config_body(
                "nginx",
                "access",
                "/srv/*.log",
            )),
        )
        .await
        .assert_ok();
    let third = heartbeat(
        &client,
        &holding(
            beat("host-1", 2, "10.0.0.7", &["web"], &[&a]),
            &[(&name, 1)],
        ),
    )
    .await;
    assert_eq!(versions(&third), [(name.clone(), 2)]);

    client
        .send(Call::new(
            "DELETE",
            Some("web"),
            "/machinegroups/web-servers/configs/nginx",
        ))
        .await
        .assert_ok();
    let fourth = heartbeat(
        &client,
        &holding(
            beat("host-1", 3, "10.0.0.7", &["web"], &[&a]),
            &[(&name, 2)],
        ),
    )
    .await;
    assert_eq!(versions(&fourth), [(name.clone(), DELETED_VERSION)]);
    // Out of sequence (a lost response): the server asks for the full state and still answers.
    let replay = heartbeat(&client, &beat("host-1", 3, "10.0.0.7", &["web"], &[&a])).await;
    assert_eq!(
        replay.flags & response_flags::REPORT_FULL_STATE,
        response_flags::REPORT_FULL_STATE
    );
    let machines = machines(&client, "web-servers").await;
    assert_eq!(machines.len(), 1);
    assert_eq!(machines[0]["heartbeatStatus"], "OK");
    assert_eq!(machines[0]["userdefined-id"], "web");
    assert_eq!(machines[0]["ip"], "10.0.0.7");
}

#[tokio::test]
async fn a_host_without_the_users_file_shows_fail_with_the_reason() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = server.credentials.account_id.clone();
    setup(&client, json!({})).await;
    let response = heartbeat(&client, &beat("host-2", 0, "10.0.0.8", &["web"], &[])).await;
    assert!(response.continuous_pipeline_config_updates.is_empty());
    assert!(response.write_tokens.is_empty());
    let membership = &response.memberships[0];
    assert!(!membership.ok);
    assert_eq!(membership.group, "web-servers");
    assert_eq!(membership.reason, format!("the host has no users/{a} file"));
    let machines = machines(&client, "web-servers").await;
    assert_eq!(machines[0]["heartbeatStatus"], "FAIL");
    assert_eq!(
        machines[0]["heartbeatReason"],
        format!("the host has no users/{a} file")
    );
}

#[tokio::test]
async fn only_agents_of_trusted_accounts_join() {
    let server = TestServer::start().await;
    let a_client = server.client();
    let a = server.credentials.account_id.clone();
    setup(&a_client, json!({})).await;
    let (b, b_client) = new_account(&a_client, "team-b").await;
    let (c, c_client) = new_account(&a_client, "team-c").await;

    // B's agent on a host that authorises A: refused, and told nothing of A's group.
    let refused = heartbeat(&b_client, &beat("b-host", 0, "10.0.1.1", &["web"], &[&a])).await;
    assert!(refused.continuous_pipeline_config_updates.is_empty());
    let membership = &refused.memberships[0];
    assert!(!membership.ok && membership.project.is_empty() && membership.group.is_empty());
    assert_eq!(
        membership.reason,
        format!("the agent's account {b} is not trusted by this group")
    );
    let rows = machines(&a_client, "web-servers").await;
    assert_eq!(rows[0]["heartbeatStatus"], "FAIL");

    // Trusted by name.
    let trusting = group_body(
        "web-servers",
        "userdefined",
        &["web"],
        json!({"trustedAccounts": [b]}),
    );
    a_client
        .send(Call::new("PUT", Some("web"), "/machinegroups/web-servers").json(trusting))
        .await
        .assert_ok();
    let joined = heartbeat(&b_client, &beat("b-host", 1, "10.0.1.1", &["web"], &[&a])).await;
    assert_eq!(versions(&joined), [(format!("{a}/web/nginx"), 1)]);
    assert!(joined.memberships[0].ok);

    // Trusted through the resource directory: C joins A's directory, B does not.
    a_client
        .send(Call::new("POST", None, "/rd"))
        .await
        .assert_ok();
    let invitation = a_client
        .send(Call::new("POST", None, "/rd/invitations").json(json!({"accountId": c})))
        .await;
    invitation.assert_ok();
    let id = invitation.json()["invitationId"]
        .as_str()
        .unwrap()
        .to_owned();
    c_client
        .send(Call::new(
            "POST",
            None,
            &format!("/rd/invitations/{id}/accept"),
        ))
        .await
        .assert_ok();
    let directory = group_body(
        "web-servers",
        "userdefined",
        &["web"],
        json!({"trustDirectory": true}),
    );
    a_client
        .send(Call::new("PUT", Some("web"), "/machinegroups/web-servers").json(directory))
        .await
        .assert_ok();
    let member = heartbeat(&c_client, &beat("c-host", 0, "10.0.2.1", &["web"], &[&a])).await;
    assert_eq!(versions(&member), [(format!("{a}/web/nginx"), 1)]);
    let held = format!("{a}/web/nginx");
    let outsider = heartbeat(
        &b_client,
        &holding(
            beat("b-host", 2, "10.0.1.1", &["web"], &[&a]),
            &[(&held, 1)],
        ),
    )
    .await;
    assert!(!outsider.memberships[0].ok);
    assert_eq!(
        versions(&outsider),
        [(format!("{a}/web/nginx"), DELETED_VERSION)]
    );
}

fn token_client(client: &Client, token: &WriteToken) -> Client {
    client.with_temporary_key(
        &token.access_key_id,
        &token.access_key_secret,
        &token.security_token,
    )
}

#[tokio::test]
async fn write_tokens_write_exactly_the_configured_logstores() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = server.credentials.account_id.clone();
    setup(&client, json!({})).await;
    let response = heartbeat(&client, &beat("host-3", 0, "10.0.0.9", &["web"], &[&a])).await;
    assert!(response.write_tokens_replaced);
    let [token] = response.write_tokens.as_slice() else {
        panic!("one token expected: {:?}", response.write_tokens.len());
    };
    assert_eq!(
        (
            token.project.as_str(),
            token.logstore.as_str(),
            token.account.as_str()
        ),
        ("web", "access", a.as_str())
    );
    assert!(token.expiration > i64::from(now_seconds()) + 3000);
    let writer = token_client(&client, token);
    let group = group_of("agent", 3, now_seconds());
    writer
        .put_group("web", "access", &group, CompressionType::Lz4)
        .await
        .assert_ok();
    writer
        .put_group("web", "errors", &group, CompressionType::Lz4)
        .await
        .assert_error(401, "Unauthorized");
    writer
        .send(
            Call::new("GET", Some("web"), "/logstores/access")
                .query("type", "log")
                .query("from", 0)
                .query("to", now_seconds() + 10),
        )
        .await
        .assert_error(401, "Unauthorized");
    // A token cannot heartbeat for more tokens.
    let mut call = Call::new("POST", None, "/Agent/Heartbeat")
        .header("content-type", "application/x-protobuf");
    call.body = beat("host-3", 1, "10.0.0.9", &["web"], &[&a]).to_bytes();
    writer.send(call).await.assert_error(401, "Unauthorized");

    // Up to date and in sequence: no new tokens.
    let name = format!("{a}/web/nginx");
    let quiet = heartbeat(
        &client,
        &holding(
            beat("host-3", 1, "10.0.0.9", &["web"], &[&a]),
            &[(&name, 1)],
        ),
    )
    .await;
    assert!(quiet.write_tokens.is_empty() && !quiet.write_tokens_replaced);

    // Removing the config withdraws the logstore at once: the old token is revoked.
    client
        .send(Call::new(
            "DELETE",
            Some("web"),
            "/machinegroups/web-servers/configs/nginx",
        ))
        .await
        .assert_ok();
    let withdrawn = heartbeat(
        &client,
        &holding(
            beat("host-3", 2, "10.0.0.9", &["web"], &[&a]),
            &[(&name, 1)],
        ),
    )
    .await;
    assert!(withdrawn.write_tokens_replaced && withdrawn.write_tokens.is_empty());
    let refused = writer
        .put_group("web", "access", &group, CompressionType::Lz4)
        .await;
    assert_eq!(
        refused.status,
        401,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
}

#[tokio::test]
async fn ip_groups_match_by_ip() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = server.credentials.account_id.clone();
    setup(&client, json!({})).await;
    client
        .send(
            Call::new("POST", Some("web"), "/machinegroups").json(group_body(
                "by-ip",
                "ip",
                &["10.9.9.9"],
                json!({}),
            )),
        )
        .await
        .assert_ok();
    client
        .send(
            Call::new("POST", Some("web"), "/pipelineconfigs").json(config_body(
                "syslog",
                "errors",
                "/var/log/syslog",
            )),
        )
        .await
        .assert_ok();
    client
        .send(Call::new(
            "PUT",
            Some("web"),
            "/machinegroups/by-ip/configs/syslog",
        ))
        .await
        .assert_ok();
    let matched = heartbeat(&client, &beat("ip-host", 0, "10.9.9.9", &[], &[&a])).await;
    assert_eq!(versions(&matched), [(format!("{a}/web/syslog"), 1)]);
    assert_eq!(matched.write_tokens.len(), 1);
    assert_eq!(matched.write_tokens[0].logstore, "errors");
    let elsewhere = heartbeat(&client, &beat("other-host", 0, "10.9.9.8", &[], &[&a])).await;
    assert!(
        elsewhere.memberships.is_empty() && elsewhere.continuous_pipeline_config_updates.is_empty()
    );
    let rows = machines(&client, "by-ip").await;
    assert_eq!((rows.len(), rows[0]["ip"].clone()), (1, json!("10.9.9.9")));
}
