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

pub const DEFAULT_LIMIT: i64 = 500;
pub const MAX_LIMIT: i64 = 1000;

/// Ties a cursor to the scope it was issued for, so a user moved to another area starts afresh.
fn scope_tag(who: &Principal) -> String {
    let key = format!("{}|{}|{}", who.area_path, who.team_id.as_deref().unwrap_or(""), who.role.as_str());
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

pub fn encode_cursor(who: &Principal, seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{seq}:{}", scope_tag(who)))
}

fn cursor_reset() -> ApiError {
    ApiError::conflict("cursor_reset", "the cursor cannot be used; pull again without a cursor").with_field("cursor")
}

fn decode_cursor(who: &Principal, cursor: &str) -> Result<i64, ApiError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| cursor_reset())?;
    let text = String::from_utf8(raw).map_err(|_| cursor_reset())?;
    let mut parts = text.split(':');
    match (parts.next(), parts.next().and_then(|s| s.parse::<i64>().ok()), parts.next(), parts.next()) {
        (Some("v1"), Some(seq), Some(tag), None) if tag == scope_tag(who) && seq >= -1 => Ok(seq),
        _ => Err(cursor_reset()),
    }
}

/// One entry of the merged change stream.
enum Change {
    Household(HouseholdRow),
    Visit(VisitRow),
    Ticket(TicketRow),
    Event(EventRow),
    Removal(Removed),
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
    // Without a cursor everything counts, including rows from before the sequence existed (seq 0).
    let after = match cursor {
        Some(c) => decode_cursor(who, c)?,
        None => -1,
    };
    if after > seq::current(conn)? {
        return Err(cursor_reset());
    }
    // Read after the snapshot began (the query above): rows above it are not on disk yet. They are
    // dropped after loading rather than bounded in SQL, where the bound would change SQLite's
    // choice of index (see `walk` below); each table's rows up to it are a prefix of its page.
    let horizon = horizon.seq();
    let team = who.team_id.clone().filter(|_| who.role == Role::Handler);
    let page = limit + 1;

    // SQLite keeps no statistics and would always read a scope by its `area_path` index, then sort
    // the whole scope by `seq` for every page: for a county-wide pull, quadratic. A scope holding
    // much of the county instead walks the `seq` index in order, where most rows match; the bound
    // that is always true (`seq <= i64::MAX`) is what makes SQLite prefer that index.
    let walk = scope::is_broad(conn, &who.area_path)?;
    macro_rules! page_of {
        ($table:ident, $row:ty, $scope:expr) => {{
            let mut q = $table::table
                .filter($table::seq.gt(after))
                .filter($scope)
                .order($table::seq)
                .limit(page)
                .select(<$row>::as_select())
                .into_boxed();
            if walk {
                q = q.filter($table::seq.le(i64::MAX));
            }
            let mut rows = q.load::<$row>(conn)?;
            rows.retain(|r| r.seq <= horizon);
            rows
        }};
    }
    let hh = page_of!(households, HouseholdRow, scope::within(households::area_path, &who.area_path));
    let vs = page_of!(visits, VisitRow, scope::within(visits::area_path, &who.area_path));
    let in_area = scope::within(tickets::area_path, &who.area_path);
    let ts = match &team {
        Some(t) => page_of!(tickets, TicketRow, in_area.or(tickets::team_id.eq(t))),
        None => page_of!(tickets, TicketRow, in_area),
    };
    let ev_in_area = scope::within(ticket_events::area_path, &who.area_path);
    let es = match &team {
        Some(t) => {
            let team_tickets: Vec<String> =
                tickets::table.filter(tickets::team_id.eq(t)).select(tickets::id).load(conn)?;
            page_of!(ticket_events, EventRow, ev_in_area.or(ticket_events::ticket_id.eq_any(team_tickets)))
        }
        None => page_of!(ticket_events, EventRow, ev_in_area),
    };
    let mut rm: Vec<(i64, String, String)> = match &team {
        Some(t) => removals::table
            .filter(removals::seq.gt(after))
            .filter(removals::team_id.eq(t))
            .order(removals::seq)
            .limit(page)
            .select((removals::seq, removals::record_type, removals::record_id))
            .load(conn)?,
        None => Vec::new(),
    };
    rm.retain(|(s, _, _)| *s <= horizon);

    let mut stream: Vec<(i64, Change)> = Vec::new();
    stream.extend(hh.into_iter().map(|r| (r.seq, Change::Household(r))));
    stream.extend(vs.into_iter().map(|r| (r.seq, Change::Visit(r))));
    stream.extend(ts.into_iter().map(|r| (r.seq, Change::Ticket(r))));
    stream.extend(es.into_iter().map(|r| (r.seq, Change::Event(r))));
    stream.extend(rm.into_iter().map(|(s, _t, id)| {
        (s, Change::Removal(Removed { record_type: RemovedType::Ticket, id: records::uuid_of(&id) }))
    }));
    stream.sort_by_key(|(s, _)| *s);
    let has_more = stream.len() as i64 > limit;
    stream.truncate(limit as usize);
    let last = stream.last().map_or(after, |(s, _)| *s);

    // Organisation changes ride along (they are few) but only up to the page's last sequence
    // number, so nothing counted on the next page is sent twice or skipped.
    let upto = if has_more { last } else { horizon };
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

    let org_last = area_rows.iter().map(|a| a.seq).chain(team_rows.iter().map(|t| t.seq)).max().unwrap_or(0);
    let last = if has_more { last } else { last.max(org_last) };
    let mut out = PullResponse {
        cursor: encode_cursor(who, last),
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
    let mut outside_homes: Vec<String> = Vec::new();
    for (_, change) in stream {
        match change {
            Change::Household(r) => out.households.push(HouseholdOut::from(&r)),
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
    // A team member needs the address of a ticket outside their own area.
    if !outside_homes.is_empty() {
        let have: HashSet<String> = out.households.iter().map(|h| h.id.to_string()).collect();
        outside_homes.retain(|h| !have.contains(h));
        for r in records::households_by_id(conn, &outside_homes)?.values() {
            out.households.push(HouseholdOut::from(r));
        }
    }
    Ok(out)
}
