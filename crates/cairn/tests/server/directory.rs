//! The resource directory over HTTP: the management account enables it, creates and invites
//! members, reaches each member only through the role the member gets on joining, and
//! delegates a service to a member.

use serde_json::json;

use crate::harness::{Call, Client, TestServer};

async fn assume(client: &Client, role_arn: &str) -> Client {
    let reply = client
        .send(Call::new("POST", None, "/sts/assume-role").json(json!({
            "roleArn": role_arn, "roleSessionName": "directory-test",
        })))
        .await;
    reply.assert_ok();
    let credentials = reply.json()["credentials"].clone();
    client.with_temporary_key(
        credentials["accessKeyId"].as_str().unwrap(),
        credentials["accessKeySecret"].as_str().unwrap(),
        credentials["securityToken"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn the_management_account_builds_and_administers_its_directory() {
    let server = TestServer::start().await;
    let management = server.client();
    let enabled = management.send(Call::new("POST", None, "/rd")).await;
    enabled.assert_ok();
    assert_eq!(
        enabled.json()["managementAccountId"],
        server.credentials.account_id.as_str()
    );
    management
        .send(Call::new("POST", None, "/rd"))
        .await
        .assert_error(409, "AccountAlreadyInDirectory");

    // A member created by the directory has no keys: the management account reaches it only
    // through ResourceDirectoryAccountAccessRole.
    let member = management
        .send(Call::new("POST", None, "/rd/accounts").json(json!({"accountName": "team-x"})))
        .await;
    member.assert_ok();
    let member_id = member.json()["accountId"].as_str().unwrap().to_owned();
    let admin_of_member = assume(
        &management,
        &format!("acs:ram::{member_id}:role/ResourceDirectoryAccountAccessRole"),
    )
    .await;
    admin_of_member
        .create_project("team-x-logs")
        .await
        .assert_ok();
    let project = admin_of_member
        .send(Call::new("GET", Some("team-x-logs"), "/"))
        .await;
    assert_eq!(project.json()["owner"], member_id.as_str());
    // The role acts in the member's account, not the management account's.
    management
        .send(Call::new("GET", Some("team-x-logs"), "/"))
        .await
        .assert_error(401, "Unauthorized");

    // An existing account joins by invitation, accepted by its own root only.
    let created = management
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "team-y"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let invited_id = created["accountId"].as_str().unwrap().to_owned();
    let invited = management.with_key(
        created["accessKeyId"].as_str().unwrap(),
        created["accessKeySecret"].as_str().unwrap(),
    );
    invited
        .send(Call::new("GET", None, "/rd"))
        .await
        .assert_error(404, "ResourceDirectoryNotExist");
    let invitation = management
        .send(Call::new("POST", None, "/rd/invitations").json(json!({"accountId": invited_id})))
        .await;
    invitation.assert_ok();
    let invitation_id = invitation.json()["invitationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let accept = format!("/rd/invitations/{invitation_id}/accept");
    management
        .send(Call::new("POST", None, &accept))
        .await
        .assert_error(404, "InvitationNotExist");
    let listed = invited
        .send(Call::new("GET", None, "/rd/invitations"))
        .await;
    assert_eq!(
        listed.json()["invitations"][0]["invitationId"],
        invitation_id.as_str()
    );
    invited
        .send(Call::new("POST", None, &accept))
        .await
        .assert_ok();
    assume(
        &management,
        &format!("acs:ram::{invited_id}:role/ResourceDirectoryAccountAccessRole"),
    )
    .await
    .send(Call::new("GET", None, "/"))
    .await
    .assert_ok();

    let members = management.send(Call::new("GET", None, "/rd/members")).await;
    members.assert_ok();
    let ids: Vec<String> = members.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["accountId"].as_str().unwrap().to_owned())
        .collect();
    for id in [&server.credentials.account_id, &member_id, &invited_id] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }

    // A delegated administrator for trail may list members; other members may not.
    invited
        .send(Call::new("GET", None, "/rd/members"))
        .await
        .assert_error(403, "NoPermission");
    management
        .send(
            Call::new("PUT", None, "/rd/delegated-administrators/trail")
                .json(json!({"accountId": invited_id})),
        )
        .await
        .assert_ok();
    invited
        .send(Call::new("GET", None, "/rd/members"))
        .await
        .assert_ok();
    let delegates = management
        .send(Call::new("GET", None, "/rd/delegated-administrators"))
        .await;
    assert_eq!(
        delegates.json()["delegatedAdministrators"],
        json!([{"service": "trail", "accountId": invited_id}])
    );

    // Removing the member ends its delegation and its membership.
    management
        .send(Call::new(
            "DELETE",
            None,
            &format!("/rd/members/{invited_id}"),
        ))
        .await
        .assert_ok();
    invited
        .send(Call::new("GET", None, "/rd"))
        .await
        .assert_error(404, "ResourceDirectoryNotExist");
    let delegates = management
        .send(Call::new("GET", None, "/rd/delegated-administrators"))
        .await;
    assert_eq!(delegates.json()["delegatedAdministrators"], json!([]));
    management
        .send(Call::new(
            "DELETE",
            None,
            &format!("/rd/members/{}", server.credentials.account_id),
        ))
        .await
        .assert_error(400, "ParameterInvalid");
}
