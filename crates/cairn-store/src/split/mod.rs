//! Splits: the immutable files a logstore's records move into when they leave the memtable.
//!
//! - [`columns`]: records as Arrow columns (the schema every split and batch shares);
//! - [`token_index`]: the per-block token filters that let a search skip blocks;
//! - `encoding`: how split columns are encoded (the writer properties, dictionary choice);
//! - [`files`]: building, uploading and reading a split's Parquet and index files;
//! - `reader`: reading a logstore through splits and memory;
//! - `read_plan`: how a search's candidate blocks become read steps and parallel tasks;
//! - `shapes`: work done once per record shape (key sequence) rather than per record;
//! - `row_filter`: the rows of a read block that may match, decided on Arrow columns;
//! - `spliced`: merging splits by copying their column chunks and concatenating indexes;
//! - `merged`: merging by re-encoding the inputs' Arrow batches (when splicing cannot);
//! - `lifecycle`: flush, merge, retention and crash cleanup.

pub mod columns;
pub(crate) mod deletion;
pub(crate) mod encoding;
pub mod files;
pub(crate) mod lifecycle;
pub(crate) mod merged;
pub(crate) mod read_plan;
pub mod reader;
pub(crate) mod row_filter;
pub(crate) mod settings;
pub(crate) mod shapes;
pub(crate) mod spliced;
pub mod token_index;

pub use settings::{FailpointAction, SplitFailpoint, SplitSettings};
