//! Master key: sealing round trips and tamper detection; key file creation, reload and refusal.

use super::*;

#[test]
fn seal_and_open_round_trip() {
    let key = MasterKey::generate();
    let (nonce, ciphertext) = key.encrypt(b"the secret", b"LTAIaaaa").expect("seal");
    assert_eq!(nonce.len(), NONCE_LEN);
    assert!(!ciphertext.windows(10).any(|w| w == b"the secret"));
    let opened = key.decrypt(&nonce, &ciphertext, b"LTAIaaaa").expect("open");
    assert_eq!(opened.as_slice(), b"the secret");
    // Fresh nonce every time: the same plaintext never seals to the same bytes.
    let (nonce_again, ciphertext_again) = key.encrypt(b"the secret", b"LTAIaaaa").expect("seal");
    assert_ne!((nonce, ciphertext), (nonce_again, ciphertext_again));
}

#[test]
fn tampering_wrong_associated_data_or_wrong_key_fail() {
    let key = MasterKey::generate();
    let (nonce, ciphertext) = key.encrypt(b"the secret", b"LTAIaaaa").expect("seal");

    let mut flipped = ciphertext.clone();
    flipped[0] ^= 1;
    assert!(matches!(
        key.decrypt(&nonce, &flipped, b"LTAIaaaa"),
        Err(IamError::Crypto(_))
    ));
    let mut other_nonce = nonce.clone();
    other_nonce[0] ^= 1;
    assert!(key.decrypt(&other_nonce, &ciphertext, b"LTAIaaaa").is_err());
    assert!(key.decrypt(&nonce, &ciphertext, b"LTAIbbbb").is_err());
    assert!(key.decrypt(&nonce[..8], &ciphertext, b"LTAIaaaa").is_err());
    assert!(MasterKey::generate()
        .decrypt(&nonce, &ciphertext, b"LTAIaaaa")
        .is_err());
}

#[test]
fn env_value_must_be_32_base64_bytes() {
    let encoded = BASE64.encode([7u8; MASTER_KEY_LEN]);
    let key = MasterKey::from_env_value(&format!(" {encoded}\n")).expect("valid");
    let (nonce, ciphertext) = key.encrypt(b"x", b"ad").expect("seal");
    let same = MasterKey::from_env_value(&encoded).expect("valid");
    assert_eq!(
        same.decrypt(&nonce, &ciphertext, b"ad")
            .expect("open")
            .as_slice(),
        b"x"
    );
    for bad in ["not base64!", &BASE64.encode([7u8; 16]), ""] {
        assert!(matches!(
            MasterKey::from_env_value(bad),
            Err(IamError::InvalidMasterKey { .. })
        ));
    }
}

#[test]
fn debug_does_not_print_the_key() {
    let key = MasterKey::from_env_value(&BASE64.encode([0xAB; MASTER_KEY_LEN])).expect("valid");
    let printed = format!("{key:?}");
    assert_eq!(printed, "MasterKey(***)");
    assert!(!printed.contains(&BASE64.encode([0xAB; MASTER_KEY_LEN])));
}

#[cfg(unix)]
mod key_file {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn created_with_mode_0600_and_reloaded_as_the_same_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("master.key");
        let created = MasterKey::load_or_create(&path).expect("create");
        assert_eq!(mode(&path), 0o600);
        // Only the key file is left behind, no temporary.
        let entries: Vec<_> = fs::read_dir(dir.path()).expect("read dir").collect();
        assert_eq!(entries.len(), 1);

        let (nonce, ciphertext) = created.encrypt(b"secret", b"id").expect("seal");
        let reloaded = MasterKey::load_or_create(&path).expect("reload");
        assert_eq!(
            reloaded
                .decrypt(&nonce, &ciphertext, b"id")
                .expect("same key")
                .as_slice(),
            b"secret"
        );
        // The file holds the env form, so an operator can move it into CAIRN_MASTER_KEY.
        let text = fs::read_to_string(&path).expect("read");
        let from_env = MasterKey::from_env_value(&text).expect("env form");
        assert!(from_env.decrypt(&nonce, &ciphertext, b"id").is_ok());
    }

    #[test]
    fn group_or_world_accessible_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path).expect("create");
        for loose in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).expect("chmod");
            let err = MasterKey::load_or_create(&path).expect_err("refused");
            assert!(
                matches!(&err, IamError::InsecureMasterKeyFile { path: p, .. } if p == &path),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        MasterKey::load_or_create(&path).expect("accepted again");
    }

    #[test]
    fn garbage_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("master.key");
        write_private_file(&path, b"definitely not a key\n").expect("write");
        let err = MasterKey::load_or_create(&path).expect_err("refused");
        assert!(matches!(err, IamError::InvalidMasterKey { .. }), "{err:?}");
        assert_eq!(
            fs::read(&path).expect("read"),
            b"definitely not a key\n",
            "the bad file must be left for the operator"
        );
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("no-such-dir").join("master.key");
        let err = MasterKey::load_or_create(&path).expect_err("no dir");
        assert!(matches!(err, IamError::MasterKeyFile { .. }), "{err:?}");
    }
}
