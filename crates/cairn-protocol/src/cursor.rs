//! Shard cursors: the opaque positions GetCursor hands out and PullLogs reads from.
//!
//! Like SLS's own cursors, a Cairn cursor is the standard (padded) base64 of a decimal number:
//! here the logstore-wide record offset (`MTA=` is offset 10). Clients treat cursors as opaque,
//! but the Python SDK's `get_previous_cursor_time` decodes one, subtracts one and encodes it
//! again, which this format supports.
//!
//! Invariants: `decode_cursor(&encode_cursor(n)) == Ok(n)` for every `n`; decoding accepts
//! exactly what base64 of 1 to 20 ASCII digits that fit a `u64` produces (surrounding spaces
//! and missing padding are tolerated) and refuses anything else with
//! [`ProtocolError::InvalidCursor`], never panicking.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

use crate::error::ProtocolError;

/// The longest cursor text accepted: base64 of `u64::MAX` is 28 characters.
const MAX_CURSOR_LEN: usize = 64;

/// The cursor of a record offset.
pub fn encode_cursor(offset: u64) -> String {
    STANDARD.encode(offset.to_string())
}

/// The record offset a cursor stands for.
pub fn decode_cursor(cursor: &str) -> Result<u64, ProtocolError> {
    let invalid = || ProtocolError::InvalidCursor(cursor.chars().take(MAX_CURSOR_LEN).collect());
    let trimmed = cursor.trim();
    if trimmed.is_empty() || trimmed.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let decoded = STANDARD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed.trim_end_matches('=')))
        .map_err(|_| invalid())?;
    if decoded.is_empty() || decoded.len() > 20 || !decoded.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    std::str::from_utf8(&decoded)
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cursors_are_base64_of_the_decimal_offset() {
        assert_eq!(encode_cursor(0), "MA==");
        assert_eq!(encode_cursor(10), "MTA=");
        assert_eq!(
            encode_cursor(1_524_155_379_373_908_496),
            "MTUyNDE1NTM3OTM3MzkwODQ5Ng=="
        );
        assert_eq!(
            decode_cursor("MTUyNDE1NTM3OTM3MzkwODQ5Ng=="),
            Ok(1_524_155_379_373_908_496)
        );
        assert_eq!(decode_cursor(" MTA=\n"), Ok(10));
        assert_eq!(decode_cursor("MTA"), Ok(10));
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let minus_one = STANDARD.encode("-1");
        let too_big = STANDARD.encode("18446744073709551616");
        let letters = STANDARD.encode("12a");
        for bad in [
            "",
            "   ",
            "%%%",
            "begin",
            minus_one.as_str(),
            too_big.as_str(),
            letters.as_str(),
            &"A".repeat(100),
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(ProtocolError::InvalidCursor(_))),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_offset_round_trips(offset in any::<u64>()) {
            prop_assert_eq!(decode_cursor(&encode_cursor(offset)), Ok(offset));
        }

        #[test]
        fn decoding_never_panics(text in ".{0,80}") {
            let _ = decode_cursor(&text);
        }
    }
}
