//! Parser tests: every syntax form, precedence, escapes, SQL splitting, limits and errors.

use cairn_query::{
    parse_query, parse_search, CompareOp, Number, QueryError, SearchExpression as E, ValueForm,
    MAX_NESTING, MAX_QUERY_BYTES,
};

fn parse(text: &str) -> E {
    parse_search(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn term(text: &str) -> E {
    E::Term { text: text.into() }
}

fn quoted(text: &str) -> E {
    E::Quoted { text: text.into() }
}

fn phrase(text: &str) -> E {
    E::Phrase { text: text.into() }
}

fn field_as(name: &str, text: &str, form: ValueForm) -> E {
    E::Field {
        field: name.into(),
        text: text.into(),
        form,
    }
}

fn field(name: &str, text: &str) -> E {
    field_as(name, text, ValueForm::Unquoted)
}

fn quoted_field(name: &str, text: &str) -> E {
    field_as(name, text, ValueForm::Quoted)
}

fn phrase_field(name: &str, text: &str) -> E {
    field_as(name, text, ValueForm::Phrase)
}

fn compare(name: &str, op: CompareOp, value: Number) -> E {
    E::Compare {
        field: name.into(),
        op,
        value,
    }
}

fn not(inner: E) -> E {
    E::Not(Box::new(inner))
}

/// The error's position, panicking if the text parses.
fn error_position(text: &str) -> (usize, String) {
    match parse_search(text) {
        Err(QueryError::Syntax { position, message }) => (position, message),
        other => panic!("{text:?} should be a syntax error, got {other:?}"),
    }
}

#[test]
fn empty_and_star_match_all() {
    assert_eq!(parse(""), E::MatchAll);
    assert_eq!(parse("   \t"), E::MatchAll);
    assert_eq!(parse("*"), E::MatchAll);
    assert_eq!(parse("**"), E::MatchAll);
    assert_eq!(
        parse("* and error"),
        E::And(vec![E::MatchAll, term("error")])
    );
}

#[test]
fn terms_quoted_text_and_wildcards() {
    assert_eq!(parse("error"), term("error"));
    assert_eq!(parse("\"connection reset\""), quoted("connection reset"));
    assert_eq!(parse("err*"), term("err*"));
    assert_eq!(parse("e?ror"), term("e?ror"));
    assert_eq!(parse(r"a\*b"), term(r"a\*b"), "escaped star stays literal");
    assert_eq!(parse(r"a\(b\)"), term("a(b)"), "other escapes are resolved");
    assert_eq!(parse("/api/v1"), term("/api/v1"));
    assert_eq!(parse("a-b.c"), term("a-b.c"));
}

#[test]
fn quoted_text_and_escapes() {
    assert_eq!(parse(r#""say \"hi\"""#), quoted("say \"hi\""));
    assert_eq!(parse(r#""C:\logs\\x""#), quoted(r"C:\logs\x"));
    assert_eq!(parse(r#""a|b""#), quoted("a|b"));
    assert_eq!(
        parse(r#""and""#),
        quoted("and"),
        "quotes make keywords plain text"
    );
    assert_eq!(parse(r"\and"), term("and"), "so does a backslash");
    assert_eq!(parse(r#""""#), quoted(""));
    assert_eq!(parse(r#""us*""#), quoted("us*"), "no wildcards in quotes");
}

#[test]
fn side_by_side_means_and() {
    assert_eq!(
        parse("a b \"c d\" #\"e f\""),
        E::And(vec![term("a"), term("b"), quoted("c d"), phrase("e f")])
    );
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        parse("a or b and c"),
        E::Or(vec![term("a"), E::And(vec![term("b"), term("c")])])
    );
    assert_eq!(
        parse("a and b or c"),
        E::Or(vec![E::And(vec![term("a"), term("b")]), term("c")])
    );
    assert_eq!(
        parse("a b or c d"),
        E::Or(vec![
            E::And(vec![term("a"), term("b")]),
            E::And(vec![term("c"), term("d")])
        ])
    );
    assert_eq!(
        parse("(a or b) c"),
        E::And(vec![E::Or(vec![term("a"), term("b")]), term("c")])
    );
    assert_eq!(
        parse("a or b or c"),
        E::Or(vec![term("a"), term("b"), term("c")])
    );
}

#[test]
fn keywords_are_case_insensitive() {
    assert_eq!(
        parse("a AND b Or c"),
        E::Or(vec![E::And(vec![term("a"), term("b")]), term("c")])
    );
    assert_eq!(parse("NOT a"), not(term("a")));
    assert_eq!(
        parse("android ordinal notice"),
        E::And(vec![term("android"), term("ordinal"), term("notice")])
    );
}

#[test]
fn not_forms() {
    assert_eq!(parse("not a"), not(term("a")));
    assert_eq!(parse("a not b"), E::And(vec![term("a"), not(term("b"))]));
    assert_eq!(
        parse("a and not b"),
        E::And(vec![term("a"), not(term("b"))])
    );
    assert_eq!(
        parse("not a and b"),
        E::And(vec![not(term("a")), term("b")])
    );
    assert_eq!(parse("not a or b"), E::Or(vec![not(term("a")), term("b")]));
    assert_eq!(parse("not not a"), not(not(term("a"))));
    assert_eq!(
        parse("not (a or b)"),
        not(E::Or(vec![term("a"), term("b")]))
    );
    assert_eq!(parse("not status: 200"), not(field("status", "200")));
}

#[test]
fn field_search_forms() {
    assert_eq!(parse("method: GET"), field("method", "GET"));
    assert_eq!(parse("method:GET"), field("method", "GET"));
    assert_eq!(parse("method : GET"), field("method", "GET"));
    assert_eq!(parse("ua: \"Mozilla 5\""), quoted_field("ua", "Mozilla 5"));
    assert_eq!(parse("path: /api*"), field("path", "/api*"));
    assert_eq!(
        parse("key: *"),
        E::Exists {
            field: "key".into()
        }
    );
    assert_eq!(
        parse("key:*"),
        E::Exists {
            field: "key".into()
        }
    );
    assert_eq!(parse("\"file info\": apsara"), field("file info", "apsara"));
    assert_eq!(parse("a.b: c"), field("a.b", "c"));
    assert_eq!(
        parse("url: http://a/b?x=1"),
        field("url", "http://a/b?x=1"),
        "values keep : and ="
    );
    assert_eq!(parse("time: 12:30:01"), field("time", "12:30:01"));
    assert_eq!(parse("(key:value)"), field("key", "value"));
    assert_eq!(
        parse("key: and"),
        field("key", "and"),
        "a value is never a keyword"
    );
}

#[test]
fn reserved_fields_and_tag_keys_with_colons() {
    assert_eq!(parse("__topic__: nginx"), field("__topic__", "nginx"));
    assert_eq!(
        parse("__source__: 10.0.0.1"),
        field("__source__", "10.0.0.1")
    );
    assert_eq!(parse("__tag__:host: web-1"), field("__tag__:host", "web-1"));
    assert_eq!(parse("__tag__:host:web-1"), field("__tag__:host", "web-1"));
    assert_eq!(
        parse(r"__tag__\:host: web-1"),
        field("__tag__:host", "web-1")
    );
    assert_eq!(
        parse("__tag__:__path__: \"/var/log/a.log\""),
        quoted_field("__tag__:__path__", "/var/log/a.log")
    );
    assert_eq!(
        parse("__tag__:__receive_time__ > 100"),
        compare(
            "__tag__:__receive_time__",
            CompareOp::Greater,
            Number::Integer(100)
        )
    );
    assert_eq!(
        parse("__tag__: x"),
        field("__tag__", "x"),
        "no key after __tag__"
    );
}

#[test]
fn numeric_comparisons() {
    use CompareOp::*;
    assert_eq!(
        parse("status > 10"),
        compare("status", Greater, Number::Integer(10))
    );
    assert_eq!(
        parse("status>=10"),
        compare("status", GreaterOrEqual, Number::Integer(10))
    );
    assert_eq!(
        parse("status < -3"),
        compare("status", Less, Number::Integer(-3))
    );
    assert_eq!(
        parse("t <= 1.5"),
        compare("t", LessOrEqual, Number::Float(1.5))
    );
    assert_eq!(parse("t = 2e3"), compare("t", Equal, Number::Float(2000.0)));
    assert_eq!(parse("t = \"7\""), compare("t", Equal, Number::Integer(7)));
    assert_eq!(
        parse("t > 99999999999999999999"),
        compare("t", Greater, Number::Float(1e20))
    );
}

#[test]
fn ranges() {
    let range = |low, low_inclusive, high, high_inclusive| E::Range {
        field: "latency".into(),
        low,
        low_inclusive,
        high,
        high_inclusive,
    };
    let (ten, twenty) = (Number::Integer(10), Number::Integer(20));
    assert_eq!(parse("latency in [10 20]"), range(ten, true, twenty, true));
    assert_eq!(parse("latency IN (10 20]"), range(ten, false, twenty, true));
    assert_eq!(parse("latency in [10 20)"), range(ten, true, twenty, false));
    assert_eq!(parse("latency in [10, 20]"), range(ten, true, twenty, true));
    assert_eq!(
        parse("latency in [0.5 1e3]"),
        range(Number::Float(0.5), true, Number::Float(1000.0), true)
    );
    assert_eq!(
        parse("latency in [10 20] and ok"),
        E::And(vec![range(ten, true, twenty, true), term("ok")])
    );
    // `in` that is not followed by a range is an ordinary word.
    assert_eq!(
        parse("born in berlin"),
        E::And(vec![term("born"), term("in"), term("berlin")])
    );
    assert_eq!(
        parse("born in (berlin or paris)"),
        E::And(vec![
            term("born"),
            term("in"),
            E::Or(vec![term("berlin"), term("paris")])
        ])
    );
}

#[test]
fn sql_is_split_off_after_the_first_top_level_pipe() {
    let query = parse_query("status: 200 | SELECT count(*) AS pv ").unwrap();
    assert_eq!(query.search, field("status", "200"));
    assert_eq!(query.sql.as_deref(), Some("SELECT count(*) AS pv"));
    let query = parse_query("* | select a | b").unwrap();
    assert_eq!(query.sql.as_deref(), Some("select a | b"));
    let query = parse_query("\"a | b\"").unwrap();
    assert_eq!((query.search, query.sql), (quoted("a | b"), None));
    let query = parse_query("#\"a | b\" | select 1").unwrap();
    assert_eq!(
        (query.search, query.sql.as_deref()),
        (phrase("a | b"), Some("select 1"))
    );
    let query = parse_query("| select 1").unwrap();
    assert_eq!(
        (query.search, query.sql.as_deref()),
        (E::MatchAll, Some("select 1"))
    );
    assert_eq!(parse_query("error").unwrap().sql, None);
}

#[test]
fn syntax_errors_name_the_token_and_position() {
    let (position, message) = error_position("a and");
    assert_eq!(position, 2);
    assert!(message.contains("\"and\""), "{message}");
    let (position, message) = error_position("or a");
    assert_eq!(position, 0);
    assert!(
        message.contains("\"or\"") && message.contains("left"),
        "{message}"
    );
    assert_eq!(error_position("a or or b").0, 2);
    assert_eq!(error_position("not").0, 0);
    let (position, message) = error_position("x (a or b");
    assert_eq!(position, 2);
    assert!(message.contains("never closed"), "{message}");
    assert_eq!(error_position("a b)").0, 3);
    assert_eq!(error_position("()").0, 1);
    assert_eq!(error_position(": x").0, 0);
    assert_eq!(error_position("> 3").0, 0);
    let (position, message) = error_position("ok \"abc");
    assert_eq!(position, 3);
    assert!(message.contains("never closed"), "{message}");
    let (position, message) = error_position("status:");
    assert_eq!(position, 6);
    assert!(message.contains("status:"), "{message}");
    let (position, message) = error_position("status > abc");
    assert_eq!(position, 9);
    assert!(
        message.contains("\"abc\"") && message.contains("not a number"),
        "{message}"
    );
    assert_eq!(error_position("status >").0, 7);
    assert_eq!(error_position("k in [1 x]").0, 8);
    assert_eq!(error_position("k in [1 2").0, 9);
    assert_eq!(error_position("a\\").0, 1);
    assert_eq!(error_position("(a | b)").0, 3);
    // Positions count characters, not bytes.
    assert_eq!(error_position("été and").0, 4);
}

#[test]
fn size_and_depth_are_bounded() {
    let long = "a".repeat(MAX_QUERY_BYTES + 1);
    assert!(matches!(
        parse_query(&long),
        Err(QueryError::TooLarge { .. })
    ));
    let fits = format!("{}{}", "a ".repeat(MAX_QUERY_BYTES / 2 - 1), "b");
    match parse_search(&fits).unwrap() {
        E::And(children) => assert_eq!(children.len(), MAX_QUERY_BYTES / 2),
        other => panic!("expected a long and-chain, got {other:?}"),
    }

    let nested = |depth: usize| format!("{}a{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse(&nested(MAX_NESTING)), term("a"));
    assert!(matches!(
        parse_search(&nested(MAX_NESTING + 1)),
        Err(QueryError::TooDeep { position: 64, .. })
    ));
    // Deep input must fail cleanly, not overflow the stack.
    let opens = "(".repeat(60_000);
    assert!(matches!(
        parse_query(&opens),
        Err(QueryError::TooDeep { .. })
    ));
    let nots = "not ".repeat(10_000) + "a";
    assert!(matches!(
        parse_query(&nots),
        Err(QueryError::TooDeep { .. })
    ));
    let mixed = "(not ".repeat(40) + "a" + &")".repeat(40);
    assert!(matches!(
        parse_query(&mixed),
        Err(QueryError::TooDeep { .. })
    ));
}

#[test]
fn display_round_trips() {
    let queries = [
        "error",
        "\"connection reset\"",
        "a b or c and not d",
        "(a or b) and (c or not (d and e))",
        "not not a",
        "a and (b and c)",
        "a or (b or c)",
        r"a\*b* e?r \and \(x\) x\ y",
        r#""say \"hi\" \\ C:\x""#,
        "method: GET and path: \"/a b\" and ua: Moz*",
        "__tag__:host: web-1 and __tag__:__path__: \"/var/log\" and __topic__: t",
        r"__tag__\:a\:b: c",
        "\"file info\": apsara and \"and\": x and \\or: y",
        "key: * and not other: *",
        "s > 1 and s >= -2 and s < 1.5 and s <= 1e300 and s = 2.0",
        "s in [1 2] or s in (1.5 2) or s in [-1 0)",
        "url: http://a/b?x=1",
        "born in berlin",
        "#\"connection refused\" and \"connection refused\"",
        "msg: #\"connection refused\" or msg:#\"a\\\"b\" or msg: #\"\" or msg: \"x y\"",
        "not #\"a b\" and (#\"and\" or #\"us*\")",
        "#refused and msg: #refused and \\#\"x\" and a#\"b\"",
        "__tag__:host: #\"web 1\"",
        "*",
        "",
    ];
    for query in queries {
        let parsed = parse(query);
        let printed = parsed.to_string();
        let reparsed = parse_search(&printed)
            .unwrap_or_else(|e| panic!("{printed:?} (from {query:?}) should parse: {e}"));
        assert_eq!(reparsed, parsed, "{query:?} printed as {printed:?}");
    }
    assert_eq!(parse("A  Or  b   AND c").to_string(), "A or b and c");
    assert_eq!(parse("not (a b)").to_string(), "not (a and b)");
    assert_eq!(
        parse("msg:#\"a  b\"   #\"c\" \"d\"").to_string(),
        "msg: #\"a  b\" and #\"c\" and \"d\"",
        "phrases print as #\"...\", quoted text as \"...\""
    );
    assert_eq!(parse("#refused").to_string(), "#refused");
}

#[test]
fn quotes_make_literal_text_not_phrases() {
    // SLS: double quotes only make text literal; `"a b"` is the non-phrase search of a and b.
    assert_eq!(
        parse("\"connection refused\""),
        quoted("connection refused")
    );
    assert_eq!(
        parse("msg: \"connection refused\""),
        quoted_field("msg", "connection refused")
    );
    assert_eq!(
        parse("msg:\"connection refused\""),
        quoted_field("msg", "connection refused")
    );
    assert_eq!(
        parse("\"error and failed\""),
        quoted("error and failed"),
        "keywords are plain text in quotes"
    );
    assert_eq!(parse("msg: \"a*\""), quoted_field("msg", "a*"));
}

#[test]
fn hash_quote_is_a_phrase() {
    assert_eq!(
        parse("#\"connection refused\""),
        phrase("connection refused")
    );
    assert_eq!(
        parse("msg: #\"connection refused\""),
        phrase_field("msg", "connection refused")
    );
    assert_eq!(
        parse("msg:#\"connection refused\""),
        phrase_field("msg", "connection refused")
    );
    assert_eq!(parse("msg: #\"refused\""), phrase_field("msg", "refused"));
    assert_eq!(parse("msg : #\"refused\""), phrase_field("msg", "refused"));
    assert_eq!(
        parse("__tag__:host: #\"web 1\""),
        phrase_field("__tag__:host", "web 1")
    );
    assert_eq!(
        parse("\"file info\": #\"a b\""),
        phrase_field("file info", "a b")
    );
    assert_eq!(parse(r#"#"say \"hi\" C:\x""#), phrase(r#"say "hi" C:\x"#));
    assert_eq!(parse("#\"and\""), phrase("and"), "keywords are plain text");
    assert_eq!(parse("#\"us*\""), phrase("us*"), "no wildcards in phrases");
    assert_eq!(parse("#\"\""), phrase(""));
    assert_eq!(parse("msg: #\"\""), phrase_field("msg", ""));
    assert_eq!(
        parse("#\"a b\" or not msg: #\"c\""),
        E::Or(vec![phrase("a b"), not(phrase_field("msg", "c"))])
    );
    assert_eq!(parse("(#\"a b\")"), phrase("a b"));
    assert_eq!(
        parse("#\"a\"#\"b\""),
        E::And(vec![phrase("a"), phrase("b")])
    );
}

#[test]
fn hash_without_a_quote_is_plain_text() {
    assert_eq!(parse("#refused"), term("#refused"));
    assert_eq!(parse("msg: #refused"), field("msg", "#refused"));
    assert_eq!(parse("msg:#refused"), field("msg", "#refused"));
    assert_eq!(parse("a#b"), term("a#b"));
    assert_eq!(
        parse("# \"a\""),
        E::And(vec![term("#"), quoted("a")]),
        "the quote must follow # directly"
    );
    assert_eq!(
        parse("a#\"b\""),
        E::And(vec![term("a#"), quoted("b")]),
        "# inside a word is part of it"
    );
    assert_eq!(
        parse(r#"\#"b""#),
        E::And(vec![term("#"), quoted("b")]),
        "an escaped # is not a phrase marker"
    );
}

#[test]
fn phrase_errors() {
    let (position, message) = error_position("ok #\"abc");
    assert_eq!(position, 4, "points at the quote");
    assert!(message.contains("never closed"), "{message}");
    assert_eq!(error_position("msg: #\"abc").0, 6);
    for query in ["#\"a b\": x", "#\"a\" > 1", "#\"a\" = 1", "#\"a\" in [1 2]"] {
        let (position, message) = error_position(query);
        assert_eq!(position, 0, "{query}");
        assert!(
            message.contains("cannot be a field name") && message.contains("\"a"),
            "{query}: {message}"
        );
    }
    assert_eq!(
        parse("#\"a\" in berlin"),
        E::And(vec![phrase("a"), term("in"), term("berlin")])
    );
    let (position, message) = error_position("t > #\"1\"");
    assert_eq!(position, 2);
    assert!(message.contains("needs a number"), "{message}");
}

#[test]
fn errors_display_actionably() {
    let error = parse_search("status > abc").unwrap_err();
    assert_eq!(
        error.to_string(),
        "syntax error at position 9: \"abc\" is not a number, so \"status > abc\" cannot \
         compare; to search for the text itself, quote it: \"status>abc\""
    );
}

/// Found by the round-trip property: `__tag__:*` before a bare `in` printed as
/// `__tag__: *`, which parses to an existence test, not to what was printed.
#[test]
fn a_tag_wildcard_before_in_prints_as_what_it_parses_to() {
    let parsed = cairn_query::parse_search("#* and __tag__:* in ").expect("parses");
    let printed = parsed.to_string();
    assert_eq!(
        cairn_query::parse_search(&printed),
        Ok(parsed),
        "printed as {printed:?}"
    );
}
