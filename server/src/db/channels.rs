//! Alert delivery channels (`channels`): where alerts go besides the list and the stream. The
//! routes (`routes/channels.rs`) manage them; the delivery task (`crate::deadlines::channels`) reads them.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::channels;
use super::typed::Json;
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = channels, treat_none_as_null = true)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    /// `webhook`, `wecom`, `dingtalk` or `feishu` (`crate::deadlines::channels::Kind`).
    pub kind: String,
    pub area_id: String,
    pub area_path: String,
    /// May carry the robot's token: never logged, returned masked.
    pub url: String,
    pub secret: Option<String>,
    /// Team ids; empty: any team (and tickets not dispatched yet). A stored list that does not
    /// parse fails the load: read as empty it would widen the channel to every team.
    pub teams: Json<Vec<String>>,
    /// Alert types; empty: any.
    pub alert_types: Json<Vec<String>>,
    /// Lowest escalation level delivered: 0 takes every alert, 2 only escalations of level 2 and up.
    pub min_level: i32,
    pub enabled: bool,
    pub enqueued_to: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ChannelRow {
    pub fn team_ids(&self) -> &[String] {
        &self.teams.0
    }

    pub fn types(&self) -> &[String] {
        &self.alert_types.0
    }
}

pub fn insert(conn: &mut DbConn, row: &ChannelRow) -> QueryResult<()> {
    diesel::insert_into(channels::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<ChannelRow>> {
    channels::table.find(id).select(ChannelRow::as_select()).first(conn).optional()
}

/// Every field but the id and `enqueued_to` (the delivery task's cursor, which a concurrent round
/// may be moving).
pub fn update(conn: &mut DbConn, row: &ChannelRow) -> QueryResult<()> {
    diesel::update(channels::table.find(&row.id))
        .set((
            channels::name.eq(&row.name),
            channels::kind.eq(&row.kind),
            channels::area_id.eq(&row.area_id),
            channels::area_path.eq(&row.area_path),
            channels::url.eq(&row.url),
            channels::secret.eq(&row.secret),
            channels::teams.eq(&row.teams),
            channels::alert_types.eq(&row.alert_types),
            channels::min_level.eq(row.min_level),
            channels::enabled.eq(row.enabled),
            channels::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes the channel and what it still had to send.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    use super::schema::channel_outbox;
    diesel::delete(channel_outbox::table.filter(channel_outbox::channel_id.eq(id))).execute(conn)?;
    diesel::delete(channels::table.find(id)).execute(conn).map(drop)
}

/// Channels whose area is within `scope_path`, by area then name.
pub fn list_within(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<ChannelRow>> {
    channels::table
        .filter(scope::within(channels::area_path, scope_path))
        .order((channels::area_path, channels::name, channels::id))
        .select(ChannelRow::as_select())
        .load(conn)
}

/// The enabled channels, for the delivery task.
pub fn enabled(conn: &mut DbConn) -> QueryResult<Vec<ChannelRow>> {
    channels::table.filter(channels::enabled.eq(true)).order(channels::id).select(ChannelRow::as_select()).load(conn)
}

/// Moves a channel's cursor forward (never back).
pub fn advance(conn: &mut DbConn, id: &str, to: i64) -> QueryResult<()> {
    diesel::update(channels::table.find(id).filter(channels::enqueued_to.lt(to)))
        .set(channels::enqueued_to.eq(to))
        .execute(conn)
        .map(drop)
}

/// What a message says about the tickets of some alerts: address and policy version, by ticket id.
pub fn ticket_context(conn: &mut DbConn, ticket_ids: &[String]) -> QueryResult<HashMap<String, (String, i32)>> {
    use super::schema::{households, tickets};
    if ticket_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, i32)> = tickets::table
        .inner_join(households::table)
        .filter(tickets::id.eq_any(ticket_ids))
        .select((tickets::id, households::address, tickets::policy_version))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, address, v)| (id, (address, v))).collect())
}

/// Area names by materialized path.
pub fn area_names(conn: &mut DbConn, paths: &[String]) -> QueryResult<HashMap<String, String>> {
    use super::schema::areas;
    if paths.is_empty() {
        return Ok(HashMap::new());
    }
    areas::table
        .filter(areas::path.eq_any(paths))
        .select((areas::path, areas::name))
        .load(conn)
        .map(|rows| rows.into_iter().collect())
}
