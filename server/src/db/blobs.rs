//! Photo metadata and who may read a photo: its uploaders, and anyone who can see a record naming
//! it whose author uploaded those bytes too (naming someone else's hash grants nothing).

use diesel::prelude::*;

use super::schema::{blob_uploaders, blobs, record_photos, tickets};
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

/// Inserts the row unless it exists, and records its uploader; true if this call stored the row.
pub fn insert(conn: &mut DbConn, row: &BlobRow) -> QueryResult<bool> {
    let stored = crate::with_conn!(conn, c => diesel::insert_into(blobs::table).values(row).on_conflict_do_nothing().execute(c))?;
    add_uploader(conn, &row.sha256, &row.uploader_id, row.created_at)?;
    Ok(stored == 1)
}

/// Records that `user_id` uploaded the bytes of `sha256` (again: nothing changes).
pub fn add_uploader(conn: &mut DbConn, sha256: &str, user_id: &str, at: i64) -> QueryResult<()> {
    let values =
        (blob_uploaders::sha256.eq(sha256), blob_uploaders::user_id.eq(user_id), blob_uploaders::created_at.eq(at));
    crate::with_conn!(conn, c => diesel::insert_into(blob_uploaders::table).values(values).on_conflict_do_nothing().execute(c))
        .map(drop)
}

pub fn uploaded_by(conn: &mut DbConn, sha256: &str, user_id: &str) -> QueryResult<bool> {
    let n: i64 = blob_uploaders::table
        .filter(blob_uploaders::sha256.eq(sha256).and(blob_uploaders::user_id.eq(user_id)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether a record naming the photo is within `scope_path` (or a ticket naming it is
/// `team_id`'s), and that record's author uploaded the photo.
pub fn named_in_scope(conn: &mut DbConn, sha256: &str, scope_path: &str, team_id: Option<&str>) -> QueryResult<bool> {
    let uploaders = blob_uploaders::table.filter(blob_uploaders::sha256.eq(sha256)).select(blob_uploaders::user_id);
    let by_uploader = record_photos::table
        .filter(record_photos::sha256.eq(sha256))
        .filter(record_photos::author_id.eq_any(uploaders));
    let in_area: i64 =
        by_uploader.filter(scope::within(record_photos::area_path, scope_path)).count().get_result(conn)?;
    if in_area > 0 {
        return Ok(true);
    }
    let Some(team) = team_id else { return Ok(false) };
    let ticket_ids: Vec<String> =
        by_uploader.filter(record_photos::record_type.eq("ticket")).select(record_photos::record_id).load(conn)?;
    let of_team: i64 = tickets::table
        .filter(tickets::id.eq_any(ticket_ids))
        .filter(tickets::team_id.eq(team))
        .count()
        .get_result(conn)?;
    Ok(of_team > 0)
}
