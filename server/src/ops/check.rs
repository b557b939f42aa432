//! `fieldvisit check`: an operator's consistency check of the configured database, run on one
//! read snapshot so it may run beside a live server. It re-derives what the server caches and
//! compares:
//!
//! - every ticket's stored projection and its indexed columns (status, stage, team, category,
//!   current due time, closed time) against the pure fold of its stored events under its policy;
//! - every alert key (ticket, kind, stage, cycle, level) stored once;
//! - every change-sequence number used by one row only, and none above the counter;
//! - every household's `visit_count` and `last_visited_at` against its visits;
//! - the checklist report's tallies against the visits that name a template (a timezone changed
//!   since a visit was stored shows here too: its day was counted in the old one).
//! - what the reports read instead of history (`db::temperature`): each household's latest
//!   measurement and the temperature tally, against the visits (tickets' `stage_times` and
//!   `latest_satisfaction` are projection columns, above).
//! - every busy table's `county_id` against the county of its `area_path` ([`county_ids`]).
//!
//! First of all, every record row (and every stored household version, team, channel and user) must load: an id that is not a UUID, an enum name no type knows
//! or JSON that does not parse is a finding naming the row (`db::typed`), and the checks above,
//! which fold or count those rows, are left until it is fixed (a repair refuses it too).
//!
//! [`repair`] rebuilds every derived thing that differs (`fieldvisit check --repair`).
//!
//! Sequence numbers have gaps by design (`db::seq` hands them out in chunks), so gaps are not findings.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{self, FoldEvent};
use fieldvisit_sync_protocol::time::Millis;

use crate::db::records::{self, TicketRow};
use crate::db::schema::{
    alerts, areas, channels, household_versions, households, removals, teams, ticket_events, tickets, users, visits,
};
use crate::db::store_projection::StoreProjection;
use crate::db::{self, alerts as fired_alerts, checklist_tallies, policies, seq, temperature, DbConn};
use crate::error::ApiError;
use crate::sync::apply::set_projection;

pub mod county_ids;

/// Tickets folded per round trip.
const PAGE: i64 = 1000;
/// Findings listed in full; past this only the count grows.
const LISTED: usize = 50;

#[derive(Debug, Default)]
pub struct Report {
    pub tickets: u64,
    pub events: u64,
    pub alerts: u64,
    pub sequence_numbers: u64,
    /// How many problems were found in all.
    pub problems: u64,
    /// The first [`LISTED`] problems, one line each.
    pub findings: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.problems == 0
    }

    fn find(&mut self, line: String) {
        self.problems += 1;
        if self.findings.len() < LISTED {
            self.findings.push(line);
        }
    }
}

/// Runs every check on one snapshot; `now` is the instant projections are compared at.
pub fn run(conn: &mut DbConn, now: Millis) -> Result<Report, ApiError> {
    db::read_snapshot(conn, |c| {
        let mut report = Report::default();
        if check_readable(c, &mut report)? > 0 {
            return Ok(report);
        }
        check_tickets(c, now, &mut report)?;
        check_alerts(c, &mut report)?;
        check_sequence(c, &mut report)?;
        check_visit_tallies(c, &mut report)?;
        check_checklist_tallies(c, &mut report)?;
        check_temperatures(c, &mut report)?;
        let book = policies::load(c)?;
        for wrong in county_ids::disagreements(c, &book)? {
            report.find(wrong.to_string());
        }
        Ok(report)
    })
}

/// What [`repair`] rewrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Tickets whose projection or its columns were re-folded (each with a new `seq`, so phones pull the fix).
    pub tickets: u64,
    /// Households whose visit tallies or latest measurement were recomputed.
    pub households: u64,
    /// Whether the temperature tally was rebuilt.
    pub temperature_tally: bool,
    /// Whether the checklist report's tallies were rebuilt.
    pub checklist_tallies: bool,
    /// Rows whose `county_id` was set again from their area path.
    pub county_ids: u64,
}

/// Rebuilds what the server derives and keeps, where it differs from what it is derived from, in
/// one write transaction (which waits for, then holds off, the push writer). Alert keys and
/// sequence numbers are not derived data and are left alone.
pub fn repair(conn: &mut DbConn, now: Millis) -> Result<Repaired, ApiError> {
    db::transaction(conn, |c| {
        let mut repaired = Repaired::default();
        let book = policies::load(c)?;
        let mut seq = seq::SeqAlloc::new();
        ticket_pages(c, |c, page, events| {
            let ids: Vec<String> = page.iter().map(|t| t.id.clone()).collect();
            let mut fired = fired_alerts::fired_keys(c, &ids)?;
            for mut row in page {
                let policy = book.version(row.policy_version);
                let events = events.get(&row.id).map_or(&[][..], Vec::as_slice);
                if ticket_disagreement(&row, policy, events, now).is_none() {
                    continue;
                }
                // Alerts already fired stay fired; the tracker sends what falls due from here.
                let fired = fired.remove(&row.id).unwrap_or_default();
                set_projection(&mut row, policy, events, now, &fired);
                row.version += 1;
                row.seq = seq.next(c)?;
                crate::with_conn!(&mut *c, c => StoreProjection(&row).execute(c))?;
                repaired.tickets += 1;
            }
            Ok(())
        })?;
        let mut homes: HashSet<String> = records::visit_tally_disagreements(c)?.into_iter().map(|d| d.0).collect();
        if !homes.is_empty() {
            records::recount_visits(c)?;
        }
        let measured = temperature::measurement_disagreements(c)?;
        if !measured.is_empty() {
            temperature::rebuild_measurements(c)?;
        }
        homes.extend(measured.into_iter().map(|d| d.0));
        repaired.households = homes.len() as u64;
        let tally = temperature::derived(c)?;
        if tally != temperature::stored(c)? {
            temperature::replace(c, tally)?;
            repaired.temperature_tally = true;
        }
        if derived_checklist_tallies(c)? != checklist_tallies::all(c)? {
            crate::with_conn!(&mut *c, c => diesel::delete(crate::db::schema::checklist_tallies::table).execute(c))?;
            checklist_pages(c, |c, tallies| Ok(tallies.store(c)?))?;
            repaired.checklist_tallies = true;
        }
        let wrong = county_ids::disagreements(c, &book)?;
        repaired.county_ids = county_ids::repair(c, &wrong)?;
        Ok(repaired)
    })
}

/// Loads every record and alert row, a page at a time; a page that does not load is read again row
/// by row to name each row that fails and why. Returns how many failed.
fn check_readable(conn: &mut DbConn, report: &mut Report) -> Result<u64, ApiError> {
    use diesel::result::Error::DeserializationError;
    let mut unreadable = 0;
    macro_rules! scan {
        ($table:ident, $row:ty, $start:expr) => {{
            let mut after = $start;
            loop {
                let ids = $table::table
                    .filter($table::id.gt(&after))
                    .order($table::id)
                    .limit(PAGE)
                    .select($table::id)
                    .load(conn)?;
                let Some(last) = ids.last().cloned() else { break };
                let page = $table::table
                    .filter($table::id.gt(&after).and($table::id.le(&last)))
                    .select(<$row>::as_select())
                    .load::<$row>(conn);
                match page {
                    Ok(_) => {}
                    Err(DeserializationError(_)) => {
                        for id in ids {
                            let row = $table::table.find(&id).select(<$row>::as_select()).first::<$row>(conn);
                            if let Err(DeserializationError(e)) = row {
                                unreadable += 1;
                                report.find(does_not_load(stringify!($table), id, &*e));
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
                after = last;
            }
        }};
    }
    scan!(households, records::HouseholdRow, String::new());
    scan!(visits, records::VisitRow, String::new());
    scan!(tickets, TicketRow, String::new());
    scan!(ticket_events, records::EventRow, String::new());
    scan!(alerts, fired_alerts::AlertRow, 0_i64);
    scan!(teams, crate::db::areas::TeamRow, String::new());
    scan!(channels, crate::db::channels::ChannelRow, String::new());
    scan!(users, crate::db::users::UserRow, String::new());
    Ok(unreadable + household_versions_readable(conn, report)?)
}

/// `scan!` for `household_versions`, whose key is (household, version): the versions of a page of
/// households at a time, and a page that does not load read again version by version.
fn household_versions_readable(conn: &mut DbConn, report: &mut Report) -> Result<u64, ApiError> {
    use diesel::result::Error::DeserializationError;
    use household_versions as hv;
    let mut unreadable = 0;
    let mut after = String::new();
    loop {
        let homes: Vec<String> = hv::table
            .filter(hv::household_id.gt(&after))
            .select(hv::household_id)
            .distinct()
            .order(hv::household_id)
            .limit(PAGE)
            .load(conn)?;
        let Some(last) = homes.last().cloned() else { return Ok(unreadable) };
        let in_page = hv::household_id.gt(after).and(hv::household_id.le(last.clone()));
        match hv::table.filter(in_page.clone()).select(records::HouseholdVersionRow::as_select()).load(conn) {
            Ok(_) => {}
            Err(DeserializationError(_)) => {
                let keys: Vec<(String, i64)> =
                    hv::table.filter(in_page).select((hv::household_id, hv::version)).load(conn)?;
                for (id, version) in keys {
                    let row = hv::table
                        .find((&id, version))
                        .select(records::HouseholdVersionRow::as_select())
                        .first::<records::HouseholdVersionRow>(conn);
                    if let Err(DeserializationError(e)) = row {
                        unreadable += 1;
                        report.find(does_not_load("household_versions", format_args!("{id} version {version}"), &*e));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        after = last;
    }
}

/// The finding for a row that does not load: diesel's error names the column, its cause the value.
fn does_not_load(table: &str, row: impl std::fmt::Display, e: &(dyn std::error::Error + Send + Sync)) -> String {
    let cause = e.source().map(|c| format!(": {c}")).unwrap_or_default();
    format!("{table} row {row} does not load: {e}{cause}")
}

fn check_tickets(conn: &mut DbConn, now: Millis, report: &mut Report) -> Result<(), ApiError> {
    let book = policies::load(conn)?;
    ticket_pages(conn, |_, page, events| {
        report.events += events.values().map(|e| e.len() as u64).sum::<u64>();
        for row in &page {
            report.tickets += 1;
            let events = events.get(&row.id).map_or(&[][..], Vec::as_slice);
            if let Some(finding) = ticket_disagreement(row, book.version(row.policy_version), events, now) {
                report.find(format!("ticket {}: {finding}", row.id));
            }
        }
        Ok(())
    })
}

/// Every ticket, a page at a time in id order, with each one's events in time order.
fn ticket_pages(
    conn: &mut DbConn,
    mut each: impl FnMut(&mut DbConn, Vec<TicketRow>, HashMap<String, Vec<FoldEvent>>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut after = String::new();
    loop {
        let page: Vec<TicketRow> = tickets::table
            .filter(tickets::id.gt(&after))
            .order(tickets::id)
            .limit(PAGE)
            .select(TicketRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { return Ok(()) };
        after.clone_from(&last.id);
        let ids: Vec<String> = page.iter().map(|t| t.id.clone()).collect();
        let mut events: HashMap<String, Vec<FoldEvent>> = HashMap::new();
        for e in records::events_of(conn, &ids)? {
            events.entry(e.ticket_id.clone()).or_default().push(e.fold_event());
        }
        let full = page.len() == PAGE as usize;
        each(conn, page, events)?;
        if !full {
            return Ok(());
        }
    }
}

/// What, if anything, differs between `row` as stored and the fold of `events`.
fn ticket_disagreement(
    row: &TicketRow,
    policy: &deadline::Policy,
    events: &[FoldEvent],
    now: Millis,
) -> Option<String> {
    let mut fresh = row.clone();
    set_projection(&mut fresh, policy, events, now, &HashSet::new());
    if row.stored_projection().clone().at(policy, now) != *fresh.stored_projection() {
        return Some("stored projection differs from the fold of its events".to_owned());
    }
    let columns = [
        ("status", row.status != fresh.status),
        ("stage", row.stage != fresh.stage),
        ("team_id", row.team_id != fresh.team_id),
        ("effective_category", row.effective_category != fresh.effective_category),
        ("current_due_at", row.current_due_at != fresh.current_due_at),
        ("closed_at", row.closed_at != fresh.closed_at),
        ("stage_times", row.stage_times != fresh.stage_times),
        ("latest_satisfaction", row.latest_satisfaction != fresh.latest_satisfaction),
    ];
    let wrong: Vec<&str> = columns.iter().filter(|(_, differs)| *differs).map(|(name, _)| *name).collect();
    (!wrong.is_empty()).then(|| format!("column(s) {} differ from the fold of its events", wrong.join(", ")))
}

fn check_alerts(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    let keys: Vec<(String, String, String, i32, i32)> = alerts::table
        .select((alerts::ticket_id, alerts::kind, alerts::stage, alerts::cycle, alerts::level))
        .load(conn)?;
    report.alerts = keys.len() as u64;
    let mut seen = HashSet::with_capacity(keys.len());
    for key in keys {
        if !seen.insert(key.clone()) {
            let (ticket, kind, stage, cycle, level) = key;
            report.find(format!("alert {kind} {stage} cycle {cycle} level {level} of ticket {ticket} fired twice"));
        }
    }
    Ok(())
}

fn check_sequence(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    let counter = seq::current(conn)?;
    let tables: [(&str, Vec<i64>); 7] = [
        ("households", households::table.select(households::seq).load(conn)?),
        ("visits", visits::table.select(visits::seq).load(conn)?),
        ("tickets", tickets::table.select(tickets::seq).load(conn)?),
        ("ticket_events", ticket_events::table.select(ticket_events::seq).load(conn)?),
        ("removals", removals::table.select(removals::seq).load(conn)?),
        // Rows made before the counter existed keep 0; they are not numbered changes.
        ("areas", areas::table.select(areas::seq).filter(areas::seq.gt(0)).load(conn)?),
        ("teams", teams::table.select(teams::seq).filter(teams::seq.gt(0)).load(conn)?),
    ];
    let mut owner: HashMap<i64, &str> = HashMap::new();
    for (table, numbers) in &tables {
        for &n in numbers {
            report.sequence_numbers += 1;
            if n > counter {
                report.find(format!("{table} row has seq {n}, above the counter ({counter})"));
            }
            if let Some(first) = owner.insert(n, table) {
                report.find(format!("seq {n} is used twice ({first} and {table})"));
            }
        }
    }
    Ok(())
}

fn check_visit_tallies(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    for (id, stored, derived) in records::visit_tally_disagreements(conn)? {
        report.find(format!(
            "household {id}: stored visit_count/last_visited_at {stored:?}, its visits give {derived:?}"
        ));
    }
    Ok(())
}

/// The tallies of every visit naming a template, page by page, handed to `f`.
fn checklist_pages(
    conn: &mut DbConn,
    mut f: impl FnMut(&mut DbConn, checklist_tallies::Tallies) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let book = policies::load(conn)?;
    let mut after = String::new();
    loop {
        let page: Vec<records::VisitRow> = visits::table
            .filter(visits::checklist_template_id.is_not_null())
            .filter(visits::id.gt(&after))
            .order(visits::id)
            .limit(PAGE)
            .select(records::VisitRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { return Ok(()) };
        after.clone_from(&last.id);
        let tallies = checklist_tallies::of_visits(conn, &page, &book, None)?;
        f(conn, tallies)?;
    }
}

/// What the checklist tallies should hold, from the visits.
fn derived_checklist_tallies(
    conn: &mut DbConn,
) -> Result<std::collections::BTreeMap<checklist_tallies::TallyKey, i64>, ApiError> {
    let mut derived = std::collections::BTreeMap::new();
    checklist_pages(conn, |_, tallies| {
        for (key, n) in tallies.into_counts() {
            *derived.entry(key).or_insert(0) += n;
        }
        Ok(())
    })?;
    Ok(derived)
}

fn check_checklist_tallies(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    let derived = derived_checklist_tallies(conn)?;
    let stored = checklist_tallies::all(conn)?;
    let keys: HashSet<_> = stored.keys().chain(derived.keys()).collect();
    for key in keys {
        let (s, d) = (stored.get(key).copied().unwrap_or(0), derived.get(key).copied().unwrap_or(0));
        if s != d {
            let (template, grid, day, item, answer) = key;
            report.find(format!(
                "checklist tally {template} {grid} day {day} {item}={answer:?}: stored {s}, the visits give {d}"
            ));
        }
    }
    Ok(())
}

fn check_temperatures(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    for (id, stored, derived) in temperature::measurement_disagreements(conn)? {
        report.find(format!("household {id}: stored latest measurement {stored:?}, its visits give {derived:?}"));
    }
    let (stored, derived) = (temperature::stored(conn)?, temperature::derived(conn)?);
    let keys: std::collections::BTreeSet<_> = stored.keys().chain(derived.keys()).collect();
    for key in keys {
        let (has, want) = (stored.get(key).copied().unwrap_or(0), derived.get(key).copied().unwrap_or(0));
        if has != want {
            let (area, day, tenths) = key;
            report.find(format!(
                "temperature tally {area} day {day} at {:.1} °C: {has} visit(s) kept, the visits give {want}",
                f64::from(*tenths) / 10.0
            ));
        }
    }
    Ok(())
}
