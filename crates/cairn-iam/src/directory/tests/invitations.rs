//! Invitations: who may answer them, and the one-directory-per-account rule.

use cairn_meta::JoinMethod;
use cairn_model::AccountId;

use super::{root, user, Fixture};
use crate::directory::DirectoryError;
use crate::InvitationStatus;

#[tokio::test]
async fn invitations_are_accepted_or_declined_by_the_invited_root_and_cancelled_by_management() {
    let fx = Fixture::new().await;
    let (management, rd) = fx.management("central").await;
    let (invited, declining, cancelled, stranger) = (
        fx.account("invited").await,
        fx.account("declining").await,
        fx.account("cancelled").await,
        fx.account("stranger").await,
    );

    let invitation = fx
        .rd
        .invite(&root(management), invited)
        .await
        .expect("invite");
    assert_eq!(invitation.status, InvitationStatus::Pending);
    assert_eq!(invitation.directory_id, rd);
    let again = fx
        .rd
        .invite(&root(management), invited)
        .await
        .expect("again");
    assert_eq!(
        again, invitation,
        "inviting twice returns the pending invitation"
    );
    let by_user = fx
        .rd
        .invite(&user(management), stranger)
        .await
        .expect_err("user");
    assert!(
        matches!(by_user, DirectoryError::NotRoot { .. }),
        "{by_user:?}"
    );

    let id = invitation.invitation_id.as_str();
    let not_theirs = fx
        .rd
        .accept_invitation(&root(stranger), id)
        .await
        .expect_err("someone else's invitation");
    assert!(
        matches!(not_theirs, DirectoryError::InvitationNotFound { .. }),
        "{not_theirs:?}"
    );
    let not_root = fx
        .rd
        .accept_invitation(&user(invited), id)
        .await
        .expect_err("a user of the invited account");
    assert!(
        matches!(not_root, DirectoryError::NotRoot { .. }),
        "{not_root:?}"
    );
    assert_eq!(
        fx.rd.list_invitations(&root(invited)).await.expect("own"),
        vec![invitation.clone()]
    );
    assert_eq!(
        fx.rd.list_invitations(&root(stranger)).await.expect("none"),
        vec![]
    );

    let member = fx
        .rd
        .accept_invitation(&root(invited), id)
        .await
        .expect("accept");
    assert_eq!(member.account, invited);
    assert_eq!(member.join_method, JoinMethod::Invited);
    let twice = fx
        .rd
        .accept_invitation(&root(invited), id)
        .await
        .expect_err("twice");
    assert!(
        matches!(
            twice,
            DirectoryError::InvitationNotPending {
                status: InvitationStatus::Accepted,
                ..
            }
        ),
        "{twice:?}"
    );

    let to_decline = fx
        .rd
        .invite(&root(management), declining)
        .await
        .expect("invite");
    fx.rd
        .decline_invitation(&root(declining), &to_decline.invitation_id)
        .await
        .expect("decline");
    let to_cancel = fx
        .rd
        .invite(&root(management), cancelled)
        .await
        .expect("invite");
    let by_member = fx
        .rd
        .cancel_invitation(&root(invited), &to_cancel.invitation_id)
        .await
        .expect_err("a member cannot cancel");
    assert!(
        matches!(by_member, DirectoryError::NotManagementAccount { .. }),
        "{by_member:?}"
    );
    fx.rd
        .cancel_invitation(&root(management), &to_cancel.invitation_id)
        .await
        .expect("cancel");
    let late = fx
        .rd
        .accept_invitation(&root(cancelled), &to_cancel.invitation_id)
        .await
        .expect_err("cancelled");
    assert!(
        matches!(
            late,
            DirectoryError::InvitationNotPending {
                status: InvitationStatus::Cancelled,
                ..
            }
        ),
        "{late:?}"
    );

    let statuses: Vec<_> = fx
        .rd
        .list_invitations(&root(management))
        .await
        .expect("all")
        .into_iter()
        .map(|i| (i.account, i.status))
        .collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.contains(&(invited, InvitationStatus::Accepted)));
    assert!(statuses.contains(&(declining, InvitationStatus::Declined)));
    assert!(statuses.contains(&(cancelled, InvitationStatus::Cancelled)));
    let listed = fx
        .rd
        .list_members(&root(management))
        .await
        .expect("members");
    assert!(listed.iter().any(|m| m.account == invited));
    assert!(!listed
        .iter()
        .any(|m| m.account == declining || m.account == cancelled));

    // Another directory's management account cannot cancel this directory's invitations.
    let (other, _) = fx.management("other central").await;
    let pending = fx
        .rd
        .invite(&root(management), stranger)
        .await
        .expect("invite");
    let foreign = fx
        .rd
        .cancel_invitation(&root(other), &pending.invitation_id)
        .await
        .expect_err("another directory");
    assert!(
        matches!(foreign, DirectoryError::InvitationNotFound { .. }),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn an_account_in_one_directory_cannot_be_invited_into_another() {
    let fx = Fixture::new().await;
    let (first, _) = fx.management("first").await;
    let (second, second_rd) = fx.management("second").await;
    let member_of_second = fx.member(second, "team-b").await;
    for account in [second, member_of_second] {
        let refused = fx
            .rd
            .invite(&root(first), account)
            .await
            .expect_err("taken");
        assert!(
            matches!(&refused, DirectoryError::AlreadyInDirectory { directory_id, .. } if *directory_id == second_rd),
            "{refused:?}"
        );
    }
    let unknown = AccountId::parse("9999999999999999").expect("id");
    let missing = fx
        .rd
        .invite(&root(first), unknown)
        .await
        .expect_err("unknown");
    assert!(
        matches!(missing, DirectoryError::AccountNotFound { .. }),
        "{missing:?}"
    );

    // Invited by both: whichever is accepted first wins, the other can no longer be accepted.
    let both = fx.account("courted").await;
    let from_first = fx.rd.invite(&root(first), both).await.expect("invite");
    let from_second = fx.rd.invite(&root(second), both).await.expect("invite");
    fx.rd
        .accept_invitation(&root(both), &from_second.invitation_id)
        .await
        .expect("accept second");
    let late = fx
        .rd
        .accept_invitation(&root(both), &from_first.invitation_id)
        .await
        .expect_err("already a member of the second");
    assert!(
        matches!(late, DirectoryError::AlreadyInDirectory { .. }),
        "{late:?}"
    );
}
