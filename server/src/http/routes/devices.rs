//! The device registry: list phones in scope, revoke a lost one.

use actix_web::{get, post, web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use crate::auth::accounts;
use crate::auth::{Action, Principal};
use crate::db::{self, devices};
use crate::error::ApiError;
use crate::state::AppState;
use fieldvisit_sync_protocol::time::format_utc;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Device {
    id: String,
    user_id: String,
    name: Option<String>,
    app_version: Option<String>,
    first_seen_at: String,
    last_seen_at: String,
    revoked_at: Option<String>,
}

impl From<devices::DeviceRow> for Device {
    fn from(r: devices::DeviceRow) -> Self {
        Device {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            app_version: r.app_version,
            first_seen_at: format_utc(r.first_seen_at),
            last_seen_at: format_utc(r.last_seen_at),
            revoked_at: r.revoked_at.map(format_utc),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceList {
    devices: Vec<Device>,
}

#[utoipa::path(tag = "devices", security(("bearer" = [])), responses((status = 200, body = DeviceList), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/devices")]
pub async fn list_devices(state: web::Data<AppState>, who: Principal) -> Result<web::Json<DeviceList>, ApiError> {
    who.authorize(Action::ManageDevices)?;
    let rows = db::run(&state.pool, move |conn| Ok(devices::list_within(conn, &who.area_path)?)).await?;
    Ok(web::Json(DeviceList { devices: rows.into_iter().map(Device::from).collect() }))
}

/// Revoke a lost phone: its tokens answer 401 `device_revoked` at once and it cannot log in again.
#[utoipa::path(tag = "devices", security(("bearer" = [])), params(("device_id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[post("/api/v1/devices/{device_id}/revoke")]
pub async fn revoke_device(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageDevices)?;
    let device_id = path.into_inner();
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let device = devices::find(conn, &device_id)?
                .filter(|d| who.sees(&d.area_path))
                .ok_or_else(|| ApiError::not_found("device"))?;
            devices::revoke(conn, &device.id, now)?;
            accounts::audit_by(conn, &who, "device_revoked", ("device", &device.id), &device.area_path, json!({}), now)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
