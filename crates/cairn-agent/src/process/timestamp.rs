//! `processor_parse_timestamp_native`: sets the record's time from a field.
//!
//! As in LoongCollector: a missing field or a value that does not fit `SourceFormat` leaves the
//! record and its time alone (it gets the collection time); a parsed time at or before the
//! epoch drops the record. Cairn also drops a time past 2106 (beyond `__time__`'s 32 bits).
//!
//! The zone is, in order: an offset in the text (`%z`), `SourceTimezone`, the pipeline's
//! default zone (tests), the host's local zone. `SourceTimezone` is LoongCollector's
//! `GMT+08:00`; Cairn also reads `UTC`, `GMT`, `Z`, `UTC+8`, `+08:00` and `+0800`. Named zones
//! (`Asia/Shanghai`) are not supported.

use std::time::SystemTime;

use bytes::Bytes;
use cairn_model::LogTime;
use chrono::{DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::config::{ConfigError, ParseTimestampConfig};

use super::event::{key_bytes, Event};
use super::strptime::{Format, Parsed};
use super::DropReason;

/// Reads a `SourceTimezone`.
pub fn parse_timezone(zone: &str) -> Result<FixedOffset, String> {
    let z = zone.trim();
    let rest = z
        .strip_prefix("GMT")
        .or_else(|| z.strip_prefix("UTC"))
        .unwrap_or(z);
    let bad = || format!("{zone:?} is not a zone offset like GMT+08:00");
    if rest.is_empty() || rest == "Z" {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'+') => (1, &rest[1..]),
        Some(b'-') => (-1, &rest[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None => (digits, "0"),
    };
    let all_digits =
        |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) {
        return Err(bad());
    }
    let h: i32 = hours.parse().map_err(|_| bad())?;
    let m: i32 = minutes.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// A compiled timestamp parser.
#[derive(Debug, Clone)]
pub(crate) struct TimestampParser {
    key: Bytes,
    format: Format,
    zone: Option<FixedOffset>,
    year: Option<i32>,
}

impl TimestampParser {
    pub(crate) fn new(config: &ParseTimestampConfig, at: &str) -> Result<Self, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            at: at.to_string(),
            key: key.to_string(),
            message,
        };
        let format = Format::compile(&config.source_format)
            .map_err(|e| invalid("SourceFormat", format!("{:?}: {e}", config.source_format)))?;
        let zone = match &config.source_timezone {
            Some(z) => Some(parse_timezone(z).map_err(|e| invalid("SourceTimezone", e))?),
            None => None,
        };
        Ok(Self {
            key: key_bytes(&config.source_key),
            format,
            zone,
            year: config.source_year,
        })
    }

    pub(crate) fn apply(
        &self,
        event: &mut Event,
        now: SystemTime,
        default_zone: Option<FixedOffset>,
    ) -> Result<(), DropReason> {
        let Some(value) = event.get(&self.key) else {
            return Ok(());
        };
        let Some(parsed) = self.format.parse(value) else {
            return Ok(());
        };
        let Some((seconds, nanos)) = self.to_epoch(&parsed, now, default_zone) else {
            return Ok(());
        };
        if seconds <= 0 || seconds > i64::from(u32::MAX) {
            return Err(DropReason::InvalidTime);
        }
        event.time = Some(LogTime::new(seconds as u32, nanos));
        Ok(())
    }

    fn to_epoch(
        &self,
        p: &Parsed,
        now: SystemTime,
        default_zone: Option<FixedOffset>,
    ) -> Option<(i64, u32)> {
        if let Some(epoch) = p.epoch {
            return Some((epoch, p.nanos));
        }
        let year = match (p.year, p.century, p.year2) {
            (Some(y), _, _) => y,
            (None, Some(c), Some(y)) => c * 100 + y,
            (None, None, Some(y)) => {
                if y < 69 {
                    2000 + y
                } else {
                    1900 + y
                }
            }
            (None, Some(c), None) => c * 100,
            (None, None, None) => self
                .year
                .unwrap_or_else(|| DateTime::<Utc>::from(now).year()),
        };
        let date = match (p.month, p.day, p.day_of_year) {
            (None, None, Some(yday)) => NaiveDate::from_yo_opt(year, yday)?,
            (month, day, _) => NaiveDate::from_ymd_opt(year, month.unwrap_or(1), day.unwrap_or(1))?,
        };
        let hour = match p.hour12 {
            Some(h) if (1..=12).contains(&h) => h % 12 + if p.pm == Some(true) { 12 } else { 0 },
            Some(_) => return None,
            None => p.hour,
        };
        let time = NaiveTime::from_hms_opt(hour, p.minute, p.second.min(59))?;
        let naive = date.and_time(time);
        let zone = p
            .offset
            .and_then(FixedOffset::east_opt)
            .or(self.zone)
            .or(default_zone);
        let seconds = match zone {
            Some(z) => z.from_local_datetime(&naive).single()?.timestamp(),
            None => Local.from_local_datetime(&naive).earliest()?.timestamp(),
        };
        Some((seconds, p.nanos))
    }
}
