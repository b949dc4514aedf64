//! The agent's integration tests, in one binary: file inputs on real files, delivery with a
//! real disk buffer against an in-process exactly-once peer, and the HTTP sink against a real
//! HTTP server.

mod common;
mod delivery;
mod http;
mod input;
