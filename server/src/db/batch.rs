//! The push writer's per-row updates as one statement per table on PostgreSQL.
//!
//! On PostgreSQL every statement is a round trip to another process, and the PostgreSQL server
//! shares the machine's cores with the writer: a push of 200 records ran about a hundred of them,
//! most of them one-row UPDATEs (a household's visit count, a re-folded ticket's projection).
//! Here each such family is one `UPDATE ... FROM unnest(...)` with the rows bound as arrays, so
//! its text never changes and diesel prepares it once per connection. SQLite runs in-process: its
//! single-row statements stay as they are (one cached statement each; see `insert_rows!`).

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::records::{self, EventRow, TicketRow, VisitRow};
use super::schema::{ticket_events, tickets, visits};
use super::store_projection::StoreProjection;
use super::temperature::{self, TemperatureTallyAdd};
use super::DbConn;

crate::unnest_insert!(
    /// A push's new visits.
    VisitsInsert for VisitRow: "visits", "", {
        id: text, household_id: text, area_id: text, area_path: text, visited_at: int8,
        device_visited_at: int8, received_at: int8, clock_verified: bool, indoor_temp_c: opt_float8,
        checklist: text, service_card_given: opt_bool, notes: opt_text, lat: opt_float8, lon: opt_float8,
        photos: text, user_id: text, device_id: text, content_hash: text, seq: int8,
        checklist_template_id: opt_text, checklist_template_version: opt_int4, county_id: text,
    }
);

crate::unnest_insert!(
    /// A push's new tickets.
    TicketsInsert for TicketRow: "tickets", "", {
        id: text, household_id: text, visit_id: opt_text, area_id: text, area_path: text, category: text,
        severity: text, description: text, reported_at: int8, device_reported_at: int8, received_at: int8,
        clock_verified: bool, resolved_on_the_spot: bool, photos: text, reporter_id: text, device_id: text,
        content_hash: text, policy_version: int4, status: text, stage: text, team_id: opt_text,
        effective_category: text, projection: text, current_due_at: opt_int8, next_deadline_at: opt_int8,
        closed_at: opt_int8, last_event_received_at: opt_int8, version: int8, seq: int8, stage_times: text,
        latest_satisfaction: opt_text, county_id: text,
    }
);

crate::unnest_insert!(
    /// A push's new ticket events.
    EventsInsert for EventRow: "ticket_events", "", {
        id: text, ticket_id: text, area_path: text, event_type: text, occurred_at: int8,
        device_occurred_at: int8, received_at: int8, clock_verified: bool, category: opt_text,
        team_id: opt_text, note: opt_text, satisfaction: opt_text, user_id: text, device_id: text,
        content_hash: text, seq: int8, author_role: text, county_id: text,
    }
);

crate::unnest_statement!(
    /// The projection columns, version and `seq` of re-folded tickets (see [`StoreProjection`]).
    ProjectionsUpdate for TicketRow: |_c| "UPDATE tickets AS t SET status = u.status, stage = u.stage, \
        team_id = u.team_id, effective_category = u.effective_category, projection = u.projection, \
        current_due_at = u.current_due_at, next_deadline_at = u.next_deadline_at, closed_at = u.closed_at, \
        last_event_received_at = u.last_event_received_at, version = u.version, seq = u.seq, \
        stage_times = u.stage_times, latest_satisfaction = u.latest_satisfaction FROM".to_owned(),
    "WHERE t.id = u.id",
    {
        id: text, status: text, stage: text, team_id: opt_text, effective_category: text, projection: text,
        current_due_at: opt_int8, next_deadline_at: opt_int8, closed_at: opt_int8,
        last_event_received_at: opt_int8, version: int8, seq: int8, stage_times: text,
        latest_satisfaction: opt_text,
    }
);

/// An event's new change number.
pub struct Renumbered {
    pub id: String,
    pub seq: i64,
}

crate::unnest_statement!(
    EventsRenumber for Renumbered: |_c| "UPDATE ticket_events AS e SET seq = u.seq FROM".to_owned(),
    "WHERE e.id = u.id",
    { id: text, seq: int8 }
);

/// One household's share of a push's visits.
pub struct HomeVisits {
    pub id: String,
    pub n: i64,
    pub latest: i64,
    pub at: Option<i64>,
    pub temp: Option<f64>,
}

// The same CASEs as `records::count_visits`: a later visit moves `last_visited_at`; a later
// reading, or one as late and colder, replaces the stored measurement; a household without a
// reading in the push keeps its own.
crate::unnest_statement!(
    VisitCounts for HomeVisits: |_c| "UPDATE households AS h SET visit_count = h.visit_count + u.n, \
        last_visited_at = CASE WHEN h.last_visited_at IS NULL OR h.last_visited_at < u.latest \
                          THEN u.latest ELSE h.last_visited_at END, \
        last_temp_c = CASE WHEN u.at IS NOT NULL AND (h.last_measured_at IS NULL OR h.last_measured_at < u.at \
                                OR (h.last_measured_at = u.at AND h.last_temp_c > u.temp)) \
                      THEN u.temp ELSE h.last_temp_c END, \
        last_measured_at = CASE WHEN u.at IS NOT NULL AND (h.last_measured_at IS NULL OR h.last_measured_at < u.at) \
                           THEN u.at ELSE h.last_measured_at END FROM".to_owned(),
    "WHERE h.id = u.id",
    { id: text, n: int8, latest: int8, at: opt_int8, temp: opt_float8 }
);

/// Inserts a push's new visits: on PostgreSQL one prepared statement ([`VisitsInsert`]).
fn insert_visits(conn: &mut DbConn, rows: &[VisitRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) if !rows.is_empty() => VisitsInsert::new(rows)?.execute(c).map(drop),
        _ => {
            crate::insert_rows!(&mut *conn, visits::table, rows, 400);
            Ok(())
        }
    }
}

/// Inserts a push's new tickets (see [`insert_visits`]).
pub fn insert_tickets(conn: &mut DbConn, rows: &[TicketRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) if !rows.is_empty() => TicketsInsert::new(rows)?.execute(c).map(drop),
        _ => {
            crate::insert_rows!(&mut *conn, tickets::table, rows, 300);
            Ok(())
        }
    }
}

/// Inserts a push's new ticket events (see [`insert_visits`]).
pub fn insert_events(conn: &mut DbConn, rows: &[EventRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) if !rows.is_empty() => EventsInsert::new(rows)?.execute(c).map(drop),
        _ => {
            crate::insert_rows!(&mut *conn, ticket_events::table, rows, 400);
            Ok(())
        }
    }
}

/// Stores each re-folded ticket's projection columns, version and `seq` (see
/// [`StoreProjection`]); on PostgreSQL in one statement.
pub fn store_projections(conn: &mut DbConn, rows: &[TicketRow]) -> QueryResult<()> {
    let c = match conn {
        DbConn::Pg(c) if rows.len() > 1 => c,
        _ => {
            for row in rows {
                crate::with_conn!(&mut *conn, c => StoreProjection(row).execute(c))?;
            }
            return Ok(());
        }
    };
    ProjectionsUpdate::new(rows)?.execute(c).map(drop)
}

/// Gives events new change numbers; on PostgreSQL in one statement.
pub fn renumber_events(conn: &mut DbConn, numbers: &[Renumbered]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) if numbers.len() > 1 => EventsRenumber::new(numbers)?.execute(c).map(drop),
        _ => {
            for r in numbers {
                diesel::update(ticket_events::table.find(&r.id)).set(ticket_events::seq.eq(r.seq)).execute(conn)?;
            }
            Ok(())
        }
    }
}

/// Stores a push's new visits, adds them to their households' counters (see
/// [`records::count_visits`]) and to the temperature tally (`temperature::add`). On PostgreSQL
/// that is ONE statement over the three tables ([`Together`]): none of its parts reads what
/// another writes, and each household and tally key comes once.
pub fn store_visits(conn: &mut DbConn, rows: &[VisitRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) if !rows.is_empty() => {
            let (homes, tally) = (home_visits(rows), temperature::tally_rows(rows, 1));
            let counts = (VisitCounts::new(&homes)?, TemperatureTallyAdd::new(&tally)?);
            Together(VisitsInsert::new(rows)?, counts.0, counts.1).execute(c).map(drop)
        }
        DbConn::Pg(_) => Ok(()),
        DbConn::Sqlite(_) => {
            insert_visits(conn, rows)?;
            records::count_visits(conn, rows)?;
            temperature::add(conn, rows)
        }
    }
}

/// `WITH a AS (A), b AS (B) C`: three statements in one round trip. PostgreSQL runs each
/// data-modifying part exactly once, all on one snapshot, so the parts must write different
/// tables and read nothing another part writes. The text is the parts' (fixed) texts: prepared
/// once per connection like them.
pub struct Together<A, B, C>(pub A, pub B, pub C);

impl<A: 'static, B: 'static, C: 'static> diesel::query_builder::QueryId for Together<A, B, C> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<A, B, C> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Together<A, B, C>
where
    A: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    B: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    C: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("WITH a AS (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql("), b AS (");
        self.1.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.2.walk_ast(out.reborrow())
    }
}

impl<A, B, C> RunQueryDsl<diesel::pg::PgConnection> for Together<A, B, C> {}

/// Each household's share of `new_visits`, for [`VisitCounts`].
fn home_visits(new_visits: &[VisitRow]) -> Vec<HomeVisits> {
    let mut per_home: BTreeMap<&str, Vec<&VisitRow>> = BTreeMap::new();
    for v in new_visits {
        per_home.entry(&v.household_id).or_default().push(v);
    }
    per_home
        .into_iter()
        .map(|(home, visits)| {
            let reading = records::latest_of(visits.iter().copied());
            HomeVisits {
                id: home.to_owned(),
                n: visits.len() as i64,
                latest: visits.iter().map(|v| v.visited_at).max().unwrap_or(i64::MIN),
                at: reading.map(|(at, _)| at),
                temp: reading.map(|(_, t)| t),
            }
        })
        .collect()
}
