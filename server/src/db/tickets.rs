//! Ticket and household reads for the desk: the filtered, keyset-paged ticket list and the
//! records of one household.

use diesel::prelude::*;

use super::records::{HouseholdRow, TicketRow, VisitRow};
use super::schema::{tickets, visits};
use super::{scope, DbConn};

/// Who is asking: their area, and for a handler the team whose tickets they also see.
pub struct Viewer<'a> {
    pub area_path: &'a str,
    pub team_id: Option<&'a str>,
}

/// `GET /api/v1/tickets` filters, already checked by the route.
#[derive(Debug, Default)]
pub struct TicketFilter {
    pub status: Option<String>,
    pub stage: Option<String>,
    pub category: Option<String>,
    pub team_id: Option<String>,
    /// Materialized path of the `area_id` filter.
    pub area_path: Option<String>,
    /// Open tickets whose current stage was due before this instant, most overdue first.
    pub overdue_at: Option<i64>,
    /// The sort key of the last row of the previous page.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// One page: with `overdue_at`, by (current_due_at, id) ascending; otherwise newest reported
/// first, by (reported_at, id) descending. Both orders are served by indexes on the sort column.
pub fn list(conn: &mut DbConn, who: &Viewer, f: &TicketFilter) -> QueryResult<Vec<TicketRow>> {
    let mut q = tickets::table.select(TicketRow::as_select()).limit(f.limit).into_boxed();
    q = match who.team_id {
        Some(team) => q.filter(scope::within(tickets::area_path, who.area_path).or(tickets::team_id.eq(team))),
        None => q.filter(scope::within(tickets::area_path, who.area_path)),
    };
    if let Some(p) = &f.area_path {
        q = q.filter(scope::within(tickets::area_path, p));
    }
    if let Some(s) = &f.status {
        q = q.filter(tickets::status.eq(s));
    }
    if let Some(s) = &f.stage {
        q = q.filter(tickets::stage.eq(s));
    }
    if let Some(c) = &f.category {
        q = q.filter(tickets::effective_category.eq(c));
    }
    if let Some(t) = &f.team_id {
        q = q.filter(tickets::team_id.eq(t));
    }
    if let Some(now) = f.overdue_at {
        q = q.filter(tickets::status.eq("open")).filter(tickets::current_due_at.lt(now));
        if let Some((due_at, id)) = &f.after {
            let due = tickets::current_due_at.assume_not_null();
            q = q.filter(due.gt(*due_at).or(due.eq(*due_at).and(tickets::id.gt(id.clone()))));
        }
        q.order((tickets::current_due_at.asc(), tickets::id.asc())).load(conn)
    } else {
        if let Some((at, id)) = &f.after {
            q = q.filter(tickets::reported_at.lt(*at).or(tickets::reported_at.eq(*at).and(tickets::id.lt(id.clone()))));
        }
        q.order((tickets::reported_at.desc(), tickets::id.desc())).load(conn)
    }
}

/// The tickets of one household, oldest first.
pub fn of_household(conn: &mut DbConn, household_id: &str) -> QueryResult<Vec<TicketRow>> {
    tickets::table
        .filter(tickets::household_id.eq(household_id))
        .order((tickets::reported_at, tickets::id))
        .select(TicketRow::as_select())
        .load(conn)
}

/// The visits of one household, oldest first.
pub fn visits_of(conn: &mut DbConn, household_id: &str) -> QueryResult<Vec<VisitRow>> {
    visits::table
        .filter(visits::household_id.eq(household_id))
        .order((visits::visited_at, visits::id))
        .select(VisitRow::as_select())
        .load(conn)
}

pub fn household(conn: &mut DbConn, id: &str) -> QueryResult<Option<HouseholdRow>> {
    let ids = [id.to_owned()];
    Ok(super::records::households_by_id(conn, &ids)?.remove(id))
}
