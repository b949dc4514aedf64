//! Joining lines into multiline records (LoongCollector's `Multiline` in `custom` mode,
//! `ProcessorSplitMultilineLogStringNative`), one [`Multiline`] per file.
//!
//! Patterns match at the start of a line (boost `match_continuous`). The modes:
//! * start: a record runs from a start line to the line before the next start line;
//! * start + continue: a start line, then the continue lines that follow;
//! * start + end: from a start line to the next end line (lines in between are taken as is);
//! * continue + end: continue lines, then the end line; a line matching only end is a record;
//! * end: every line up to and including an end line.
//!
//! Lines that fit no record are "unmatched": each becomes a record of its own (`single_line`)
//! or is dropped (`discard`). At [`Multiline::flush`] (end of data, or [`Multiline::flush_if_idle`]
//! after `FlushTimeoutSecs` without a line) a pending record is emitted as is when there is no
//! end pattern and treated as unmatched otherwise. A pending record reaching
//! `max_record_bytes` is emitted at once.
//!
//! Invariants: every line pushed ends up in exactly one emitted record or in the `discarded`
//! count, in file order; an emitted record spans its lines' offsets (`start_offset` of the
//! first, `end_offset` of the last) with their texts joined by `\n`; `consumed_up_to` is the
//! offset before which no line is still pending, so a checkpoint may move there once every
//! record emitted before it is delivered.

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use regex::bytes::{Regex, RegexBuilder};

use crate::config::{
    normalize_multiline_pattern, ConfigError, MultilineConfig, UnmatchedContentTreatment,
};
use crate::source::SourceRecord;

/// What one call to a [`Multiline`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultilineOutput {
    /// Completed records, in file order.
    pub records: Vec<SourceRecord>,
    /// Every line before this offset is emitted or discarded.
    pub consumed_up_to: u64,
    /// Lines dropped as unmatched by this call.
    pub discarded: u64,
}

/// The multiline splitter of one file.
#[derive(Debug)]
pub struct Multiline {
    start: Option<Regex>,
    cont: Option<Regex>,
    end: Option<Regex>,
    discard_unmatched: bool,
    flush_timeout: Duration,
    max_record_bytes: usize,
    pending: Vec<SourceRecord>,
    pending_bytes: usize,
    in_record: bool,
    last_line_at: Option<Instant>,
    last_end: u64,
}

fn compile(key: &str, pattern: &Option<String>) -> Result<Option<Regex>, ConfigError> {
    let Some(p) = pattern.as_deref().and_then(normalize_multiline_pattern) else {
        return Ok(None);
    };
    RegexBuilder::new(&format!("^(?:{p})"))
        .size_limit(16 << 20)
        .build()
        .map(Some)
        .map_err(|e| ConfigError::Invalid {
            at: "Multiline".to_string(),
            key: key.to_string(),
            message: format!("{p:?} is not a valid regex: {e}"),
        })
}

fn matches(regex: &Option<Regex>, line: &SourceRecord) -> bool {
    regex.as_ref().is_some_and(|r| r.is_match(&line.text))
}

/// Joins `lines` (non-empty) into one record.
fn join(mut lines: Vec<SourceRecord>) -> SourceRecord {
    if lines.len() == 1 {
        return lines.remove(0);
    }
    let size = lines.iter().map(|l| l.text.len() + 1).sum::<usize>();
    let mut text = BytesMut::with_capacity(size);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            text.put_u8(b'\n');
        }
        text.put_slice(&line.text);
    }
    let end_offset = lines.last().map_or(0, |l| l.end_offset);
    let mut first = lines.swap_remove(0);
    first.end_offset = end_offset;
    first.text = text.freeze();
    first
}

impl Multiline {
    /// A splitter for `config`; it needs a start or an end pattern.
    pub fn new(config: &MultilineConfig) -> Result<Self, ConfigError> {
        let start = compile("StartPattern", &config.start_pattern)?;
        let mut cont = compile("ContinuePattern", &config.continue_pattern)?;
        let end = compile("EndPattern", &config.end_pattern)?;
        if start.is_none() && end.is_none() {
            return Err(ConfigError::Invalid {
                at: "Multiline".to_string(),
                key: "StartPattern".to_string(),
                message: "a multiline config needs a StartPattern or an EndPattern".to_string(),
            });
        }
        if start.is_some() && end.is_some() {
            cont = None;
        }
        let end_only = start.is_none() && cont.is_none();
        Ok(Self {
            start,
            cont,
            end,
            discard_unmatched: config.unmatched_content_treatment
                == UnmatchedContentTreatment::Discard,
            flush_timeout: config.flush_timeout,
            max_record_bytes: config.max_record_bytes.max(1),
            pending: Vec::new(),
            pending_bytes: 0,
            in_record: end_only,
            last_line_at: None,
            last_end: 0,
        })
    }

    fn end_only(&self) -> bool {
        self.start.is_none() && self.cont.is_none()
    }

    fn output(&self, out: &mut MultilineOutput) {
        out.consumed_up_to = self
            .pending
            .first()
            .map_or(self.last_end, |l| l.start_offset);
    }

    fn add(&mut self, line: SourceRecord) {
        self.pending_bytes += line.text.len() + 1;
        self.pending.push(line);
    }

    fn emit_pending(&mut self, out: &mut MultilineOutput) {
        self.pending_bytes = 0;
        if !self.pending.is_empty() {
            out.records.push(join(std::mem::take(&mut self.pending)));
        }
    }

    fn unmatched(&self, lines: Vec<SourceRecord>, out: &mut MultilineOutput) {
        if self.discard_unmatched {
            out.discarded += lines.len() as u64;
        } else {
            out.records.extend(lines);
        }
    }

    fn unmatched_pending(&mut self, out: &mut MultilineOutput) {
        self.pending_bytes = 0;
        let lines = std::mem::take(&mut self.pending);
        self.unmatched(lines, out);
    }

    /// Adds the next line of the file, read now.
    pub fn push(&mut self, line: SourceRecord) -> MultilineOutput {
        self.push_at(line, Instant::now())
    }

    /// Adds the next line of the file, read at `now`.
    pub fn push_at(&mut self, line: SourceRecord, now: Instant) -> MultilineOutput {
        let mut out = MultilineOutput::default();
        self.last_line_at = Some(now);
        self.last_end = self.last_end.max(line.end_offset);
        self.step(line, &mut out);
        if self.pending_bytes > self.max_record_bytes {
            self.emit_pending(&mut out);
        }
        self.output(&mut out);
        out
    }

    fn step(&mut self, line: SourceRecord, out: &mut MultilineOutput) {
        if !self.in_record {
            let opener = if self.start.is_some() {
                &self.start
            } else {
                &self.cont
            };
            if matches(opener, &line) {
                self.add(line);
                self.in_record = true;
            } else if self.start.is_none() && matches(&self.end, &line) {
                out.records.push(line);
            } else {
                self.unmatched(vec![line], out);
            }
            return;
        }
        if matches(&self.cont, &line) {
            self.add(line);
            return;
        }
        if self.end.is_some() {
            let is_end = matches(&self.end, &line);
            self.add(line);
            if self.cont.is_some() {
                if is_end {
                    self.emit_pending(out);
                } else {
                    self.unmatched_pending(out);
                }
                self.in_record = false;
            } else if is_end {
                self.emit_pending(out);
                self.in_record = self.end_only();
            }
        } else if self.cont.is_none() {
            if matches(&self.start, &line) {
                self.emit_pending(out);
            }
            self.add(line);
        } else {
            self.emit_pending(out);
            if matches(&self.start, &line) {
                self.add(line);
            } else {
                self.unmatched(vec![line], out);
                self.in_record = false;
            }
        }
    }

    /// Emits the pending record when no line came for `FlushTimeoutSecs` before `now`.
    pub fn flush_if_idle(&mut self, now: Instant) -> MultilineOutput {
        let idle = self
            .last_line_at
            .is_some_and(|t| now.saturating_duration_since(t) >= self.flush_timeout);
        if idle && !self.pending.is_empty() {
            self.flush()
        } else {
            let mut out = MultilineOutput::default();
            self.output(&mut out);
            out
        }
    }

    /// Emits the pending record now (end of data, file closed, config stopped).
    pub fn flush(&mut self) -> MultilineOutput {
        let mut out = MultilineOutput::default();
        if !self.pending.is_empty() {
            if self.end.is_none() {
                self.emit_pending(&mut out);
            } else {
                self.unmatched_pending(&mut out);
            }
        }
        self.in_record = self.end_only();
        self.output(&mut out);
        out
    }

    /// Whether lines are waiting for the rest of their record.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}
