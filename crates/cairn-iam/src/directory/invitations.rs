//! [`ResourceDirectory`]'s invitations: the management root invites an existing account in no
//! directory; the invited account's root accepts (and joins) or declines; the management root
//! may cancel while the invitation is pending.
//!
//! An invitation id is answered only to the invited account and to the inviting management
//! account; to anyone else it does not exist.

use cairn_meta::{DirectoryStoreError, InvitationRecord, InvitationStatus, MemberRecord};
use cairn_model::AccountId;

use super::{generate_id, require_root, DirectoryError, ResourceDirectory, ID_ATTEMPTS};
use crate::Principal;

impl ResourceDirectory {
    /// Invites an existing account in no directory to join the caller's directory. Management
    /// root only. Inviting an account that already has a pending invitation returns it.
    pub async fn invite(
        &self,
        caller: &Principal,
        account: AccountId,
    ) -> Result<InvitationRecord, DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let mut last_id = String::new();
        for _ in 0..ID_ATTEMPTS {
            let invitation = InvitationRecord {
                invitation_id: generate_id("inv-", 16),
                directory_id: directory.directory_id.clone(),
                account,
                status: InvitationStatus::Pending,
                created_at: self.now(),
            };
            match self.meta.create_invitation(&invitation).await {
                Ok(sent) => {
                    tracing::info!(
                        directory_id = %sent.directory_id,
                        account = %account,
                        invitation_id = %sent.invitation_id,
                        "account invited"
                    );
                    return Ok(sent);
                }
                Err(DirectoryStoreError::IdTaken { id }) => last_id = id,
                Err(err) => return Err(err.into()),
            }
        }
        Err(DirectoryError::IdTaken { id: last_id })
    }

    /// The invitation `id` if it was sent to the caller's account.
    async fn invitation_to(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<InvitationRecord, DirectoryError> {
        require_root(caller)?;
        let invitation = self.meta.get_invitation(id).await?;
        if invitation.account != caller.account {
            return Err(DirectoryError::InvitationNotFound { id: id.to_owned() });
        }
        Ok(invitation)
    }

    /// Accepts an invitation: the caller's account joins. Root of the invited account only.
    pub async fn accept_invitation(
        &self,
        caller: &Principal,
        invitation_id: &str,
    ) -> Result<MemberRecord, DirectoryError> {
        let invitation = self.invitation_to(caller, invitation_id).await?;
        let member = self
            .write(async {
                let (_, member, events) = self
                    .meta
                    .accept_invitation(invitation_id, self.now())
                    .await?;
                Ok((member, events))
            })
            .await?;
        tracing::info!(
            directory_id = %invitation.directory_id,
            account = %member.account,
            invitation_id,
            "invitation accepted"
        );
        Ok(member)
    }

    /// Declines an invitation. Root of the invited account only.
    pub async fn decline_invitation(
        &self,
        caller: &Principal,
        invitation_id: &str,
    ) -> Result<(), DirectoryError> {
        self.invitation_to(caller, invitation_id).await?;
        self.meta
            .close_invitation(invitation_id, InvitationStatus::Declined, self.now())
            .await?;
        tracing::info!(account = %caller.account, invitation_id, "invitation declined");
        Ok(())
    }

    /// Withdraws an invitation. Root of the inviting management account only.
    pub async fn cancel_invitation(
        &self,
        caller: &Principal,
        invitation_id: &str,
    ) -> Result<(), DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let invitation = self.meta.get_invitation(invitation_id).await?;
        if invitation.directory_id != directory.directory_id {
            return Err(DirectoryError::InvitationNotFound {
                id: invitation_id.to_owned(),
            });
        }
        self.meta
            .close_invitation(invitation_id, InvitationStatus::Cancelled, self.now())
            .await?;
        tracing::info!(directory_id = %directory.directory_id, invitation_id, "invitation cancelled");
        Ok(())
    }

    /// Invitations the caller's root may see: every invitation of its directory for the
    /// management account, otherwise those sent to the caller's account. Oldest first.
    pub async fn list_invitations(
        &self,
        caller: &Principal,
    ) -> Result<Vec<InvitationRecord>, DirectoryError> {
        require_root(caller)?;
        match self.meta.directory_membership(caller.account).await? {
            Some(membership) if membership.directory.management_account == caller.account => {
                Ok(self
                    .meta
                    .list_directory_invitations(&membership.directory.directory_id)
                    .await?)
            }
            _ => Ok(self.meta.list_account_invitations(caller.account).await?),
        }
    }
}
