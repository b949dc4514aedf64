//! Integration tests of [`cairn_store::LogEngine`] through its public API only: appends and
//! scans, reads by offset, exactly-once sequence ids, durability across reopen, torn tails and corruption,
//! rollover, concurrency, and the disk-space reserve.

mod durability;
mod exactly_once;
mod offsets;
mod recovery;
mod splits;
mod support;
