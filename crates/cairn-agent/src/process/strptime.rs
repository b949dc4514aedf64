//! A strptime-like time parser for `SourceFormat`, covering the directives LoongCollector
//! documents for `processor_parse_timestamp_native`.
//!
//! Like C `strptime` (and LoongCollector), parsing stops at the end of the format: text after
//! it is ignored (`%Y-%m-%dT%H:%M:%S` reads `2023-12-28T08:07:12.187340`). Whitespace in the
//! format matches any run of whitespace, including none. Numbers take at most their field's
//! width. `%f` reads 1 to 9 fraction digits (more are skipped); `%s` reads epoch seconds, and
//! digits past the tenth are read as a fraction (millisecond and longer timestamps).
//!
//! Invariant: [`Format::parse`] never panics and never allocates per call.

/// One compiled element of a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Literal(u8),
    Space,
    Year4,
    Year2,
    Century,
    Month,
    MonthName,
    Day,
    DayOfYear,
    Hour24,
    Hour12,
    AmPm,
    Minute,
    Second,
    Fraction,
    Epoch,
    Offset,
    WeekdayName,
    /// A number that does not change the date (weekday and week numbers), of this width.
    Ignored(usize),
}

/// A compiled `SourceFormat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Format {
    items: Vec<Item>,
    pub(crate) has_year: bool,
}

/// What a successful parse found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) year: Option<i32>,
    pub(crate) century: Option<i32>,
    pub(crate) year2: Option<i32>,
    pub(crate) month: Option<u32>,
    pub(crate) day: Option<u32>,
    pub(crate) day_of_year: Option<u32>,
    pub(crate) hour: u32,
    pub(crate) hour12: Option<u32>,
    pub(crate) pm: Option<bool>,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    pub(crate) epoch: Option<i64>,
    /// A zone offset read from the text (`%z`), in seconds east of UTC.
    pub(crate) offset: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

impl Format {
    /// Compiles `format`; the error names the first unsupported directive.
    pub(crate) fn compile(format: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        Self::expand(format, &mut items, 0)?;
        let has_year = items
            .iter()
            .any(|i| matches!(i, Item::Year4 | Item::Year2 | Item::Epoch));
        Ok(Self { items, has_year })
    }

    fn expand(format: &str, items: &mut Vec<Item>, depth: u8) -> Result<(), String> {
        let mut chars = format.bytes();
        while let Some(c) = chars.next() {
            if c.is_ascii_whitespace() {
                if items.last() != Some(&Item::Space) {
                    items.push(Item::Space);
                }
                continue;
            }
            if c != b'%' {
                items.push(Item::Literal(c));
                continue;
            }
            let Some(d) = chars.next() else {
                return Err("the format ends with a lone %".to_string());
            };
            let composite = match d {
                b'T' => Some("%H:%M:%S"),
                b'D' | b'x' => Some("%m/%d/%y"),
                b'F' => Some("%Y-%m-%d"),
                b'R' => Some("%H:%M"),
                b'r' => Some("%I:%M:%S %p"),
                b'c' => Some("%a %b %e %H:%M:%S %Y"),
                b'X' => Some("%H:%M:%S"),
                _ => None,
            };
            if let Some(sub) = composite {
                if depth > 2 {
                    return Err("nested composite directives".to_string());
                }
                Self::expand(sub, items, depth + 1)?;
                continue;
            }
            items.push(match d {
                b'Y' => Item::Year4,
                b'y' => Item::Year2,
                b'C' => Item::Century,
                b'm' => Item::Month,
                b'b' | b'B' | b'h' => Item::MonthName,
                b'd' | b'e' => Item::Day,
                b'j' => Item::DayOfYear,
                b'H' | b'k' => Item::Hour24,
                b'I' | b'l' => Item::Hour12,
                b'p' => Item::AmPm,
                b'M' => Item::Minute,
                b'S' => Item::Second,
                b'f' => Item::Fraction,
                b's' => Item::Epoch,
                b'z' => Item::Offset,
                b'a' | b'A' => Item::WeekdayName,
                b'u' | b'w' => Item::Ignored(1),
                b'U' | b'V' | b'W' => Item::Ignored(2),
                b'n' | b't' => Item::Space,
                b'%' => Item::Literal(b'%'),
                other => {
                    return Err(format!(
                        "directive %{} is not supported",
                        char::from(other).escape_default()
                    ))
                }
            });
        }
        Ok(())
    }

    /// Parses the start of `text`; `None` when it does not fit the format.
    pub(crate) fn parse(&self, text: &[u8]) -> Option<Parsed> {
        let mut p = Parsed::default();
        let mut pos = 0usize;
        for item in &self.items {
            match *item {
                Item::Literal(c) => {
                    if text.get(pos) != Some(&c) {
                        return None;
                    }
                    pos += 1;
                }
                Item::Space => {
                    while text.get(pos).is_some_and(u8::is_ascii_whitespace) {
                        pos += 1;
                    }
                }
                Item::Year4 => p.year = Some(number(text, &mut pos, 4)? as i32),
                Item::Year2 => p.year2 = Some(number(text, &mut pos, 2)? as i32),
                Item::Century => p.century = Some(number(text, &mut pos, 2)? as i32),
                Item::Month => p.month = Some(number(text, &mut pos, 2)? as u32),
                Item::MonthName => p.month = Some(name(text, &mut pos, &MONTHS)? as u32 + 1),
                Item::Day => {
                    if text.get(pos) == Some(&b' ') {
                        pos += 1;
                    }
                    p.day = Some(number(text, &mut pos, 2)? as u32);
                }
                Item::DayOfYear => p.day_of_year = Some(number(text, &mut pos, 3)? as u32),
                Item::Hour24 => p.hour = number(text, &mut pos, 2)? as u32,
                Item::Hour12 => p.hour12 = Some(number(text, &mut pos, 2)? as u32),
                Item::AmPm => p.pm = Some(am_pm(text, &mut pos)?),
                Item::Minute => p.minute = number(text, &mut pos, 2)? as u32,
                Item::Second => p.second = number(text, &mut pos, 2)? as u32,
                Item::Fraction => p.nanos = fraction(text, &mut pos)?,
                Item::Epoch => {
                    p.epoch = Some(number(text, &mut pos, 10)? as i64);
                    if text.get(pos).is_some_and(u8::is_ascii_digit) {
                        p.nanos = fraction(text, &mut pos)?;
                    }
                }
                Item::Offset => p.offset = Some(offset(text, &mut pos)?),
                Item::WeekdayName => {
                    name(text, &mut pos, &WEEKDAYS)?;
                }
                Item::Ignored(width) => {
                    number(text, &mut pos, width)?;
                }
            }
        }
        Some(p)
    }
}

/// Reads 1 to `width` ASCII digits.
fn number(text: &[u8], pos: &mut usize, width: usize) -> Option<u64> {
    let start = *pos;
    let mut value: u64 = 0;
    while *pos - start < width {
        match text.get(*pos) {
            Some(d) if d.is_ascii_digit() => {
                value = value * 10 + u64::from(d - b'0');
                *pos += 1;
            }
            _ => break,
        }
    }
    (*pos > start).then_some(value)
}

/// Reads fraction digits as nanoseconds (digits past the ninth are skipped).
fn fraction(text: &[u8], pos: &mut usize) -> Option<u32> {
    let start = *pos;
    let mut nanos: u32 = 0;
    while let Some(d) = text.get(*pos).filter(|d| d.is_ascii_digit()) {
        if *pos - start < 9 {
            nanos = nanos * 10 + u32::from(d - b'0');
        }
        *pos += 1;
    }
    let digits = (*pos - start).min(9) as u32;
    (digits > 0).then(|| nanos * 10u32.pow(9 - digits))
}

/// Reads a full or three-letter name from `names` (case-insensitive); its index.
fn name(text: &[u8], pos: &mut usize, names: &[&str]) -> Option<usize> {
    let rest = &text[(*pos).min(text.len())..];
    for (i, full) in names.iter().enumerate() {
        for candidate in [full.as_bytes(), &full.as_bytes()[..3]] {
            if rest.len() >= candidate.len()
                && rest[..candidate.len()].eq_ignore_ascii_case(candidate)
            {
                *pos += candidate.len();
                return Some(i);
            }
        }
    }
    None
}

fn am_pm(text: &[u8], pos: &mut usize) -> Option<bool> {
    let rest = text.get(*pos..(*pos + 2))?;
    let pm = if rest.eq_ignore_ascii_case(b"AM") {
        false
    } else if rest.eq_ignore_ascii_case(b"PM") {
        true
    } else {
        return None;
    };
    *pos += 2;
    Some(pm)
}

/// Reads `Z`, `+HH`, `+HHMM` or `+HH:MM`; seconds east of UTC.
fn offset(text: &[u8], pos: &mut usize) -> Option<i32> {
    match text.get(*pos)? {
        b'Z' | b'z' => {
            *pos += 1;
            return Some(0);
        }
        b'+' | b'-' => {}
        _ => return None,
    }
    let negative = text[*pos] == b'-';
    *pos += 1;
    let start = *pos;
    let hours = number(text, pos, 2)?;
    if *pos - start != 2 {
        return None;
    }
    if text.get(*pos) == Some(&b':') {
        *pos += 1;
    }
    let before = *pos;
    let minutes = number(text, pos, 2).unwrap_or(0);
    if *pos != before && *pos - before != 2 {
        return None;
    }
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = (hours * 3600 + minutes * 60) as i32;
    Some(if negative { -seconds } else { seconds })
}
