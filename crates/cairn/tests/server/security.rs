//! Authentication and isolation: signatures, clock skew, AccessKey lifecycle, and one
//! account never reaching another's resources.

use std::time::{Duration, SystemTime};

use cairn_protocol::compression::CompressionType;
use serde_json::json;

use crate::harness::{group_of, now_seconds, Call, TestServer};

#[tokio::test]
async fn unsigned_forged_and_stale_requests_are_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    let unsigned = reqwest::get(format!("{}/", server.endpoint()))
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned.headers().get("x-log-requestid").is_some());
    let body: serde_json::Value = unsigned.json().await.unwrap();
    assert_eq!(body["errorCode"], "Unauthorized");

    let forged = client.with_key(&client.access_key_id, "not-the-secret");
    forged
        .send(Call::new("GET", None, "/"))
        .await
        .assert_error(401, "SignatureNotMatch");
    let unknown = client.with_key("LTAIdoesnotexist0000000", "whatever");
    unknown
        .send(Call::new("GET", None, "/"))
        .await
        .assert_error(401, "InvalidAccessKeyId");

    // A body changed after signing no longer matches its Content-MD5 signature.
    client.create_project("sig").await.assert_ok();
    let tampered = client
        .send_with(
            Call::new("PUT", Some("sig"), "/").json(json!({"description": "a"})),
            SystemTime::now(),
            |headers| {
                for (name, value) in headers.iter_mut() {
                    if name.eq_ignore_ascii_case("x-log-bodyrawsize") {
                        *value = "999".to_owned();
                    }
                }
            },
        )
        .await;
    tampered.assert_error(401, "SignatureNotMatch");

    let stale = client
        .send_with(
            Call::new("GET", None, "/"),
            SystemTime::now() - Duration::from_secs(16 * 60),
            |_| {},
        )
        .await;
    stale.assert_error(400, "RequestTimeExpired");
}

#[tokio::test]
async fn accounts_are_isolated_and_keys_can_be_disabled() {
    let server = TestServer::start().await;
    let operator = server.client();
    operator.create_project("alpha-logs").await.assert_ok();
    operator
        .create_logstore("alpha-logs", "app")
        .await
        .assert_ok();
    let now = now_seconds();
    operator
        .put_group(
            "alpha-logs",
            "app",
            &group_of("a", 5, now),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();

    let created = operator
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "team-b"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let account_b = created["accountId"].as_str().unwrap().to_owned();
    assert_eq!(account_b.len(), 16);
    assert_ne!(account_b, server.credentials.account_id);
    let tenant = operator.with_key(
        created["accessKeyId"].as_str().unwrap(),
        created["accessKeySecret"].as_str().unwrap(),
    );

    // B sees none of A's projects, and every A resource refuses B.
    let list = tenant.send(Call::new("GET", None, "/")).await;
    list.assert_ok();
    assert_eq!(list.json()["total"], 0);
    tenant
        .send(Call::new("GET", Some("alpha-logs"), "/"))
        .await
        .assert_error(401, "Unauthorized");
    tenant
        .send(Call::new("GET", Some("alpha-logs"), "/logstores/app"))
        .await
        .assert_error(401, "Unauthorized");
    tenant
        .put_group(
            "alpha-logs",
            "app",
            &group_of("b", 1, now),
            CompressionType::Lz4,
        )
        .await
        .assert_error(401, "Unauthorized");
    let denied = tenant
        .send(
            Call::new("POST", Some("alpha-logs"), "/logstores/app/logs")
                .json(json!({"from": now - 60, "to": now + 60, "query": "*"})),
        )
        .await;
    denied.assert_error(401, "Unauthorized");
    assert!(denied.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("log:GetLogStoreLogs"));
    tenant
        .send(Call::new("DELETE", Some("alpha-logs"), "/"))
        .await
        .assert_error(401, "Unauthorized");
    tenant
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "x"})))
        .await
        .assert_error(401, "Unauthorized");
    // Project names are global: B cannot take A's name.
    tenant
        .create_project("alpha-logs")
        .await
        .assert_error(400, "ProjectAlreadyExist");
    tenant.create_project("beta-logs").await.assert_ok();
    assert_eq!(
        operator
            .get_logs("alpha-logs", "app", "*", now - 60, now + 60)
            .await
            .len(),
        5
    );

    // B manages its own users and keys; a disabled key stops working at once.
    tenant
        .send(Call::new("POST", None, "/iam/users").json(json!({"userName": "ci-bot"})))
        .await
        .assert_ok();
    let key = tenant
        .send(Call::new("POST", None, "/iam/accesskeys").json(json!({"userName": "ci-bot"})))
        .await;
    key.assert_ok();
    let key = key.json();
    let bot = tenant.with_key(
        key["accessKeyId"].as_str().unwrap(),
        key["accessKeySecret"].as_str().unwrap(),
    );
    // A new user may do nothing until a policy allows it.
    bot.send(Call::new("GET", Some("beta-logs"), "/"))
        .await
        .assert_error(401, "Unauthorized");
    tenant
        .send(
            Call::new("POST", None, "/iam/policy-attachments").json(json!({
                "policyType": "System", "policyName": "AliyunLogReadOnlyAccess",
                "principalType": "User", "principalName": "ci-bot",
            })),
        )
        .await
        .assert_ok();
    bot.send(Call::new("GET", Some("beta-logs"), "/"))
        .await
        .assert_ok();
    bot.send(Call::new("DELETE", Some("beta-logs"), "/"))
        .await
        .assert_error(401, "Unauthorized");
    let listed = tenant.send(Call::new("GET", None, "/iam/accesskeys")).await;
    assert!(
        !String::from_utf8_lossy(&listed.body).contains(key["accessKeySecret"].as_str().unwrap())
    );
    let key_path = format!("/iam/accesskeys/{}", key["accessKeyId"].as_str().unwrap());
    // The operator cannot touch B's key: to the operator it does not exist.
    operator
        .send(Call::new("PUT", None, &key_path).json(json!({"status": "Disabled"})))
        .await
        .assert_error(404, "AccessKeyNotExist");
    tenant
        .send(Call::new("PUT", None, &key_path).json(json!({"status": "Disabled"})))
        .await
        .assert_ok();
    bot.send(Call::new("GET", Some("beta-logs"), "/"))
        .await
        .assert_error(401, "InvalidAccessKeyId");
    tenant
        .send(Call::new("DELETE", None, &key_path))
        .await
        .assert_ok();
    bot.send(Call::new("GET", Some("beta-logs"), "/"))
        .await
        .assert_error(401, "InvalidAccessKeyId");
}

#[tokio::test]
async fn secrets_are_never_stored_in_plain_text() {
    let server = TestServer::start().await;
    let secret = server.credentials.access_key_secret.clone();
    let client = server.client();
    client.create_project("secret-check").await.assert_ok();
    for entry in walk(&server.data_dir) {
        if entry.ends_with("credentials.json") {
            continue; // the one file meant to hand the secret to the user
        }
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in plain text in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
