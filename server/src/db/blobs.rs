//! Photo metadata and who may read a photo: anyone who can see a record naming it, or its uploader.

use diesel::prelude::*;

use super::schema::{blobs, record_photos, tickets};
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = blobs)]
pub struct BlobRow {
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub uploader_id: String,
    pub created_at: i64,
}

pub fn find(conn: &mut DbConn, sha256: &str) -> QueryResult<Option<BlobRow>> {
    blobs::table.find(sha256).select(BlobRow::as_select()).first(conn).optional()
}

/// Inserts the row unless it exists; true if this call stored it.
pub fn insert(conn: &mut DbConn, row: &BlobRow) -> QueryResult<bool> {
    crate::with_conn!(conn, c => diesel::insert_into(blobs::table).values(row).on_conflict_do_nothing().execute(c))
        .map(|n| n == 1)
}

/// Whether a record naming the photo is within `scope_path`, or a ticket naming it is `team_id`'s.
pub fn named_in_scope(conn: &mut DbConn, sha256: &str, scope_path: &str, team_id: Option<&str>) -> QueryResult<bool> {
    let in_area: i64 = record_photos::table
        .filter(record_photos::sha256.eq(sha256))
        .filter(scope::within(record_photos::area_path, scope_path))
        .count()
        .get_result(conn)?;
    if in_area > 0 {
        return Ok(true);
    }
    let Some(team) = team_id else { return Ok(false) };
    let ticket_ids: Vec<String> = record_photos::table
        .filter(record_photos::sha256.eq(sha256).and(record_photos::record_type.eq("ticket")))
        .select(record_photos::record_id)
        .load(conn)?;
    let of_team: i64 = tickets::table
        .filter(tickets::id.eq_any(ticket_ids))
        .filter(tickets::team_id.eq(team))
        .count()
        .get_result(conn)?;
    Ok(of_team > 0)
}
