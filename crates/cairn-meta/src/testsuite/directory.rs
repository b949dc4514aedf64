//! Suite tests for resource directories ([`DirectoryStore`](crate::DirectoryStore)).

mod invitations;

use cairn_model::AccountId;

pub use self::invitations::invitations_are_answered_once;
use super::{account, account_id};
use crate::{
    DirectoryEvent, DirectoryRecord, DirectoryService, DirectoryStoreError, InvitationRecord,
    InvitationStatus, JoinMethod, Metastore, SequencedEvent,
};

const ENABLED_AT: i64 = 1_700_001_000;

/// Creates accounts `1..=count` named `acct-<n>`.
async fn accounts(metastore: &dyn Metastore, count: u64) {
    for n in 1..=count {
        metastore
            .create_account(&account(n, &format!("acct-{n}")))
            .await
            .expect("account");
    }
}

fn directory(id: &str, management: AccountId) -> DirectoryRecord {
    DirectoryRecord {
        directory_id: id.to_owned(),
        management_account: management,
        enabled_at: ENABLED_AT,
    }
}

fn invitation(id: &str, directory_id: &str, account: AccountId) -> InvitationRecord {
    InvitationRecord {
        invitation_id: id.to_owned(),
        directory_id: directory_id.to_owned(),
        account,
        status: InvitationStatus::Pending,
        created_at: ENABLED_AT + 10,
    }
}

fn joined(directory_id: &str, account: AccountId) -> DirectoryEvent {
    DirectoryEvent::MemberJoined {
        directory_id: directory_id.to_owned(),
        account,
    }
}

fn events_only(events: Vec<SequencedEvent>) -> Vec<DirectoryEvent> {
    events.into_iter().map(|(_, event)| event).collect()
}

/// Enabling: the management account becomes the first member; an account enables or joins at
/// most one directory; ids are unique; unknown accounts are refused.
pub async fn directories_are_enabled_once_per_account(metastore: &dyn Metastore) {
    accounts(metastore, 3).await;
    let management = account_id(1);
    let (member, events) = metastore
        .create_directory(&directory("rd-aaaaaaaaaa", management))
        .await
        .expect("enable");
    assert_eq!(member.account, management);
    assert_eq!(member.account_name, "acct-1");
    assert_eq!(member.join_method, JoinMethod::Management);
    assert_eq!(member.joined_at, ENABLED_AT);
    assert_eq!(
        events_only(events),
        vec![joined("rd-aaaaaaaaaa", management)]
    );

    assert_eq!(
        metastore.get_directory("rd-aaaaaaaaaa").await.expect("get"),
        Some(directory("rd-aaaaaaaaaa", management))
    );
    assert_eq!(
        metastore.get_directory("rd-unknown00").await.expect("get"),
        None
    );
    let membership = metastore
        .directory_membership(management)
        .await
        .expect("membership")
        .expect("management is a member");
    assert_eq!(membership.directory, directory("rd-aaaaaaaaaa", management));
    assert_eq!(membership.member, member);
    assert!(membership.delegated_services.is_empty());
    assert_eq!(
        metastore
            .directory_membership(account_id(2))
            .await
            .expect("membership"),
        None
    );

    let twice = metastore
        .create_directory(&directory("rd-bbbbbbbbbb", management))
        .await
        .expect_err("second directory of the same account");
    assert!(
        matches!(&twice, DirectoryStoreError::AlreadyInDirectory { account, directory_id }
            if *account == management && directory_id == "rd-aaaaaaaaaa"),
        "{twice:?}"
    );
    let clash = metastore
        .create_directory(&directory("rd-aaaaaaaaaa", account_id(2)))
        .await
        .expect_err("taken id");
    assert!(
        matches!(&clash, DirectoryStoreError::IdTaken { id } if id == "rd-aaaaaaaaaa"),
        "{clash:?}"
    );
    // The failed attempt left no trace: account 2 is still free.
    assert_eq!(
        metastore
            .directory_membership(account_id(2))
            .await
            .expect("membership"),
        None
    );
    let unknown = metastore
        .create_directory(&directory("rd-cccccccccc", account_id(99)))
        .await
        .expect_err("unknown account");
    assert!(
        matches!(unknown, DirectoryStoreError::AccountNotFound { account } if account == account_id(99)),
        "{unknown:?}"
    );
}

/// Created members join at once, are listed by account id, and leave with an event; the
/// management account cannot leave; nobody is in two directories.
pub async fn members_join_and_leave(metastore: &dyn Metastore) {
    accounts(metastore, 4).await;
    let rd = "rd-aaaaaaaaaa";
    metastore
        .create_directory(&directory(rd, account_id(3)))
        .await
        .expect("enable");
    metastore
        .create_directory(&directory("rd-bbbbbbbbbb", account_id(4)))
        .await
        .expect("enable another");

    let (member, events) = metastore
        .add_created_member(rd, account_id(1), ENABLED_AT + 5)
        .await
        .expect("add");
    assert_eq!(member.join_method, JoinMethod::Created);
    assert_eq!(member.joined_at, ENABLED_AT + 5);
    assert_eq!(events_only(events), vec![joined(rd, account_id(1))]);

    let again = metastore
        .add_created_member("rd-bbbbbbbbbb", account_id(1), ENABLED_AT + 6)
        .await
        .expect_err("already a member elsewhere");
    assert!(
        matches!(&again, DirectoryStoreError::AlreadyInDirectory { directory_id, .. } if directory_id == rd),
        "{again:?}"
    );
    let no_directory = metastore
        .add_created_member("rd-unknown00", account_id(2), ENABLED_AT)
        .await
        .expect_err("unknown directory");
    assert!(
        matches!(no_directory, DirectoryStoreError::DirectoryNotFound { .. }),
        "{no_directory:?}"
    );

    let members = metastore.list_directory_members(rd).await.expect("list");
    let listed: Vec<_> = members.iter().map(|m| (m.account, m.join_method)).collect();
    assert_eq!(
        listed,
        vec![
            (account_id(1), JoinMethod::Created),
            (account_id(3), JoinMethod::Management)
        ]
    );

    let management = metastore
        .remove_member(rd, account_id(3), ENABLED_AT + 7)
        .await
        .expect_err("management account");
    assert!(
        matches!(
            management,
            DirectoryStoreError::CannotRemoveManagementAccount { .. }
        ),
        "{management:?}"
    );
    let stranger = metastore
        .remove_member(rd, account_id(4), ENABLED_AT + 7)
        .await
        .expect_err("member of another directory");
    assert!(
        matches!(stranger, DirectoryStoreError::NotAMember { account, .. } if account == account_id(4)),
        "{stranger:?}"
    );

    let events = metastore
        .remove_member(rd, account_id(1), ENABLED_AT + 8)
        .await
        .expect("remove");
    assert_eq!(
        events_only(events),
        vec![DirectoryEvent::MemberRemoved {
            directory_id: rd.to_owned(),
            account: account_id(1)
        }]
    );
    assert_eq!(
        metastore
            .directory_membership(account_id(1))
            .await
            .expect("membership"),
        None
    );
    // A removed member is free to join elsewhere.
    metastore
        .add_created_member("rd-bbbbbbbbbb", account_id(1), ENABLED_AT + 9)
        .await
        .expect("join the other directory");
    let missing = metastore
        .list_directory_members("rd-unknown00")
        .await
        .expect_err("unknown directory");
    assert!(
        matches!(missing, DirectoryStoreError::DirectoryNotFound { .. }),
        "{missing:?}"
    );
}

/// Delegated administrators: members only (not the management account), one per service,
/// replaced with two events, dropped with their member.
pub async fn delegated_administrators_follow_membership(metastore: &dyn Metastore) {
    accounts(metastore, 4).await;
    let rd = "rd-aaaaaaaaaa";
    metastore
        .create_directory(&directory(rd, account_id(1)))
        .await
        .expect("enable");
    metastore
        .create_directory(&directory("rd-bbbbbbbbbb", account_id(4)))
        .await
        .expect("enable another");
    for n in [2, 3] {
        metastore
            .add_created_member(rd, account_id(n), ENABLED_AT)
            .await
            .expect("member");
    }
    let (trail, audit) = (DirectoryService::Trail, DirectoryService::LogAudit);

    for (account, what) in [
        (account_id(4), "other directory"),
        (account_id(99), "unknown"),
    ] {
        let refused = metastore
            .set_delegated_administrator(rd, trail, account, ENABLED_AT)
            .await
            .expect_err(what);
        assert!(
            matches!(refused, DirectoryStoreError::NotAMember { .. }),
            "{refused:?}"
        );
    }
    let management = metastore
        .set_delegated_administrator(rd, trail, account_id(1), ENABLED_AT)
        .await
        .expect_err("management account");
    assert!(
        matches!(
            management,
            DirectoryStoreError::CannotDelegateToManagementAccount { .. }
        ),
        "{management:?}"
    );

    let set = |service, account| DirectoryEvent::DelegatedAdministratorSet {
        directory_id: rd.to_owned(),
        service,
        account,
    };
    let removed = |service, account| DirectoryEvent::DelegatedAdministratorRemoved {
        directory_id: rd.to_owned(),
        service,
        account,
    };
    let events = metastore
        .set_delegated_administrator(rd, trail, account_id(2), ENABLED_AT)
        .await
        .expect("set");
    assert_eq!(events_only(events), vec![set(trail, account_id(2))]);
    let unchanged = metastore
        .set_delegated_administrator(rd, trail, account_id(2), ENABLED_AT)
        .await
        .expect("set again");
    assert!(unchanged.is_empty(), "{unchanged:?}");
    let events = metastore
        .set_delegated_administrator(rd, trail, account_id(3), ENABLED_AT)
        .await
        .expect("replace");
    assert_eq!(
        events_only(events),
        vec![removed(trail, account_id(2)), set(trail, account_id(3))]
    );
    metastore
        .set_delegated_administrator(rd, audit, account_id(3), ENABLED_AT)
        .await
        .expect("second service");
    assert_eq!(
        metastore
            .list_delegated_administrators(rd)
            .await
            .expect("list"),
        vec![(trail, account_id(3)), (audit, account_id(3))]
    );
    let membership = metastore
        .directory_membership(account_id(3))
        .await
        .expect("membership")
        .expect("member");
    assert_eq!(membership.delegated_services, vec![trail, audit]);

    let events = metastore
        .remove_delegated_administrator(rd, audit, ENABLED_AT)
        .await
        .expect("remove");
    assert_eq!(events_only(events), vec![removed(audit, account_id(3))]);
    let none = metastore
        .remove_delegated_administrator(rd, audit, ENABLED_AT)
        .await
        .expect_err("nothing to remove");
    assert!(
        matches!(none, DirectoryStoreError::NoDelegatedAdministrator { service, .. } if service == audit),
        "{none:?}"
    );

    // Removing the delegate's account drops its delegation first, each with its event.
    let events = metastore
        .remove_member(rd, account_id(3), ENABLED_AT)
        .await
        .expect("remove member");
    assert_eq!(
        events_only(events),
        vec![
            removed(trail, account_id(3)),
            DirectoryEvent::MemberRemoved {
                directory_id: rd.to_owned(),
                account: account_id(3)
            }
        ]
    );
    assert_eq!(
        metastore
            .list_delegated_administrators(rd)
            .await
            .expect("list"),
        vec![]
    );
}

/// The event log: per directory, in commit order, strictly increasing sequences, readable from
/// any position, and equal to what the writes returned.
pub async fn directory_events_are_logged_in_order(metastore: &dyn Metastore) {
    accounts(metastore, 4).await;
    let (first, second) = ("rd-aaaaaaaaaa", "rd-bbbbbbbbbb");
    let mut returned = Vec::new();
    let (_, events) = metastore
        .create_directory(&directory(first, account_id(1)))
        .await
        .expect("enable");
    returned.extend(events);
    metastore
        .create_directory(&directory(second, account_id(2)))
        .await
        .expect("enable another");
    let (_, events) = metastore
        .add_created_member(first, account_id(3), ENABLED_AT)
        .await
        .expect("member");
    returned.extend(events);
    metastore
        .add_created_member(second, account_id(4), ENABLED_AT)
        .await
        .expect("member of the other");
    returned.extend(
        metastore
            .set_delegated_administrator(first, DirectoryService::Trail, account_id(3), ENABLED_AT)
            .await
            .expect("delegate"),
    );
    returned.extend(
        metastore
            .remove_member(first, account_id(3), ENABLED_AT)
            .await
            .expect("remove"),
    );

    let log = metastore
        .directory_events_since(first, 0)
        .await
        .expect("log");
    assert_eq!(log, returned);
    assert_eq!(log.len(), 5);
    assert!(log.windows(2).all(|pair| pair[0].0 < pair[1].0), "{log:?}");
    assert!(log.iter().all(|(_, event)| event.directory_id() == first));

    let after = log[2].0;
    assert_eq!(
        metastore
            .directory_events_since(first, after)
            .await
            .expect("tail"),
        log[3..].to_vec()
    );
    assert_eq!(
        metastore
            .directory_events_since(first, u64::MAX)
            .await
            .expect("nothing newer"),
        vec![]
    );
    assert_eq!(
        events_only(
            metastore
                .directory_events_since(second, 0)
                .await
                .expect("other log")
        ),
        vec![joined(second, account_id(2)), joined(second, account_id(4))]
    );
    let missing = metastore
        .directory_events_since("rd-unknown00", 0)
        .await
        .expect_err("unknown directory");
    assert!(
        matches!(missing, DirectoryStoreError::DirectoryNotFound { .. }),
        "{missing:?}"
    );
}
