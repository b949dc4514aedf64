//! Splitting record text into tokens by an index's delimiter characters.
//!
//! Record values are bytes and may not be UTF-8. ASCII delimiters are looked up in a table;
//! non-ASCII delimiters (e.g. a full-width comma) are matched only where the bytes decode as
//! UTF-8. Bytes that do not decode are never delimiters, so they stay inside tokens.
//!
//! The same tokenizer serves search (the matcher in `cairn-query`) and indexing (the split
//! token index in `cairn-store`), so what the index records is exactly what search looks for.
//!
//! Tokenising allocates nothing: [`Tokens`] yields slices of the input and is cheap to clone,
//! which the phrase matcher uses to look ahead.

/// A set of delimiter characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenizer {
    /// What byte `b` is: [`ByteClass::Word`], [`ByteClass::Delimiter`] (an ASCII delimiter) or
    /// [`ByteClass::Decode`] (a UTF-8 lead byte that may start a non-ASCII delimiter). Lets
    /// the tokenizer's loops decide most bytes with one lookup.
    classes: Box<[ByteClass; 256]>,
    /// Non-ASCII delimiters, sorted.
    other: Vec<char>,
}

impl Tokenizer {
    /// A tokenizer splitting on `delimiters`.
    pub fn new(delimiters: &[char]) -> Self {
        let mut ascii = [false; 128];
        let mut other = Vec::new();
        for &c in delimiters {
            if c.is_ascii() {
                ascii[c as usize] = true;
            } else {
                other.push(c);
            }
        }
        other.sort_unstable();
        other.dedup();
        let mut classes = Box::new([ByteClass::Word; 256]);
        for (byte, class) in classes.iter_mut().enumerate() {
            *class = match byte {
                0..=0x7F if ascii[byte] => ByteClass::Delimiter,
                0xC0..=0xF7 if !other.is_empty() => ByteClass::Decode,
                _ => ByteClass::Word,
            };
        }
        Self { classes, other }
    }

    /// A tokenizer splitting on SLS's default delimiters ([`crate::DEFAULT_TOKEN_DELIMITERS`]),
    /// the one split token indexes are built with.
    pub fn sls_default() -> Self {
        Self::new(&crate::DEFAULT_TOKEN_DELIMITERS.chars().collect::<Vec<_>>())
    }

    /// Whether `c` separates tokens.
    pub fn is_delimiter(&self, c: char) -> bool {
        if c.is_ascii() {
            self.classes[c as usize] == ByteClass::Delimiter
        } else {
            self.other.binary_search(&c).is_ok()
        }
    }

    /// The tokens of `text`, in order.
    pub fn tokens<'t>(&'t self, text: &'t [u8]) -> Tokens<'t> {
        Tokens {
            tokenizer: self,
            text,
            pos: 0,
        }
    }

    /// Whether `text` has no token at all (it is empty or only delimiters).
    pub fn has_no_tokens(&self, text: &[u8]) -> bool {
        self.tokens(text).next().is_none()
    }

    /// At byte `pos` of `text`: whether a delimiter starts there, and how many bytes the
    /// character there takes.
    fn delimiter_at(&self, text: &[u8], pos: usize) -> (bool, usize) {
        let byte = text[pos];
        match self.classes[usize::from(byte)] {
            ByteClass::Word => return (false, 1),
            ByteClass::Delimiter => return (true, 1),
            ByteClass::Decode => {}
        }
        let width = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return (false, 1),
        };
        let decoded = text
            .get(pos..pos + width)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|s| s.chars().next());
        match decoded {
            Some(c) => (self.is_delimiter(c), width),
            None => (false, 1),
        }
    }
}

/// How the tokenizer treats a byte (see `Tokenizer::classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    /// Part of a token: an ASCII non-delimiter, a continuation byte, or any non-ASCII byte
    /// when there are no non-ASCII delimiters.
    Word,
    /// An ASCII delimiter.
    Delimiter,
    /// A UTF-8 lead byte: the character it starts must be decoded to tell.
    Decode,
}

/// Iterator over the tokens of one text; see [`Tokenizer::tokens`].
#[derive(Debug, Clone)]
pub struct Tokens<'t> {
    tokenizer: &'t Tokenizer,
    text: &'t [u8],
    pos: usize,
}

impl<'t> Iterator for Tokens<'t> {
    type Item = &'t [u8];

    fn next(&mut self) -> Option<&'t [u8]> {
        let text = self.text;
        let classes = &self.tokenizer.classes;
        while self.pos < text.len() {
            match classes[usize::from(text[self.pos])] {
                ByteClass::Delimiter => self.pos += 1,
                ByteClass::Word => break,
                ByteClass::Decode => {
                    let (is_delimiter, width) = self.tokenizer.delimiter_at(text, self.pos);
                    if !is_delimiter {
                        break;
                    }
                    self.pos += width;
                }
            }
        }
        if self.pos >= text.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < text.len() {
            match classes[usize::from(text[self.pos])] {
                ByteClass::Word => self.pos += 1,
                ByteClass::Delimiter => break,
                ByteClass::Decode => {
                    let (is_delimiter, width) = self.tokenizer.delimiter_at(text, self.pos);
                    if is_delimiter {
                        break;
                    }
                    self.pos += width;
                }
            }
        }
        Some(&text[start..self.pos.min(text.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens<'t>(tokenizer: &'t Tokenizer, text: &'t [u8]) -> Vec<&'t [u8]> {
        tokenizer.tokens(text).collect()
    }

    #[test]
    fn splits_on_ascii_delimiters_and_skips_runs() {
        let tokenizer = Tokenizer::new(&[' ', ',']);
        let text = b"  a,,b c ";
        assert_eq!(tokens(&tokenizer, text), vec![&b"a"[..], b"b", b"c"]);
        assert!(tokenizer.has_no_tokens(b" ,, "));
        assert!(tokenizer.has_no_tokens(b""));
    }

    #[test]
    fn splits_on_non_ascii_delimiters_and_keeps_invalid_bytes() {
        let tokenizer = Tokenizer::new(&['，', ' ']);
        let text = "甲，乙 丙".as_bytes();
        let expected: Vec<&[u8]> = vec!["甲".as_bytes(), "乙".as_bytes(), "丙".as_bytes()];
        assert_eq!(tokens(&tokenizer, text), expected);
        let invalid = [0xff, b'a', b' ', 0xef, 0xbc];
        assert_eq!(
            tokens(&tokenizer, &invalid),
            vec![&[0xff, b'a'][..], &[0xef, 0xbc]]
        );
    }
}
