//! Cairn's host agent (`cairn agent`): it reads which accounts may collect from this host
//! (`users/<account-id>` files) and its custom identifiers (`user_defined_id`), heartbeats to
//! the server, receives the collection configs applied to its machine groups, tails the files
//! they match and delivers every line exactly once.
//!
//! The path of a line: [`input`] discovers files, reads them from a checkpointed offset,
//! follows rotation and splits lines into records ([`process::multiline`]); [`process`] parses
//! and filters them; [`delivery`] batches them per file, sends each batch as an SLS PutLogs with
//! a producer key and sequence id, keeps a bounded disk buffer during outages, and only after
//! the server's acknowledgement moves the file's [`input::checkpoint`]. [`control`] keeps the
//! identity and the configs current; [`runtime`] wires it all together.
//!
//! This crate uses only `cairn-protocol` and `cairn-model` of ours: it must run on hosts that
//! carry nothing of the server.

pub mod config;
pub mod control;
pub mod delivery;
pub mod input;
pub mod metrics;
pub mod process;
pub mod runtime;
pub mod source;

pub use source::{FileKey, FileRecords, RawRecord, SourceRecord};
