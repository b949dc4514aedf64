//! Integration tests of copy/transform jobs over real components: a SQLite metastore, IAM
//! with real roles, trust policies and permission policies, and the WAL-backed log engine,
//! reopened from disk to simulate restarts. Nothing here is a mock.

mod copy;
mod definition;
mod failures;
mod faults;
mod resume;
mod support;
mod transform;
