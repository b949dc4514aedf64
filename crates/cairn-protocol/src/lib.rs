//! Cairn's implementation of the Alibaba Cloud SLS wire protocol, without any HTTP.
//!
//! * [`proto`]: the PutLogs / PullLogs protobuf messages, and [`decode_log_group`],
//!   [`encode_log_group`], [`encode_log_group_list`], [`decode_log_group_list`] to move
//!   between them and
//!   [`cairn_model::LogGroupData`];
//! * [`compression`]: the `x-log-compresstype` body codecs (raw LZ4 block, zstd, zlib), with a
//!   hard limit on the decompressed size, and the choice of a response codec from
//!   `Accept-Encoding`;
//! * [`cursor`]: shard cursors (base64 of a decimal record offset) for GetCursor and PullLogs;
//! * [`agent`]: the agent control protocol (config-server protocol v2 with Cairn's
//!   extensions): heartbeats, config fetches, write tokens;
//! * [`signing`]: the `Authorization` header, signature V1 (`LOG id:sig`, HMAC-SHA1) and V4
//!   (`SLS4-HMAC-SHA256`), for the server (verify) and for Cairn's own clients (sign).
//!
//! Every function here is pure: no I/O, no clock (callers pass the time in), no global state.
//! Every failure on client input is a [`ProtocolError`]; nothing panics on input.

pub mod agent;
mod codec;
pub mod compression;
pub mod cursor;
mod error;
pub mod proto;
pub mod signing;

pub use codec::{decode_log_group, decode_log_group_list, encode_log_group, encode_log_group_list};
pub use error::ProtocolError;
