//! `processor_parse_regex_native`: the whole source value must match `Regex`; capture group
//! `i` becomes `Keys[i]`.
//!
//! As in LoongCollector (boost, perl syntax) `.` also matches a newline, so a multiline record
//! parses as one text. A group that did not take part in the match yields an empty value.
//! Values are slices of the record's text: parsing copies no bytes.
//!
//! ## One pass per line
//!
//! The regex crate's `captures` scans a line twice: a lazy DFA finds the match, then a
//! backtracker finds the groups inside it. For a pattern anchored at both ends the match can
//! only be the whole value, so the first pass tells nothing the second does not: a
//! [`BoundedBacktracker`] run alone does the one pass. Two are built from the pattern:
//!
//! * with ASCII classes (`\S`, `\w`, `.`, case folding over ASCII), for ASCII lines — nearly
//!   all log lines. On ASCII input every class matches exactly the bytes its Unicode form
//!   matches, so the result is the same, and the automaton is a third of the size (it runs
//!   1.5 times faster than the Unicode one);
//! * with Unicode classes, exactly as the regex crate compiles the pattern, for other lines.
//!
//! A line longer than a backtracker's memory bound allows, or a pattern one cannot be built
//! for (the ASCII one refuses `\p{..}` classes, for instance), goes to the regex crate as
//! before. All engines implement the same leftmost-first semantics, so which one ran never
//! changes a result.
//!
//! Invariant: the regex has at least as many capture groups as there are keys (checked when
//! the processor is built, where LoongCollector would fail every record instead).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use cairn_model::Field;
use regex::bytes::{CaptureLocations, Regex, RegexBuilder};
use regex_automata::nfa::thompson::backtrack::{BoundedBacktracker, Cache};
use regex_automata::nfa::thompson::Config as NfaConfig;
use regex_automata::util::captures::Captures;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax::Config as SyntaxConfig;
use regex_automata::{Anchored, Input};

use crate::config::{ConfigError, ParseRegexConfig};

use super::event::{key_bytes, Event, Source};
use super::DropReason;

/// The regex crate's compiled-size limit the parsers use.
const SIZE_LIMIT: usize = 16 << 20;

/// A backtracker's per-search state, one per thread at a time.
struct Scratch {
    ascii: Option<(Cache, Captures)>,
    unicode: Option<(Cache, Captures)>,
    locations: CaptureLocations,
}

type MakeScratch = Box<dyn Fn() -> Scratch + Send + Sync>;

/// The engines of one pattern (see the module docs).
struct Engines {
    regex: Regex,
    ascii: Option<BoundedBacktracker>,
    unicode: Option<BoundedBacktracker>,
    scratch: Pool<Scratch, MakeScratch>,
}

/// Group `i`'s span, if it took part in the match.
type Span = Option<(usize, usize)>;

/// A compiled regex parser.
#[derive(Clone)]
pub(crate) struct RegexParser {
    source: Source,
    engines: Arc<Engines>,
    keys: Vec<Bytes>,
    /// No key appears twice in `keys`.
    keys_distinct: bool,
    source_overwritten: bool,
}

impl fmt::Debug for RegexParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexParser")
            .field("regex", &self.engines.regex)
            .field("keys", &self.keys)
            .field("ascii_engine", &self.engines.ascii.is_some())
            .field("unicode_engine", &self.engines.unicode.is_some())
            .finish_non_exhaustive()
    }
}

/// A backtracker for `pattern` compiled as the regex crate's `bytes::Regex` compiles it
/// (`unicode` aside), or `None` when it cannot be built.
fn backtracker(pattern: &str, unicode: bool) -> Option<BoundedBacktracker> {
    let syntax = SyntaxConfig::new()
        .dot_matches_new_line(true)
        .unicode(unicode)
        .utf8(false);
    let nfa = NfaConfig::new()
        .utf8(false)
        .nfa_size_limit(Some(SIZE_LIMIT));
    BoundedBacktracker::builder()
        .syntax(syntax)
        .thompson(nfa)
        .build(pattern)
        .map_err(|error| tracing::debug!(%error, unicode, "no backtracker for the pattern"))
        .ok()
}

impl RegexParser {
    pub(crate) fn new(config: &ParseRegexConfig, at: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            at: at.to_string(),
            key: "Regex".to_string(),
            message,
        };
        let pattern = format!(r"\A(?:{})\z", config.regex);
        let regex = RegexBuilder::new(&pattern)
            .dot_matches_new_line(true)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| invalid(format!("{:?} is not a valid regex: {e}", config.regex)))?;
        let groups = regex.captures_len() - 1;
        if groups < config.keys.len() {
            return Err(invalid(format!(
                "{:?} has {groups} capture groups but Keys names {}",
                config.regex,
                config.keys.len()
            )));
        }
        let ascii = backtracker(&pattern, false);
        let unicode = backtracker(&pattern, true);
        let make = {
            let (ascii, unicode, regex) = (ascii.clone(), unicode.clone(), regex.clone());
            Box::new(move || Scratch {
                ascii: ascii
                    .as_ref()
                    .map(|e| (e.create_cache(), e.create_captures())),
                unicode: unicode
                    .as_ref()
                    .map(|e| (e.create_cache(), e.create_captures())),
                locations: regex.capture_locations(),
            }) as MakeScratch
        };
        let keys: Vec<Bytes> = config.keys.iter().map(|k| key_bytes(k)).collect();
        let keys_distinct = keys
            .iter()
            .enumerate()
            .all(|(i, key)| !keys[..i].contains(key));
        Ok(Self {
            source: Source::new(&config.source),
            engines: Arc::new(Engines {
                regex,
                ascii,
                unicode,
                scratch: Pool::new(make),
            }),
            keys,
            keys_distinct,
            source_overwritten: config.keys.contains(&config.source.source_key),
        })
    }

    pub(crate) fn apply(&self, event: &mut Event) -> Result<(), DropReason> {
        let Some(raw) = event.get(&self.source.key).cloned() else {
            return Ok(());
        };
        let mut spans: [Span; 32] = [None; 32];
        let mut more: Vec<Span> = Vec::new();
        let wanted = self.keys.len();
        let slots: &mut [Span] = if wanted <= spans.len() {
            &mut spans[..wanted]
        } else {
            more.resize(wanted, None);
            &mut more
        };
        let success = self.engines.find_groups(&raw, slots);
        if success {
            self.set_fields(event, &raw, slots);
        }
        self.source
            .finish(event, raw, success, self.source_overwritten)
    }

    /// Stores group `i + 1` under `keys[i]`.
    fn set_fields(&self, event: &mut Event, raw: &Bytes, spans: &[Span]) {
        let value = |span: &Span| span.map_or_else(Bytes::new, |(s, e)| raw.slice(s..e));
        // Distinct keys none of which the record has yet (the usual case: it holds only its
        // source) are appended as they are, without looking each one up.
        let fresh =
            self.keys_distinct && !event.contents.iter().any(|f| self.keys.contains(&f.key));
        if fresh {
            event.contents.reserve(self.keys.len());
            for (key, span) in self.keys.iter().zip(spans) {
                event.contents.push(Field {
                    key: key.clone(),
                    value: value(span),
                });
            }
        } else {
            for (key, span) in self.keys.iter().zip(spans) {
                event.set(key.clone(), value(span));
            }
        }
    }
}

impl Engines {
    /// Matches `haystack`; on a match, fills `spans[i]` with group `i + 1`.
    fn find_groups(&self, haystack: &[u8], spans: &mut [Span]) -> bool {
        let mut scratch = self.scratch.get();
        let scratch = &mut *scratch;
        let (engine, state) = if haystack.is_ascii() {
            (self.ascii.as_ref(), scratch.ascii.as_mut())
        } else {
            (self.unicode.as_ref(), scratch.unicode.as_mut())
        };
        if let (Some(engine), Some((cache, captures))) = (engine, state) {
            if haystack.len() <= engine.max_haystack_len() {
                let input = Input::new(haystack).anchored(Anchored::Yes);
                if engine.try_search(cache, &input, captures).is_ok() {
                    if !captures.is_match() {
                        return false;
                    }
                    for (i, span) in spans.iter_mut().enumerate() {
                        *span = captures.get_group(i + 1).map(|s| (s.start, s.end));
                    }
                    return true;
                }
            }
        }
        let locations = &mut scratch.locations;
        if self.regex.captures_read(locations, haystack).is_none() {
            return false;
        }
        for (i, span) in spans.iter_mut().enumerate() {
            *span = locations.get(i + 1);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(regex: &str, keys: &[&str]) -> RegexParser {
        let config = ParseRegexConfig {
            source: crate::config::SourceOptions {
                source_key: "content".to_owned(),
                keeping_source_when_parse_fail: false,
                keeping_source_when_parse_succeed: false,
                renamed_source_key: None,
                coping_raw_log: false,
            },
            regex: regex.to_owned(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        };
        RegexParser::new(&config, "test").expect("valid regex")
    }

    fn groups(parser: &RegexParser, text: &[u8]) -> Option<Vec<Span>> {
        let mut spans = vec![None; parser.keys.len()];
        parser
            .engines
            .find_groups(text, &mut spans)
            .then_some(spans)
    }

    /// What the regex crate alone answers.
    fn reference(parser: &RegexParser, text: &[u8]) -> Option<Vec<Span>> {
        let caps = parser.engines.regex.captures(text)?;
        let spans = (1..=parser.keys.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end())));
        Some(spans.collect())
    }

    #[test]
    fn every_engine_agrees_with_the_regex_crate() {
        let p = parser(r"(\S+) (\w+)?\s*(.*?)(é|e)?", &["a", "b", "c", "d"]);
        assert!(p.engines.ascii.is_some() && p.engines.unicode.is_some());
        let long = format!("x {}", "y".repeat(100_000)); // past the backtracker's bound
        let texts: [&[u8]; 9] = [
            b"host word rest of line",
            b"host  \t trailing e",
            "hôte mot reste é".as_bytes(),
            "a\u{a0}b c".as_bytes(), // NBSP: whitespace to Unicode \s, not to ASCII's
            b"\xff\xfe bytes \x80",
            b"",
            b"one",
            b"multi\nline\nvalue",
            long.as_bytes(),
        ];
        for text in texts {
            assert_eq!(groups(&p, text), reference(&p, text), "{text:?}");
        }
    }

    #[test]
    fn patterns_without_an_ascii_form_still_parse() {
        let p = parser(r"(\p{Greek}+) (\d+)", &["word", "n"]);
        assert!(p.engines.ascii.is_none());
        let text = "αβγ 42".as_bytes();
        assert_eq!(groups(&p, text), reference(&p, text));
        assert_eq!(groups(&p, b"abc 42"), None);
    }
}
