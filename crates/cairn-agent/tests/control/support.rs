//! Shared helpers of the control tests.

use std::path::Path;

use cairn_agent::control::AgentSettings;

/// Settings for `endpoint` with test directories under `root`, a fixed IP and host name.
pub fn settings(endpoint: &str, root: &Path) -> AgentSettings {
    let mut settings = AgentSettings::new(endpoint, "AKIDagent", "agent-secret");
    settings.config_dir = root.join("etc");
    settings.data_dir = root.join("data");
    settings.ip_override = Some("10.0.0.7".to_owned());
    settings.hostname_override = Some("web-7".to_owned());
    settings.tags.insert("env".to_owned(), "test".to_owned());
    settings
}
