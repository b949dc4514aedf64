//! Roles that cannot be assumed or lack a permission fail the job with an error naming the
//! role, the action, the resource and the fix; fixing it and resuming finishes the copy.

use cairn_iam::{PolicyReference, PolicyTarget};
use cairn_jobs::{JobMode, JobName, JobState};
use cairn_model::{LogstoreName, PolicyName, RoleName};

use crate::support::{allowing, assert_exactly_once, numbered, options, role, Env, REGION};

#[tokio::test]
async fn a_sink_role_without_post_permission_fails_the_job_until_it_is_granted() {
    let env = Env::new(options()).await;
    let reader = role(
        &env.iam,
        env.ids.source,
        "job-reader",
        env.ids.owner,
        &["log:GetLogStoreLogs"],
        ("src-proj", "app"),
    )
    .await;
    // The writer role may read the destination, not write it.
    let writer = role(
        &env.iam,
        env.ids.dest,
        "job-writer",
        env.ids.owner,
        &["log:GetLogStoreLogs"],
        ("dst-proj", "central"),
    )
    .await;
    env.put("t", &numbered("x", 0..12), 10).await;
    let definition = env.definition(
        "no-post",
        &(reader, writer.clone()),
        JobMode::OneOff { from: 0, to: 100 },
    );
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("no-post").await;
    assert_eq!(status.state, JobState::Failed);
    let error = status.error.expect("an error");
    let resource = format!(
        "acs:log:{REGION}:{}:project/dst-proj/logstore/central",
        env.ids.dest
    );
    for needle in [
        "log:PostLogStoreLogs",
        resource.as_str(),
        writer.as_str(),
        "grant",
    ] {
        assert!(error.contains(needle), "{needle:?} missing from {error:?}");
    }
    assert!(env.dest_messages().await.is_empty());

    // The failure is saved, and the fix the message names makes the job work.
    let name = JobName::parse("no-post").expect("name");
    let (_, saved) = env.scheduler.get(env.ids.owner, &name).await.expect("get");
    assert_eq!(saved.state, JobState::Failed);
    let grant = PolicyName::parse("grant-post").expect("policy name");
    env.iam
        .create_policy(
            env.ids.dest,
            grant.clone(),
            &allowing(
                &["log:PostLogStoreLogs"],
                env.ids.dest,
                "dst-proj",
                "central",
            ),
            String::new(),
        )
        .await
        .expect("policy");
    env.iam
        .attach_policy(
            env.ids.dest,
            &PolicyReference::Custom(grant),
            &PolicyTarget::Role(RoleName::parse("job-writer").expect("role")),
        )
        .await
        .expect("attach");
    env.scheduler
        .resume(env.ids.owner, &name)
        .await
        .expect("resume");
    let status = env.finished("no-post").await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert!(status.error.is_none());
    assert_exactly_once(&env.dest_messages().await, &numbered("x", 0..12));
}

#[tokio::test]
async fn a_source_role_without_read_permission_fails_naming_the_source() {
    let env = Env::new(options()).await;
    let reader = role(
        &env.iam,
        env.ids.source,
        "job-reader",
        env.ids.owner,
        &["log:PostLogStoreLogs"],
        ("src-proj", "app"),
    )
    .await;
    let (_, writer) = env.roles_writer_only().await;
    let definition = env.definition(
        "no-read",
        &(reader.clone(), writer),
        JobMode::OneOff { from: 0, to: 9 },
    );
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("no-read").await;
    assert_eq!(status.state, JobState::Failed);
    let error = status.error.expect("an error");
    let resource = format!(
        "acs:log:{REGION}:{}:project/src-proj/logstore/app",
        env.ids.source
    );
    for needle in ["log:GetLogStoreLogs", resource.as_str(), reader.as_str()] {
        assert!(error.contains(needle), "{needle:?} missing from {error:?}");
    }
}

#[tokio::test]
async fn a_role_that_does_not_trust_the_owner_fails_the_job() {
    let env = Env::new(options()).await;
    // Trusts the destination account, not the job's owner.
    let reader = role(
        &env.iam,
        env.ids.source,
        "job-reader",
        env.ids.dest,
        &["log:GetLogStoreLogs"],
        ("src-proj", "app"),
    )
    .await;
    let (_, writer) = env.roles_writer_only().await;
    env.put("t", &numbered("x", 0..3), 10).await;
    let definition = env.definition(
        "untrusted",
        &(reader.clone(), writer),
        JobMode::OneOff { from: 0, to: 100 },
    );
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("untrusted").await;
    assert_eq!(status.state, JobState::Failed);
    let error = status.error.expect("an error");
    let owner = env.ids.owner.to_string();
    for needle in [reader.as_str(), "trust policy", owner.as_str()] {
        assert!(error.contains(needle), "{needle:?} missing from {error:?}");
    }
    assert!(env.dest_messages().await.is_empty());
}

#[tokio::test]
async fn a_missing_role_or_logstore_fails_the_job() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    let ghost = format!("acs:ram::{}:role/ghost", env.ids.source);
    let definition = env.definition(
        "ghost-role",
        &(ghost.clone(), roles.1.clone()),
        JobMode::OneOff { from: 0, to: 9 },
    );
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("ghost-role").await;
    assert_eq!(status.state, JobState::Failed);
    assert!(
        status.error.as_deref().unwrap_or_default().contains(&ghost),
        "{status:?}"
    );

    // A role allowed on a logstore that does not exist learns that it does not; a role not
    // allowed on it is refused first (see the message of the first case above).
    let wide_reader = role(
        &env.iam,
        env.ids.source,
        "nope-reader",
        env.ids.owner,
        &["log:GetLogStoreLogs"],
        ("src-proj", "nope"),
    )
    .await;
    let mut definition = env.definition(
        "no-logstore",
        &(wide_reader, roles.1.clone()),
        JobMode::OneOff { from: 0, to: 9 },
    );
    definition.source.logstore = LogstoreName::parse("nope").expect("name");
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("no-logstore").await;
    assert_eq!(status.state, JobState::Failed);
    let error = status.error.expect("an error");
    assert!(error.contains("src-proj/nope does not exist"), "{error}");
}
