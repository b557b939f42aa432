//! The push writer's per-row updates as one statement per table on PostgreSQL.
//!
//! On PostgreSQL every statement is a round trip to another process, and the PostgreSQL server
//! shares the machine's cores with the writer: a push of 200 records ran about a hundred of them,
//! most of them one-row UPDATEs (a household's visit count, a re-folded ticket's projection).
//! Here each such family is one `UPDATE ... FROM unnest(...)` with the rows bound as arrays, so
//! its text never changes and diesel prepares it once per connection. SQLite runs in-process: its
//! single-row statements stay as they are (one cached statement each; see `insert_rows!`).

use std::collections::BTreeMap;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};

use super::records::{self, TicketRow, VisitRow};
use super::store_projection::StoreProjection;
use super::temperature;
use super::DbConn;

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
    let text = |f: fn(&TicketRow) -> &String| rows.iter().map(f).cloned().collect::<Vec<String>>();
    let opt_text = |f: fn(&TicketRow) -> &Option<String>| rows.iter().map(f).cloned().collect::<Vec<_>>();
    let opt_int = |f: fn(&TicketRow) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
    let int = |f: fn(&TicketRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    diesel::sql_query(
        "UPDATE tickets AS t SET status = u.status, stage = u.stage, team_id = u.team_id, \
         effective_category = u.effective_category, projection = u.projection, \
         current_due_at = u.current_due_at, next_deadline_at = u.next_deadline_at, \
         closed_at = u.closed_at, last_event_received_at = u.last_event_received_at, \
         version = u.version, seq = u.seq, stage_times = u.stage_times \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
                     $12::bigint[], $13::text[]) \
           AS u(id, status, stage, team_id, effective_category, projection, current_due_at, \
                next_deadline_at, closed_at, last_event_received_at, version, seq, stage_times) \
         WHERE t.id = u.id",
    )
    .bind::<Array<Text>, _>(text(|r| &r.id))
    .bind::<Array<Text>, _>(text(|r| &r.status))
    .bind::<Array<Text>, _>(text(|r| &r.stage))
    .bind::<Array<Nullable<Text>>, _>(opt_text(|r| &r.team_id))
    .bind::<Array<Text>, _>(text(|r| &r.effective_category))
    .bind::<Array<Text>, _>(text(|r| &r.projection))
    .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.current_due_at))
    .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.next_deadline_at))
    .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.closed_at))
    .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.last_event_received_at))
    .bind::<Array<BigInt>, _>(int(|r| r.version))
    .bind::<Array<BigInt>, _>(int(|r| r.seq))
    .bind::<Array<Text>, _>(text(|r| &r.stage_times))
    .execute(c)
    .map(drop)
}

/// Gives events new change numbers: (event id, seq) pairs; on PostgreSQL in one statement.
pub fn renumber_events(conn: &mut DbConn, numbers: &[(String, i64)]) -> QueryResult<()> {
    use super::schema::ticket_events;
    let c = match conn {
        DbConn::Pg(c) if numbers.len() > 1 => c,
        _ => {
            for (id, seq) in numbers {
                diesel::update(ticket_events::table.find(id)).set(ticket_events::seq.eq(seq)).execute(conn)?;
            }
            return Ok(());
        }
    };
    let (ids, seqs): (Vec<String>, Vec<i64>) = numbers.iter().cloned().unzip();
    diesel::sql_query(
        "UPDATE ticket_events AS e SET seq = u.seq FROM unnest($1::text[], $2::bigint[]) AS u(id, seq) \
         WHERE e.id = u.id",
    )
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<BigInt>, _>(seqs)
    .execute(c)
    .map(drop)
}

/// Adds newly stored visits to their households' counters (see [`records::count_visits`]); on
/// PostgreSQL one statement for all the households of a push.
pub fn count_visits(conn: &mut DbConn, new_visits: &[VisitRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => count_visits_pg(c, new_visits),
        DbConn::Sqlite(_) => records::count_visits(conn, new_visits),
    }
}

/// The same CASEs as `records::count_visits`, each household's figures taken from the arrays: a
/// later visit moves `last_visited_at`; a later reading, or one as late and colder, replaces the
/// stored measurement; a household without a reading in the push keeps its own.
fn count_visits_pg(c: &mut PgConnection, new_visits: &[VisitRow]) -> QueryResult<()> {
    let mut per_home: BTreeMap<&str, Vec<&VisitRow>> = BTreeMap::new();
    for v in new_visits {
        per_home.entry(&v.household_id).or_default().push(v);
    }
    if per_home.is_empty() {
        return Ok(());
    }
    let n = per_home.len();
    let (mut ids, mut counts, mut latest) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut measured_at, mut temps) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (home, visits) in per_home {
        ids.push(home.to_owned());
        counts.push(visits.len() as i64);
        latest.push(visits.iter().map(|v| v.visited_at).max().unwrap_or(i64::MIN));
        let reading = temperature::latest_of(visits.iter().copied());
        measured_at.push(reading.map(|(at, _)| at));
        temps.push(reading.map(|(_, t)| t));
    }
    diesel::sql_query(
        "UPDATE households AS h SET visit_count = h.visit_count + u.n, \
         last_visited_at = CASE WHEN h.last_visited_at IS NULL OR h.last_visited_at < u.latest \
                           THEN u.latest ELSE h.last_visited_at END, \
         last_temp_c = CASE WHEN u.at IS NOT NULL AND (h.last_measured_at IS NULL OR h.last_measured_at < u.at \
                                 OR (h.last_measured_at = u.at AND h.last_temp_c > u.temp)) \
                       THEN u.temp ELSE h.last_temp_c END, \
         last_measured_at = CASE WHEN u.at IS NOT NULL AND (h.last_measured_at IS NULL OR h.last_measured_at < u.at) \
                            THEN u.at ELSE h.last_measured_at END \
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[]) AS u(id, n, latest, at, temp) \
         WHERE h.id = u.id",
    )
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<BigInt>, _>(counts)
    .bind::<Array<BigInt>, _>(latest)
    .bind::<Array<Nullable<BigInt>>, _>(measured_at)
    .bind::<Array<Nullable<Double>>, _>(temps)
    .execute(c)
    .map(drop)
}
