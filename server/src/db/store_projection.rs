//! The one UPDATE the push writer runs per re-folded ticket, as a query diesel keeps prepared.
//! diesel never caches an `UpdateStatement` (a changeset may skip `None` fields, so its text can
//! change between calls), so it prepared this one anew for every ticket: about 4 % of the writer's
//! time. Its columns never change, so its text is written out here, under a static query id.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use super::records::TicketRow;

/// Stores `row`'s projection columns, version and `seq` on its ticket.
pub struct StoreProjection<'a>(pub &'a TicketRow);

impl QueryId for StoreProjection<'_> {
    type QueryId = StoreProjection<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for StoreProjection<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    i64: ToSql<BigInt, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let r = self.0;
        out.push_sql("UPDATE tickets SET status = ");
        out.push_bind_param::<Text, _>(&r.status)?;
        out.push_sql(", stage = ");
        out.push_bind_param::<Text, _>(&r.stage)?;
        out.push_sql(", team_id = ");
        out.push_bind_param::<Nullable<Text>, _>(&r.team_id)?;
        out.push_sql(", effective_category = ");
        out.push_bind_param::<Text, _>(&r.effective_category)?;
        out.push_sql(", projection = ");
        out.push_bind_param::<Text, _>(&r.projection)?;
        out.push_sql(", current_due_at = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&r.current_due_at)?;
        out.push_sql(", next_deadline_at = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&r.next_deadline_at)?;
        out.push_sql(", closed_at = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&r.closed_at)?;
        out.push_sql(", last_event_received_at = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&r.last_event_received_at)?;
        out.push_sql(", version = ");
        out.push_bind_param::<BigInt, _>(&r.version)?;
        out.push_sql(", seq = ");
        out.push_bind_param::<BigInt, _>(&r.seq)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&r.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for StoreProjection<'_> {}
