//! Property tests: the parser never panics, printed expressions parse back to themselves,
//! matching never panics, and histograms always tile their range.

use cairn_model::{fold_token_hash, Field, LogRecord, Tokenizer};
use cairn_query::{
    histogram, parse_query, parse_search, SearchExpression, SearchMatcher, ValueForm,
    MAX_AUTO_BUCKETS,
};
use proptest::prelude::*;

/// Query-like text: words, operators and syntax characters, more likely to parse than noise.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("Err*".to_owned()),
        Just("x?y".to_owned()),
        Just(" and ".to_owned()),
        Just(" OR ".to_owned()),
        Just(" not ".to_owned()),
        Just(" in ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[1 2]".to_owned()),
        Just(":".to_owned()),
        Just(": ".to_owned()),
        Just(" > ".to_owned()),
        Just(">=".to_owned()),
        Just("=".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        Just("#\"".to_owned()),
        Just(" #\"a b\" ".to_owned()),
        Just("\\".to_owned()),
        Just("|".to_owned()),
        Just("*".to_owned()),
        Just("__tag__:".to_owned()),
        Just("-1.5".to_owned()),
        Just("é".to_owned()),
        Just(" ".to_owned()),
        "[a-z]{1,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_query(&text);
    }

    #[test]
    fn parser_never_panics_on_query_like_text(text in query_like()) {
        let _ = parse_query(&text);
    }

    #[test]
    fn matching_never_panics(
        text in query_like(),
        key in "[a-z]{1,2}",
        value in prop::collection::vec(any::<u8>(), 0..24),
    ) {
        if let Ok(parsed) = parse_search(&text) {
            if let Ok(matcher) = SearchMatcher::new(&parsed, None) {
                let record = LogRecord {
                    contents: vec![Field::new(key, value)],
                    ..Default::default()
                };
                let _ = matcher.matches(&record);
            }
        }
    }

    /// The token index may skip a record only if the search cannot match it: whenever the
    /// matcher accepts a record, the token query admits the record's folded token set.
    #[test]
    fn token_queries_never_reject_a_matching_record(
        text in query_like(),
        key in "[a-z]{1,2}",
        words in prop::collection::vec(prop_oneof![
            Just("a".to_owned()), Just("Err".to_owned()), Just("xzy".to_owned()),
            Just("é".to_owned()), Just("É".to_owned()), "[a-zA-Z]{1,3}",
        ], 0..6),
    ) {
        let value = words.join(" ");
        if let Ok(parsed) = parse_search(&text) {
            if let Ok(matcher) = SearchMatcher::new(&parsed, None) {
                let record = LogRecord {
                    contents: vec![Field::new(key, value.as_bytes())],
                    ..Default::default()
                };
                if matcher.matches(&record) {
                    let tokenizer = Tokenizer::sls_default();
                    let tokens: Vec<u64> = record
                        .contents
                        .iter()
                        .flat_map(|field| {
                            tokenizer
                                .tokens(&field.key)
                                .chain(tokenizer.tokens(&field.value))
                                .map(fold_token_hash)
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    let query = matcher.token_query(&tokenizer);
                    prop_assert!(query.admits(&|hash| tokens.contains(&hash)), "{query:?}");
                }
            }
        }
    }

    #[test]
    fn literal_text_round_trips_quoted_and_as_a_phrase(
        text in any::<String>(),
        field in "[a-z_]{1,8}|.{0,8}",
    ) {
        let expressions = [
            SearchExpression::Quoted { text: text.clone() },
            SearchExpression::Phrase { text: text.clone() },
            SearchExpression::Field { field: field.clone(), text: text.clone(), form: ValueForm::Quoted },
            SearchExpression::Field { field, text, form: ValueForm::Phrase },
        ];
        for expression in expressions {
            let printed = expression.to_string();
            prop_assert_eq!(parse_search(&printed), Ok(expression), "printed as {:?}", printed);
        }
    }

    #[test]
    fn histograms_tile_their_range(from in any::<u32>(), span in 1u32..10_000_000, interval in prop::option::of(0u32..100_000)) {
        let to = from.saturating_add(span);
        prop_assume!(from < to);
        let buckets = histogram(from, to, interval, [from, to - 1].into_iter());
        prop_assert_eq!(buckets.first().map(|b| b.from), Some(from));
        prop_assert_eq!(buckets.last().map(|b| b.to), Some(to));
        for pair in buckets.windows(2) {
            prop_assert_eq!(pair[0].to, pair[1].from);
        }
        prop_assert!(buckets.iter().all(|b| b.from < b.to));
        prop_assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 2);
        if interval.unwrap_or(0) == 0 {
            prop_assert!(buckets.len() as u64 <= MAX_AUTO_BUCKETS);
        }
    }
}

proptest! {
    // About one generated text in ten parses, so try more of them.
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn printed_expressions_parse_back(text in query_like()) {
        if let Ok(parsed) = parse_search(&text) {
            let printed = parsed.to_string();
            let reparsed = parse_search(&printed);
            prop_assert_eq!(reparsed, Ok(parsed), "{:?} printed as {:?}", text, printed);
        }
    }
}
