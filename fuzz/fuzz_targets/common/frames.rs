//! Shared by the fuzz targets that read framed files (the server's WAL segments, the agent's
//! disk-buffer segments): both are `[u32 LE payload length][u32 LE crc32c(payload)][payload]`
//! repeated. A fuzzer almost never guesses a CRC, so these targets take their input as the
//! file's bytes plus a first byte of options, and may seal every whole frame with its right
//! checksum first: then the decoders behind the checksum are reached. Real segment files are
//! valid inputs as they are (with the option byte in front), so they make good seeds.

/// Bytes of a frame header.
const FRAME_HEADER: usize = 8;

/// The file to write for `data`: `data[1..]`, with every whole frame's checksum set right
/// when bit 0 of `data[0]` is set (frames are walked by their length fields; a length that
/// runs past the end leaves the rest as it is, a torn tail).
pub fn file_from_input(data: &[u8]) -> Vec<u8> {
    let Some((&options, file)) = data.split_first() else {
        return Vec::new();
    };
    let mut file = file.to_vec();
    if options & 1 == 1 {
        let mut at = 0;
        while at + FRAME_HEADER <= file.len() {
            let length =
                u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]) as usize;
            let payload_start = at + FRAME_HEADER;
            let Some(payload_end) = payload_start
                .checked_add(length)
                .filter(|end| *end <= file.len())
            else {
                break;
            };
            let checksum = crc32c::crc32c(&file[payload_start..payload_end]);
            file[at + 4..at + 8].copy_from_slice(&checksum.to_le_bytes());
            at = payload_end;
        }
    }
    file
}
