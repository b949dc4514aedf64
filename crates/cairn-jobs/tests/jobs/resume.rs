//! Exactly-once across crashes and restarts: a job killed between an append and its
//! checkpoint, a scheduler dropped mid-copy, and a clean shutdown, each followed by a
//! restart of the metastore, the log engine (replayed from its WAL) and the scheduler.

use cairn_jobs::{JobMode, JobOptions, JobState, StartPosition};

use crate::support::{assert_exactly_once, numbered, options, Env};

fn crashing_after(appends: u64) -> JobOptions {
    JobOptions {
        crash_after_appends: Some(appends),
        ..options()
    }
}

#[tokio::test]
async fn a_crash_between_append_and_checkpoint_then_restart_copies_every_record_once() {
    let env = Env::new(crashing_after(7)).await;
    let roles = env.roles().await;
    // Topics change every few records, so a batch becomes several appends.
    let mut expected = Vec::new();
    for chunk in 0..25 {
        let batch = numbered(&format!("m{chunk}"), 0..4);
        env.put(&format!("topic-{}", chunk % 3), &batch, 500).await;
        expected.extend(batch);
    }
    let definition = env.definition("crashy", &roles, JobMode::OneOff { from: 0, to: 1000 });
    env.scheduler.create(definition).await.expect("create");
    env.task_ended("crashy").await;

    // The crash left writes beyond the saved checkpoint: exactly the case to survive.
    let saved = env
        .meta
        .get_job(env.ids.owner, "crashy")
        .await
        .expect("saved job");
    assert_eq!(saved.progress.state, JobState::Running);
    let written_before = env.dest_messages().await.len() as u64;
    assert!(
        saved.progress.records_written < written_before,
        "checkpoint {:?} should lag the {written_before} records written",
        saved.progress
    );

    let env = env.restart(options()).await;
    assert_eq!(env.scheduler.start().await.expect("start"), 1);
    let status = env.finished("crashy").await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_exactly_once(&env.dest_messages().await, &expected);
    assert_eq!(status.records_read, 100);
    assert_eq!(status.records_written, 100);
    assert_eq!(status.records_total, Some(100));
    let bytes: u64 = env
        .read_all(env.ids.dest_logstore)
        .await
        .iter()
        .map(|record| record.raw_size() as u64)
        .sum();
    assert_eq!(status.bytes_written, bytes);
}

#[tokio::test]
async fn a_continuous_job_re_reading_a_longer_tail_after_a_crash_writes_nothing_twice() {
    let env = Env::new(crashing_after(1)).await;
    let roles = env.roles().await;
    let definition = env.definition(
        "tail",
        &roles,
        JobMode::Continuous {
            from: StartPosition::Begin,
        },
    );
    env.put("t", &numbered("first", 0..5), 1).await;
    env.scheduler.create(definition).await.expect("create");
    env.task_ended("tail").await;
    assert_eq!(
        env.dest_messages().await.len(),
        5,
        "the short batch was written"
    );
    let saved = env
        .meta
        .get_job(env.ids.owner, "tail")
        .await
        .expect("saved");
    assert_eq!(saved.progress.checkpoint_offset, 0, "but not checkpointed");

    // More records arrive while the job is down: after the restart the batch read from the
    // checkpoint is longer than the one that was written.
    env.put("t", &numbered("second", 0..20), 2).await;
    let env = env.restart(options()).await;
    env.scheduler.start().await.expect("start");
    env.dest_reaches(25).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut expected = numbered("first", 0..5);
    expected.extend(numbered("second", 0..20));
    assert_exactly_once(&env.dest_messages().await, &expected);
    env.scheduler.shutdown().await;
}

#[tokio::test]
async fn a_scheduler_dropped_mid_copy_resumes_after_restart_without_duplicates() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    let mut expected = Vec::new();
    for chunk in 0..30 {
        let batch = numbered(&format!("d{chunk}"), 0..10);
        env.put(if chunk % 2 == 0 { "even" } else { "odd" }, &batch, 700)
            .await;
        expected.extend(batch);
    }
    let definition = env.definition("dropped", &roles, JobMode::OneOff { from: 700, to: 701 });
    env.scheduler.create(definition).await.expect("create");
    env.dest_reaches(40).await;
    // Abrupt: the tasks are aborted wherever they are, the engine is dropped without a
    // shutdown, and everything is opened again from disk.
    let env = env.restart(options()).await;
    assert!(
        env.dest_messages().await.len() >= 40,
        "acknowledged writes survive the restart"
    );
    env.scheduler.start().await.expect("start");
    let status = env.finished("dropped").await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_exactly_once(&env.dest_messages().await, &expected);
    assert_eq!(status.records_written, 300);
}

#[tokio::test]
async fn a_clean_shutdown_saves_the_checkpoint_and_the_job_resumes_on_start() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    let definition = env.definition(
        "steady",
        &roles,
        JobMode::Continuous {
            from: StartPosition::Begin,
        },
    );
    env.put("t", &numbered("a", 0..30), 1).await;
    env.scheduler.create(definition).await.expect("create");
    env.dest_reaches(30).await;
    env.scheduler.shutdown().await;
    let saved = env
        .meta
        .get_job(env.ids.owner, "steady")
        .await
        .expect("saved");
    assert_eq!(saved.progress.state, JobState::Running);
    assert_eq!(saved.progress.checkpoint_offset, 30);
    assert_eq!(saved.progress.records_written, 30);

    let env = env.restart(options()).await;
    assert_eq!(env.scheduler.start().await.expect("start"), 1);
    env.put("t", &numbered("b", 0..10), 1).await;
    env.dest_reaches(40).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut expected = numbered("a", 0..30);
    expected.extend(numbered("b", 0..10));
    assert_exactly_once(&env.dest_messages().await, &expected);
    env.scheduler.shutdown().await;
}
