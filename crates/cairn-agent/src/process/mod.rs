//! Turning a record read from a file into the log entry Cairn sends.
//!
//! A record starts as one field, `content`, holding its text; the config's processors run in
//! order on its fields ([`Pipeline::process`]); the entry's time is the one a
//! `processor_parse_timestamp_native` set, else the clock's "now" (read once per group of
//! records — one file's records of one poll — by [`Pipeline::now`]). A processor may drop the
//! record; the caller counts drops by [`DropReason`] and still advances its checkpoint past
//! the record. [`multiline`] joins lines into records before this; [`tags`] names the
//! LogGroup tags of a file.
//!
//! Invariants: [`Pipeline::process`] never panics, whatever the bytes (values need not be
//! UTF-8); a [`Pipeline`] is immutable once built and can be shared between threads; building
//! one from a validated [`crate::config::PipelineConfig`] never fails.

mod delimiter;
mod desensitize;
mod event;
mod field_lists;
mod fields;
mod filter;
mod json_parse;
pub mod multiline;
mod regex_parse;
mod strptime;
pub mod tags;
mod timestamp;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cairn_model::{Field, LogEntry, LogTime};
use chrono::FixedOffset;

use crate::config::{ConfigError, ProcessorConfig};
use crate::source::SourceRecord;

pub use event::{CONTENT_KEY, RAW_LOG_KEY};
pub use field_lists::FieldLists;
pub use multiline::{Multiline, MultilineOutput};
pub use tags::{tags_for, tags_for_path, TagContext};
pub use timestamp::parse_timezone;

/// Why a processor dropped a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// A parser failed on the record's only field and was not asked to keep it.
    ParseFailed,
    /// A filter rejected the record.
    Filtered,
    /// The parsed time is not after the epoch, or past what `__time__` can hold.
    InvalidTime,
}

impl DropReason {
    /// A short name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ParseFailed => "parse_failed",
            Self::Filtered => "filtered",
            Self::InvalidTime => "invalid_time",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// Send this entry.
    Keep(LogEntry),
    /// Do not send it.
    Drop(DropReason),
}

/// Where "now" comes from.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// "Now", read once for a group of records ([`Pipeline::now`]): the clock's time, and the
/// same as the `__time__` of records without a parsed time (converting it per record was a
/// measurable cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// The clock's reading.
    pub system: SystemTime,
    /// `system` as a record time.
    pub log_time: LogTime,
}

impl Now {
    /// `system` with its record time.
    pub fn at(system: SystemTime) -> Self {
        Self {
            system,
            log_time: to_log_time(system),
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Regex(regex_parse::RegexParser),
    Json(json_parse::JsonParser),
    Delimiter(delimiter::DelimiterParser),
    Timestamp(timestamp::TimestampParser),
    Filter(filter::Filter),
    Drop(fields::DropKeys),
    Rename(fields::Rename),
    Desensitize(desensitize::Desensitize),
}

/// A config's processors, compiled.
#[derive(Clone)]
pub struct Pipeline {
    steps: Vec<Step>,
    clock: Clock,
    default_zone: Option<FixedOffset>,
    /// How many fields an entry is expected to end with (its field list is sized once).
    fields_hint: usize,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("steps", &self.steps)
            .field("default_zone", &self.default_zone)
            .finish_non_exhaustive()
    }
}

fn to_log_time(t: SystemTime) -> LogTime {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    LogTime::new(
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.subsec_nanos(),
    )
}

/// About how many fields a processor adds (a guess for parsers with no fixed keys).
fn fields_added_hint(config: &ProcessorConfig) -> usize {
    match config {
        ProcessorConfig::ParseRegex(c) => c.keys.len() + 1,
        ProcessorConfig::ParseDelimiter(c) => c.keys.len() + 1,
        ProcessorConfig::ParseJson(_) => 8,
        _ => 0,
    }
}

impl Pipeline {
    /// Compiles `processors`; the error names the processor and key at fault.
    pub fn new(processors: &[ProcessorConfig]) -> Result<Self, ConfigError> {
        let mut steps = Vec::with_capacity(processors.len());
        for (i, config) in processors.iter().enumerate() {
            let at = format!("processors[{i}] ({})", config.type_name());
            steps.push(match config {
                ProcessorConfig::ParseRegex(c) => {
                    Step::Regex(regex_parse::RegexParser::new(c, &at)?)
                }
                ProcessorConfig::ParseJson(c) => Step::Json(json_parse::JsonParser::new(c)),
                ProcessorConfig::ParseDelimiter(c) => {
                    Step::Delimiter(delimiter::DelimiterParser::new(c))
                }
                ProcessorConfig::ParseTimestamp(c) => {
                    Step::Timestamp(timestamp::TimestampParser::new(c, &at)?)
                }
                ProcessorConfig::Filter(c) => Step::Filter(filter::Filter::new(c, &at)?),
                ProcessorConfig::Drop(c) => Step::Drop(fields::DropKeys::new(c)),
                ProcessorConfig::Rename(c) => Step::Rename(fields::Rename::new(c)),
                ProcessorConfig::Desensitize(c) => {
                    Step::Desensitize(desensitize::Desensitize::new(c, &at)?)
                }
            });
        }
        let fields_hint = 1 + processors.iter().map(fields_added_hint).sum::<usize>();
        Ok(Self {
            steps,
            clock: Arc::new(SystemTime::now),
            default_zone: None,
            fields_hint: fields_hint.min(64),
        })
    }

    /// Uses `clock` for "now" (the time of records without a parsed time, and the year of
    /// formats without one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Reads times without a zone in `zone` instead of the host's local zone.
    pub fn with_default_zone(mut self, zone: FixedOffset) -> Self {
        self.default_zone = Some(zone);
        self
    }

    /// Runs the processors on `record`, with "now" from the pipeline's clock.
    pub fn process(&self, record: &SourceRecord, _context: &TagContext) -> ProcessOutcome {
        self.process_text(record.text.clone(), self.now())
    }

    /// "Now" by the pipeline's clock: read it once for a whole group of records and pass it
    /// to [`Pipeline::process_text`] (a clock read per record was a measurable cost).
    pub fn now(&self) -> Now {
        Now::at((self.clock)())
    }

    /// Runs the processors on a record's text, taking `now` as the current time.
    pub fn process_text(&self, text: Bytes, now: Now) -> ProcessOutcome {
        self.process_text_in(text, now, Vec::new())
    }

    /// [`Pipeline::process_text`], building the entry's fields in `contents` (an empty list,
    /// recycled from a delivered batch by [`FieldLists`], so that no list is allocated).
    pub fn process_text_in(&self, text: Bytes, now: Now, contents: Vec<Field>) -> ProcessOutcome {
        let mut event = event::Event::from_text(text, self.fields_hint, contents);
        for step in &self.steps {
            let result = match step {
                Step::Regex(p) => p.apply(&mut event),
                Step::Json(p) => p.apply(&mut event),
                Step::Delimiter(p) => p.apply(&mut event),
                Step::Timestamp(p) => p.apply(&mut event, now.system, self.default_zone),
                Step::Filter(p) => p.apply(&mut event),
                Step::Drop(p) => {
                    p.apply(&mut event);
                    Ok(())
                }
                Step::Rename(p) => {
                    p.apply(&mut event);
                    Ok(())
                }
                Step::Desensitize(p) => {
                    p.apply(&mut event);
                    Ok(())
                }
            };
            if let Err(reason) = result {
                return ProcessOutcome::Drop(reason);
            }
        }
        ProcessOutcome::Keep(LogEntry {
            time: event.time.unwrap_or(now.log_time),
            contents: event.contents,
        })
    }
}
