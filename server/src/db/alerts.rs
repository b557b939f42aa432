//! Fired deadline alerts. The table's unique key (ticket, kind, stage, cycle, level) is what makes
//! an alert fire once, whichever tracker instance or push gets there first.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{AlertKind, AlertOut, DayEnd, ScheduledAlert, Stage};
use fieldvisit_sync_protocol::time::format_utc;

use super::records::{uuid_of, TicketRow};
use super::schema::alerts;
use super::seq::Horizon;
use super::typed::{Enum, Json, OptStoredUuid, StoredUuid};
use super::{scope, DbConn};

/// An alert with the scope it belongs to, as broadcast to the stream's subscribers.
#[derive(Debug, Clone)]
pub struct FiredAlert {
    pub area_path: String,
    pub team_id: Option<String>,
    pub alert: AlertOut,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: i64,
    #[diesel(deserialize_as = StoredUuid)]
    pub ticket_id: String,
    pub kind: Enum<AlertKind>,
    pub stage: Enum<Stage>,
    pub cycle: i32,
    pub level: i32,
    pub due_at: i64,
    pub at: i64,
    pub fired_at: i64,
    pub area_path: String,
    #[diesel(deserialize_as = OptStoredUuid)]
    pub team_id: Option<String>,
    /// JSON detail of a `day_end` alert ([`DayEnd`]); NULL on ticket alerts.
    pub payload: Option<Json<DayEnd>>,
}

impl From<&AlertRow> for AlertOut {
    fn from(r: &AlertRow) -> Self {
        let kind = r.kind.0;
        // A day_end row keeps its area in `ticket_id` and its day in `cycle` (see the migration).
        let day_end = (kind == AlertKind::DayEnd).then(|| r.payload.as_ref().map(|p| p.0.clone()));
        AlertOut {
            id: r.id,
            kind,
            ticket_id: day_end.is_none().then(|| uuid_of(&r.ticket_id)),
            stage: r.stage.0,
            cycle: if day_end.is_some() { 0 } else { u32::try_from(r.cycle).unwrap_or(0) },
            level: u32::try_from(r.level).unwrap_or(0),
            due_at: format_utc(r.due_at),
            at: format_utc(r.at),
            fired_at: format_utc(r.fired_at),
            day_end: day_end.flatten(),
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = alerts)]
pub struct NewAlert {
    pub ticket_id: String,
    pub kind: Enum<AlertKind>,
    pub stage: Enum<Stage>,
    pub cycle: i32,
    pub level: i32,
    pub due_at: i64,
    pub at: i64,
    pub fired_at: i64,
    pub area_path: String,
    pub team_id: Option<String>,
    pub payload: Option<Json<DayEnd>>,
    /// The county of `area_path` (the Citus distribution column).
    pub county_id: String,
}

impl NewAlert {
    /// The row for alert `a` of `ticket` (in its area, county and team), fired at `fired_at`.
    pub fn of(ticket: &TicketRow, a: &ScheduledAlert, fired_at: i64) -> Self {
        NewAlert {
            ticket_id: ticket.id.clone(),
            kind: Enum(a.kind),
            stage: Enum(a.stage),
            cycle: i32::try_from(a.cycle).unwrap_or(i32::MAX),
            level: i32::try_from(a.level).unwrap_or(i32::MAX),
            due_at: a.due_at,
            at: a.at,
            fired_at,
            area_path: ticket.area_path.clone(),
            team_id: ticket.team_id.clone(),
            payload: None,
            county_id: ticket.county_id.clone(),
        }
    }

    /// The row of a `day_end` alert: `d` for the local day numbered `day`, due at `at`, in the area
    /// at `area` (its path and county id). The area's id stands in `ticket_id` and the day in
    /// `cycle`, so the unique key holds (see the migration).
    pub fn day_end(d: &DayEnd, area: (&str, &str), day: i32, at: i64, fired_at: i64) -> Self {
        NewAlert {
            ticket_id: d.area_id.to_string(),
            kind: Enum(AlertKind::DayEnd),
            stage: Enum(Stage::Close),
            cycle: day,
            level: 0,
            due_at: at,
            at,
            fired_at,
            area_path: area.0.to_owned(),
            team_id: None,
            payload: Some(Json(d.clone())),
            county_id: area.1.to_owned(),
        }
    }
}

/// What makes an alert unique within its ticket: (kind, stage, cycle, level).
pub type AlertKey = (AlertKind, Stage, u32, u32);

pub fn key_of(a: &ScheduledAlert) -> AlertKey {
    (a.kind, a.stage, a.cycle, a.level)
}

/// The keys of every alert already fired for each of `ticket_ids`.
pub fn fired_keys(conn: &mut DbConn, ticket_ids: &[String]) -> QueryResult<HashMap<String, HashSet<AlertKey>>> {
    let mut out: HashMap<String, HashSet<AlertKey>> = HashMap::new();
    if ticket_ids.is_empty() {
        return Ok(out);
    }
    let query = alerts::table.select((alerts::ticket_id, alerts::kind, alerts::stage, alerts::cycle, alerts::level));
    type KeyRow = (String, Enum<AlertKind>, Enum<Stage>, i32, i32);
    let rows: Vec<KeyRow> = crate::load_any_of!(conn, query, alerts::ticket_id, ticket_ids)?;
    for (ticket, kind, stage, cycle, level) in rows {
        let key = (kind.0, stage.0, u32::try_from(cycle).unwrap_or(0), u32::try_from(level).unwrap_or(0));
        out.entry(ticket).or_default().insert(key);
    }
    Ok(out)
}

crate::unnest_insert!(
    /// Alerts; one already fired (the unique key) is skipped. Ids follow the rows' order.
    AlertsInsert for NewAlert: "alerts", "ON CONFLICT DO NOTHING", {
        ticket_id: text, kind: text, stage: text, cycle: int4, level: int4, due_at: int8, at: int8,
        fired_at: int8, area_path: text, team_id: opt_text, payload: opt_text, county_id: text,
    }
);

/// Inserts the alerts that are not stored yet; an alert already fired (by anyone) is skipped.
pub fn insert_new(conn: &mut DbConn, rows: &[NewAlert]) -> QueryResult<usize> {
    let mut n = 0;
    match conn {
        // One prepared statement for any number of rows (`db::unnest`): on PostgreSQL every
        // statement is a round trip. Ids follow the rows' order, as before.
        DbConn::Pg(c) if !rows.is_empty() => n = AlertsInsert::new(rows)?.execute(c)?,
        DbConn::Pg(_) => {}
        // One row per statement: SQLite cannot batch rows with a NULL-able column (no DEFAULT).
        DbConn::Sqlite(c) => {
            for row in rows {
                n += diesel::insert_into(alerts::table).values(row).on_conflict_do_nothing().execute(c)?;
            }
        }
    }
    if n > 0 {
        announce(conn)?;
    }
    Ok(n)
}

/// Alerts after `after_id` in id order, within `scope` (`None`: everywhere; the tracker's feed),
/// up to the writer's `horizon`: the alerts of a commit whose fsync is still running are left for
/// the next read, so no cursor passes an id that a power cut could hand out again.
pub fn after(
    conn: &mut DbConn,
    scope_path: Option<&str>,
    after_id: i64,
    limit: i64,
    horizon: &Horizon,
) -> QueryResult<Vec<AlertRow>> {
    after_for(conn, scope_path, None, after_id, limit, horizon)
}

/// As [`after`], also narrowed to the alerts of tickets dispatched to `team_id` (a handler's).
pub fn after_for(
    conn: &mut DbConn,
    scope_path: Option<&str>,
    team_id: Option<&str>,
    after_id: i64,
    limit: i64,
    horizon: &Horizon,
) -> QueryResult<Vec<AlertRow>> {
    let mut q = alerts::table
        .filter(alerts::id.gt(after_id))
        .order(alerts::id)
        .limit(limit)
        .select(AlertRow::as_select())
        .into_boxed();
    if let Some(s) = scope_path {
        q = q.filter(scope::within(alerts::area_path, s));
    }
    if let Some(t) = team_id {
        q = q.filter(alerts::team_id.eq(t.to_owned()));
    }
    let mut rows = q.load(conn)?;
    // Read after the query's snapshot: an alert in it was durable already or is held here.
    let upto = horizon.alert_id();
    rows.retain(|r| r.id <= upto);
    Ok(rows)
}

/// The newest alert id (0 when there is none): where a fresh feed starts.
pub fn last_id(conn: &mut DbConn) -> QueryResult<i64> {
    alerts::table.select(diesel::dsl::max(alerts::id)).first::<Option<i64>>(conn).map(Option::unwrap_or_default)
}

diesel::define_sql_function! {
    /// PostgreSQL's `pg_notify(channel, payload)`; it returns `void`, never read here.
    fn pg_notify(channel: diesel::sql_types::Text, payload: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The PostgreSQL channel on which instances hear of each other's alerts (`deadlines::alert_bus`).
pub const NOTIFY_CHANNEL: &str = "fieldvisit_alerts";

/// In the transaction that stored alerts: every instance hears of them once it commits.
pub fn announce(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        // `pg_notify` rather than `NOTIFY`: a SELECT with bound arguments, prepared once per
        // connection, where the NOTIFY text was prepared anew (an extra round trip) every time.
        DbConn::Pg(c) => diesel::select(pg_notify(NOTIFY_CHANNEL, "")).execute(c).map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}
