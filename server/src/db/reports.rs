//! The light rows reports aggregate: only the columns they need, only within scope and period.

use diesel::prelude::*;
use fieldvisit_sync_protocol::sync::pull::TicketStatus;
use fieldvisit_sync_protocol::sync::records::Satisfaction;

use super::schema::{households, tickets};
use super::typed::{Enum, StoredUuid};
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct TicketFact {
    pub area_path: String,
    pub team_id: Option<String>,
    #[diesel(column_name = effective_category)]
    pub category: String,
    pub reported_at: i64,
    pub received_at: i64,
    pub status: Enum<TicketStatus>,
    pub closed_at: Option<i64>,
    pub stage_times: String,
    pub resolved_on_the_spot: bool,
    /// Kept with the projection (`reports::latest_satisfaction`), not read from the events.
    pub latest_satisfaction: Option<Enum<Satisfaction>>,
}

/// A ticket's report facts with its id and change number, as the compliance index reads them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct ChangedTicket {
    #[diesel(deserialize_as = StoredUuid)]
    pub id: String,
    #[diesel(embed)]
    pub fact: TicketFact,
}

/// Every ticket whose change number is in `(after, upto]`, handed to `each` as it is read (a
/// season's tickets are never held as rows at once). Found through `tickets_seq`.
pub fn each_ticket_changed(
    conn: &mut DbConn,
    (after, upto): (i64, i64),
    mut each: impl FnMut(ChangedTicket) -> QueryResult<()>,
) -> QueryResult<()> {
    let rows = tickets::table
        .filter(tickets::seq.gt(after).and(tickets::seq.le(upto)))
        .select(ChangedTicket::as_select())
        .load_iter::<ChangedTicket, diesel::connection::DefaultLoadingMode>(conn)?;
    for row in rows {
        each(row?)?;
    }
    Ok(())
}

/// Tickets in scope that were open at some moment of `[from, to)`: reported before `to`, not closed
/// before `from`. Read as the open ones and those closed since `from`, each one range of
/// `tickets_closed`, so the season's closed tickets are not read; the scope is applied here, as a
/// condition on it in SQL would let SQLite walk the scope's tickets instead.
pub fn tickets_open_during(conn: &mut DbConn, scope_path: &str, from: i64, to: i64) -> QueryResult<Vec<TicketFact>> {
    let mut rows: Vec<TicketFact> = tickets::table
        .filter(tickets::closed_at.is_null())
        .filter(tickets::reported_at.lt(to))
        .select(TicketFact::as_select())
        .load(conn)?;
    rows.extend(
        tickets::table
            .filter(tickets::closed_at.ge(from))
            .filter(tickets::reported_at.lt(to))
            .select(TicketFact::as_select())
            .load::<TicketFact>(conn)?,
    );
    rows.retain(|t| scope::is_within(&t.area_path, scope_path));
    Ok(rows)
}

/// What the coverage report lists of a household (never its phone number).
#[derive(Debug, Clone, Queryable)]
pub struct HouseholdBrief {
    pub id: String,
    pub area_id: String,
    pub address: String,
    pub head_name: String,
}

/// Every household in scope, grouped by area.
pub fn households_in(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<HouseholdBrief>> {
    households::table
        .filter(scope::within(households::area_path, scope_path))
        .order((households::area_path, households::area_id, households::address))
        .select((households::id, households::area_id, households::address, households::head_name))
        .load(conn)
}

/// Households in scope visited at or after `since`: those whose latest visit (kept on the household
/// by the push writer, checked by `fieldvisit check`) is that recent, read from the households, not
/// from the season's visits.
pub fn visited_since(conn: &mut DbConn, scope_path: &str, since: i64) -> QueryResult<Vec<String>> {
    households::table
        .filter(scope::within(households::area_path, scope_path))
        .filter(households::last_visited_at.ge(since))
        .select(households::id)
        .load(conn)
}
