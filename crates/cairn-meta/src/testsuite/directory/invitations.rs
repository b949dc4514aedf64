//! Suite tests for directory invitations.

use super::{accounts, directory, events_only, invitation, joined, ENABLED_AT};
use crate::testsuite::account_id;
use crate::{DirectoryStoreError, InvitationRecord, InvitationStatus, JoinMethod, Metastore};

/// Invitations: idempotent while pending, answered once, and accepting makes a member unless
/// the account joined another directory meanwhile.
pub async fn invitations_are_answered_once(metastore: &dyn Metastore) {
    accounts(metastore, 5).await;
    let rd = "rd-aaaaaaaaaa";
    metastore
        .create_directory(&directory(rd, account_id(1)))
        .await
        .expect("enable");
    metastore
        .create_directory(&directory("rd-bbbbbbbbbb", account_id(5)))
        .await
        .expect("enable another");

    let sent = metastore
        .create_invitation(&invitation("inv-0000000000000001", rd, account_id(2)))
        .await
        .expect("invite");
    assert_eq!(sent, invitation("inv-0000000000000001", rd, account_id(2)));
    let repeated = metastore
        .create_invitation(&invitation("inv-0000000000000002", rd, account_id(2)))
        .await
        .expect("invite again");
    assert_eq!(repeated.invitation_id, "inv-0000000000000001", "idempotent");
    for (account, expected) in [(account_id(1), "management"), (account_id(5), "member")] {
        let refused = metastore
            .create_invitation(&invitation("inv-0000000000000009", rd, account))
            .await
            .expect_err(expected);
        assert!(
            matches!(refused, DirectoryStoreError::AlreadyInDirectory { .. }),
            "{refused:?}"
        );
    }
    let unknown = metastore
        .create_invitation(&invitation("inv-0000000000000009", rd, account_id(99)))
        .await
        .expect_err("unknown account");
    assert!(
        matches!(unknown, DirectoryStoreError::AccountNotFound { .. }),
        "{unknown:?}"
    );

    // Accept: the account joins, the invitation is Accepted and cannot be answered again.
    let (accepted, member, events) = metastore
        .accept_invitation("inv-0000000000000001", ENABLED_AT + 20)
        .await
        .expect("accept");
    assert_eq!(accepted.status, InvitationStatus::Accepted);
    assert_eq!(member.join_method, JoinMethod::Invited);
    assert_eq!(member.joined_at, ENABLED_AT + 20);
    assert_eq!(events_only(events), vec![joined(rd, account_id(2))]);
    let answered = metastore
        .close_invitation("inv-0000000000000001", InvitationStatus::Declined, 1)
        .await
        .expect_err("already accepted");
    assert!(
        matches!(
            answered,
            DirectoryStoreError::InvitationNotPending {
                status: InvitationStatus::Accepted,
                ..
            }
        ),
        "{answered:?}"
    );

    // Decline and cancel.
    for (id, account, status) in [
        (
            "inv-0000000000000003",
            account_id(3),
            InvitationStatus::Declined,
        ),
        (
            "inv-0000000000000004",
            account_id(4),
            InvitationStatus::Cancelled,
        ),
    ] {
        metastore
            .create_invitation(&invitation(id, rd, account))
            .await
            .expect("invite");
        let closed = metastore
            .close_invitation(id, status, ENABLED_AT + 30)
            .await
            .expect("close");
        assert_eq!(closed.status, status);
        assert_eq!(metastore.get_invitation(id).await.expect("get"), closed);
        let late = metastore
            .accept_invitation(id, ENABLED_AT + 31)
            .await
            .expect_err("closed");
        assert!(
            matches!(late, DirectoryStoreError::InvitationNotPending { .. }),
            "{late:?}"
        );
    }

    // An account invited by two directories joins one; the other invitation cannot be accepted.
    metastore
        .create_invitation(&invitation("inv-0000000000000005", rd, account_id(3)))
        .await
        .expect("invite again after declining");
    metastore
        .create_invitation(&invitation(
            "inv-0000000000000006",
            "rd-bbbbbbbbbb",
            account_id(3),
        ))
        .await
        .expect("invite from another directory");
    metastore
        .accept_invitation("inv-0000000000000006", ENABLED_AT + 40)
        .await
        .expect("accept the other");
    let taken = metastore
        .accept_invitation("inv-0000000000000005", ENABLED_AT + 41)
        .await
        .expect_err("already in a directory");
    assert!(
        matches!(&taken, DirectoryStoreError::AlreadyInDirectory { directory_id, .. } if directory_id == "rd-bbbbbbbbbb"),
        "{taken:?}"
    );
    assert_eq!(
        metastore
            .get_invitation("inv-0000000000000005")
            .await
            .expect("get")
            .status,
        InvitationStatus::Pending
    );
    let refused = metastore
        .close_invitation("inv-0000000000000005", InvitationStatus::Accepted, 1)
        .await
        .expect_err("closing as accepted");
    assert!(
        matches!(
            refused,
            DirectoryStoreError::InvitationNotPending {
                status: InvitationStatus::Pending,
                ..
            }
        ),
        "{refused:?}"
    );

    let ids = |list: Vec<InvitationRecord>| -> Vec<String> {
        list.into_iter().map(|i| i.invitation_id).collect()
    };
    assert_eq!(
        ids(metastore
            .list_directory_invitations(rd)
            .await
            .expect("list")),
        [
            "inv-0000000000000001",
            "inv-0000000000000003",
            "inv-0000000000000004",
            "inv-0000000000000005"
        ]
    );
    assert_eq!(
        ids(metastore
            .list_account_invitations(account_id(3))
            .await
            .expect("list")),
        [
            "inv-0000000000000003",
            "inv-0000000000000005",
            "inv-0000000000000006"
        ]
    );
    let missing = metastore
        .get_invitation("inv-nope")
        .await
        .expect_err("unknown");
    assert!(
        matches!(missing, DirectoryStoreError::InvitationNotFound { .. }),
        "{missing:?}"
    );
}
