//! The rows of a batch read from a split that may match a search, decided on the Arrow
//! columns before any row becomes a `LogRecord`.
//!
//! A block's token filter says only that *some* row of the block may hold a search's tokens;
//! turning all 1,024 rows into records and running the matcher on each is what a needle
//! search would spend its time on. This filter looks for each required token's lowercase
//! text as a substring of every text column's value buffer at once (`memchr::memmem` over
//! the buffer, ASCII-lowercased), and keeps only the rows where the token query can hold.
//!
//! Invariant: the filter is a *necessary* condition, like the token index. A row is dropped
//! only if some required token is provably absent: a token of a value is a substring of it,
//! and ASCII case folding is the same on both sides. Anything it cannot decide keeps the
//! row: a non-ASCII token, a row with non-ASCII text (non-ASCII characters can fold to ASCII
//! ones), a token found in a column name (key tokens), and a hit that spans two values (it
//! keeps the first).

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use cairn_model::{RequiredToken, TokenQuery};
use memchr::memmem;

/// Which rows of `batch` may satisfy `query`; `None` when it may be every row.
pub(crate) fn candidate_rows(batch: &RecordBatch, query: &TokenQuery) -> Option<BooleanArray> {
    if query.is_everything() {
        return None;
    }
    let columns = TextColumns::of(batch);
    let rows = evaluate(query, &columns, batch.num_rows());
    Some(BooleanArray::from(rows))
}

/// The text columns of a batch, with their lowercased value buffers.
struct TextColumns<'b> {
    columns: Vec<TextColumn<'b>>,
    /// Rows holding non-ASCII text in any column: kept by every token.
    non_ascii_rows: Option<Vec<bool>>,
}

struct TextColumn<'b> {
    lowercase_name: String,
    array: &'b StringArray,
    /// The array's value bytes (from its first offset), ASCII-lowercased.
    lowercase_values: Vec<u8>,
    /// The first offset, to map a position in `lowercase_values` back to a row.
    base: usize,
}

impl<'b> TextColumns<'b> {
    fn of(batch: &'b RecordBatch) -> TextColumns<'b> {
        let schema = batch.schema();
        let mut columns = Vec::new();
        let mut non_ascii_rows: Option<Vec<bool>> = None;
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            if field.data_type() != &DataType::Utf8 {
                continue;
            }
            let Some(array) = column.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            let offsets = array.value_offsets();
            let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
                continue;
            };
            let (base, end) = (first.max(0) as usize, last.max(0) as usize);
            let values = &array.value_data()[base..end];
            if !values.is_ascii() {
                let rows = non_ascii_rows.get_or_insert_with(|| vec![false; array.len()]);
                for (row, keep) in rows.iter_mut().enumerate() {
                    if !array.is_null(row) && !array.value(row).is_ascii() {
                        *keep = true;
                    }
                }
            }
            columns.push(TextColumn {
                lowercase_name: field.name().to_ascii_lowercase(),
                array,
                lowercase_values: values.to_ascii_lowercase(),
                base,
            });
        }
        TextColumns {
            columns,
            non_ascii_rows,
        }
    }

    /// Rows that may contain `token`.
    fn rows_with(&self, token: &RequiredToken, row_count: usize) -> Vec<bool> {
        let Some(text) = token.ascii_lowercase.as_deref() else {
            return vec![true; row_count];
        };
        if text.is_empty() {
            return vec![true; row_count];
        }
        let mut rows = self
            .non_ascii_rows
            .clone()
            .unwrap_or_else(|| vec![false; row_count]);
        let finder = memmem::Finder::new(text);
        for column in &self.columns {
            if memmem::find(column.lowercase_name.as_bytes(), text).is_some() {
                return vec![true; row_count];
            }
            let offsets = column.array.value_offsets();
            let haystack = &column.lowercase_values;
            let mut from = 0;
            while let Some(hit) = haystack.get(from..).and_then(|rest| finder.find(rest)) {
                let position = (column.base + from + hit) as i64;
                // The row whose value starts at or before the hit (offsets has len + 1
                // entries, so the index is in 0..len).
                let row = offsets
                    .partition_point(|&offset| i64::from(offset) <= position)
                    .saturating_sub(1);
                if let Some(keep) = rows.get_mut(row) {
                    *keep = true;
                }
                // The row is kept: go on from the next row's value (or the next byte, for
                // a hit spanning into it, so overlapping hits are not missed).
                let next_row = offsets
                    .get(row + 1)
                    .map_or(usize::MAX, |&offset| offset.max(0) as usize);
                from = (next_row.saturating_sub(column.base)).max(from + hit + 1);
            }
        }
        rows
    }
}

fn evaluate(query: &TokenQuery, columns: &TextColumns<'_>, row_count: usize) -> Vec<bool> {
    match query {
        TokenQuery::Everything => vec![true; row_count],
        TokenQuery::Token(token) => columns.rows_with(token, row_count),
        TokenQuery::All(parts) => {
            let mut rows = vec![true; row_count];
            for part in parts {
                if !rows.contains(&true) {
                    break;
                }
                for (row, keep) in rows.iter_mut().zip(evaluate(part, columns, row_count)) {
                    *row &= keep;
                }
            }
            rows
        }
        TokenQuery::Any(parts) => {
            let mut rows = vec![false; row_count];
            for part in parts {
                for (row, keep) in rows.iter_mut().zip(evaluate(part, columns, row_count)) {
                    *row |= keep;
                }
            }
            rows
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::columns::records_to_batch;
    use cairn_model::{Field, LogRecord, LogTime, Tokenizer};
    use proptest::prelude::*;

    fn record(fields: &[(&str, &str)]) -> LogRecord {
        LogRecord {
            time: LogTime::new(1_700_000_000, 0),
            contents: fields
                .iter()
                .map(|(key, value)| Field::new(*key, *value))
                .collect(),
            ..LogRecord::default()
        }
    }

    fn kept(records: &[LogRecord], query: &TokenQuery) -> Vec<bool> {
        let with_offsets: Vec<(u64, &LogRecord)> = records
            .iter()
            .enumerate()
            .map(|(at, r)| (at as u64, r))
            .collect();
        let batch = records_to_batch(&with_offsets).expect("batch");
        candidate_rows(&batch, query)
            .map(|rows| rows.iter().map(|row| row == Some(true)).collect())
            .unwrap_or_else(|| vec![true; records.len()])
    }

    #[test]
    fn keeps_only_rows_holding_the_token_in_any_case() {
        let records = vec![
            record(&[("message", "GET /a 200"), ("level", "info")]),
            record(&[
                ("message", "timeout talking to needle7F3A"),
                ("level", "warn"),
            ]),
            record(&[("message", "plain"), ("other", "NEEDLE7f3a,x")]),
            record(&[("message", "no match here")]),
        ];
        let query = TokenQuery::all_tokens([&b"needle7f3a"[..]]);
        assert_eq!(kept(&records, &query), vec![false, true, true, false]);
        let both = TokenQuery::all_tokens([&b"needle7f3a"[..], b"warn"]);
        assert_eq!(kept(&records, &both), vec![false, true, false, false]);
        let either = TokenQuery::Any(vec![
            TokenQuery::all_tokens([&b"info"[..]]),
            TokenQuery::all_tokens([&b"plain"[..]]),
        ]);
        assert_eq!(kept(&records, &either), vec![true, false, true, false]);
    }

    #[test]
    fn keeps_what_it_cannot_decide() {
        let records = vec![
            record(&[("message", "ordinary")]),
            record(&[("message", "\u{212A}ey with a kelvin sign")]),
        ];
        // Non-ASCII text can fold to the ASCII token: kept.
        let key = TokenQuery::all_tokens([&b"key"[..]]);
        assert_eq!(kept(&records, &key), vec![false, true]);
        // A token found in a column name: every row kept.
        let column = TokenQuery::all_tokens([&b"message"[..]]);
        assert_eq!(kept(&records, &column), vec![true, true]);
        // A non-ASCII token: every row kept.
        let wide = TokenQuery::all_tokens(["échec".as_bytes()]);
        assert_eq!(kept(&records, &wide), vec![true, true]);
        assert_eq!(kept(&records, &TokenQuery::Everything), vec![true, true]);
    }

    proptest! {
        /// Never drops a row that holds every required token (as the tokenizer splits it).
        #[test]
        fn never_drops_a_row_holding_the_tokens(
            values in proptest::collection::vec("[a-cA-C0-9 ,.é]{0,12}", 1..20),
            pick in 0usize..20,
        ) {
            let records: Vec<LogRecord> = values
                .iter()
                .map(|value| record(&[("k", value.as_str())]))
                .collect();
            let tokenizer = Tokenizer::sls_default();
            let source = &values[pick % values.len()];
            let tokens: Vec<&[u8]> = tokenizer.tokens(source.as_bytes()).take(2).collect();
            let query = TokenQuery::all_tokens(tokens.iter().copied());
            let rows = kept(&records, &query);
            for (at, value) in values.iter().enumerate() {
                let value_tokens: Vec<Vec<u8>> = tokenizer
                    .tokens(value.as_bytes())
                    .map(|token| token.to_ascii_lowercase())
                    .collect();
                let holds = tokens
                    .iter()
                    .all(|token| value_tokens.contains(&token.to_ascii_lowercase()));
                if holds {
                    prop_assert!(rows[at], "row {at} ({value:?}) dropped for {tokens:?}");
                }
            }
        }
    }
}
