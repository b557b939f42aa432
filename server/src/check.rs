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
//!
//! Sequence numbers have gaps by design (`db::seq` hands them out in chunks), so gaps are not findings.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{self, FoldEvent};
use fieldvisit_sync_protocol::time::Millis;

use crate::db::records::{self, TicketRow};
use crate::db::schema::{alerts, areas, households, removals, teams, ticket_events, tickets, visits};
use crate::db::{self, checklist_tallies, policies, seq, DbConn};
use crate::error::ApiError;
use crate::sync::apply::set_projection;

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
        check_tickets(c, now, &mut report)?;
        check_alerts(c, &mut report)?;
        check_sequence(c, &mut report)?;
        check_visit_tallies(c, &mut report)?;
        check_checklist_tallies(c, &mut report)?;
        Ok(report)
    })
}

fn check_tickets(conn: &mut DbConn, now: Millis, report: &mut Report) -> Result<(), ApiError> {
    let book = policies::load(conn)?;
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
            report.events += 1;
            events.entry(e.ticket_id.clone()).or_default().push(e.fold_event());
        }
        for row in &page {
            report.tickets += 1;
            let events = events.get(&row.id).map_or(&[][..], Vec::as_slice);
            if let Some(finding) = ticket_disagreement(row, book.version(row.policy_version), events, now) {
                report.find(format!("ticket {}: {finding}", row.id));
            }
        }
        if page.len() < PAGE as usize {
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
    let Some(stored) = row.stored_projection() else {
        return Some("stored projection is not readable".to_owned());
    };
    let mut fresh = row.clone();
    let (folded, _) = set_projection(&mut fresh, policy, events, now, &HashSet::new());
    if stored.at(policy, now) != folded {
        return Some("stored projection differs from the fold of its events".to_owned());
    }
    let columns = [
        ("status", row.status != fresh.status),
        ("stage", row.stage != fresh.stage),
        ("team_id", row.team_id != fresh.team_id),
        ("effective_category", row.effective_category != fresh.effective_category),
        ("current_due_at", row.current_due_at != fresh.current_due_at),
        ("closed_at", row.closed_at != fresh.closed_at),
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

fn check_checklist_tallies(conn: &mut DbConn, report: &mut Report) -> Result<(), ApiError> {
    let book = policies::load(conn)?;
    let mut derived = std::collections::BTreeMap::new();
    let mut after = String::new();
    loop {
        let page: Vec<records::VisitRow> = visits::table
            .filter(visits::checklist_template_id.is_not_null())
            .filter(visits::id.gt(&after))
            .order(visits::id)
            .limit(PAGE)
            .select(records::VisitRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after.clone_from(&last.id);
        for (key, n) in checklist_tallies::of_visits(conn, &page, &book, None)?.into_counts() {
            *derived.entry(key).or_insert(0) += n;
        }
    }
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
