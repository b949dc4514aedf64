//! Fuzzes the search-query parser and matcher: any text must parse or fail with an error, never
//! panic or overflow the stack, and whatever parses must print back to text that parses to the
//! same expression and must be matchable against a record.
#![no_main]

use cairn_model::{Field, LogRecord};
use cairn_query::{parse_query, SearchMatcher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(query) = parse_query(text) {
        let printed = query.search.to_string();
        let again = parse_query(&printed).expect("printed expressions parse");
        assert_eq!(
            again.search, query.search,
            "{text:?} printed as {printed:?}"
        );
        if let Ok(matcher) = SearchMatcher::new(&query.search, None) {
            let record = LogRecord {
                contents: vec![Field::new("content", text), Field::new("status", "500")],
                ..LogRecord::default()
            };
            let _ = matcher.matches(&record);
        }
    }
});
