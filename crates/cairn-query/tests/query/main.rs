//! cairn-query's integration tests, in one binary (every test binary links DataFusion, which
//! is large): the search parser and matcher, histograms, property tests, and SQL on DataFusion
//! over real Parquet files.

mod histogram;
mod matcher;
mod parser;
mod properties;
mod sql;
