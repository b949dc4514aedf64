//! `ResourceDirectory` against a real SQLite metastore: who may do what, membership rules,
//! delegated administrators, and the live and durable event streams.

mod events;
mod invitations;

use std::path::PathBuf;
use std::sync::Arc;

use cairn_meta::DirectoryService::{LogAudit, Trail};
use cairn_meta::{JoinMethod, SqliteMetastore};
use cairn_model::{AccessKeyId, AccountId, UserName};
use tempfile::TempDir;

use super::{DirectoryError, DirectoryRole, ResourceDirectory};
use crate::{Iam, KeyCredential, ManualClock, MasterKey, Principal, SecretString};

struct Fixture {
    dir: TempDir,
    metastore: Arc<SqliteMetastore>,
    iam: Arc<Iam>,
    clock: Arc<ManualClock>,
    rd: ResourceDirectory,
}

/// The time the fixture's clock starts at.
const START: i64 = 1_700_000_000;

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let metastore = Arc::new(
            SqliteMetastore::open(&dir.path().join("meta.db"))
                .await
                .expect("open"),
        );
        let clock = Arc::new(ManualClock::new(START));
        let iam = Arc::new(Iam::with_clock(
            metastore.clone(),
            MasterKey::generate(),
            clock.clone(),
        ));
        let rd = ResourceDirectory::new(metastore.clone(), iam.clone());
        Self {
            dir,
            metastore,
            iam,
            clock,
            rd,
        }
    }

    fn db_path(&self) -> PathBuf {
        self.dir.path().join("meta.db")
    }

    async fn account(&self, name: &str) -> AccountId {
        self.iam.create_account(name).await.expect("account").id
    }

    /// A fresh account whose root enables a directory; returns the account and directory id.
    async fn management(&self, name: &str) -> (AccountId, String) {
        let account = self.account(name).await;
        let directory = self.rd.enable(&root(account)).await.expect("enable");
        (account, directory.directory_id)
    }

    async fn member(&self, management: AccountId, name: &str) -> AccountId {
        self.rd
            .create_member(&root(management), name)
            .await
            .expect("create member")
            .account
    }
}

/// A principal as authentication makes it (through `KeyCredential`, so that the test does not
/// depend on how `Principal` is laid out).
fn principal(account: AccountId, user: Option<UserName>) -> Principal {
    KeyCredential {
        access_key_id: AccessKeyId::parse("LTAItestkey000000001").expect("key id"),
        account,
        user,
        secret: SecretString::new("not-used".to_owned()),
    }
    .principal(None)
}

fn root(account: AccountId) -> Principal {
    principal(account, None)
}

fn user(account: AccountId) -> Principal {
    principal(account, Some(UserName::parse("alice").expect("user name")))
}

fn members(list: &[crate::MemberRecord]) -> Vec<(AccountId, JoinMethod)> {
    list.iter().map(|m| (m.account, m.join_method)).collect()
}

#[tokio::test]
async fn enabling_needs_the_root_of_an_account_in_no_directory() {
    let fx = Fixture::new().await;
    let account = fx.account("central").await;
    let refused = fx.rd.enable(&user(account)).await.expect_err("a user");
    assert!(
        matches!(refused, DirectoryError::NotRoot { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("root AccessKey"), "{refused}");

    let directory = fx.rd.enable(&root(account)).await.expect("enable");
    assert_eq!(directory.management_account, account);
    assert_eq!(
        directory.enabled_at, START,
        "times come from the Iam's clock"
    );
    let suffix = directory
        .directory_id
        .strip_prefix("rd-")
        .expect("rd- prefix");
    assert_eq!(suffix.len(), 10);
    assert!(suffix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));

    let twice = fx.rd.enable(&root(account)).await.expect_err("twice");
    assert!(
        matches!(&twice, DirectoryError::AlreadyInDirectory { directory_id, .. } if *directory_id == directory.directory_id),
        "{twice:?}"
    );
    fx.clock.advance(10);
    let member = fx.member(account, "team-a").await;
    let own = fx.rd.enable(&root(member)).await.expect_err("a member");
    assert!(
        matches!(own, DirectoryError::AlreadyInDirectory { .. }),
        "{own:?}"
    );

    // The management account is listed as a member; `get` tells each account its role.
    let listed = fx.rd.list_members(&root(account)).await.expect("list");
    let joined: Vec<_> = listed.iter().map(|m| (m.account, m.joined_at)).collect();
    assert!(joined.contains(&(account, START)) && joined.contains(&(member, START + 10)));
    let mut expected = vec![
        (account, JoinMethod::Management),
        (member, JoinMethod::Created),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(members(&listed), expected);
    let (got, role) = fx
        .rd
        .get(&user(account))
        .await
        .expect("get")
        .expect("in a directory");
    assert_eq!((got, role), (directory.clone(), DirectoryRole::Management));
    let (_, role) = fx
        .rd
        .get(&root(member))
        .await
        .expect("get")
        .expect("member");
    assert_eq!(role, DirectoryRole::Member);
    let outsider = fx.account("outsider").await;
    assert_eq!(fx.rd.get(&root(outsider)).await.expect("get"), None);
    assert_eq!(
        fx.rd.directory_of(member).await.expect("of"),
        Some(directory)
    );
    assert_eq!(fx.rd.directory_of(outsider).await.expect("of"), None);
}

#[tokio::test]
async fn only_the_management_root_creates_members_and_gets_no_keys_for_them() {
    let fx = Fixture::new().await;
    let (management, _) = fx.management("central").await;
    let created = fx
        .rd
        .create_member(&root(management), "team-a")
        .await
        .expect("create");
    assert_eq!(created.account_name, "team-a");
    assert_eq!(created.join_method, JoinMethod::Created);
    assert_eq!(
        fx.iam
            .get_account(created.account)
            .await
            .expect("account")
            .name,
        "team-a"
    );
    assert!(fx
        .iam
        .list_access_keys(created.account)
        .await
        .expect("keys")
        .is_empty());

    let by_user = fx
        .rd
        .create_member(&user(management), "x")
        .await
        .expect_err("user");
    assert!(
        matches!(by_user, DirectoryError::NotRoot { .. }),
        "{by_user:?}"
    );
    let by_member = fx
        .rd
        .create_member(&root(created.account), "x")
        .await
        .expect_err("member");
    assert!(
        matches!(by_member, DirectoryError::NotManagementAccount { .. }),
        "{by_member:?}"
    );
    let outsider = fx.account("outsider").await;
    let by_outsider = fx
        .rd
        .create_member(&root(outsider), "x")
        .await
        .expect_err("outsider");
    assert!(
        matches!(by_outsider, DirectoryError::NoDirectory { account } if account == outsider),
        "{by_outsider:?}"
    );
    let bad_name = fx
        .rd
        .create_member(&root(management), "")
        .await
        .expect_err("empty name");
    assert!(matches!(bad_name, DirectoryError::Iam(_)), "{bad_name:?}");
    // Refused calls created no accounts: central, team-a, outsider.
    assert_eq!(fx.iam_account_count().await, 3);
}

impl Fixture {
    async fn iam_account_count(&self) -> usize {
        use cairn_meta::Metastore;
        self.metastore
            .list_accounts()
            .await
            .expect("accounts")
            .len()
    }
}

#[tokio::test]
async fn management_removes_members_but_not_itself() {
    let fx = Fixture::new().await;
    let (management, _) = fx.management("central").await;
    let member = fx.member(management, "team-a").await;
    let (other, _) = fx.management("other").await;

    let own = fx
        .rd
        .remove_member(&root(management), management)
        .await
        .expect_err("itself");
    assert!(
        matches!(own, DirectoryError::CannotRemoveManagementAccount { .. }),
        "{own:?}"
    );
    let foreign = fx
        .rd
        .remove_member(&root(management), other)
        .await
        .expect_err("not a member");
    assert!(
        matches!(foreign, DirectoryError::NotAMember { .. }),
        "{foreign:?}"
    );
    let by_member = fx
        .rd
        .remove_member(&root(member), member)
        .await
        .expect_err("by the member");
    assert!(
        matches!(by_member, DirectoryError::NotManagementAccount { .. }),
        "{by_member:?}"
    );

    fx.rd
        .remove_member(&root(management), member)
        .await
        .expect("remove");
    assert_eq!(
        members(&fx.rd.list_members(&root(management)).await.expect("list")),
        vec![(management, JoinMethod::Management)]
    );
    assert_eq!(fx.rd.get(&root(member)).await.expect("get"), None);
    // Free again: another directory may invite it.
    let invitation = fx.rd.invite(&root(other), member).await.expect("invite");
    fx.rd
        .accept_invitation(&root(member), &invitation.invitation_id)
        .await
        .expect("join the other");
}

#[tokio::test]
async fn delegated_administrators_are_members_one_per_service() {
    let fx = Fixture::new().await;
    let (management, rd) = fx.management("central").await;
    let (first, second) = (
        fx.member(management, "a").await,
        fx.member(management, "b").await,
    );
    let outsider = fx.account("outsider").await;

    let refused = fx
        .rd
        .set_delegated_administrator(&root(management), Trail, outsider)
        .await
        .expect_err("not a member");
    assert!(
        matches!(refused, DirectoryError::NotAMember { .. }),
        "{refused:?}"
    );
    let itself = fx
        .rd
        .set_delegated_administrator(&root(management), Trail, management)
        .await
        .expect_err("management");
    assert!(
        matches!(
            itself,
            DirectoryError::CannotDelegateToManagementAccount { .. }
        ),
        "{itself:?}"
    );
    let by_member = fx
        .rd
        .set_delegated_administrator(&root(first), Trail, first)
        .await
        .expect_err("by a member");
    assert!(
        matches!(by_member, DirectoryError::NotManagementAccount { .. }),
        "{by_member:?}"
    );

    fx.rd
        .set_delegated_administrator(&root(management), Trail, first)
        .await
        .expect("set");
    fx.rd
        .set_delegated_administrator(&root(management), Trail, second)
        .await
        .expect("replace");
    fx.rd
        .set_delegated_administrator(&root(management), LogAudit, second)
        .await
        .expect("second service");
    assert_eq!(
        fx.rd
            .delegated_administrators(&root(management))
            .await
            .expect("list"),
        vec![(Trail, second), (LogAudit, second)]
    );

    // The delegate may list; a plain member, a user and an outsider may not.
    assert_eq!(
        fx.rd
            .list_members(&root(second))
            .await
            .expect("delegate lists")
            .len(),
        3
    );
    assert_eq!(
        fx.rd
            .delegated_administrators(&root(second))
            .await
            .expect("delegate lists")
            .len(),
        2
    );
    let (_, role) = fx
        .rd
        .get(&root(second))
        .await
        .expect("get")
        .expect("member");
    assert_eq!(
        role,
        DirectoryRole::DelegatedAdministrator(vec![Trail, LogAudit])
    );
    let plain = fx
        .rd
        .list_members(&root(first))
        .await
        .expect_err("plain member");
    assert!(
        matches!(
            plain,
            DirectoryError::NotManagementOrDelegatedAdministrator { .. }
        ),
        "{plain:?}"
    );
    let not_root = fx.rd.list_members(&user(second)).await.expect_err("a user");
    assert!(
        matches!(not_root, DirectoryError::NotRoot { .. }),
        "{not_root:?}"
    );
    let stranger = fx
        .rd
        .list_members(&root(outsider))
        .await
        .expect_err("outsider");
    assert!(
        matches!(stranger, DirectoryError::NoDirectory { account } if account == outsider),
        "{stranger:?}"
    );
    assert!(
        stranger.to_string().contains("in no resource directory"),
        "{stranger}"
    );

    fx.rd
        .remove_delegated_administrator(&root(management), LogAudit)
        .await
        .expect("remove");
    let none = fx
        .rd
        .remove_delegated_administrator(&root(management), LogAudit)
        .await
        .expect_err("nothing left");
    assert!(
        matches!(none, DirectoryError::NoDelegatedAdministrator { .. }),
        "{none:?}"
    );
    // Removing the delegate's account removes its delegation.
    fx.rd
        .remove_member(&root(management), second)
        .await
        .expect("remove member");
    assert_eq!(
        fx.rd.delegated_administrators_of(&rd).await.expect("list"),
        vec![]
    );
}
