//! The identity files: `users/<account-id>` and `user_defined_id`, re-read on every call.

use std::fs;

use cairn_agent::control::identity::IdentityReader;
use cairn_agent::control::{ControlError, HostIdentity};

use super::support::settings;

const A: &str = "1234567890123456";
const B: &str = "2000000000000001";
const C: &str = "9999999999999999";

#[test]
fn several_users_are_read_sorted_and_invalid_names_are_ignored() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    let users = settings.config_dir.join("users");
    fs::create_dir_all(users.join("3000000000000000")).expect("a directory, not a file");
    for name in [
        C,
        A,
        B,
        "123",
        "0123456789012345",
        "12345678901234567",
        "admin",
    ] {
        fs::write(users.join(name), "").expect("write");
    }
    fs::write(users.join(".1111111111111111.swp"), "").expect("editor leftover");
    let identity =
        HostIdentity::read_with_env(&settings.config_dir, &settings, None).expect("reads");
    assert_eq!(identity.authorized_accounts, [A, B, C]);
    assert_eq!(
        identity.ignored_users,
        [
            "0123456789012345",
            "123",
            "12345678901234567",
            "3000000000000000",
            "admin"
        ]
    );
    assert_eq!(identity.hostname, "web-7");
    assert_eq!(identity.ip, "10.0.0.7");
    assert!(identity.user_defined_ids.is_empty());
}

#[test]
fn missing_files_mean_no_accounts_and_no_identifiers() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    let identity = HostIdentity::read_with_env(&settings.config_dir, &settings, None)
        .expect("a missing config dir is not an error");
    assert!(identity.authorized_accounts.is_empty());
    assert!(identity.user_defined_ids.is_empty());
}

#[test]
fn user_defined_id_lines_are_trimmed_and_the_environment_overrides_them() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    fs::create_dir_all(&settings.config_dir).expect("mkdir");
    fs::write(
        settings.config_dir.join("user_defined_id"),
        "  web-frontend \n\nweb,blue\r\nweb-frontend\n",
    )
    .expect("write");
    let identity =
        HostIdentity::read_with_env(&settings.config_dir, &settings, None).expect("reads");
    assert_eq!(identity.user_defined_ids, ["web-frontend", "web,blue"]);

    let from_env =
        HostIdentity::read_with_env(&settings.config_dir, &settings, Some("k8s-a, k8s-b\nk8s-c"))
            .expect("reads");
    assert_eq!(from_env.user_defined_ids, ["k8s-a", "k8s-b", "k8s-c"]);
    let blank =
        HostIdentity::read_with_env(&settings.config_dir, &settings, Some("  ")).expect("reads");
    assert_eq!(
        blank.user_defined_ids,
        ["web-frontend", "web,blue"],
        "blank env = unset"
    );
}

#[test]
fn changes_are_picked_up_on_the_next_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    let dir = &settings.config_dir;
    let users = dir.join("users");
    fs::create_dir_all(&users).expect("mkdir");
    fs::write(users.join(A), "").expect("write");
    let read = || HostIdentity::read_with_env(dir, &settings, None).expect("reads");
    let first = read();
    assert_eq!(first.authorized_accounts, [A]);

    fs::write(users.join(B), "").expect("add an account");
    fs::write(dir.join("user_defined_id"), "group-1\n").expect("add an identifier");
    let second = read();
    assert_eq!(second.authorized_accounts, [A, B]);
    assert_eq!(second.user_defined_ids, ["group-1"]);

    fs::remove_file(users.join(A)).expect("revoke an account");
    fs::remove_file(dir.join("user_defined_id")).expect("leave the group");
    let third = read();
    assert_eq!(third.authorized_accounts, [B]);
    assert!(third.user_defined_ids.is_empty());
}

#[test]
fn an_unreadable_users_dir_is_an_error_and_the_reader_keeps_the_last_identity() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    let users = settings.config_dir.join("users");
    fs::create_dir_all(&users).expect("mkdir");
    fs::write(users.join(A), "").expect("write");
    let mut reader = IdentityReader::new();
    let first = reader.read(&settings.config_dir, &settings).expect("reads");
    assert_eq!(first.authorized_accounts, [A]);

    // `users` becomes a plain file: listing it fails.
    fs::remove_dir_all(&users).expect("rm");
    fs::write(&users, "").expect("write");
    let direct = HostIdentity::read_with_env(&settings.config_dir, &settings, None);
    assert!(
        matches!(direct, Err(ControlError::Read { .. })),
        "{direct:?}"
    );
    let kept = reader
        .read(&settings.config_dir, &settings)
        .expect("previous identity");
    assert_eq!(kept, first);
}
