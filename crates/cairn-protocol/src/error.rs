//! The one error type of this crate.
//!
//! Every variant means the *client* sent something Cairn refuses (a bad body, a bad header,
//! a wrong signature); none of them is a server fault. The server maps them to SLS error codes
//! (for example `SignatureMismatch` to `SignatureNotMatch`, the body variants to
//! `PostBodyInvalid` / `ParameterInvalid`).

/// Why a request body, header or signature was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The uncompressed body is (or claims to be) larger than the server accepts. Raised
    /// before anything past `limit` bytes is allocated or decompressed.
    #[error("request body is larger than the {limit} bytes allowed")]
    BodyTooLarge {
        /// The largest uncompressed body allowed, in bytes.
        limit: usize,
    },

    /// The decompressed size differs from what `x-log-bodyrawsize` declared (or the declared
    /// size is impossible for the compressed body).
    #[error("x-log-bodyrawsize says {declared} bytes but the body {actual}")]
    RawSizeMismatch {
        /// The size the client declared in `x-log-bodyrawsize`.
        declared: usize,
        /// What the body actually decompressed to, in words (a size or "is too small for it").
        actual: String,
    },

    /// `x-log-bodyrawsize` is required (LZ4 bodies cannot be decoded without it) but absent.
    #[error("x-log-bodyrawsize is required for {0} bodies")]
    MissingRawSize(&'static str),

    /// The `x-log-compresstype` is unknown, or the body is not a valid stream of that type.
    #[error("invalid compressed body: {0}")]
    InvalidCompression(String),

    /// The body is not a valid PutLogs protobuf message.
    #[error("invalid protobuf body: {0}")]
    InvalidProtobuf(String),

    /// A record's `Time_ns` is one second or more (must be below 1,000,000,000).
    #[error("Time_ns {nanos} is not below one second")]
    InvalidTimeNanos {
        /// The nanosecond value as sent.
        nanos: u32,
    },

    /// The `Authorization` header is malformed or uses an unknown scheme.
    #[error("invalid Authorization header: {0}")]
    InvalidAuthorization(String),

    /// The signature does not match the request (wrong secret, tampered request or body, or a
    /// `Content-MD5` that does not match the body).
    #[error("the request signature does not match")]
    SignatureMismatch,

    /// A shard cursor is not one Cairn hands out (not base64 of a decimal offset).
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),

    /// The request's date header is missing or cannot be parsed.
    #[error("invalid request date: {0}")]
    InvalidDate(String),
}
