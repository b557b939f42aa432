//! The area tree and teams.

use diesel::prelude::*;
use fieldvisit_sync_protocol::org::{Area, Team};

use super::schema::{areas, teams};
use super::typed::Json;
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = areas)]
pub struct AreaRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: String,
    pub name: String,
    pub path: String,
    pub depth: i32,
    pub created_at: i64,
    pub seq: i64,
}

impl From<AreaRow> for Area {
    fn from(r: AreaRow) -> Self {
        Area { id: r.id, parent_id: r.parent_id, kind: r.kind, name: r.name }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = teams)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub area_id: String,
    pub area_path: String,
    /// A stored list that does not parse fails the load (it would read as a team serving nothing).
    pub categories: Json<Vec<String>>,
    pub created_at: i64,
    pub seq: i64,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team { id: r.id, name: r.name, area_id: r.area_id, categories: r.categories.0 }
    }
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<AreaRow>> {
    areas::table.find(id).select(AreaRow::as_select()).first(conn).optional()
}

pub fn by_ids(conn: &mut DbConn, ids: &[String]) -> QueryResult<std::collections::HashMap<String, AreaRow>> {
    // A push without households names no area: no round trip for nothing.
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<AreaRow> = crate::load_any_of!(conn, areas::table.select(AreaRow::as_select()), areas::id, ids)?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
}

pub fn teams_by_ids(conn: &mut DbConn, ids: &[String]) -> QueryResult<std::collections::HashMap<String, TeamRow>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<TeamRow> = crate::load_any_of!(conn, teams::table.select(TeamRow::as_select()), teams::id, ids)?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
}

pub fn root(conn: &mut DbConn) -> QueryResult<Option<AreaRow>> {
    areas::table
        .filter(areas::parent_id.is_null())
        .select(AreaRow::as_select())
        .order(areas::created_at)
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConn, row: &AreaRow) -> QueryResult<()> {
    diesel::insert_into(areas::table).values(row).execute(conn).map(drop)
}

/// Areas at or below `scope`, parents before children.
pub fn list_within(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<AreaRow>> {
    areas::table
        .filter(scope::within(areas::path, scope_path))
        .order((areas::depth, areas::name, areas::id))
        .select(AreaRow::as_select())
        .load(conn)
}

pub fn find_team(conn: &mut DbConn, id: &str) -> QueryResult<Option<TeamRow>> {
    teams::table.find(id).select(TeamRow::as_select()).first(conn).optional()
}

pub fn insert_team(conn: &mut DbConn, row: &TeamRow) -> QueryResult<()> {
    diesel::insert_into(teams::table).values(row).execute(conn).map(drop)
}

/// Teams that serve `scope`: those inside it and those of the areas above it (a county's
/// heating company serves every grid of the county).
pub fn teams_serving(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<TeamRow>> {
    let ancestors = ancestor_paths(scope_path);
    teams::table
        .filter(scope::within(teams::area_path, scope_path).or(teams::area_path.eq_any(ancestors)))
        .order((teams::name, teams::id))
        .select(TeamRow::as_select())
        .load(conn)
}

/// "/a/b/c/" → ["/a/", "/a/b/"].
pub fn ancestor_paths(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, ch) in path.char_indices().skip(1) {
        if ch == '/' && i + 1 < path.len() {
            out.push(path[..=i].to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ancestors_exclude_self() {
        assert_eq!(super::ancestor_paths("/a/b/c/"), vec!["/a/".to_owned(), "/a/b/".to_owned()]);
        assert!(super::ancestor_paths("/a/").is_empty());
    }
}
