//! Tests of the policy language and of `authorize`: parsing and validation errors, the
//! precedence of explicit deny, allow and implicit deny, conditions, the account boundary,
//! and what each system policy allows — separation of duties included.

use std::net::IpAddr;
use std::sync::Arc;

use cairn_model::{AccessKeyId, AccountId, ResourceArn, RoleName, UserName};

use super::*;
use crate::{IamError, Principal, PrincipalIdentity};

const ACCOUNT: &str = "1234567890123456";
const OTHER: &str = "6543210987654321";

fn account(text: &str) -> AccountId {
    AccountId::parse(text).expect("account id")
}

fn user_with(policies: Vec<PolicyDocument>, ip: Option<&str>) -> Principal {
    Principal {
        account: account(ACCOUNT),
        identity: PrincipalIdentity::User(UserName::parse("alice").expect("user")),
        access_key_id: AccessKeyId::parse("LTAIaaaaaaaaaaaaaaaaaaaa").expect("key id"),
        source_ip: ip.map(|ip| ip.parse::<IpAddr>().expect("ip")),
        policies: Arc::new(policies),
        session_policy: None,
    }
}

fn system_user(policy: SystemPolicy) -> Principal {
    user_with(vec![policy.document().clone()], Some("10.0.0.1"))
}

fn doc(json: &str) -> PolicyDocument {
    PolicyDocument::parse(json).expect(json)
}

fn arn(text: &str) -> ResourceArn {
    ResourceArn::parse(&text.replace("{A}", ACCOUNT)).expect("arn")
}

fn allowed(principal: &Principal, action: &str, resource: &str) -> bool {
    authorize(principal, action, &arn(resource)).is_ok()
}

const LOGSTORE: &str = "acs:log:cairn:{A}:project/web/logstore/app";
const TRAIL_LOGSTORE: &str = "acs:log:cairn:{A}:project/web/logstore/actiontrail_main";
const AUDIT_LOGSTORE: &str = "acs:log:cairn:{A}:project/central/logstore/audit_sshd";
const AUDIT_PROJECT: &str = "acs:log:cairn:{A}:project/audit-central";
const AUDIT_PROJECT_STORE: &str = "acs:log:cairn:{A}:project/audit-central/logstore/anything";
const PROJECT: &str = "acs:log:cairn:{A}:project/web";
const ALL_PROJECTS: &str = "acs:log:cairn:{A}:project/*";
const RAM_USER: &str = "acs:ram::{A}:user/bob";
const TRAIL: &str = "acs:actiontrail:cairn:{A}:trail/main";

#[test]
fn parse_errors_name_the_problem() {
    let cases = [
        ("not json", "not a valid policy document"),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "Version is required",
        ),
        (
            r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "Version \"2\" is not supported",
        ),
        (r#"{"Version":"1"}"#, "at least one statement"),
        (
            r#"{"Version":"1","Statement":[]}"#,
            "at least one statement",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}"#,
            "statement 1: Effect \"Permit\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Action":"*","Resource":"*"}]}"#,
            "Effect is required",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
            "Action is required",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
            "Action is an empty list",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}"#,
            "Resource is required",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"GetLogs","Resource":"*"}]}"#,
            "not of the form service:Action",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:Get Logs","Resource":"*"}]}"#,
            "contains whitespace",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"project/web"}]}"#,
            "neither * nor an ARN",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}"#,
            "a string or an array of strings",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"log:*","Resource":"*"}]}"#,
            "unknown field `NotAction`",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"300.0.0.0/8"}}}]}"#,
            "statement 2: \"300.0.0.0/8\"",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"x"}}}]}"#,
            "unsupported condition operator",
        ),
        (
            r#"{"Version":"1","Statement":"all"}"#,
            "Statement must be an object or an array",
        ),
    ];
    for (json, expected) in cases {
        let err = PolicyDocument::parse(json).expect_err(json);
        assert!(matches!(err, IamError::InvalidPolicy { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("invalid policy document: "),
            "{message}"
        );
        assert!(message.contains(expected), "{json}: {message}");
    }
}

#[test]
fn size_is_limited() {
    let resources: Vec<String> = (0..400)
        .map(|n| format!("\"acs:log:*:*:project/p{n}\""))
        .collect();
    let big = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"log:*","Resource":[{}]}}]}}"#,
        resources.join(",")
    );
    assert!(big.len() > MAX_POLICY_BYTES);
    let err = PolicyDocument::parse(&big).expect_err("too big");
    assert!(err.to_string().contains("the limit is 6144"), "{err}");
}

#[test]
fn documents_round_trip_through_serde() {
    let text = r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"log:Get*","Resource":["acs:log:*:*:project/web/*"],"Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}}"#;
    let parsed = doc(text);
    let json = serde_json::to_string(&parsed).expect("serialise");
    assert_eq!(
        json,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:Get*","Resource":["acs:log:*:*:project/web/*"],"Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#
    );
    let again: PolicyDocument = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(again, parsed);
    assert_eq!(again.to_json(), json);
    // Deserialising validates too.
    assert!(serde_json::from_str::<PolicyDocument>(r#"{"Version":"1","Statement":[]}"#).is_err());
}

#[test]
fn explicit_deny_beats_allow_beats_implicit_deny() {
    use Decision::*;
    assert_eq!(combine([]), ImplicitDeny);
    assert_eq!(combine([ImplicitDeny, Allow]), Allow);
    assert_eq!(combine([Allow, ExplicitDeny, Allow]), ExplicitDeny);

    let allow_logs =
        doc(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*"}]}"#);
    let deny_web = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"log:Post*","Resource":"acs:log:*:*:project/web/*"}]}"#,
    );
    let nobody = user_with(vec![], None);
    assert!(
        !allowed(&nobody, "log:GetLogStoreLogs", LOGSTORE),
        "implicit deny"
    );
    let reader = user_with(vec![allow_logs.clone()], None);
    assert!(allowed(&reader, "log:PostLogStoreLogs", LOGSTORE), "allow");
    for policies in [
        vec![allow_logs.clone(), deny_web.clone()],
        vec![deny_web, allow_logs],
    ] {
        let denied = user_with(policies, None);
        assert!(
            !allowed(&denied, "log:PostLogStoreLogs", LOGSTORE),
            "explicit deny wins"
        );
        assert!(
            allowed(&denied, "log:GetLogStoreLogs", LOGSTORE),
            "other actions still allowed"
        );
        assert!(allowed(
            &denied,
            "log:PostLogStoreLogs",
            "acs:log:cairn:{A}:project/api/logstore/app"
        ));
    }
    // Within one document too.
    let both = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"log:*","Resource":"*"},{"Effect":"Allow","Action":"log:*","Resource":"*"}]}"#,
    );
    assert!(!allowed(
        &user_with(vec![both], None),
        "log:GetProject",
        PROJECT
    ));
}

#[test]
fn conditions_restrict_statements() {
    let office_only = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["192.168.0.0/16"]}}}]}"#,
    );
    let inside = user_with(vec![office_only.clone()], Some("192.168.3.4"));
    let outside = user_with(vec![office_only.clone()], Some("8.8.8.8"));
    let unknown = user_with(vec![office_only], None);
    assert!(allowed(&inside, "log:GetLogStoreLogs", LOGSTORE));
    assert!(!allowed(&outside, "log:GetLogStoreLogs", LOGSTORE));
    assert!(
        !allowed(&unknown, "log:GetLogStoreLogs", LOGSTORE),
        "no IP: IpAddress fails"
    );

    let allow_all =
        doc(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
    let deny_outside = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#,
    );
    let policies = vec![allow_all, deny_outside];
    assert!(allowed(
        &user_with(policies.clone(), Some("10.2.3.4")),
        "log:GetProject",
        PROJECT
    ));
    assert!(!allowed(
        &user_with(policies.clone(), Some("11.2.3.4")),
        "log:GetProject",
        PROJECT
    ));
    assert!(!allowed(
        &user_with(policies, None),
        "log:GetProject",
        PROJECT
    ));

    let this_key = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*","Condition":{"StringEquals":{"acs:AccessKeyId":"LTAIaaaaaaaaaaaaaaaaaaaa"}}}]}"#,
    );
    let other_key = doc(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*","Condition":{"StringEquals":{"acs:AccessKeyId":"LTAIbbbbbbbbbbbbbbbbbbbb"}}}]}"#,
    );
    assert!(allowed(
        &user_with(vec![this_key], None),
        "log:GetProject",
        PROJECT
    ));
    assert!(!allowed(
        &user_with(vec![other_key], None),
        "log:GetProject",
        PROJECT
    ));
}

#[test]
fn root_is_bounded_by_its_account_and_policies_cannot_cross_it() {
    let root = Principal {
        identity: PrincipalIdentity::Root,
        ..user_with(vec![], None)
    };
    assert!(allowed(&root, "log:PostLogStoreLogs", LOGSTORE));
    assert!(allowed(&root, "ram:CreateUser", RAM_USER));
    let foreign = format!("acs:log:cairn:{OTHER}:project/web");
    assert!(!allowed(&root, "log:GetProject", &foreign));
    let admin = system_user(SystemPolicy::AdministratorAccess);
    assert!(allowed(&admin, "log:GetProject", PROJECT));
    assert!(
        !allowed(&admin, "log:GetProject", &foreign),
        "policies never cross accounts"
    );
    let err = authorize(&admin, "log:GetProject", &arn(&foreign)).expect_err("denied");
    assert_eq!(
        err.to_string(),
        format!("denied by sts or ram, action: log:GetProject, resource: {foreign}")
    );

    let session = Principal {
        identity: PrincipalIdentity::RoleSession {
            role: RoleName::parse("reader").expect("role"),
            session_name: "s1".to_owned(),
            assumed_by: account(OTHER),
        },
        ..system_user(SystemPolicy::AliyunLogReadOnlyAccess)
    };
    assert!(allowed(&session, "log:GetLogStoreLogs", LOGSTORE));
    assert!(!allowed(&session, "log:PostLogStoreLogs", LOGSTORE));
}

#[test]
fn every_system_policy_parses_and_round_trips_its_name() {
    for policy in SystemPolicy::ALL {
        assert_eq!(SystemPolicy::from_name(policy.name()), Some(policy));
        assert!(!policy.document().statements().is_empty());
        assert_eq!(policy.document(), &doc(policy.document_text()));
    }
    assert_eq!(SystemPolicy::from_name("administratoraccess"), None);
}

/// (action, resource, allowed) rows for one principal.
fn check_table(principal: &Principal, name: &str, rows: &[(&str, &str, bool)]) {
    for &(action, resource, expected) in rows {
        assert_eq!(
            allowed(principal, action, resource),
            expected,
            "{name}: {action} on {resource}"
        );
    }
}

#[test]
fn log_system_policies() {
    let full = system_user(SystemPolicy::AliyunLogFullAccess);
    check_table(
        &full,
        "AliyunLogFullAccess",
        &[
            ("log:PostLogStoreLogs", LOGSTORE, true),
            ("log:DeleteProject", PROJECT, true),
            ("log:GetLogStoreLogs", TRAIL_LOGSTORE, true),
            ("ram:CreateUser", RAM_USER, false),
            ("sts:AssumeRole", "acs:ram::{A}:role/r", false),
        ],
    );
    let read = system_user(SystemPolicy::AliyunLogReadOnlyAccess);
    check_table(
        &read,
        "AliyunLogReadOnlyAccess",
        &[
            ("log:GetLogStoreLogs", LOGSTORE, true),
            ("log:ListLogStores", PROJECT, true),
            ("log:ListProject", ALL_PROJECTS, true),
            ("log:PullLogs", LOGSTORE, true),
            ("log:PostLogStoreLogs", LOGSTORE, false),
            ("log:CreateProject", PROJECT, false),
            ("log:DeleteLogStore", LOGSTORE, false),
            ("ram:ListUsers", RAM_USER, false),
        ],
    );
}

#[test]
fn separation_of_duties() {
    let audit = system_user(SystemPolicy::CairnAuditAdministrator);
    check_table(
        &audit,
        "CairnAuditAdministrator",
        &[
            ("log:GetLogStoreLogs", TRAIL_LOGSTORE, true),
            ("log:GetLogStoreHistogram", TRAIL_LOGSTORE, true),
            ("log:PullLogs", AUDIT_LOGSTORE, true),
            ("log:ListTopics", AUDIT_LOGSTORE, true),
            ("log:GetProject", AUDIT_PROJECT, true),
            ("log:GetLogStoreLogs", AUDIT_PROJECT_STORE, true),
            ("trail:LookupEvents", TRAIL, true),
            ("trail:GetTrail", TRAIL, true),
            ("trail:ListTrails", TRAIL, true),
            // Cannot write or change audit resources.
            ("log:PostLogStoreLogs", TRAIL_LOGSTORE, false),
            ("log:DeleteLogStore", TRAIL_LOGSTORE, false),
            ("log:UpdateLogStore", AUDIT_LOGSTORE, false),
            ("log:DeleteProject", AUDIT_PROJECT, false),
            ("trail:DeleteTrail", TRAIL, false),
            ("trail:StopLogging", TRAIL, false),
            // Cannot read or write anything else.
            ("log:GetLogStoreLogs", LOGSTORE, false),
            ("log:PostLogStoreLogs", LOGSTORE, false),
            ("log:GetProject", PROJECT, false),
            // Cannot touch RAM or STS.
            ("ram:CreateUser", RAM_USER, false),
            ("ram:AttachPolicyToUser", RAM_USER, false),
            ("sts:AssumeRole", "acs:ram::{A}:role/admin", false),
        ],
    );

    let security = system_user(SystemPolicy::CairnSecurityAdministrator);
    check_table(
        &security,
        "CairnSecurityAdministrator",
        &[
            ("ram:CreateUser", RAM_USER, true),
            ("ram:CreatePolicy", "acs:ram::{A}:policy/p", true),
            ("ram:AttachPolicyToUser", RAM_USER, true),
            ("ram:CreateRole", "acs:ram::{A}:role/r", true),
            ("sts:AssumeRole", "acs:ram::{A}:role/r", true),
            // Reads no logs, audit or otherwise, and changes no log resources.
            ("log:GetLogStoreLogs", LOGSTORE, false),
            ("log:GetLogStoreLogs", TRAIL_LOGSTORE, false),
            ("log:ListProject", ALL_PROJECTS, false),
            ("log:CreateProject", PROJECT, false),
            ("trail:LookupEvents", TRAIL, false),
        ],
    );

    let system = system_user(SystemPolicy::CairnSystemAdministrator);
    check_table(
        &system,
        "CairnSystemAdministrator",
        &[
            ("log:CreateProject", PROJECT, true),
            ("log:PostLogStoreLogs", LOGSTORE, true),
            ("log:GetLogStoreLogs", LOGSTORE, true),
            ("log:ListProject", ALL_PROJECTS, true),
            (
                "log:CreateETL",
                "acs:log:cairn:{A}:project/web/job/copy-1",
                true,
            ),
            // Cannot read or change audit resources.
            ("log:GetLogStoreLogs", TRAIL_LOGSTORE, false),
            ("log:GetLogStoreLogs", AUDIT_LOGSTORE, false),
            ("log:PostLogStoreLogs", TRAIL_LOGSTORE, false),
            ("log:DeleteLogStore", TRAIL_LOGSTORE, false),
            (
                "log:CreateLogStore",
                "acs:log:cairn:{A}:project/web/logstore/actiontrail_fake",
                false,
            ),
            ("log:DeleteProject", AUDIT_PROJECT, false),
            ("log:GetLogStoreLogs", AUDIT_PROJECT_STORE, false),
            ("trail:LookupEvents", TRAIL, false),
            ("trail:DeleteTrail", TRAIL, false),
            // Cannot manage identities or permissions.
            ("ram:CreateUser", RAM_USER, false),
            ("ram:AttachPolicyToUser", RAM_USER, false),
        ],
    );
    // The system administrator's denies hold even next to full access.
    let widened = user_with(
        vec![
            SystemPolicy::CairnSystemAdministrator.document().clone(),
            SystemPolicy::AdministratorAccess.document().clone(),
        ],
        None,
    );
    check_table(
        &widened,
        "CairnSystemAdministrator + AdministratorAccess",
        &[
            ("log:PostLogStoreLogs", LOGSTORE, true),
            ("log:GetLogStoreLogs", TRAIL_LOGSTORE, false),
            ("ram:CreateUser", RAM_USER, false),
        ],
    );
}
