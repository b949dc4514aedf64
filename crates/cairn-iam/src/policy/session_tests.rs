//! Session policies intersect with identity policies: a request is allowed only when both
//! allow it, and an explicit deny in either denies.

use std::sync::Arc;

use cairn_model::{AccessKeyId, AccountId, ResourceArn, RoleName};

use super::*;
use crate::{Principal, PrincipalIdentity};

const ACCOUNT: &str = "1234567890123456";
const APP: &str = "acs:log:cairn:1234567890123456:project/web/logstore/app";
const OTHER_STORE: &str = "acs:log:cairn:1234567890123456:project/web/logstore/other";

fn doc(json: &str) -> PolicyDocument {
    PolicyDocument::parse_session_policy(json).expect(json)
}

fn session(identity_policies: &[&str], session_policy: Option<&str>) -> Principal {
    Principal {
        account: AccountId::parse(ACCOUNT).expect("account"),
        identity: PrincipalIdentity::RoleSession {
            role: RoleName::parse("writer").expect("role"),
            session_name: "s".to_owned(),
            assumed_by: AccountId::parse(ACCOUNT).expect("account"),
        },
        access_key_id: AccessKeyId::parse("STS.aaaaaaaaaaaaaaaaaaaaaaaaaaaa").expect("id"),
        source_ip: None,
        policies: Arc::new(identity_policies.iter().map(|json| doc(json)).collect()),
        session_policy: session_policy.map(|json| Arc::new(doc(json))),
    }
}

fn allowed(principal: &Principal, action: &str, resource: &str) -> bool {
    authorize(
        principal,
        action,
        &ResourceArn::parse(resource).expect("arn"),
    )
    .is_ok()
}

const LOG_FULL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*"}]}"#;
const POST_APP: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:PostLogStoreLogs","Resource":"acs:log:cairn:1234567890123456:project/web/logstore/app"}]}"#;

#[test]
fn a_session_policy_narrows_what_the_identity_allows() {
    let narrowed = session(&[LOG_FULL], Some(POST_APP));
    assert!(allowed(&narrowed, "log:PostLogStoreLogs", APP));
    assert!(!allowed(&narrowed, "log:GetLogStoreLogs", APP));
    assert!(!allowed(&narrowed, "log:PostLogStoreLogs", OTHER_STORE));
    let unrestricted = session(&[LOG_FULL], None);
    assert!(allowed(&unrestricted, "log:GetLogStoreLogs", APP));
}

#[test]
fn a_session_policy_never_widens() {
    let wide = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let read_only =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:Get*","Resource":"*"}]}"#;
    let principal = session(&[read_only], Some(wide));
    assert!(allowed(&principal, "log:GetLogStoreLogs", APP));
    assert!(!allowed(&principal, "log:PostLogStoreLogs", APP));
    assert!(!allowed(
        &session(&[], Some(wide)),
        "log:GetLogStoreLogs",
        APP
    ));
}

#[test]
fn an_explicit_deny_in_either_denies() {
    let deny_app = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*"},{"Effect":"Deny","Action":"log:PostLogStoreLogs","Resource":"acs:log:cairn:1234567890123456:project/web/logstore/app"}]}"#;
    assert!(!allowed(
        &session(&[LOG_FULL], Some(deny_app)),
        "log:PostLogStoreLogs",
        APP
    ));
    assert!(!allowed(
        &session(&[deny_app], Some(POST_APP)),
        "log:PostLogStoreLogs",
        APP
    ));
    assert_eq!(
        evaluate(
            &session(&[deny_app], Some(POST_APP)),
            "log:PostLogStoreLogs",
            &ResourceArn::parse(APP).expect("arn")
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn root_with_a_session_policy_is_narrowed_too_and_accounts_still_bound() {
    let root = Principal {
        identity: PrincipalIdentity::Root,
        ..session(&[], Some(POST_APP))
    };
    assert!(allowed(&root, "log:PostLogStoreLogs", APP));
    assert!(!allowed(&root, "log:DeleteLogStore", APP));
    let foreign = "acs:log:cairn:6543210987654321:project/web/logstore/app";
    let everything =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    assert!(!allowed(
        &session(&[everything], Some(everything)),
        "log:PostLogStoreLogs",
        foreign
    ));
}

#[test]
fn session_policies_may_be_larger_than_user_policies_but_are_bounded() {
    let resources: Vec<String> = (0..200)
        .map(|n| format!("\"acs:log:cairn:{ACCOUNT}:project/web/logstore/store-{n}\""))
        .collect();
    let text = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"log:PostLogStoreLogs","Resource":[{}]}}]}}"#,
        resources.join(",")
    );
    assert!(text.len() > MAX_POLICY_BYTES);
    assert!(PolicyDocument::parse(&text).is_err());
    assert!(PolicyDocument::parse_session_policy(&text).is_ok());
    let huge = "x".repeat(MAX_SESSION_POLICY_BYTES + 1);
    assert!(PolicyDocument::parse_session_policy(&huge).is_err());
}
