//! Content-addressed photos: `PUT/GET /api/v1/blobs/{sha256}`. Bytes live in the data folder
//! (`blobs/ab/abcdef…`), written to a temporary file, flushed and renamed, so a stored photo is
//! complete; the database keeps who uploaded what, and reads are checked against the records
//! that name the photo.

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{get, put, web, HttpRequest, HttpResponse};
use fieldvisit_sync_protocol::org::Role;
use fieldvisit_sync_protocol::sync::limits::MAX_BLOB_BYTES;
use sha2::{Digest, Sha256};

use crate::auth::{Action, Principal};
use crate::db::{self, blobs};
use crate::error::{ApiError, Kind};
use crate::http::extract::{Body, BodyLimit};
use crate::state::AppState;

const TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

fn checked_hash(raw: &str) -> Result<String, ApiError> {
    let ok = raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::new(Kind::NotFound, "not_found", "a blob is named by 64 hex digits of its SHA-256")
            .with_field("sha256"))
    }
}

/// The image type that `bytes` begin like (their magic number), among the three accepted.
fn sniffed_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

fn blob_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join("blobs").join(&sha[..2]).join(sha)
}

/// Writes the bytes durably: temporary file, fsync, rename, fsync of the folder.
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// An upload: at most `max_blob_bytes`.
pub struct BlobLimit;

impl BodyLimit for BlobLimit {
    const MAX: usize = MAX_BLOB_BYTES;
    const CODE: &'static str = "blob_too_large";
}

/// Upload a photo. 201 when stored, 200 when it already was; idempotent.
#[utoipa::path(tag = "media", security(("bearer" = [])), params(("sha256" = String, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201), (status = 200), (status = 404, description = "not a SHA-256 name", body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 422, description = "`hash_mismatch`, or `media_type_mismatch`: the bytes are not the image type claimed", body = crate::error::ErrorBody),
        (status = 429, description = "this device's upload rate is used up; see Retry-After", body = crate::error::ErrorBody)))]
#[put("/api/v1/blobs/{sha256}")]
pub async fn put_blob(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: Body<BlobLimit>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    who.authorize(Action::Sync)?;
    state.device_rates.upload(&who.device_id)?;
    let sha = checked_hash(&path.into_inner())?;
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let Some(content_type) = TYPES.iter().find(|t| content_type.starts_with(**t)).map(|t| (*t).to_owned()) else {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "unsupported_media_type",
            "photos are image/jpeg, image/png or image/webp",
        ));
    };
    if hex::encode(Sha256::digest(&body)) != sha {
        return Err(ApiError::new(Kind::Unprocessable, "hash_mismatch", "the body's SHA-256 differs from the path")
            .with_field("sha256"));
    }
    if sniffed_type(&body) != Some(content_type.as_str()) {
        let message = format!("the bytes are not {content_type}: a photo must be the image type it claims");
        return Err(ApiError::new(Kind::Unprocessable, "media_type_mismatch", message).with_field("content-type"));
    }
    let file = blob_path(&state.settings.data_dir(), &sha);
    let now = state.clock.now();
    let created = db::run(&state.pool, move |conn| {
        if blobs::find(conn, &sha)?.is_some() && file.exists() {
            // Whoever holds the bytes uploaded them too: their records now grant access.
            blobs::add_uploader(conn, &sha, &who.user_id, now)?;
            return Ok(false);
        }
        store(&file, &body).map_err(|e| ApiError::internal(anyhow::anyhow!("storing a photo failed: {e}")))?;
        let row = blobs::BlobRow {
            sha256: sha,
            size: body.len() as i64,
            content_type,
            uploader_id: who.user_id.clone(),
            created_at: now,
        };
        blobs::insert(conn, &row)?;
        Ok(true)
    })
    .await?;
    Ok(if created { HttpResponse::Created().finish() } else { HttpResponse::Ok().finish() })
}

/// Read a photo: for its uploaders, and for whoever can see a record naming it whose author
/// uploaded it.
#[utoipa::path(tag = "media", security(("bearer" = [])), params(("sha256" = String, Path)),
    responses((status = 200, content_type = "image/jpeg"), (status = 404, body = crate::error::ErrorBody)))]
#[get("/api/v1/blobs/{sha256}")]
pub async fn get_blob(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::Sync)?;
    let sha = checked_hash(&path.into_inner())?;
    let file = blob_path(&state.settings.data_dir(), &sha);
    let (content_type, bytes) = db::run(&state.pool, move |conn| {
        let not_found = || ApiError::not_found("photo");
        let row = blobs::find(conn, &sha)?.ok_or_else(not_found)?;
        let team = who.team_id.as_deref().filter(|_| who.role == Role::Handler);
        let visible =
            blobs::uploaded_by(conn, &sha, &who.user_id)? || blobs::named_in_scope(conn, &sha, &who.area_path, team)?;
        if !visible {
            return Err(not_found());
        }
        let bytes =
            std::fs::read(&file).map_err(|e| ApiError::internal(anyhow::anyhow!("reading a photo failed: {e}")))?;
        Ok((row.content_type, bytes))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=31536000, immutable"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::sniffed_type;

    #[test]
    fn the_three_image_signatures_and_nothing_else() {
        assert_eq!(sniffed_type(b"\xff\xd8\xff\xe0\x00\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniffed_type(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Some("image/png"));
        assert_eq!(sniffed_type(b"RIFF\x24\x00\x00\x00WEBPVP8 "), Some("image/webp"));
        for other in [&b""[..], b"\xff\xd8", b"GIF89a", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"<svg", b"%PDF-1.7"] {
            assert_eq!(sniffed_type(other), None, "{other:?}");
        }
    }
}
