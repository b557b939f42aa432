//! Duplicate households (contract 1.1): the lookup a push makes for a new household (one indexed
//! query, `households_area_dedup`), the list of possible pairs for the desk, and the merge that
//! moves one household's visits and tickets onto another and removes it from phones.

use diesel::prelude::*;

use super::records::{self, HouseholdRow, VisitRow};
use super::schema::{alerts, household_versions, households, record_photos, removals, ticket_events, tickets, visits};
use super::seq::SeqAlloc;
use super::{checklist_tallies, policies, scope, temperature, DbConn};

/// Another household in grid `area_id` with the same key as household `id`, the oldest first.
pub fn match_in_grid(conn: &mut DbConn, area_id: &str, key: &str, id: &str) -> QueryResult<Option<String>> {
    households::table
        .filter(households::area_id.eq(area_id))
        .filter(households::dedup_key.eq(key))
        .filter(households::id.ne(id))
        .order(households::seq)
        .select(households::id)
        .first(conn)
        .optional()
}

/// Fills the key of households stored before it existed (once, at start; the key is computed
/// here, not in SQL, so that it is the push writer's).
pub fn fill_keys(conn: &mut DbConn) -> QueryResult<()> {
    loop {
        let rows: Vec<(String, String, String)> = households::table
            .filter(households::dedup_key.is_null())
            .select((households::id, households::address, households::head_name))
            .limit(1000)
            .load(conn)?;
        if rows.is_empty() {
            return Ok(());
        }
        for (id, address, head) in rows {
            // A household whose address leaves no key gets '' (never matched: keys are non-empty).
            let key = crate::sync::duplicates::key(&address, &head).unwrap_or_default();
            diesel::update(households::table.find(&id)).set(households::dedup_key.eq(key)).execute(conn)?;
        }
    }
}

/// Groups of at least two households in scope sharing a grid and a key (at most `limit` groups),
/// each oldest first.
pub fn groups_in(conn: &mut DbConn, scope_path: &str, limit: i64) -> QueryResult<Vec<Vec<HouseholdRow>>> {
    let keys: Vec<(String, Option<String>)> = households::table
        .filter(scope::within(households::area_path, scope_path))
        .filter(households::dedup_key.gt(""))
        .group_by((households::area_id, households::dedup_key))
        .having(diesel::dsl::count_star().gt(1))
        .select((households::area_id, households::dedup_key))
        .order((households::area_id, households::dedup_key))
        .limit(limit)
        .load(conn)?;
    let mut groups = Vec::with_capacity(keys.len());
    for (area_id, key) in keys {
        let Some(key) = key else { continue };
        let rows: Vec<HouseholdRow> = households::table
            .filter(households::area_id.eq(&area_id))
            .filter(households::dedup_key.eq(&key))
            .order(households::seq)
            .select(HouseholdRow::as_select())
            .load(conn)?;
        groups.push(rows);
    }
    Ok(groups)
}

/// What a merge moved.
#[derive(Debug, Default, serde::Serialize)]
pub struct Moved {
    pub visits: usize,
    pub tickets: usize,
}

/// Moves `from`'s visits and tickets onto `into`, then deletes `from` and records its removal so
/// phones drop it. Each moved row gets a fresh change number (phones pull it again, under its new
/// household); `into` counts the visits it took over. Runs inside the caller's transaction.
pub fn merge(conn: &mut DbConn, from: &Counted, into: &Counted, now: i64) -> QueryResult<Moved> {
    let last = [from.last_visited_at, into.last_visited_at].into_iter().flatten().max();
    let from_count = from.visit_count;
    let (from, into) = (&from.row, &into.row);
    let mut seq = SeqAlloc::new();
    let area_moves = from.area_path != into.area_path;
    let moving: Vec<VisitRow> =
        visits::table.filter(visits::household_id.eq(&from.id)).select(VisitRow::as_select()).load(conn)?;
    if area_moves {
        // The checklist report counts a visit in its household's grid: its tallies move along.
        let book = policies::load(conn)?;
        checklist_tallies::of_visits(conn, &moving, &book, None)?.unstore(conn)?;
        checklist_tallies::of_visits(conn, &moving, &book, Some(&into.area_path))?.store(conn)?;
        // So does the temperature tally, kept per area.
        temperature::remove(conn, &moving)?;
        let moved: Vec<VisitRow> =
            moving.iter().map(|v| VisitRow { area_path: into.area_path.clone(), ..v.clone() }).collect();
        temperature::add(conn, &moved)?;
    }
    let visit_ids: Vec<String> = moving.into_iter().map(|v| v.id).collect();
    for id in &visit_ids {
        diesel::update(visits::table.find(id))
            .set((
                visits::household_id.eq(&into.id),
                visits::area_id.eq(&into.area_id),
                visits::area_path.eq(&into.area_path),
                visits::county_id.eq(&into.county_id),
                visits::seq.eq(seq.next(conn)?),
            ))
            .execute(conn)?;
    }
    let ticket_ids: Vec<String> =
        tickets::table.filter(tickets::household_id.eq(&from.id)).select(tickets::id).load(conn)?;
    for id in &ticket_ids {
        diesel::update(tickets::table.find(id))
            .set((
                tickets::household_id.eq(&into.id),
                tickets::area_id.eq(&into.area_id),
                tickets::area_path.eq(&into.area_path),
                tickets::county_id.eq(&into.county_id),
                tickets::seq.eq(seq.next(conn)?),
            ))
            .execute(conn)?;
        if area_moves {
            // The events and alerts follow their ticket into the other grid's scope.
            let events: Vec<String> =
                ticket_events::table.filter(ticket_events::ticket_id.eq(id)).select(ticket_events::id).load(conn)?;
            for event in events {
                diesel::update(ticket_events::table.find(&event))
                    .set((
                        ticket_events::area_path.eq(&into.area_path),
                        ticket_events::county_id.eq(&into.county_id),
                        ticket_events::seq.eq(seq.next(conn)?),
                    ))
                    .execute(conn)?;
            }
            diesel::update(alerts::table.filter(alerts::ticket_id.eq(id)))
                .set((alerts::area_path.eq(&into.area_path), alerts::county_id.eq(&into.county_id)))
                .execute(conn)?;
        }
    }
    if area_moves {
        let moved: Vec<&String> = visit_ids.iter().chain(&ticket_ids).collect();
        diesel::update(record_photos::table.filter(record_photos::record_id.eq_any(moved)))
            .set(record_photos::area_path.eq(&into.area_path))
            .execute(conn)?;
    }
    // The surviving door's latest reading may now be one of the moved visits.
    let all: Vec<VisitRow> =
        visits::table.filter(visits::household_id.eq(&into.id)).select(VisitRow::as_select()).load(conn)?;
    let measured = records::latest_of(&all);
    diesel::update(households::table.find(&into.id))
        .set((
            households::visit_count.eq(households::visit_count + from_count),
            households::last_visited_at.eq(last),
            households::last_measured_at.eq(measured.map(|m| m.0)),
            households::last_temp_c.eq(measured.map(|m| m.1)),
            households::seq.eq(seq.next(conn)?),
        ))
        .execute(conn)?;
    diesel::delete(household_versions::table.filter(household_versions::household_id.eq(&from.id))).execute(conn)?;
    diesel::delete(households::table.find(&from.id)).execute(conn)?;
    diesel::insert_into(removals::table)
        .values((
            removals::seq.eq(seq.next(conn)?),
            removals::record_type.eq("household"),
            removals::record_id.eq(&from.id),
            removals::team_id.eq(None::<String>),
            removals::area_path.eq(&from.area_path),
            removals::at.eq(now),
        ))
        .execute(conn)?;
    Ok(Moved { visits: visit_ids.len(), tickets: ticket_ids.len() })
}

/// One household with the visit counters the writer keeps (`HouseholdRow` leaves them out).
pub struct Counted {
    pub row: HouseholdRow,
    pub last_visited_at: Option<i64>,
    pub visit_count: i64,
}

pub fn counted(conn: &mut DbConn, id: &str) -> QueryResult<Option<Counted>> {
    let found: Option<(HouseholdRow, Option<i64>, i64)> = households::table
        .find(id)
        .select((HouseholdRow::as_select(), households::last_visited_at, households::visit_count))
        .first(conn)
        .optional()?;
    Ok(found.map(|(row, last_visited_at, visit_count)| Counted { row, last_visited_at, visit_count }))
}
