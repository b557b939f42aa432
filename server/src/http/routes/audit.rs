//! The audit log for admins, newest first, paged by an opaque cursor.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, Principal};
use crate::db::{self, audit};
use crate::error::ApiError;
use crate::state::AppState;
use fieldvisit_sync_protocol::time::format_utc;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// The last page's `cursor`; one this server did not issue → 422 `invalid_cursor`.
    cursor: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    id: i64,
    at: String,
    action: String,
    actor_user_id: Option<String>,
    actor_username: Option<String>,
    device_id: Option<String>,
    client_addr: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    cursor: Option<String>,
    has_more: bool,
}

#[utoipa::path(tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, description = "a cursor this server did not issue", body = crate::error::ErrorBody)))]
#[get("/api/v1/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    who.authorize(Action::ReadAudit)?;
    let limit = super::params::page_limit(q.limit, 100, 1000)?;
    let before = match &q.cursor {
        Some(c) => Some(c.parse::<i64>().map_err(|_| crate::http::keyset::invalid_cursor())?),
        None => None,
    };
    let mut rows = db::run(&state.pool, move |conn| Ok(audit::page(conn, &who.area_path, before, limit + 1)?)).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = rows.last().map(|r| r.id.to_string());
    let entries = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: format_utc(r.at),
            action: r.action,
            actor_user_id: r.actor_user_id,
            actor_username: r.actor_username,
            device_id: r.device_id,
            client_addr: r.client_addr,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: serde_json::from_str(&r.detail).unwrap_or_default(),
        })
        .collect();
    Ok(web::Json(AuditPage { entries, cursor, has_more }))
}
