//! Time arguments of `cairn get` and `cairn query` (`--from`/`--to`).
//!
//! A time is one of: `now`; a relative time in the past such as `-30s`, `-15m`, `-1h`, `-7d`,
//! `-2w`; Unix seconds such as `1704067200`; or an RFC 3339 timestamp such as
//! `2024-01-01T00:00:00Z` or `2024-01-01T08:00:00+08:00`. Parsing happens when the command
//! line is read; relative times are resolved against one "now" taken when the command runs,
//! so `--from -1h --to now` always spans exactly one hour.

use std::fmt;
use std::str::FromStr;

/// A point in time as given on the command line, not yet resolved against the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// The moment the command runs.
    Now,
    /// This many seconds before the moment the command runs.
    Ago(i64),
    /// Seconds since the Unix epoch.
    At(i64),
}

impl TimeArg {
    /// The time in Unix seconds, given the current time in Unix seconds.
    pub fn resolve(self, now: i64) -> i64 {
        match self {
            TimeArg::Now => now,
            TimeArg::Ago(seconds) => now.saturating_sub(seconds),
            TimeArg::At(seconds) => seconds,
        }
    }
}

/// `--from` / `--to`, shared by the commands that read a time range.
#[derive(Debug, Clone, clap::Args)]
pub struct TimeRangeArgs {
    /// Start of the time range: -15m, -1h, -7d, now, Unix seconds or RFC 3339
    #[arg(
        long,
        default_value = "-15m",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub from: TimeArg,
    /// End of the time range, same forms as --from (`now` includes the current second)
    #[arg(
        long,
        default_value = "now",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub to: TimeArg,
}

impl TimeRangeArgs {
    /// The range `[from, to)` in Unix seconds, given the current time. Records of the current
    /// second count as "now", so `--to now` ends one second later; an empty or reversed range
    /// is an error naming both ends.
    pub fn resolve(&self, now: i64) -> anyhow::Result<(i64, i64)> {
        let from = self.from.resolve(now);
        let to = match self.to {
            TimeArg::Now => now + 1,
            other => other.resolve(now),
        };
        if from >= to {
            anyhow::bail!(
                "--from ({}) must be before --to ({})",
                super::output::unix_time_text(from, None),
                super::output::unix_time_text(to, None)
            );
        }
        Ok((from, to))
    }
}

const HINT: &str = "use `now`, a relative time like -15m, -1h or -7d (units s, m, h, d, w), \
                    Unix seconds, or RFC 3339 like 2024-01-01T00:00:00Z";

impl FromStr for TimeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("now") {
            return Ok(TimeArg::Now);
        }
        if let Some(relative) = text.strip_prefix('-') {
            return parse_relative(relative)
                .map(TimeArg::Ago)
                .ok_or_else(|| format!("invalid relative time {text:?}: {HINT}"));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(seconds) => Ok(TimeArg::At(i64::from(seconds))),
                Err(_) => Err(format!(
                    "{text} is too large for Unix seconds (milliseconds are not accepted): {HINT}"
                )),
            };
        }
        if text.ends_with(['s', 'm', 'h', 'd', 'w']) && parse_relative(text).is_some() {
            return Err(format!(
                "{text:?} is ambiguous: write -{text} for {text} ago"
            ));
        }
        match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(time) => Ok(TimeArg::At(time.timestamp())),
            Err(_) => Err(format!("invalid time {text:?}: {HINT}")),
        }
    }
}

/// Parses `<count><unit>` (e.g. `15m`) into seconds.
fn parse_relative(text: &str) -> Option<i64> {
    let unit_at = text.len().checked_sub(1)?;
    let (count, unit) = text.split_at(unit_at);
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: i64 = count.parse().ok()?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    count.checked_mul(unit_seconds)
}

impl fmt::Display for TimeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeArg::Now => f.write_str("now"),
            TimeArg::Ago(seconds) => write!(f, "-{seconds}s"),
            TimeArg::At(seconds) => write!(f, "{seconds}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    fn resolve(text: &str) -> Result<i64, String> {
        text.parse::<TimeArg>().map(|t| t.resolve(NOW))
    }

    #[test]
    fn now_and_relative_times() {
        assert_eq!(resolve("now"), Ok(NOW));
        assert_eq!(resolve("NOW"), Ok(NOW));
        assert_eq!(resolve("-30s"), Ok(NOW - 30));
        assert_eq!(resolve("-15m"), Ok(NOW - 900));
        assert_eq!(resolve("-1h"), Ok(NOW - 3_600));
        assert_eq!(resolve("-7d"), Ok(NOW - 7 * 86_400));
        assert_eq!(resolve("-2w"), Ok(NOW - 14 * 86_400));
        assert_eq!(resolve(" -0m "), Ok(NOW));
    }

    #[test]
    fn absolute_times() {
        assert_eq!(resolve("1704067200"), Ok(1_704_067_200));
        assert_eq!(resolve("0"), Ok(0));
        assert_eq!(resolve("2024-01-01T00:00:00Z"), Ok(1_704_067_200));
        assert_eq!(resolve("2024-01-01T08:00:00+08:00"), Ok(1_704_067_200));
        assert_eq!(resolve("2024-01-01T00:00:01.5Z"), Ok(1_704_067_201));
    }

    #[test]
    fn bad_times_are_explained() {
        for bad in [
            "",
            "-",
            "-m",
            "-15",
            "-15y",
            "-1.5h",
            "yesterday",
            "2024-01-01",
            "-+1h",
        ] {
            let err = resolve(bad).expect_err(bad);
            assert!(err.contains("now"), "{bad}: {err}");
        }
        assert!(resolve("1704067200000")
            .expect_err("ms")
            .contains("milliseconds"));
        assert!(resolve("15m").expect_err("15m").contains("-15m"));
        assert!(resolve("-99999999999999999w").is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in ["now", "-900s", "1704067200"] {
            let arg: TimeArg = text.parse().expect(text);
            assert_eq!(arg.to_string().parse::<TimeArg>(), Ok(arg));
        }
    }
}
