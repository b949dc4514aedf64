//! `packaging/install-agent.sh`: dry run, refusal without root, and an idempotent install
//! under `--root` (which skips systemctl) whose settings file the agent accepts.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_agent::control::AgentSettings;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/install-agent.sh")
}

/// Runs the script with `args`, pretending to have effective uid `euid`.
fn run(euid: &str, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("CAIRN_INSTALL_EUID", euid)
        .env_remove("CAIRN_AGENT_ACCESS_KEY_SECRET")
        .env_remove("CAIRN_AGENT_ACCESS_KEY_ID")
        .env_remove("CAIRN_AGENT_ENDPOINT")
        .output()
        .expect("bash runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A temp dir with a fake binary; returns (dir, binary, install root).
fn fixture() -> (tempfile::TempDir, String, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = dir.path().join("cairn");
    std::fs::write(&binary, "#!/bin/sh\n").expect("write");
    let root = dir.path().join("root");
    (dir, binary.display().to_string(), root)
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let (_dir, binary, root) = fixture();
    let root_arg = root.display().to_string();
    let output = run(
        "1000",
        &[
            "--dry-run",
            "--root",
            &root_arg,
            "--binary",
            &binary,
            "--account",
            "1234567890123456",
            "--user-defined-id",
            "web",
        ],
    );
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for expected in [
        "dry run: nothing will be changed",
        "usr/local/bin/cairn",
        "would run: install -d -m 0755",
        "etc/cairn/users",
        "var/lib/cairn-agent",
        "would write: ",
        "etc/cairn/agent.toml (mode 0600)",
        "would run: touch ",
        "users/1234567890123456",
        "would append: web",
        "etc/systemd/system/cairn-agent.service",
    ] {
        assert!(
            printed.contains(expected),
            "missing {expected:?} in:\n{printed}"
        );
    }
    assert!(!root.exists(), "a dry run creates nothing");
}

#[test]
fn a_real_run_needs_root_and_checks_its_arguments() {
    let (_dir, binary, root) = fixture();
    let root_arg = root.display().to_string();
    let output = run("1000", &["--root", &root_arg, "--binary", &binary]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("must run as root"),
        "{}",
        text(&output)
    );
    assert!(!root.exists());
    let bad_account = run("0", &["--dry-run", "--binary", &binary, "--account", "42"]);
    assert!(!bad_account.status.success());
    assert!(text(&bad_account).contains("not a 16-digit account id"));
    let unknown = run("0", &["--dry-run", "--binary", &binary, "--frobnicate"]);
    assert!(!unknown.status.success());
    let no_binary = run("0", &["--dry-run", "--binary", "/nonexistent/cairn"]);
    assert!(!no_binary.status.success());
}

#[test]
fn installing_twice_under_a_root_is_idempotent() {
    let (_dir, binary, root) = fixture();
    let root_arg = root.display().to_string();
    let args = [
        "--root",
        &root_arg,
        "--binary",
        &binary,
        "--endpoint",
        "http://10.0.0.1:7480",
        "--access-key-id",
        "AKID",
        "--access-key-secret",
        "SECRET",
        "--account",
        "1234567890123456",
        "--user-defined-id",
        "web",
    ];
    let first = run("0", &args);
    assert!(first.status.success(), "{}", text(&first));
    let settings_path = root.join("etc/cairn/agent.toml");
    let mode = std::fs::metadata(&settings_path)
        .expect("settings")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let bin = std::fs::metadata(root.join("usr/local/bin/cairn")).expect("binary");
    assert_eq!(bin.permissions().mode() & 0o777, 0o755);
    assert!(root.join("etc/cairn/users/1234567890123456").is_file());
    assert!(root
        .join("etc/systemd/system/cairn-agent.service")
        .is_file());
    let state = std::fs::metadata(root.join("var/lib/cairn-agent")).expect("data dir");
    assert_eq!(state.permissions().mode() & 0o777, 0o700);
    assert!(text(&first).contains("skipped: systemctl"));

    // The settings file written is one the agent accepts.
    let settings = AgentSettings::load(&settings_path).expect("valid settings");
    assert_eq!(settings.endpoint, "http://10.0.0.1:7480");
    assert_eq!(settings.access_key_id, "AKID");

    // A second run changes nothing and keeps an edited settings file.
    std::fs::write(&settings_path, "# edited\n").expect("edit");
    let second = run("0", &args);
    let printed = text(&second);
    assert!(second.status.success(), "{printed}");
    assert!(
        !printed.contains("run: ") && !printed.contains("write: "),
        "{printed}"
    );
    assert!(printed.contains("unchanged: "), "{printed}");
    assert_eq!(
        std::fs::read_to_string(&settings_path).expect("read"),
        "# edited\n"
    );
    let ids = std::fs::read_to_string(root.join("etc/cairn/user_defined_id")).expect("ids");
    assert_eq!(ids, "web\n");
}
