//! Request and response body compression, as named by the `x-log-compresstype` header.
//!
//! Formats (as the SLS SDKs send them):
//! * `lz4`: a raw LZ4 *block*: no frame, no size prefix. Its decoded size comes from the
//!   `x-log-bodyrawsize` header, which is therefore required.
//! * `zstd`: a standard zstd frame.
//! * `deflate`: a zlib stream (RFC 1950), not raw deflate.
//!
//! Invariant of [`decompress`]: it never allocates or produces more than `limit` output bytes.
//! A declared size over the limit (in `x-log-bodyrawsize` or a zstd frame header) is refused
//! before any work; the zstd window is capped at the next power of two of the limit; zstd and
//! zlib streams are read
//! through a bounded reader into a buffer whose capacity never exceeds the limit, so a
//! "decompression bomb" is refused once it has produced `limit + 1` bytes. When
//! `x-log-bodyrawsize` is given, the output must have exactly that size.

use std::io::{Read, Write};

use crate::error::ProtocolError;

/// The body encodings SLS clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompressionType {
    /// No `x-log-compresstype` header: the body is sent as is.
    #[default]
    None,
    /// `lz4`: a raw LZ4 block (the SDKs' default for PutLogs).
    Lz4,
    /// `zstd`: a zstd frame.
    Zstd,
    /// `deflate`: a zlib stream.
    Deflate,
}

impl CompressionType {
    /// Reads the `x-log-compresstype` header: absent or empty means [`CompressionType::None`];
    /// names are matched without regard to case or surrounding spaces.
    pub fn from_header(value: Option<&str>) -> Result<Self, ProtocolError> {
        let Some(value) = value.map(str::trim) else {
            return Ok(Self::None);
        };
        if value.is_empty() {
            Ok(Self::None)
        } else if value.eq_ignore_ascii_case("lz4") {
            Ok(Self::Lz4)
        } else if value.eq_ignore_ascii_case("zstd") {
            Ok(Self::Zstd)
        } else if value.eq_ignore_ascii_case("deflate") {
            Ok(Self::Deflate)
        } else {
            Err(ProtocolError::InvalidCompression(format!(
                "unknown x-log-compresstype {value:?}"
            )))
        }
    }

    /// The codec for a response to a request with this `Accept-Encoding` header: the first of
    /// the listed encodings Cairn can produce (`lz4`, `zstd`, `deflate`; case and `;q=`
    /// parameters ignored), or [`CompressionType::None`] when the header is absent, empty
    /// (the Python SDK's "no compression") or lists none of them.
    pub fn from_accept_encoding(value: Option<&str>) -> Self {
        value
            .unwrap_or("")
            .split(',')
            .filter_map(|item| item.split(';').next())
            .find_map(|name| match Self::from_header(Some(name)) {
                Ok(Self::None) | Err(_) => None,
                Ok(kind) => Some(kind),
            })
            .unwrap_or(Self::None)
    }

    /// The `x-log-compresstype` value to send, or `None` when no header should be sent.
    pub fn as_header(&self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Lz4 => Some("lz4"),
            Self::Zstd => Some("zstd"),
            Self::Deflate => Some("deflate"),
        }
    }
}

/// The most output one byte of an LZ4 block can produce: a match-length continuation byte of
/// 255 adds 255 bytes. A declared size above `255 * len + LZ4_SLACK` is a lie.
const LZ4_MAX_RATIO: usize = 255;
/// Room for the fixed-size parts of the last LZ4 sequences in the ratio bound above.
const LZ4_SLACK: usize = 64;
/// Size of the chunks read from a zstd or zlib decoder.
const READ_CHUNK: usize = 64 * 1024;
/// Upper bound on the first allocation for a stream whose size is declared but not trusted.
const INITIAL_CAPACITY_CAP: usize = 1024 * 1024;
/// The largest zstd window (log2 bytes) the decoder accepts, whatever the limit.
const ZSTD_MAX_WINDOW_LOG: u32 = 27;
/// The smallest zstd window log accepted (zstd's own minimum).
const ZSTD_MIN_WINDOW_LOG: u32 = 10;

/// Decompresses a request body.
///
/// `raw_size` is the `x-log-bodyrawsize` header (required for LZ4; checked exactly for zstd
/// and deflate when present; ignored for uncompressed bodies, beyond the limit check);
/// `limit` is the largest decompressed body accepted. Refuses with
/// [`ProtocolError::BodyTooLarge`] before producing more than `limit` bytes. A zstd frame
/// whose window is larger than the next power of two of `limit` is refused as
/// [`ProtocolError::InvalidCompression`] (with a 50 MiB limit: only level-22 `--ultra` streams).
pub fn decompress(
    kind: CompressionType,
    body: &[u8],
    raw_size: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    if raw_size.is_some_and(|declared| declared > limit) {
        return Err(ProtocolError::BodyTooLarge { limit });
    }
    match kind {
        CompressionType::None => {
            if body.len() > limit {
                return Err(ProtocolError::BodyTooLarge { limit });
            }
            Ok(body.to_vec())
        }
        CompressionType::Lz4 => {
            let declared = raw_size.ok_or(ProtocolError::MissingRawSize("lz4"))?;
            decompress_lz4_block(body, declared)
        }
        CompressionType::Zstd => {
            // A frame that announces its size lets a bomb be refused before decoding starts
            // (later frames, if any, are caught by the bounded read).
            if let Ok(Some(first_frame)) = zstd::zstd_safe::get_frame_content_size(body) {
                if usize::try_from(first_frame).map_or(true, |size| size > limit) {
                    return Err(ProtocolError::BodyTooLarge { limit });
                }
            }
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body)
                .map_err(|e| ProtocolError::InvalidCompression(format!("zstd: {e}")))?;
            decoder
                .window_log_max(zstd_window_log_max(limit))
                .map_err(|e| ProtocolError::InvalidCompression(format!("zstd: {e}")))?;
            read_bounded(decoder, "zstd", body.len(), raw_size, limit)
        }
        CompressionType::Deflate => {
            let decoder = flate2::read::ZlibDecoder::new(body);
            read_bounded(decoder, "deflate", body.len(), raw_size, limit)
        }
    }
}

/// Compresses a body (for responses, and for Cairn's own clients).
pub fn compress(kind: CompressionType, data: &[u8]) -> Vec<u8> {
    match kind {
        CompressionType::None => data.to_vec(),
        CompressionType::Lz4 => lz4_flex::block::compress(data),
        // Compressing an in-memory slice into a Vec fails only if memory runs out or the
        // (constant, valid) level is rejected: neither depends on the input.
        CompressionType::Zstd => zstd::bulk::compress(data, zstd::DEFAULT_COMPRESSION_LEVEL)
            .expect("zstd compression of an in-memory buffer cannot fail"),
        CompressionType::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::default(),
            );
            encoder
                .write_all(data)
                .and_then(|()| encoder.finish())
                .expect("zlib compression into a Vec cannot fail")
        }
    }
}

/// Decodes a raw LZ4 block whose decoded size is `declared` (already checked against the
/// limit). Refuses declared sizes the body cannot possibly produce before allocating.
fn decompress_lz4_block(body: &[u8], declared: usize) -> Result<Vec<u8>, ProtocolError> {
    if declared == 0 && body.is_empty() {
        return Ok(Vec::new());
    }
    let most_possible = body
        .len()
        .saturating_mul(LZ4_MAX_RATIO)
        .saturating_add(LZ4_SLACK);
    if declared > most_possible {
        return Err(ProtocolError::RawSizeMismatch {
            declared,
            actual: format!("of {} bytes cannot decode to that much", body.len()),
        });
    }
    let mut output = vec![0u8; declared];
    let written = lz4_flex::block::decompress_into(body, &mut output).map_err(|e| match e {
        lz4_flex::block::DecompressError::OutputTooSmall { .. } => ProtocolError::RawSizeMismatch {
            declared,
            actual: "decodes to more than that".to_owned(),
        },
        other => ProtocolError::InvalidCompression(format!("lz4: {other}")),
    })?;
    if written != declared {
        return Err(ProtocolError::RawSizeMismatch {
            declared,
            actual: format!("decoded to {written} bytes"),
        });
    }
    Ok(output)
}

/// The zstd window log allowed for a given output limit: big enough for any body within the
/// limit, never bigger than zstd's default maximum.
fn zstd_window_log_max(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(ZSTD_MIN_WINDOW_LOG, ZSTD_MAX_WINDOW_LOG)
}

/// Reads a decoder to its end, refusing output past `raw_size` (when declared) or `limit`.
/// The output buffer's capacity never exceeds the cap, so memory stays bounded too.
fn read_bounded(
    mut decoder: impl Read,
    kind: &'static str,
    body_len: usize,
    raw_size: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    // `raw_size <= limit` was checked by the caller.
    let cap = raw_size.unwrap_or(limit);
    // Trust the declared size only so far: a tiny body declaring `limit` bytes must not cost
    // `limit` bytes of memory up front.
    let initial = cap.min(
        body_len
            .saturating_mul(4)
            .saturating_add(READ_CHUNK)
            .min(INITIAL_CAPACITY_CAP),
    );
    let mut output: Vec<u8> = Vec::with_capacity(initial);
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ProtocolError::InvalidCompression(format!("{kind}: {e}"))),
        };
        let new_len = output.len().saturating_add(read);
        if new_len > cap {
            return Err(match raw_size {
                Some(declared) if declared < limit => ProtocolError::RawSizeMismatch {
                    declared,
                    actual: "decodes to more than that".to_owned(),
                },
                _ => ProtocolError::BodyTooLarge { limit },
            });
        }
        if new_len > output.capacity() {
            // Grow geometrically, but never past the cap.
            let target = output.capacity().saturating_mul(2).max(new_len).min(cap);
            output.reserve_exact(target - output.len());
        }
        output.extend_from_slice(&chunk[..read]);
    }
    if let Some(declared) = raw_size {
        if output.len() != declared {
            return Err(ProtocolError::RawSizeMismatch {
                declared,
                actual: format!("decoded to {} bytes", output.len()),
            });
        }
    }
    Ok(output)
}
