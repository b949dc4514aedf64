//! Copies across accounts: one-off time ranges with progress, and continuous following.

use std::time::Duration;

use cairn_jobs::{JobMode, JobName, JobState, StartPosition};

use crate::support::{assert_exactly_once, messages, numbered, options, Env, PATIENCE};

#[tokio::test]
async fn a_one_off_copy_moves_exactly_the_records_in_range_once_with_their_content() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    env.put("a", &numbered("early", 0..5), 100).await;
    env.put("a", &numbered("in", 0..30), 200).await;
    env.put("b", &numbered("b", 0..7), 299).await;
    env.put("a", &numbered("late", 0..4), 300).await;
    env.put("c", &numbered("in2", 0..3), 250).await;

    let definition = env.definition("copy-range", &roles, JobMode::OneOff { from: 200, to: 300 });
    let created = env.scheduler.create(definition).await.expect("create");
    assert_eq!(created.state, JobState::Running);
    let status = env.finished("copy-range").await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");

    let mut expected = numbered("in", 0..30);
    expected.extend(numbered("b", 0..7));
    expected.extend(numbered("in2", 0..3));
    assert_exactly_once(&env.dest_messages().await, &expected);

    // Content: time, topic, source, tags and contents are copied as they were.
    let source = env.read_all(env.ids.source_logstore).await;
    let dest = env.read_all(env.ids.dest_logstore).await;
    for copied in &dest {
        let original = source
            .iter()
            .find(|record| record.field("message") == copied.field("message"))
            .expect("a source record");
        assert_eq!(**copied, **original);
    }

    assert_eq!(status.records_total, Some(40));
    assert_eq!(status.records_read, 40);
    assert_eq!(status.records_written, 40);
    let bytes: u64 = dest.iter().map(|record| record.raw_size() as u64).sum();
    assert_eq!(status.bytes_written, bytes);
    assert_eq!(
        status.checkpoint_offset,
        env.engine.next_offset(env.ids.source_logstore)
    );
    assert_eq!(status.eta_seconds, Some(0.0));
    assert_eq!(status.fraction_done(), Some(1.0));
    assert!(status.error.is_none());

    // The HTTP shape of the status is camelCase.
    let json = serde_json::to_value(&status).expect("json");
    assert_eq!(json["state"], "Succeeded");
    assert_eq!(json["recordsWritten"], 40);
    assert!(json.get("rateRecordsPerSecond").is_some());
    assert!(json.get("etaSeconds").is_some());
}

#[tokio::test]
async fn one_off_progress_counts_up_to_the_total_with_a_sane_eta() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    for chunk in 0..10 {
        env.put("t", &numbered(&format!("r{chunk}"), 0..30), 1000 + chunk)
            .await;
    }
    // 60 of the 300 records are outside the range.
    let definition = env.definition(
        "progress",
        &roles,
        JobMode::OneOff {
            from: 1002,
            to: 1010,
        },
    );
    env.scheduler.create(definition).await.expect("create");
    let name = JobName::parse("progress").expect("name");
    let mut watch = env
        .scheduler
        .watch(env.ids.owner, &name)
        .await
        .expect("watch");
    let mut seen = vec![watch.borrow().clone()];
    while watch.changed().await.is_ok() {
        seen.push(watch.borrow_and_update().clone());
    }
    let last = seen.last().expect("statuses").clone();
    assert_eq!(last.state, JobState::Succeeded);
    assert_eq!(last.records_total, Some(240));
    assert_eq!(last.records_read, 240);
    assert_eq!(last.records_written, 240);
    let mut previous = 0;
    for status in &seen {
        assert!(
            status.records_read >= previous,
            "progress never goes back: {seen:?}"
        );
        previous = status.records_read;
        if let Some(total) = status.records_total {
            assert!(status.records_read <= total);
            let fraction = status.fraction_done().expect("fraction");
            assert!((0.0..=1.0).contains(&fraction));
        }
        assert!(
            status.rate_records_per_second >= 0.0 && status.rate_records_per_second.is_finite()
        );
        if let Some(eta) = status.eta_seconds {
            assert!(eta >= 0.0 && eta.is_finite(), "{status:?}");
        }
    }
    // Some intermediate status had progress, a rate and an ETA.
    assert!(
        seen.iter().any(|status| status.state == JobState::Running
            && status.records_read > 0
            && status.rate_records_per_second > 0.0
            && status.eta_seconds.is_some()),
        "{seen:?}"
    );
    assert_exactly_once(&env.dest_messages().await, &{
        let mut all = Vec::new();
        for chunk in 2..10 {
            all.extend(numbered(&format!("r{chunk}"), 0..30));
        }
        all
    });
}

#[tokio::test]
async fn a_continuous_copy_follows_new_records_and_survives_stop_and_resume() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    env.put("t", &numbered("old", 0..5), 10).await;
    let definition = env.definition(
        "follow",
        &roles,
        JobMode::Continuous {
            from: StartPosition::End,
        },
    );
    env.scheduler.create(definition).await.expect("create");
    let name = JobName::parse("follow").expect("name");
    // Wait until the job has fixed its start at the end of the source.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, status) = env.scheduler.get(env.ids.owner, &name).await.expect("get");
        if status.checkpoint_offset == 5 {
            assert_eq!(status.records_total, None);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    env.put("t", &numbered("new", 0..3), 20).await;
    env.dest_reaches(3).await;
    env.put("u", &numbered("newer", 0..4), 5).await;
    env.dest_reaches(7).await;
    let mut expected = numbered("new", 0..3);
    expected.extend(numbered("newer", 0..4));
    assert_exactly_once(&env.dest_messages().await, &expected);

    let stopped = env
        .scheduler
        .stop(env.ids.owner, &name)
        .await
        .expect("stop");
    assert_eq!(stopped.state, JobState::Stopped);
    assert_eq!(stopped.checkpoint_offset, 12);
    env.put("t", &numbered("while-stopped", 0..2), 30).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        env.dest_messages().await.len(),
        7,
        "a stopped job copies nothing"
    );

    let resumed = env
        .scheduler
        .resume(env.ids.owner, &name)
        .await
        .expect("resume");
    assert_eq!(resumed.state, JobState::Running);
    env.dest_reaches(9).await;
    expected.extend(numbered("while-stopped", 0..2));
    assert_exactly_once(&env.dest_messages().await, &expected);

    env.scheduler
        .delete(env.ids.owner, &name)
        .await
        .expect("delete");
    assert!(env.scheduler.get(env.ids.owner, &name).await.is_err());
    assert!(env
        .scheduler
        .list(env.ids.owner)
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn a_continuous_copy_from_a_time_skips_older_records() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    env.put("t", &numbered("before", 0..3), 99).await;
    env.put("t", &numbered("after", 0..3), 100).await;
    let definition = env.definition(
        "from-time",
        &roles,
        JobMode::Continuous {
            from: StartPosition::Time(100),
        },
    );
    env.scheduler.create(definition).await.expect("create");
    env.dest_reaches(3).await;
    env.put("t", &numbered("late-old", 0..2), 50).await;
    env.put("t", &numbered("fresh", 0..2), 200).await;
    env.dest_reaches(5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut expected = numbered("after", 0..3);
    expected.extend(numbered("fresh", 0..2));
    assert_exactly_once(&env.dest_messages().await, &expected);

    let listed = env.scheduler.list(env.ids.owner).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.name.as_str(), "from-time");
    assert_eq!(listed[0].1.state, JobState::Running);
    assert_eq!(
        messages(&env.read_all(env.ids.dest_logstore).await).len(),
        5
    );
    env.scheduler.shutdown().await;
}
