//! `GET /api/v1/sync/pull`: every change in the caller's scope with `seq` above the cursor, in
//! sequence order, paged. Why this never skips a change: see `db::seq` and docs/protocol.md; the
//! caller runs it inside `db::read_snapshot` so its several queries see one committed state.

use std::collections::HashSet;

use base64::Engine;
use diesel::prelude::*;
use fieldvisit_sync_protocol::org::{Area, Role, Team};
use fieldvisit_sync_protocol::sync::pull::{
    HouseholdOut, PullResponse, Removed, RemovedType, TicketEventOut, VisitOut,
};
use fieldvisit_sync_protocol::time::format_utc;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::areas::{AreaRow, TeamRow};
use crate::db::policies::PolicyBook;
use crate::db::records::{self, EventRow, HouseholdRow, TicketRow, VisitRow};
use crate::db::schema::{areas, households, removals, teams, ticket_events, tickets, visits};
use crate::db::seq::{self, Horizon};
use crate::db::{scope, DbConn};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = fieldvisit_sync_protocol::sync::limits::PULL_DEFAULT_LIMIT;
pub const MAX_LIMIT: i64 = fieldvisit_sync_protocol::sync::limits::PULL_MAX_LIMIT;

/// Ties a cursor to the scope it was issued for, so a user moved to another area starts afresh.
fn scope_tag(who: &Principal) -> String {
    let key = format!("{}|{}|{}", who.area_path, who.team_id.as_deref().unwrap_or(""), who.role.as_str());
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

/// Where a phone stands in its stream: after `seq`, and, until its first pull has ended, the
/// bounds that first pull was cut to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    after: i64,
    first: Option<FirstPull>,
}

/// A first pull (no cursor) carries the scope's state, not its history: rows up to `upto` (the
/// sequence when it began) only if still relevant (visits since `since`, open tickets, tickets
/// closed since `since`, their events); every row changed after `upto` is a later change and
/// goes through as in an incremental pull, so nothing that happens meanwhile is missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FirstPull {
    upto: i64,
    since: i64,
    /// No visit numbered below this is in the window, so the visits are read from here on, not
    /// through the season's history on every page.
    visits_from: i64,
}

pub fn encode_cursor(who: &Principal, seq: i64) -> String {
    encode(who, Position { after: seq, first: None })
}

fn encode(who: &Principal, at: Position) -> String {
    let text = match at.first {
        None => format!("v1:{}:{}", at.after, scope_tag(who)),
        Some(f) => format!("v1:{}:{}:{}:{}:{}", at.after, scope_tag(who), f.upto, f.since, f.visits_from),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn cursor_reset() -> ApiError {
    ApiError::conflict("cursor_reset", "the cursor cannot be used; pull again without a cursor").with_field("cursor")
}

fn decode_cursor(who: &Principal, cursor: &str) -> Result<Position, ApiError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| cursor_reset())?;
    let text = String::from_utf8(raw).map_err(|_| cursor_reset())?;
    let parts: Vec<&str> = text.split(':').collect();
    let number = |i: usize| parts.get(i).and_then(|s| s.parse::<i64>().ok());
    let first = match parts.len() {
        3 => None,
        6 => Some(FirstPull {
            upto: number(3).ok_or_else(cursor_reset)?,
            since: number(4).ok_or_else(cursor_reset)?,
            visits_from: number(5).ok_or_else(cursor_reset)?,
        }),
        _ => return Err(cursor_reset()),
    };
    match (parts.first(), number(1), parts.get(2)) {
        (Some(&"v1"), Some(after), Some(tag)) if *tag == scope_tag(who) && after >= -1 => Ok(Position { after, first }),
        _ => Err(cursor_reset()),
    }
}

/// A row of the change stream, by its sequence number.
trait Sequenced {
    fn seq(&self) -> i64;
}

macro_rules! sequenced {
    ($($row:ty => $seq:expr),* $(,)?) => {
        $(impl Sequenced for $row {
            fn seq(&self) -> i64 {
                let seq_of: fn(&$row) -> i64 = $seq;
                seq_of(self)
            }
        })*
    };
}
sequenced!(
    (HouseholdRow, Option<i64>, i64) => |r| r.0.seq,
    VisitRow => |r| r.seq,
    TicketRow => |r| r.seq,
    EventRow => |r| r.seq,
);

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Most areas a scope may hold to be read one area at a time (see `pull`).
const AREAS_READ_ONE_BY_ONE: i64 = 64;

/// Rows of one table gathered by several queries, each a `seq`-ordered prefix of its own: in
/// `seq` order, each row once (a handler's ticket may be in the area and the team), at most a
/// page. Every row left out comes after every row kept, so nothing is skipped.
fn merged<T: Sequenced>(mut rows: Vec<T>, page: i64) -> Vec<T> {
    rows.sort_by_key(Sequenced::seq);
    rows.dedup_by_key(|r| r.seq());
    rows.truncate(usize::try_from(page).unwrap_or(usize::MAX));
    rows
}

/// (seq, id) of the tickets a first pull carries from before it began, in `seq` order: open, or
/// closed at or after `since`; within the caller's scope or (a handler) of their team. Each set
/// is one range of `tickets_closed`; the scope is applied here, where no index choice depends on it.
fn kept_tickets(
    conn: &mut DbConn,
    scope_path: &str,
    team: Option<&str>,
    since: i64,
) -> QueryResult<Vec<(i64, String)>> {
    let columns = (tickets::seq, tickets::id, tickets::area_path, tickets::team_id);
    let mut rows: Vec<(i64, String, String, Option<String>)> =
        tickets::table.filter(tickets::closed_at.is_null()).select(columns).load(conn)?;
    rows.extend(tickets::table.filter(tickets::closed_at.ge(since)).select(columns).load::<(
        i64,
        String,
        String,
        Option<String>,
    )>(conn)?);
    let mut kept: Vec<(i64, String)> = rows
        .into_iter()
        .filter(|(_, _, path, t)| scope::is_within(path, scope_path) || (team.is_some() && t.as_deref() == team))
        .map(|(seq, id, _, _)| (seq, id))
        .collect();
    kept.sort();
    kept.dedup();
    Ok(kept)
}

/// The lowest `seq` of the visits in scope with a time in the window starting at `since`, found
/// through `visits_visited` (the window's visits only, whatever the season holds; the scope is
/// applied here so no area index is walked instead). Visits below it are never read by the pull.
fn first_visit_in_window(conn: &mut DbConn, scope_path: &str, since: i64) -> QueryResult<Option<i64>> {
    let window: Vec<(i64, String)> =
        visits::table.filter(visits::visited_at.ge(since)).select((visits::seq, visits::area_path)).load(conn)?;
    Ok(window.into_iter().filter(|(_, path)| scope::is_within(path, scope_path)).map(|(seq, _)| seq).min())
}

/// One entry of the merged change stream.
enum Change {
    /// With its last visit's time and its number of visits.
    Household(HouseholdRow, Option<i64>, i64),
    Visit(VisitRow),
    Ticket(Box<TicketRow>),
    Event(EventRow),
    Removal(Removed),
}

/// A `removals` row: (seq, record type, record id).
type RemovalRow = (i64, String, String);

/// How one page is read: whose scope, from where, up to what.
struct PageRead<'a> {
    who: &'a Principal,
    at: Position,
    /// Rows above the writer's horizon when the read began are not on disk yet.
    horizon: i64,
    /// One row more than the limit, to know whether more follow.
    page: i64,
    /// The scope's areas when it is read one area at a time; `None`: walk the `seq` index.
    areas_read: Option<Vec<String>>,
    /// A handler's team, whose tickets follow them wherever they are.
    team: Option<String>,
}

// One query of page `$r`: rows above `$from` matching `$filter`, in `seq` order, at most a page;
// `$walk` makes SQLite walk the `seq` index; on a first pull, rows from before it began only if
// `$relevant(since)`. Rows above the horizon are dropped after loading rather than bounded in SQL,
// where the bound would change SQLite's choice of index; each table's rows up to it are a prefix.
macro_rules! rows_of {
    ($conn:expr, $r:expr, $table:ident, $row:ty, $select:expr, $filter:expr, $walk:expr, $relevant:expr, $from:expr) => {{
        let mut q = $table::table
            .filter($table::seq.gt($from))
            .filter($filter)
            .order($table::seq)
            .limit($r.page)
            .select($select)
            .into_boxed();
        if $walk {
            q = q.filter($table::seq.le(i64::MAX));
        }
        if let Some(first) = $r.at.first {
            q = q.filter($table::seq.gt(first.upto).or($relevant(first.since)));
        }
        let mut rows = q.load::<$row>($conn)?;
        rows.retain(|row| row.seq() <= $r.horizon);
        rows
    }};
}

// The table's rows within the caller's area above `$from`, area by area or walking (`PageRead`).
macro_rules! in_scope {
    ($conn:expr, $r:expr, $table:ident, $row:ty, $select:expr, $relevant:expr, $from:expr) => {{
        match &$r.areas_read {
            None => {
                let within = scope::within($table::area_path, &$r.who.area_path);
                rows_of!($conn, $r, $table, $row, $select, within, true, $relevant, $from)
            }
            Some(paths) => {
                let mut rows = Vec::new();
                for path in paths {
                    let here = $table::area_path.eq(path);
                    rows.extend(rows_of!($conn, $r, $table, $row, $select, here, false, $relevant, $from));
                }
                rows
            }
        }
    }};
}

/// Every row counts, on a first pull too.
fn all(_since: i64) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1")
}

pub fn pull(
    conn: &mut DbConn,
    who: &Principal,
    cursor: Option<&str>,
    limit: i64,
    policies: &PolicyBook,
    now: i64,
    horizon: &Horizon,
) -> Result<PullResponse, ApiError> {
    let r = page_read(conn, who, cursor, limit, policies, now, horizon)?;
    let after = r.at.after;
    let hh = in_scope!(
        conn,
        r,
        households,
        (HouseholdRow, Option<i64>, i64),
        (HouseholdRow::as_select(), households::last_visited_at, households::visit_count),
        all,
        after
    );
    let visits_after = r.at.first.map_or(after, |f| after.max(f.visits_from - 1));
    let relevant = |since: i64| visits::visited_at.ge(since);
    let vs = in_scope!(conn, r, visits, VisitRow, VisitRow::as_select(), relevant, visits_after);
    let (mut ts, mut es) = match r.at.first {
        Some(first) => first_pull_tickets(conn, &r, first)?,
        None => changed_tickets(conn, &r)?,
    };
    ts.sort_by_key(|t| t.seq);
    es.sort_by_key(|e| e.seq);
    let page = r.page;
    let (hh, vs, ts, es) = (merged(hh, page), merged(vs, page), merged(ts, page), merged(es, page));
    let rm = removed(conn, &r)?;
    let mut stream = change_stream(hh, vs, ts, es, rm);
    let has_more = stream.len() as i64 > limit;
    stream.truncate(limit as usize);
    let last = stream.last().map_or(after, |(s, _)| *s);

    // Organisation changes ride along (they are few) but only up to the page's last sequence
    // number, so nothing counted on the next page is sent twice or skipped.
    let (area_rows, team_rows) = org_changes(conn, who, after, if has_more { last } else { r.horizon })?;
    let org_last = area_rows.iter().map(|a| a.seq).chain(team_rows.iter().map(|t| t.seq)).max().unwrap_or(0);
    let last = if has_more { last } else { last.max(org_last) };
    // The first pull's bounds hold until its last page; from there on, every change counts.
    let next = Position { after: last, first: r.at.first.filter(|_| has_more) };
    let mut out = PullResponse {
        cursor: encode(who, next),
        has_more,
        server_time: format_utc(now),
        households: Vec::new(),
        visits: Vec::new(),
        tickets: Vec::new(),
        ticket_events: Vec::new(),
        areas: area_rows.into_iter().map(Area::from).collect(),
        teams: team_rows.into_iter().map(Team::from).collect(),
        policy: serde_json::to_value(policies.latest_for(&who.area_path)).ok(),
        removed: Vec::new(),
        checklist_templates: crate::db::checklists::changed_for(conn, policies.county_of(&who.area_path), after)?,
    };
    let outside_homes = fill(&mut out, stream, who, policies, now);
    add_homes_outside(conn, &mut out, outside_homes)?;
    Ok(out)
}

/// Decides how the page is read. Without a cursor the scope's state counts, including rows from
/// before the sequence existed (seq 0), cut to what is still relevant (contract 1.1).
///
/// A page must cost what it returns, whatever history the scope holds. Read by `area_path`
/// range and ordered by `seq`, a scope is sorted whole for every page (SQLite keeps no
/// statistics and always picks that plan): a full pull then costs the square of the history.
/// So a scope of few areas (a grid, a community) is read one area at a time, each through its
/// `(area_path, seq)` index from the cursor on, and the pieces merged; a scope of many areas
/// walks the `seq` index in order and keeps the rows within it, which reads about its share of
/// the county's rows per row returned. The bound that is always true (`seq <= i64::MAX`) is
/// what makes SQLite prefer that index.
fn page_read<'a>(
    conn: &mut DbConn,
    who: &'a Principal,
    cursor: Option<&str>,
    limit: i64,
    policies: &PolicyBook,
    now: i64,
    horizon: &Horizon,
) -> Result<PageRead<'a>, ApiError> {
    let mut areas_read: Option<Vec<String>> = None;
    if !scope::is_broad(conn, &who.area_path)? {
        let paths: Vec<String> = areas::table
            .filter(scope::within(areas::path, &who.area_path))
            .select(areas::path)
            .limit(AREAS_READ_ONE_BY_ONE + 1)
            .load(conn)?;
        areas_read = Some(paths).filter(|p| p.len() as i64 <= AREAS_READ_ONE_BY_ONE);
    }
    let current = seq::current(conn)?;
    let at = match cursor {
        Some(c) => decode_cursor(who, c)?,
        None => {
            let days = policies.latest_for(&who.area_path).pull_visit_days;
            let (upto, since) = (current.min(horizon.seq()), now.saturating_sub(days.saturating_mul(DAY_MS)));
            // Found once per first pull (the cursor carries it).
            let first_recent = first_visit_in_window(conn, &who.area_path, since)?;
            let visits_from = first_recent.unwrap_or(upto.saturating_add(1)).min(upto.saturating_add(1));
            Position { after: -1, first: Some(FirstPull { upto, since, visits_from }) }
        }
    };
    if at.after > current {
        return Err(cursor_reset());
    }
    Ok(PageRead {
        who,
        at,
        // Read after the snapshot began (the query above): rows above it are not on disk yet.
        horizon: horizon.seq(),
        page: limit + 1,
        areas_read,
        team: who.team_id.clone().filter(|_| who.role == Role::Handler),
    })
}

/// A first pull carries the open tickets and those closed within the visit window. Walking the
/// scope's tickets for them would read the season's closed ones on every page, so they are found
/// through `tickets_closed` (few, whatever the history) and their events through
/// `ticket_events_ticket`; what changed since the pull began comes as on any page.
fn first_pull_tickets(
    conn: &mut DbConn,
    r: &PageRead<'_>,
    first: FirstPull,
) -> QueryResult<(Vec<TicketRow>, Vec<EventRow>)> {
    let (after, page) = (r.at.after, r.page);
    let since_begun = after.max(first.upto);
    let mut ts = in_scope!(conn, r, tickets, TicketRow, TicketRow::as_select(), all, since_begun);
    let mut es = in_scope!(conn, r, ticket_events, EventRow, EventRow::as_select(), all, since_begun);
    if let Some(t) = &r.team {
        let of_team = tickets::team_id.eq(t);
        ts.extend(rows_of!(conn, r, tickets, TicketRow, TicketRow::as_select(), of_team, false, all, since_begun));
        let team_tickets = tickets::table.filter(tickets::team_id.eq(t.clone())).select(tickets::id);
        let of_team = ticket_events::ticket_id.eq_any(team_tickets);
        es.extend(rows_of!(conn, r, ticket_events, EventRow, EventRow::as_select(), of_team, true, all, since_begun));
    }
    if after < first.upto {
        let kept = kept_tickets(conn, &r.who.area_path, r.team.as_deref(), first.since)?;
        let ids: Vec<String> =
            kept.iter().filter(|(s, _)| *s > after && *s <= first.upto).map(|(_, id)| id.clone()).collect();
        let mut page_rows: Vec<TicketRow> =
            records::tickets_by_id(conn, &ids[..ids.len().min(page as usize)])?.into_values().collect();
        page_rows.retain(|t| t.seq > after && t.seq <= first.upto);
        ts.extend(page_rows);
        let all_kept: Vec<String> = kept.into_iter().map(|(_, id)| id).collect();
        let mut events: Vec<EventRow> = crate::load_any_of!(
            &mut *conn,
            ticket_events::table
                .filter(ticket_events::seq.gt(after).and(ticket_events::seq.le(first.upto)))
                .select(EventRow::as_select()),
            ticket_events::ticket_id,
            &all_kept
        )?;
        events.sort_by_key(|e| e.seq);
        events.truncate(page as usize);
        es.extend(events);
    }
    ts.retain(|t| t.seq <= r.horizon);
    es.retain(|e| e.seq <= r.horizon);
    Ok((ts, es))
}

/// The tickets and events changed after the cursor. A handler also follows the team's tickets
/// wherever they are: through `(team_id, seq)`, and their events by walking the `seq` index with
/// the team's tickets as a subquery (never every ticket id of the team loaded per page).
fn changed_tickets(conn: &mut DbConn, r: &PageRead<'_>) -> QueryResult<(Vec<TicketRow>, Vec<EventRow>)> {
    let after = r.at.after;
    let mut ts = in_scope!(conn, r, tickets, TicketRow, TicketRow::as_select(), all, after);
    let mut es = in_scope!(conn, r, ticket_events, EventRow, EventRow::as_select(), all, after);
    if let Some(t) = &r.team {
        let of_team = tickets::team_id.eq(t);
        ts.extend(rows_of!(conn, r, tickets, TicketRow, TicketRow::as_select(), of_team, false, all, after));
        let team_tickets = tickets::table.filter(tickets::team_id.eq(t.clone())).select(tickets::id);
        let of_team = ticket_events::ticket_id.eq_any(team_tickets);
        es.extend(rows_of!(conn, r, ticket_events, EventRow, EventRow::as_select(), of_team, true, all, after));
    }
    Ok((ts, es))
}

/// Tickets re-dispatched away from a handler's team, and households merged away (contract 1.1),
/// which reach every phone whose scope held them; a first pull only needs those merged after its
/// snapshot (it may have sent them on an earlier page).
fn removed(conn: &mut DbConn, r: &PageRead<'_>) -> QueryResult<Vec<RemovalRow>> {
    let (after, columns) = (r.at.after, (removals::seq, removals::record_type, removals::record_id));
    let mut rm: Vec<RemovalRow> = match &r.team {
        Some(t) => removals::table
            .filter(removals::seq.gt(after))
            .filter(removals::team_id.eq(t))
            .order(removals::seq)
            .limit(r.page)
            .select(columns)
            .load(conn)?,
        None => Vec::new(),
    };
    let removed_after = r.at.first.map_or(after, |f| after.max(f.upto));
    rm.extend(
        removals::table
            .filter(removals::team_id.is_null())
            .filter(scope::within(removals::area_path, &r.who.area_path))
            .filter(removals::seq.gt(removed_after))
            .order(removals::seq)
            .limit(r.page)
            .select(columns)
            .load::<RemovalRow>(conn)?,
    );
    rm.retain(|(s, _, _)| *s <= r.horizon);
    Ok(rm)
}

/// Every table's rows as one stream in `seq` order.
fn change_stream(
    hh: Vec<(HouseholdRow, Option<i64>, i64)>,
    vs: Vec<VisitRow>,
    ts: Vec<TicketRow>,
    es: Vec<EventRow>,
    rm: Vec<RemovalRow>,
) -> Vec<(i64, Change)> {
    let mut stream: Vec<(i64, Change)> = Vec::new();
    stream.extend(hh.into_iter().map(|(r, last, count)| (r.seq, Change::Household(r, last, count))));
    stream.extend(vs.into_iter().map(|r| (r.seq, Change::Visit(r))));
    stream.extend(ts.into_iter().map(|r| (r.seq, Change::Ticket(Box::new(r)))));
    stream.extend(es.into_iter().map(|r| (r.seq, Change::Event(r))));
    stream.extend(rm.into_iter().map(|(s, t, id)| {
        let record_type = if t == "household" { RemovedType::Household } else { RemovedType::Ticket };
        (s, Change::Removal(Removed { record_type, id: records::uuid_of(&id) }))
    }));
    stream.sort_by_key(|(s, _)| *s);
    stream
}

/// Areas and teams changed after `after` up to `upto`, within the caller's scope (and the teams
/// of the areas above it, which may serve it).
fn org_changes(conn: &mut DbConn, who: &Principal, after: i64, upto: i64) -> QueryResult<(Vec<AreaRow>, Vec<TeamRow>)> {
    let area_rows: Vec<AreaRow> = areas::table
        .filter(areas::seq.gt(after).and(areas::seq.le(upto)))
        .filter(scope::within(areas::path, &who.area_path))
        .order(areas::seq)
        .select(AreaRow::as_select())
        .load(conn)?;
    let ancestors = crate::db::areas::ancestor_paths(&who.area_path);
    let team_rows: Vec<TeamRow> = teams::table
        .filter(teams::seq.gt(after).and(teams::seq.le(upto)))
        .filter(scope::within(teams::area_path, &who.area_path).or(teams::area_path.eq_any(ancestors)))
        .order(teams::seq)
        .select(TeamRow::as_select())
        .load(conn)?;
    Ok((area_rows, team_rows))
}

/// Puts the stream's rows into `out` as wire records; returns the households of tickets outside
/// the caller's area (a team member's), which the caller does not otherwise see.
fn fill(
    out: &mut PullResponse,
    stream: Vec<(i64, Change)>,
    who: &Principal,
    policies: &PolicyBook,
    now: i64,
) -> Vec<String> {
    let mut outside_homes: Vec<String> = Vec::new();
    for (_, change) in stream {
        match change {
            Change::Household(r, last, count) => {
                let mut h = HouseholdOut::from(&r);
                h.last_visited_at = last.map(format_utc);
                h.visit_count = Some(count);
                out.households.push(h);
            }
            Change::Visit(r) => out.visits.push(VisitOut::from(&r)),
            Change::Ticket(r) => {
                if !who.sees(&r.area_path) {
                    outside_homes.push(r.household_id.clone());
                }
                out.tickets.push(r.to_out(policies.version(r.policy_version), now));
            }
            Change::Event(r) => out.ticket_events.push(TicketEventOut::from(&r)),
            Change::Removal(r) => out.removed.push(r),
        }
    }
    outside_homes
}

/// A team member needs the address of a ticket outside their own area.
fn add_homes_outside(conn: &mut DbConn, out: &mut PullResponse, mut homes: Vec<String>) -> QueryResult<()> {
    if homes.is_empty() {
        return Ok(());
    }
    let have: HashSet<String> = out.households.iter().map(|h| h.id.to_string()).collect();
    homes.retain(|h| !have.contains(h));
    for r in records::households_by_id(conn, &homes)?.values() {
        out.households.push(HouseholdOut::from(r));
    }
    Ok(())
}
