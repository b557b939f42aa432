//! The one UPDATE the push writer runs per re-folded ticket, as a query diesel keeps prepared.
//! diesel never caches an `UpdateStatement` (a changeset may skip `None` fields, so its text can
//! change between calls), so it prepared this one anew for every ticket: about 4 % of the writer's
//! time. Its columns never change, so its text is written out here, under a static query id.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use fieldvisit_sync_protocol::deadline::Projection;
use fieldvisit_sync_protocol::sync::pull::TicketStatus;

use super::records::TicketRow;
use super::typed::{Enum, Json};

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
    Enum<TicketStatus>: ToSql<Text, DB>,
    Json<Projection>: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    i64: ToSql<BigInt, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let r = self.0;
        // Each column is set from the row's field of the same name.
        macro_rules! set {
            ($first:ident: $first_type:ty $(, $column:ident: $sql_type:ty)*) => {
                out.push_sql(concat!("UPDATE tickets SET ", stringify!($first), " = "));
                out.push_bind_param::<$first_type, _>(&r.$first)?;
                $(
                    out.push_sql(concat!(", ", stringify!($column), " = "));
                    out.push_bind_param::<$sql_type, _>(&r.$column)?;
                )*
            };
        }
        set!(
            status: Text,
            stage: Text,
            team_id: Nullable<Text>,
            effective_category: Text,
            projection: Text,
            current_due_at: Nullable<BigInt>,
            next_deadline_at: Nullable<BigInt>,
            closed_at: Nullable<BigInt>,
            last_event_received_at: Nullable<BigInt>,
            version: BigInt,
            seq: BigInt,
            stage_times: Text,
            latest_satisfaction: Nullable<Text>
        );
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&r.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for StoreProjection<'_> {}
