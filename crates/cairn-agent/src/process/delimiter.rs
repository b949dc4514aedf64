//! `processor_parse_delimiter_native`: columns separated by `Separator` become `Keys`.
//!
//! Follows LoongCollector's `ProcessorParseDelimiterNative` and `DelimiterModeFsmParser`:
//! leading spaces and trailing spaces / `\r` are ignored; a value that is empty after that is
//! left untouched. With a one-byte separator different from `Quote`, a column may be quoted
//! (`"a,b"`, with `""` for a literal quote); a quote inside an unquoted column, text after a
//! closing quote, or an unclosed quote makes the line fail to parse. With a longer separator
//! the value is split on it and quotes mean nothing.
//!
//! Deviation: with `OverflowedFieldsTreatment: keep`, the extra columns are joined by the
//! separator without the leading separator LoongCollector's quoted mode writes.

use bytes::Bytes;

use crate::config::{OverflowedFieldsTreatment, ParseDelimiterConfig};

use super::event::{key_bytes, Event, Source};
use super::DropReason;

const DISCARDED_KEY: &str = "_";

/// A delimiter parser.
#[derive(Debug, Clone)]
pub(crate) struct DelimiterParser {
    source: Source,
    separator: Vec<u8>,
    quote: Option<u8>,
    keys: Vec<Bytes>,
    allow_short: bool,
    overflow: OverflowedFieldsTreatment,
    source_overwritten: bool,
}

enum State {
    Initial,
    Data,
    Quoted,
    QuoteInQuoted,
}

/// Splits `line` on `sep` honouring `quote`; `None` when the quoting is malformed.
fn split_quoted(line: &Bytes, sep: u8, quote: u8) -> Option<Vec<Bytes>> {
    let mut columns = Vec::new();
    let mut field: Vec<u8> = Vec::new();
    let mut state = State::Initial;
    for &ch in line.iter() {
        state = if ch == sep {
            match state {
                State::Quoted => {
                    field.push(ch);
                    State::Quoted
                }
                _ => {
                    columns.push(Bytes::from(std::mem::take(&mut field)));
                    State::Initial
                }
            }
        } else if ch == quote {
            match state {
                State::Initial => State::Quoted,
                State::Quoted => State::QuoteInQuoted,
                State::Data => return None,
                State::QuoteInQuoted => {
                    field.push(ch);
                    State::Quoted
                }
            }
        } else {
            match state {
                State::Initial | State::Data => {
                    field.push(ch);
                    State::Data
                }
                State::Quoted => {
                    field.push(ch);
                    State::Quoted
                }
                State::QuoteInQuoted => return None,
            }
        };
    }
    match state {
        State::Quoted => None,
        _ => {
            columns.push(Bytes::from(field));
            Some(columns)
        }
    }
}

/// Splits `line` on every occurrence of `sep`, as slices of `line`.
fn split_plain(line: &Bytes, sep: &[u8]) -> Vec<Bytes> {
    let mut columns = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= line.len() {
        if &line[i..i + sep.len()] == sep {
            columns.push(line.slice(start..i));
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    columns.push(line.slice(start..));
    columns
}

impl DelimiterParser {
    pub(crate) fn new(config: &ParseDelimiterConfig) -> Self {
        Self {
            source: Source::new(&config.source),
            separator: config.separator.clone(),
            quote: config
                .quote
                .filter(|q| config.separator.len() == 1 && config.separator[0] != *q),
            keys: config.keys.iter().map(|k| key_bytes(k)).collect(),
            allow_short: config.allowing_shortened_fields,
            overflow: config.overflowed_fields_treatment,
            source_overwritten: config.keys.contains(&config.source.source_key),
        }
    }

    pub(crate) fn apply(&self, event: &mut Event) -> Result<(), DropReason> {
        let Some(raw) = event.get(&self.source.key).cloned() else {
            return Ok(());
        };
        let end = raw
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\r')
            .map_or(0, |p| p + 1);
        let begin = raw[..end].iter().position(|b| *b != b' ').unwrap_or(end);
        if begin >= end {
            // LoongCollector leaves blank values alone.
            return Ok(());
        }
        let line = raw.slice(begin..end);
        let columns = match self.quote {
            Some(quote) => split_quoted(&line, self.separator[0], quote),
            None => Some(split_plain(&line, &self.separator)),
        };
        let columns = columns.filter(|c| self.allow_short || c.len() >= self.keys.len());
        let success = match columns {
            Some(columns) => {
                self.assign(event, columns);
                true
            }
            None => false,
        };
        self.source
            .finish(event, raw, success, self.source_overwritten)
    }

    fn assign(&self, event: &mut Event, mut columns: Vec<Bytes>) {
        let n = self.keys.len();
        if columns.len() > n && self.overflow == OverflowedFieldsTreatment::Keep {
            let extra = columns.split_off(n);
            let joined = extra.join(&self.separator[..]);
            columns.push(Bytes::from(joined));
        }
        let discard = self.overflow == OverflowedFieldsTreatment::Discard;
        for (i, value) in columns.into_iter().enumerate() {
            match self.keys.get(i) {
                Some(key) if discard && key == DISCARDED_KEY.as_bytes() => {}
                Some(key) => event.set(key.clone(), value),
                None if discard => break,
                None => event.set(Bytes::from(format!("__column{i}__")), value),
            }
        }
    }
}
