//! The live event stream and the durable event log, across a reopen of the metastore.

use std::sync::Arc;

use cairn_meta::{DirectoryEvent, SqliteMetastore};
use tokio::sync::broadcast::error::TryRecvError;

use super::{root, Fixture};
use crate::directory::{DirectoryError, ResourceDirectory};
use crate::{Iam, MasterKey};
use cairn_meta::DirectoryService::Trail;

#[tokio::test]
async fn subscribers_see_every_change_and_the_log_survives_a_reopen() {
    let fx = Fixture::new().await;
    let mut live = fx.rd.subscribe();
    let (management, rd) = fx.management("central").await;
    let (first, second) = (
        fx.member(management, "a").await,
        fx.member(management, "b").await,
    );
    let invited = fx.account("invited").await;
    let invitation = fx
        .rd
        .invite(&root(management), invited)
        .await
        .expect("invite");
    fx.rd
        .accept_invitation(&root(invited), &invitation.invitation_id)
        .await
        .expect("accept");
    let m = root(management);
    fx.rd
        .set_delegated_administrator(&m, Trail, first)
        .await
        .expect("set");
    fx.rd
        .set_delegated_administrator(&m, Trail, second)
        .await
        .expect("replace");
    fx.rd
        .remove_member(&m, second)
        .await
        .expect("remove delegate");

    let mut received = Vec::new();
    loop {
        match live.try_recv() {
            Ok(event) => received.push(event),
            Err(TryRecvError::Empty) => break,
            Err(other) => panic!("subscriber: {other:?}"),
        }
    }
    let directory_id = rd.clone();
    let joined = |account| DirectoryEvent::MemberJoined {
        directory_id: directory_id.clone(),
        account,
    };
    let set = |account| DirectoryEvent::DelegatedAdministratorSet {
        directory_id: rd.clone(),
        service: Trail,
        account,
    };
    let removed = |account| DirectoryEvent::DelegatedAdministratorRemoved {
        directory_id: rd.clone(),
        service: Trail,
        account,
    };
    let expected = vec![
        joined(management),
        joined(first),
        joined(second),
        joined(invited),
        set(first),
        removed(first),
        set(second),
        removed(second),
        DirectoryEvent::MemberRemoved {
            directory_id: rd.clone(),
            account: second,
        },
    ];
    let events: Vec<_> = received.iter().map(|(_, event)| event.clone()).collect();
    assert_eq!(events, expected);
    assert!(received.windows(2).all(|pair| pair[0].0 < pair[1].0));

    // The durable log matches what was broadcast, also after the metastore is reopened.
    fx.metastore.close().await;
    let reopened = Arc::new(SqliteMetastore::open(&fx.db_path()).await.expect("reopen"));
    let iam = Arc::new(Iam::new(reopened.clone(), MasterKey::generate()));
    let after_restart = ResourceDirectory::new(reopened, iam);
    assert_eq!(
        after_restart.events_since(&rd, 0).await.expect("log"),
        received
    );
    let resume_after = received[4].0;
    assert_eq!(
        after_restart
            .events_since(&rd, resume_after)
            .await
            .expect("tail"),
        received[5..].to_vec()
    );
    let unknown = after_restart
        .events_since("rd-unknown00", 0)
        .await
        .expect_err("unknown directory");
    assert!(
        matches!(unknown, DirectoryError::DirectoryNotFound { .. }),
        "{unknown:?}"
    );
}
