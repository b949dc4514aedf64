//! From SLS SQL text to a DataFusion-ready SQL AST.
//!
//! The SQL is parsed with sqlparser's generic dialect (double-quoted identifiers, single-quoted
//! strings, `LIMIT offset, count`) and rewritten on the AST, never on the text:
//!
//! - every `SELECT` without `FROM` reads the logstore: `FROM log` is added;
//! - `FROM log` (any case) is the only table, besides the query's own `WITH` names;
//! - `count_if(cond)` becomes `count(*) FILTER (WHERE cond)`;
//! - `max_by(x, y)` / `min_by(x, y)` become `first_value(x ORDER BY y DESC|ASC NULLS LAST)`;
//! - `regexp_replace(s, p, r)` replaces every match, as in SLS (DataFusion's replaces the
//!   first unless given the `'g'` flag, which is added);
//! - the top-level query gets `LIMIT default_limit` when it has no `LIMIT` (SLS returns 100
//!   rows by default).
//!
//! It also records what the planner cannot tell later: the names SLS gives output columns
//! (`_col<i>` for an unnamed expression, as Presto does) and every `SELECT` alias (so an alias
//! misused in `WHERE` is reported, not taken for an absent field).
//!
//! Invariants: the input is at most [`MAX_QUERY_BYTES`](crate::MAX_QUERY_BYTES) long, its
//! expressions nest at most [`MAX_EXPRESSION_DEPTH`](super::MAX_EXPRESSION_DEPTH) deep (checked
//! on tokens, before parsing) and the parser recurses at most [`MAX_SQL_NESTING`] deep; exactly one `SELECT` query (possibly with `WITH`,
//! set operations and subqueries) comes out, or a [`QueryError`] with a position.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause,
    FunctionArgumentList, FunctionArguments, Ident, LimitClause, ObjectName, OrderByExpr,
    OrderByOptions, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

use super::depth::check_expression_depth;
use crate::{QueryError, MAX_QUERY_BYTES};

/// The table name of the logstore in SQL.
pub(crate) const LOG_TABLE: &str = "log";

/// The deepest nesting of SQL expressions and subqueries accepted.
pub const MAX_SQL_NESTING: usize = 64;

/// A parsed and rewritten SQL query.
#[derive(Debug, Clone)]
pub(crate) struct PreparedSql {
    /// The rewritten statement (always a `Statement::Query`).
    pub(crate) statement: Statement,
    /// For each top-level SELECT item, the name SLS gives its column when it differs from
    /// DataFusion's (`_col<i>`); `None` when the select list has a wildcard.
    pub(crate) output_names: Option<Vec<Option<String>>>,
    /// Every alias given in a select list anywhere in the query.
    pub(crate) select_aliases: HashSet<String>,
    /// Every alias given to the `log` table (`FROM log AS t`).
    pub(crate) log_aliases: HashSet<String>,
}

/// Parses `sql` and rewrites it for the `log` table (see the module docs).
pub(crate) fn prepare(sql: &str, default_limit: usize) -> Result<PreparedSql, QueryError> {
    if sql.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLarge {
            length: sql.len(),
            limit: MAX_QUERY_BYTES,
        });
    }
    if sql.trim().is_empty() {
        return Err(QueryError::SqlSyntax {
            position: 0,
            message: "the SQL after `|` is empty; write e.g. `* | SELECT count(*)`".to_owned(),
        });
    }
    check_expression_depth(sql)?;
    let dialect = GenericDialect {};
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_SQL_NESTING)
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|error| syntax_error(sql, error))?;
    if statements.len() != 1 {
        return Err(QueryError::SqlUnsupported {
            message: format!(
                "expected one SELECT query, found {} statements",
                statements.len()
            ),
        });
    }
    let mut statement = statements.remove(0);
    let Statement::Query(query) = &mut statement else {
        let kind = statement.to_string();
        let kind = kind.split_whitespace().next().unwrap_or("this statement");
        return Err(QueryError::SqlUnsupported {
            message: format!("only SELECT queries run here, not {}", kind.to_uppercase()),
        });
    };
    if query.limit_clause.is_none() && query.fetch.is_none() {
        query.limit_clause = Some(LimitClause::LimitOffset {
            limit: Some(Expr::value(Value::Number(default_limit.to_string(), false))),
            offset: None,
            limit_by: Vec::new(),
        });
    }
    let output_names = output_names(&query.body);
    let mut rewriter = Rewriter::default();
    if let ControlFlow::Break(error) = statement.visit(&mut rewriter) {
        return Err(error);
    }
    Ok(PreparedSql {
        statement,
        output_names,
        select_aliases: rewriter.select_aliases,
        log_aliases: rewriter.log_aliases,
    })
}

/// The SLS names of the top-level select list's columns (see [`PreparedSql::output_names`]).
fn output_names(body: &SetExpr) -> Option<Vec<Option<String>>> {
    let select = match body {
        SetExpr::Select(select) => select,
        SetExpr::SetOperation { left, .. } => return output_names(left),
        SetExpr::Query(query) => return output_names(&query.body),
        _ => return None,
    };
    select
        .projection
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            SelectItem::UnnamedExpr(Expr::Identifier(_) | Expr::CompoundIdentifier(_))
            | SelectItem::ExprWithAlias { .. } => Some(None),
            SelectItem::UnnamedExpr(_) => Some(Some(format!("_col{index}"))),
            _ => None,
        })
        .collect()
}

/// Turns a sqlparser error into [`QueryError::SqlSyntax`] with a character position.
fn syntax_error(sql: &str, error: ParserError) -> QueryError {
    let text = match error {
        ParserError::RecursionLimitExceeded => {
            return QueryError::TooDeep {
                position: 0,
                limit: MAX_SQL_NESTING,
            }
        }
        ParserError::ParserError(text) | ParserError::TokenizerError(text) => text,
    };
    let (message, position) = match text.rfind(" at Line: ") {
        Some(at) => {
            let location = &text[at + " at Line: ".len()..];
            let mut parts = location.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse::<usize>().ok());
            let column = parts.next().and_then(|c| c.trim().parse::<usize>().ok());
            match (line, column) {
                (Some(line), Some(column)) => (
                    text[..at].to_owned(),
                    char_position(sql, line, column).unwrap_or(0),
                ),
                _ => (text.clone(), 0),
            }
        }
        None => (text.clone(), sql.chars().count()),
    };
    QueryError::SqlSyntax { position, message }
}

/// The 0-based character offset of 1-based `line` and `column`.
pub(crate) fn char_position(sql: &str, line: usize, column: usize) -> Option<usize> {
    let mut position = 0;
    for (index, text) in sql.split('\n').enumerate() {
        if index + 1 == line {
            return Some(position + column.saturating_sub(1).min(text.chars().count()));
        }
        position += text.chars().count() + 1;
    }
    None
}

/// The AST rewrites of the module docs.
#[derive(Debug, Default)]
struct Rewriter {
    /// Names of `WITH` queries (any scope).
    ctes: HashSet<String>,
    select_aliases: HashSet<String>,
    log_aliases: HashSet<String>,
}

impl VisitorMut for Rewriter {
    type Break = QueryError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<QueryError> {
        if let Some(with) = &query.with {
            self.ctes.extend(
                with.cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.clone()),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<QueryError> {
        if select.from.is_empty() {
            select.from.push(TableWithJoins {
                relation: TableFactor::Table {
                    name: ObjectName::from(vec![Ident::new(LOG_TABLE)]),
                    alias: None,
                    args: None,
                    with_hints: Vec::new(),
                    version: None,
                    with_ordinality: false,
                    partitions: Vec::new(),
                    json_path: None,
                    sample: None,
                    index_hints: Vec::new(),
                },
                joins: Vec::new(),
            });
        }
        for item in &select.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                self.select_aliases.insert(alias.value.clone());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<QueryError> {
        let TableFactor::Table {
            name, args, alias, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        if args.is_some() {
            return ControlFlow::Break(QueryError::SqlUnsupported {
                message: format!("table functions such as {name}(...) cannot be queried"),
            });
        }
        let single = match name.0.as_slice() {
            [part] => part.as_ident().map(|ident| ident.value.clone()),
            _ => None,
        };
        match single {
            Some(table) if table.eq_ignore_ascii_case(LOG_TABLE) => {
                *name = ObjectName::from(vec![Ident::new(LOG_TABLE)]);
                if let Some(alias) = alias {
                    self.log_aliases.insert(alias.name.value.clone());
                }
                ControlFlow::Continue(())
            }
            Some(table) if self.ctes.contains(&table) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(QueryError::UnknownTable {
                name: name.to_string(),
            }),
        }
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<QueryError> {
        if let Expr::Function(function) = expr {
            if let Err(error) = rewrite_function(function) {
                return ControlFlow::Break(error);
            }
        }
        ControlFlow::Continue(())
    }
}

/// The function-level rewrites: `count_if`, `max_by`/`min_by` and three-argument
/// `regexp_replace`.
fn rewrite_function(function: &mut Function) -> Result<(), QueryError> {
    let name = match function.name.0.as_slice() {
        [part] => match part.as_ident() {
            Some(ident) => ident.value.to_lowercase(),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    let FunctionArguments::List(list) = &mut function.args else {
        return Ok(());
    };
    match name.as_str() {
        "count_if" => {
            let condition = match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(condition))] => condition.clone(),
                _ => {
                    return Err(QueryError::SqlInvalid {
                        message: "count_if takes one boolean argument, e.g. \
                                  count_if(status >= 500)"
                            .to_owned(),
                    })
                }
            };
            function.name = ObjectName::from(vec![Ident::new("count")]);
            function.args = FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![FunctionArg::Unnamed(FunctionArgExpr::Wildcard)],
                clauses: Vec::new(),
            });
            add_filter(function, condition);
        }
        "max_by" | "min_by" => {
            let (value, key) = match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(value)), FunctionArg::Unnamed(FunctionArgExpr::Expr(key))] => {
                    (value.clone(), key.clone())
                }
                _ => {
                    return Err(QueryError::SqlInvalid {
                        message: format!(
                            "{name} takes two arguments: the value to return and the key to \
                             compare, e.g. {name}(url, latency)"
                        ),
                    })
                }
            };
            // Rows whose key is NULL take no part, as in Presto.
            add_filter(function, Expr::IsNotNull(Box::new(key.clone())));
            function.name = ObjectName::from(vec![Ident::new("first_value")]);
            function.args = FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(value))],
                clauses: vec![FunctionArgumentClause::OrderBy(vec![OrderByExpr {
                    expr: key,
                    options: OrderByOptions {
                        asc: Some(name == "min_by"),
                        nulls_first: Some(false),
                    },
                    with_fill: None,
                }])],
            });
        }
        "regexp_replace" if list.args.len() == 3 => {
            list.args
                .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(
                    Value::SingleQuotedString("g".to_owned()),
                ))));
        }
        _ => {}
    }
    Ok(())
}

/// ANDs `condition` into the aggregate's `FILTER (WHERE ...)`.
fn add_filter(function: &mut Function, condition: Expr) {
    function.filter = Some(Box::new(match function.filter.take() {
        Some(existing) => Expr::BinaryOp {
            left: existing,
            op: BinaryOperator::And,
            right: Box::new(condition),
        },
        None => condition,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        prepare(sql, 100).expect("prepares").statement.to_string()
    }

    #[test]
    fn from_log_is_added_and_kept() {
        assert_eq!(
            rewritten("SELECT status, count(*) AS c GROUP BY status"),
            "SELECT status, count(*) AS c FROM log GROUP BY status LIMIT 100"
        );
        assert_eq!(
            rewritten("select 1 from LOG limit 5"),
            "SELECT 1 FROM log LIMIT 5"
        );
        assert_eq!(
            rewritten("select a from (select 1 as a) t"),
            "SELECT a FROM (SELECT 1 AS a FROM log) t LIMIT 100"
        );
        assert_eq!(
            rewritten("with x as (select 1 as a) select a from x"),
            "WITH x AS (SELECT 1 AS a FROM log) SELECT a FROM x LIMIT 100"
        );
    }

    #[test]
    fn other_tables_and_statements_are_refused() {
        assert!(matches!(
            prepare("select * from users", 100),
            Err(QueryError::UnknownTable { name }) if name == "users"
        ));
        assert!(matches!(
            prepare("select * from generate_series(1, 10)", 100),
            Err(QueryError::SqlUnsupported { .. })
        ));
        assert!(matches!(
            prepare("drop table log", 100),
            Err(QueryError::SqlUnsupported { message }) if message.contains("DROP")
        ));
        assert!(matches!(
            prepare("select 1; select 2", 100),
            Err(QueryError::SqlUnsupported { .. })
        ));
    }

    #[test]
    fn sls_functions_are_rewritten() {
        assert_eq!(
            rewritten("select count_if(status = '500') as errors"),
            "SELECT count(*) FILTER (WHERE status = '500') AS errors FROM log LIMIT 100"
        );
        assert_eq!(
            rewritten("select regexp_replace(url, '[0-9]+', 'N') as u"),
            "SELECT regexp_replace(url, '[0-9]+', 'N', 'g') AS u FROM log LIMIT 100"
        );
        assert!(matches!(
            prepare("select count_if(a, b)", 100),
            Err(QueryError::SqlInvalid { .. })
        ));
        assert_eq!(
            rewritten("select max_by(url, latency) as u, min_by(url, latency) as v"),
            "SELECT first_value(url ORDER BY latency DESC NULLS LAST) FILTER (WHERE latency IS NOT \
             NULL) AS u, first_value(url ORDER BY latency ASC NULLS LAST) FILTER (WHERE latency \
             IS NOT NULL) AS v FROM log LIMIT 100"
        );
    }

    #[test]
    fn output_names_follow_sls() {
        let prepared =
            prepare("select status, count(*), avg(x) as a, t.y from log t", 100).expect("prepares");
        assert_eq!(
            prepared.output_names,
            Some(vec![None, Some("_col1".to_owned()), None, None])
        );
        assert!(prepared.select_aliases.contains("a"));
        assert_eq!(prepare("select *", 100).expect("ok").output_names, None);
    }

    #[test]
    fn syntax_errors_have_character_positions() {
        let Err(QueryError::SqlSyntax { position, message }) =
            prepare("select status,, from log", 100)
        else {
            panic!("expected a syntax error");
        };
        assert_eq!(position, 14, "{message}");
        assert!(message.contains("found: ,"), "{message}");
        let Err(QueryError::SqlSyntax { position, .. }) = prepare("select 'é',\n  x y z", 100)
        else {
            panic!("expected a syntax error");
        };
        assert_eq!(position, 18);
        assert!(matches!(
            prepare("  ", 100),
            Err(QueryError::SqlSyntax { position: 0, .. })
        ));
        let deep = format!("select {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(matches!(
            prepare(&deep, 100),
            Err(QueryError::TooDeep { .. })
        ));
    }
}
