//! The config store: persisted held configs survive a restart; deletions remove them.

use std::collections::BTreeMap;
use std::fs;

use cairn_agent::control::store::file_name;
use cairn_agent::control::{ConfigChange, ConfigStore, ControlUpdate, HeldStatus, StoreChange};

fn upsert(name: &str, version: i64, detail: &[u8]) -> ConfigChange {
    ConfigChange {
        name: name.into(),
        version,
        detail: Some(detail.to_vec()),
        extra: BTreeMap::from([("logstore".to_owned(), "nginx".to_owned())]),
    }
}

fn delete(name: &str) -> ConfigChange {
    ConfigChange {
        name: name.into(),
        version: -1,
        detail: None,
        extra: BTreeMap::new(),
    }
}

fn update(configs: Vec<ConfigChange>) -> ControlUpdate {
    ControlUpdate {
        configs,
        ..ControlUpdate::default()
    }
}

const NGINX: &str = "1234567890123456/web/nginx";
const APP: &str = "1234567890123456/web/app";

#[test]
fn configs_persist_across_a_restart_and_deletions_remove_them() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut store = ConfigStore::open(data.path()).expect("opens");
    assert!(store.load_all().is_empty());

    let nginx = br#"{"inputs":[{"Type":"input_file","FilePaths":["/var/log/nginx/*.log"]}]}"#;
    let changes = store.apply(&update(vec![
        upsert(NGINX, 3, nginx),
        upsert(APP, 1, b"{}"),
    ]));
    assert_eq!(changes.len(), 2);
    assert!(matches!(&changes[0], StoreChange::Upserted(c) if c.name == NGINX && c.version == 3));
    let path = data.path().join("configs").join(file_name(NGINX));
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("file written")).expect("JSON");
    assert_eq!(on_disk["name"], NGINX);
    assert_eq!(on_disk["version"], 3);
    assert_eq!(
        on_disk["detail"].as_str().map(str::as_bytes),
        Some(&nginx[..])
    );
    assert_eq!(on_disk["extra"]["logstore"], "nginx");

    // The same version again changes nothing; a new version does.
    assert!(store
        .apply(&update(vec![upsert(NGINX, 3, nginx)]))
        .is_empty());
    let changes = store.apply(&update(vec![upsert(APP, 2, br#"{"v":2}"#)]));
    assert_eq!(changes.len(), 1);

    // A restarted agent finds both, byte for byte.
    let reopened = ConfigStore::open(data.path()).expect("reopens");
    let all = reopened.load_all();
    assert_eq!(all, store.load_all());
    let names: Vec<(&str, i64)> = all.iter().map(|c| (c.name.as_str(), c.version)).collect();
    assert_eq!(names, [(APP, 2), (NGINX, 3)]);
    assert_eq!(
        reopened.get(NGINX).map(|c| c.detail.as_slice()),
        Some(&nginx[..])
    );
    let held = all[1].held(HeldStatus::Applied, "");
    assert_eq!(
        (held.name.as_str(), held.version, held.status),
        (NGINX, 3, HeldStatus::Applied)
    );

    // Deleting removes the file; deleting an unknown config is a no-op.
    let changes = store.apply(&update(vec![delete(NGINX), delete("never-held")]));
    assert_eq!(changes, [StoreChange::Removed { name: NGINX.into() }]);
    assert!(!path.exists());
    let names: Vec<String> = ConfigStore::open(data.path())
        .expect("reopens")
        .load_all()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, [APP]);
}

#[test]
fn leftovers_and_corrupt_files_do_not_stop_the_agent() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().join("configs");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(".app.json.tmp"), "{half").expect("write");
    fs::write(dir.join("broken.json"), "not json").expect("write");
    fs::write(
        dir.join("zero.json"),
        r#"{"name":"zero","version":0,"detail":"{}"}"#,
    )
    .expect("write");
    fs::write(
        dir.join("ok.json"),
        r#"{"name":"ok","version":7,"detail":"{}"}"#,
    )
    .expect("write");
    let store = ConfigStore::open(data.path()).expect("opens");
    let names: Vec<String> = store.load_all().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["ok"]);
    assert!(
        !dir.join(".app.json.tmp").exists(),
        "temporary leftovers are removed"
    );
}

#[test]
fn a_non_utf8_detail_is_kept_in_memory_only() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut store = ConfigStore::open(data.path()).expect("opens");
    let changes = store.apply(&update(vec![upsert("bin", 1, &[0xff, 0xfe])]));
    assert_eq!(changes.len(), 1);
    assert_eq!(
        store.get("bin").map(|c| c.detail.clone()),
        Some(vec![0xff, 0xfe])
    );
    assert!(!data.path().join("configs").join(file_name("bin")).exists());
}

#[test]
fn file_names_never_escape_the_directory() {
    for name in ["../../etc/passwd", "a/b", ".hidden", "", "空白 name"] {
        let file = file_name(name);
        assert!(
            !file.contains('/') && !file.starts_with('.'),
            "{name:?} -> {file}"
        );
        assert!(file.ends_with(".json"));
    }
    assert_ne!(file_name("a/b"), file_name("a_b"));
}
