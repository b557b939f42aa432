//! The callback list (回访): closed tickets whose resident nobody has called back since the
//! ticket last closed.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::records::TicketRow;
use super::schema::{ticket_events, tickets};
use super::{scope, DbConn};

/// Closed tickets within `area_path`, closed at or before `closed_by`, without a `callback`
/// event since their (last) close; oldest close first, by (closed_at, id) after `after`.
pub fn awaiting(
    conn: &mut DbConn,
    area_path: &str,
    closed_by: i64,
    after: Option<&(i64, String)>,
    limit: i64,
) -> QueryResult<Vec<TicketRow>> {
    let called_back = ticket_events::table
        .filter(ticket_events::ticket_id.eq(tickets::id))
        .filter(ticket_events::event_type.eq("callback"))
        .filter(ticket_events::occurred_at.nullable().ge(tickets::closed_at));
    let closed_at = tickets::closed_at.assume_not_null();
    let mut q = tickets::table
        .filter(tickets::status.eq("closed"))
        .filter(closed_at.le(closed_by))
        .filter(scope::within(tickets::area_path, area_path))
        .filter(not(exists(called_back)))
        .select(TicketRow::as_select())
        .order((closed_at.asc(), tickets::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(closed_at.gt(*at).or(closed_at.eq(*at).and(tickets::id.gt(id.clone()))));
    }
    q.load(conn)
}
