//! A bound on how deep SQL expressions can nest, checked on tokens before anything is parsed.
//!
//! sqlparser limits the recursion of its own parser, but a chain of binary operators
//! (`1+1+1+...`, `a=1 OR a=2 OR ...`) is parsed in a loop into a tree as deep as the chain is
//! long, and cloning, dropping, visiting or planning such a tree recurses once per level: a
//! 64 KiB query could overflow a thread's stack and abort the server. So the depth is bounded
//! first, from the tokens alone.
//!
//! The bound: every operator token (symbols such as `+`, `=`, `::`, `[`, and the keywords
//! `AND`, `OR`, `NOT`, `IS`, `LIKE`, `IN`, `BETWEEN`, ...) adds one level; commas, clause
//! keywords (`SELECT`, `FROM`, `WHERE`, ...) and `WHEN`/`THEN`/`ELSE` end an expression, so they
//! start counting again; a parenthesis (or `CASE ... END`) opens a group that starts counting
//! from the level it is opened at. Any expression tree is at most as deep as this count, so a
//! query under [`MAX_EXPRESSION_DEPTH`] is safe on a 2 MiB thread stack, even in a debug
//! build; realistic queries stay below it (a `WHERE` of 100 `key = value` conditions joined by
//! `AND` or `OR` counts 199; longer lists are better written `key IN (...)`, which counts 1).
//!
//! Invariants: the check is iterative (no recursion), linear in the query length, and reports
//! the character position of the token that crosses the bound.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError};

use crate::QueryError;

/// The deepest expression nesting accepted (see the module docs).
pub const MAX_EXPRESSION_DEPTH: usize = 200;

/// The tokens of `sql` (a tokenizer error becomes a syntax error), checked against
/// [`MAX_EXPRESSION_DEPTH`].
pub(crate) fn check_expression_depth(sql: &str) -> Result<(), QueryError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .map_err(|error| tokenizer_error(sql, error))?;
    // Per open group: (levels from enclosing groups, operators so far in this expression).
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let (mut base, mut operators) = (0usize, 0usize);
    for TokenWithSpan { token, span } in &tokens {
        match classify(token) {
            Kind::Open => {
                groups.push((base, operators));
                base += operators + 1;
                operators = 0;
            }
            Kind::Close => {
                (base, operators) = groups.pop().unwrap_or((0, 0));
                // The group itself is one operand of the enclosing expression.
            }
            Kind::Separator => operators = 0,
            Kind::Operator => operators += 1,
            Kind::Operand => {}
        }
        if base + operators > MAX_EXPRESSION_DEPTH {
            let position = super::rewrite::char_position(
                sql,
                span.start.line as usize,
                span.start.column as usize,
            )
            .unwrap_or(0);
            return Err(QueryError::TooDeep {
                position,
                limit: MAX_EXPRESSION_DEPTH,
            });
        }
    }
    Ok(())
}

/// What a token does to the depth count.
enum Kind {
    Open,
    Close,
    Separator,
    Operator,
    Operand,
}

fn classify(token: &Token) -> Kind {
    match token {
        Token::LParen => Kind::Open,
        Token::RParen => Kind::Close,
        Token::Comma | Token::SemiColon => Kind::Separator,
        Token::Word(word) if word.quote_style.is_some() => Kind::Operand,
        Token::Word(word) => match word.keyword {
            Keyword::CASE => Kind::Open,
            Keyword::END => Kind::Close,
            Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
            | Keyword::WITH
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE => Kind::Separator,
            Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::SIMILAR
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::IN
            | Keyword::BETWEEN
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::DIV => Kind::Operator,
            _ => Kind::Operand,
        },
        Token::Number(..)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::NationalStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::Whitespace(_)
        | Token::Period
        | Token::RBracket
        | Token::EOF => Kind::Operand,
        _ => Kind::Operator,
    }
}

/// A tokenizer error as a syntax error at its position.
fn tokenizer_error(sql: &str, error: TokenizerError) -> QueryError {
    let position = super::rewrite::char_position(
        sql,
        error.location.line as usize,
        error.location.column as usize,
    )
    .unwrap_or(0);
    QueryError::SqlSyntax {
        position,
        message: error.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(sql: &str) -> Option<usize> {
        match check_expression_depth(sql) {
            Ok(()) => None,
            Err(QueryError::TooDeep { position, .. }) => Some(position),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn long_operator_chains_are_refused_before_parsing() {
        let chain = |n: usize| format!("SELECT {} AS x", vec!["1"; n].join("+"));
        assert_eq!(depth_error(&chain(MAX_EXPRESSION_DEPTH)), None);
        let position = depth_error(&chain(20_000)).expect("too deep");
        assert_eq!(position, "SELECT ".len() + 2 * MAX_EXPRESSION_DEPTH + 1);
        let nested = format!("SELECT {}1{}", "(1+".repeat(200), ")".repeat(200));
        assert!(depth_error(&nested).is_some());
    }

    #[test]
    fn wide_queries_are_fine() {
        let conditions: Vec<String> = (0..100).map(|i| format!("k{i} = 'v'")).collect();
        let hundred = format!("SELECT 1 WHERE {}", conditions.join(" OR "));
        assert_eq!(depth_error(&hundred), None);
        let wide = format!(
            "SELECT {} FROM log WHERE {} GROUP BY 1",
            (0..500)
                .map(|i| format!("c{i} + 1"))
                .collect::<Vec<_>>()
                .join(", "),
            conditions.join(" AND ")
        );
        assert_eq!(depth_error(&wide), None);
        let list = format!("SELECT x IN ({}) AS y", vec!["1"; 5000].join(", "));
        assert_eq!(depth_error(&list), None);
        let cases = format!(
            "SELECT CASE {} ELSE 0 END",
            (0..300)
                .map(|i| format!("WHEN s = {i} THEN {i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(depth_error(&cases), None);
    }

    #[test]
    fn unterminated_strings_are_syntax_errors() {
        assert!(matches!(
            check_expression_depth("SELECT 'abc"),
            Err(QueryError::SqlSyntax { position: 7, .. })
        ));
    }
}
