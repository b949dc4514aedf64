//! Tests of the agent's control plane (`cairn_agent::control`): settings, identity files,
//! heartbeat client against a real HTTP server, write tokens, config store, and the install
//! script in dry-run and `--root` modes.

mod control {
    mod heartbeat;
    mod identity;
    mod install;
    mod settings;
    mod store;
    mod support;
    mod tokens;
}
