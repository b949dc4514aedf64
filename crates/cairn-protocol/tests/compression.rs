//! Body compression: round trips, header names, and the decompression limits.

use cairn_protocol::compression::{compress, decompress, CompressionType};
use cairn_protocol::ProtocolError;
use proptest::prelude::*;

const ALL: [CompressionType; 4] = [
    CompressionType::None,
    CompressionType::Lz4,
    CompressionType::Zstd,
    CompressionType::Deflate,
];
const MIB: usize = 1024 * 1024;

#[test]
fn header_names_round_trip() {
    for kind in ALL {
        assert_eq!(CompressionType::from_header(kind.as_header()), Ok(kind));
    }
    assert_eq!(
        CompressionType::from_header(Some(" LZ4 ")),
        Ok(CompressionType::Lz4)
    );
    assert_eq!(
        CompressionType::from_header(Some("")),
        Ok(CompressionType::None)
    );
    assert!(matches!(
        CompressionType::from_header(Some("gzip")),
        Err(ProtocolError::InvalidCompression(_))
    ));
}

#[test]
fn responses_use_the_first_accepted_encoding_cairn_produces() {
    let chosen = |header: Option<&str>| CompressionType::from_accept_encoding(header);
    assert_eq!(chosen(None), CompressionType::None);
    assert_eq!(chosen(Some("")), CompressionType::None);
    assert_eq!(chosen(Some("lz4")), CompressionType::Lz4);
    assert_eq!(chosen(Some("ZSTD")), CompressionType::Zstd);
    assert_eq!(chosen(Some("gzip, deflate")), CompressionType::Deflate);
    assert_eq!(
        chosen(Some("br;q=1.0, zstd;q=0.5, lz4")),
        CompressionType::Zstd
    );
    assert_eq!(chosen(Some("gzip, identity")), CompressionType::None);
}

#[test]
fn lz4_is_a_raw_block_without_size_prefix() {
    // What `lz4.block.compress(b"hello hello hello hello")[4:]` (Python) yields: the block
    // starts with its token, not with a little-endian size.
    let data = b"hello hello hello hello";
    let block = compress(CompressionType::Lz4, data);
    assert_eq!(block, lz4_flex::block::compress(data));
    assert_ne!(&block[..4], &(data.len() as u32).to_le_bytes());
    let out = decompress(CompressionType::Lz4, &block, Some(data.len()), MIB);
    assert_eq!(out.as_deref(), Ok(&data[..]));
}

#[test]
fn lz4_needs_the_raw_size() {
    let block = compress(CompressionType::Lz4, b"abc");
    assert_eq!(
        decompress(CompressionType::Lz4, &block, None, MIB),
        Err(ProtocolError::MissingRawSize("lz4"))
    );
}

#[test]
fn empty_bodies_decompress_to_nothing() {
    for kind in ALL {
        let packed = compress(kind, b"");
        assert_eq!(
            decompress(kind, &packed, Some(0), MIB),
            Ok(vec![]),
            "{kind:?}"
        );
    }
    assert_eq!(
        decompress(CompressionType::Lz4, b"", Some(0), MIB),
        Ok(vec![])
    );
}

#[test]
fn declared_size_over_the_limit_is_refused_up_front() {
    for kind in ALL {
        let packed = compress(kind, b"small");
        assert_eq!(
            decompress(kind, &packed, Some(MIB + 1), MIB),
            Err(ProtocolError::BodyTooLarge { limit: MIB }),
            "{kind:?}"
        );
    }
}

#[test]
fn uncompressed_body_over_the_limit_is_refused() {
    assert_eq!(
        decompress(CompressionType::None, &[0u8; 101], None, 100),
        Err(ProtocolError::BodyTooLarge { limit: 100 })
    );
}

#[test]
fn bombs_are_refused_at_the_limit() {
    let bomb = vec![0u8; 8 * MIB];
    for kind in [CompressionType::Zstd, CompressionType::Deflate] {
        let packed = compress(kind, &bomb);
        assert!(
            packed.len() < 64 * 1024,
            "{kind:?} should compress zeros well"
        );
        // No declared size: the stream itself is cut at the limit.
        assert_eq!(
            decompress(kind, &packed, None, MIB),
            Err(ProtocolError::BodyTooLarge { limit: MIB }),
            "{kind:?}"
        );
        // A declared size exactly at the limit does not help either.
        assert_eq!(
            decompress(kind, &packed, Some(MIB), MIB),
            Err(ProtocolError::BodyTooLarge { limit: MIB }),
            "{kind:?}"
        );
        // Within the limit it decodes.
        assert_eq!(
            decompress(kind, &packed, Some(bomb.len()), 8 * MIB).map(|v| v.len()),
            Ok(bomb.len())
        );
    }
}

#[test]
fn streamed_zstd_without_a_size_is_cut_at_the_limit() {
    // A streamed frame does not announce its size, so only the bounded read can stop it.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
    for _ in 0..64 {
        std::io::Write::write_all(&mut encoder, &[b'a'; 64 * 1024]).expect("write");
    }
    let packed = encoder.finish().expect("finish");
    assert!(
        matches!(zstd::zstd_safe::get_frame_content_size(&packed), Ok(None)),
        "the frame should not announce its size"
    );
    // Level 3 streams use a 2 MiB window, which a 2 MiB limit allows.
    assert_eq!(
        decompress(CompressionType::Zstd, &packed, None, 2 * MIB),
        Err(ProtocolError::BodyTooLarge { limit: 2 * MIB })
    );
    assert_eq!(
        decompress(CompressionType::Zstd, &packed, None, 4 * MIB).map(|v| v.len()),
        Ok(4 * MIB)
    );
    // A window larger than the limit allows is refused before it is allocated.
    assert!(matches!(
        decompress(CompressionType::Zstd, &packed, None, MIB),
        Err(ProtocolError::InvalidCompression(_))
    ));
}

#[test]
fn lying_raw_size_is_refused() {
    let data = vec![7u8; 100_000];
    for kind in [
        CompressionType::Lz4,
        CompressionType::Zstd,
        CompressionType::Deflate,
    ] {
        let packed = compress(kind, &data);
        for declared in [data.len() - 1, 10, data.len() + 1] {
            assert!(
                matches!(
                    decompress(kind, &packed, Some(declared), MIB),
                    Err(ProtocolError::RawSizeMismatch { .. })
                ),
                "{kind:?} declared {declared}"
            );
        }
    }
}

#[test]
fn lz4_raw_size_beyond_the_block_ratio_is_refused_without_decoding() {
    // 10 bytes of block cannot decode to 1 MiB (LZ4 expands at most ~255x).
    let block = compress(CompressionType::Lz4, b"0123456789");
    assert!(matches!(
        decompress(CompressionType::Lz4, &block, Some(MIB), 50 * MIB),
        Err(ProtocolError::RawSizeMismatch { .. })
    ));
}

#[test]
fn corrupt_streams_are_invalid() {
    for kind in [CompressionType::Zstd, CompressionType::Deflate] {
        assert!(
            matches!(
                decompress(kind, b"definitely not compressed", None, MIB),
                Err(ProtocolError::InvalidCompression(_))
            ),
            "{kind:?}"
        );
    }
    assert!(matches!(
        decompress(CompressionType::Lz4, &[0xf0, 0xff], Some(300), MIB),
        Err(ProtocolError::InvalidCompression(_))
    ));
}

proptest! {
    #[test]
    fn compress_then_decompress_is_identity(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        repeat in 1usize..8,
    ) {
        let data: Vec<u8> = data.repeat(repeat);
        for kind in ALL {
            let packed = compress(kind, &data);
            prop_assert_eq!(decompress(kind, &packed, Some(data.len()), MIB), Ok(data.clone()));
            if kind != CompressionType::Lz4 {
                prop_assert_eq!(decompress(kind, &packed, None, MIB), Ok(data.clone()));
            }
        }
    }

    #[test]
    fn decompressing_arbitrary_bytes_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        raw_size in proptest::option::of(0usize..70_000),
    ) {
        for kind in ALL {
            let out = decompress(kind, &body, raw_size, 65_536);
            if let Ok(out) = out {
                prop_assert!(out.len() <= 65_536);
            }
        }
    }
}
