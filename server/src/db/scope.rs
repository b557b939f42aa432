//! Area scope as an index range: every row carries the materialized `area_path` of its area
//! ("/county/town/grid/"), and "at or below P" is `P <= area_path < P'` where P' is P with its
//! final '/' replaced by '0', the next byte. PostgreSQL columns use COLLATE "C" so this is byte order.

use diesel::dsl::{And, GtEq, Lt};
use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use diesel::{BoolExpressionMethods, Expression, ExpressionMethods, QueryDsl, QueryResult, RunQueryDsl};

use super::schema::areas;
use super::DbConn;

/// Whether `path` is at or below `scope` (both materialized paths ending in '/').
pub fn is_within(path: &str, scope: &str) -> bool {
    path.starts_with(scope)
}

/// The half-open range of paths at or below `scope`.
pub fn range(scope: &str) -> (String, String) {
    let upper = match scope.strip_suffix('/') {
        Some(stem) => format!("{stem}0"),
        None => format!("{scope}\u{10FFFF}"),
    };
    (scope.to_owned(), upper)
}

/// `column` is at or below `scope`, as a filter usable in any query on either backend.
pub fn within<C>(column: C, scope: &str) -> And<GtEq<C, String>, Lt<C, String>>
where
    C: Expression<SqlType = Text> + ExpressionMethods + Copy,
    String: AsExpression<Text>,
{
    let (lo, hi) = range(scope);
    column.ge(lo).and(column.lt(hi))
}

/// Whether `scope` holds at least half of all areas (a county's or a large town's staff): then
/// reading in `seq` order while filtering by area beats reading the scope and sorting it. Areas
/// are only a proxy for rows, so the bar is high: a grid beside one busy grid must still be read
/// by its area (a walk would scan the busy grid's rows too).
pub fn is_broad(conn: &mut DbConn, scope: &str) -> QueryResult<bool> {
    let all: i64 = areas::table.count().get_result(conn)?;
    let inside: i64 = areas::table.filter(within(areas::path, scope)).count().get_result(conn)?;
    Ok(inside * 2 >= all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_holds_exactly_the_subtree() {
        let (lo, hi) = range("/a/b/");
        for inside in ["/a/b/", "/a/b/c/", "/a/b/zzz/"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
            assert!(is_within(inside, "/a/b/"));
        }
        for outside in ["/a/", "/a/bc/", "/a/b0/", "/a/c/", "/b/"] {
            assert!(!(outside >= lo.as_str() && outside < hi.as_str()), "{outside}");
            assert!(!is_within(outside, "/a/b/"));
        }
    }
}
