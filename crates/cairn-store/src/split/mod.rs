//! Splits: the immutable files a logstore's records move into when they leave the memtable.
//!
//! - [`columns`]: records as Arrow columns (the schema every split and batch shares);
//! - [`token_index`]: the per-block token filters that let a search skip blocks;
//! - [`files`]: building, uploading and reading a split's Parquet and index files.

pub mod columns;
pub mod files;
pub mod token_index;
