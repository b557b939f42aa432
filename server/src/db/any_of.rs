//! `column IN (ids)` with the ids bound as ONE value, so a statement's text does not depend on how
//! many ids a batch has and diesel prepares it once per connection. PostgreSQL gets diesel's
//! `= ANY($1)` (one array); SQLite gets `IN (SELECT value FROM json_each(?))` (one JSON array).
//! diesel's own IN list on SQLite is a new statement for every length: preparing those was 6 % of
//! the push writer's time.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::Sqlite;

/// `$query.filter($column IN $ids).load(conn)` on either backend; see the module docs.
#[macro_export]
macro_rules! load_any_of {
    ($conn:expr, $query:expr, $column:expr, $ids:expr) => {
        match $conn {
            $crate::db::DbConn::Pg(c) => $query.filter($column.eq_any($ids)).load(c),
            $crate::db::DbConn::Sqlite(c) => $query.filter($crate::db::any_of::InJson::new($column, $ids)).load(c),
        }
    };
}

/// SQLite's `column IN (SELECT value FROM json_each(?))`.
#[derive(Debug, Clone, QueryId)]
pub struct InJson<C> {
    column: C,
    json: String,
}

impl<C> InJson<C> {
    pub fn new(column: C, ids: &[String]) -> Self {
        // A list of strings always serializes.
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        Self { column, json }
    }
}

impl<C: Expression<SqlType = Text>> Expression for InJson<C> {
    type SqlType = Bool;
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InJson<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for InJson<C> where Self: Expression {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for InJson<C> where Self: AppearsOnTable<QS> {}

impl<C: ValidGrouping<GB>, GB> ValidGrouping<GB> for InJson<C> {
    type IsAggregate = C::IsAggregate;
}
