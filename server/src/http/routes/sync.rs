//! Offline sync over HTTP: limits, push (answered only after commit) and pull.

use actix_web::{get, post, web, HttpRequest};
use fieldvisit_sync_protocol::sync::limits::{SyncInfo, MAX_BATCH_RECORDS, MAX_BODY_BYTES};
use fieldvisit_sync_protocol::sync::pull::PullResponse;
use fieldvisit_sync_protocol::sync::push::{EnvelopeError, PushRequest, PushResponse};
use serde::Deserialize;

use crate::auth::{Action, Principal};
use crate::db::{self, policies};
use crate::error::{ApiError, Kind};
use crate::http::extract::{is_json, parse_json, Body, BodyLimit};
use crate::state::AppState;
use crate::sync::apply::Job;
use crate::sync::pull as changes;

/// The limits a phone must respect.
#[utoipa::path(tag = "sync", security(("bearer" = [])), responses((status = 200, body = fieldvisit_sync_protocol::sync::limits::SyncInfo), (status = 401, body = crate::error::ErrorBody)))]
#[get("/api/v1/sync/info")]
pub async fn info(state: web::Data<AppState>, who: Principal) -> Result<web::Json<SyncInfo>, ApiError> {
    who.authorize(Action::Sync)?;
    Ok(web::Json(SyncInfo::new(state.clock.now())))
}

fn too_large(message: String) -> ApiError {
    ApiError::new(Kind::PayloadTooLarge, "batch_too_large", message)
}

/// Push a batch recorded offline. Idempotent by `batch_id`; per-record results; answered only
/// once every applied record is committed.
#[utoipa::path(tag = "sync", security(("bearer" = [])), request_body(content = fieldvisit_sync_protocol::sync::push::PushRequest, content_type = "application/json"),
    responses((status = 200, body = fieldvisit_sync_protocol::sync::push::PushResponse), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 426, body = crate::error::ErrorBody), (status = 429, description = "this device's push rate is used up; see Retry-After", body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
#[post("/api/v1/sync/push")]
pub async fn push(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: Body<PushLimit>,
) -> Result<web::Json<PushResponse>, ApiError> {
    who.authorize(Action::Sync)?;
    state.device_rates.push(&who.device_id)?;
    if !is_json(&req) {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the batch as application/json",
        ));
    }
    let received_at = state.clock.now();
    let request: PushRequest = parse_json(&body.0)?;
    let device_time = request.check_envelope(MAX_BATCH_RECORDS).map_err(|e| match e {
        EnvelopeError::UnsupportedVersion(v) => ApiError::new(
            Kind::UpgradeRequired,
            "unsupported_protocol_version",
            format!("protocol_version {v} is not supported; this server speaks 1"),
        )
        .with_field("protocol_version"),
        EnvelopeError::TooManyRecords { count, max } => too_large(format!("{count} records; at most {max} per batch")),
        EnvelopeError::DeviceTime(f) => ApiError::bad_request(f.code.as_str(), f.message).with_field(f.field),
    })?;
    let job = Job::new(request, device_time, received_at, who);
    let answer = state.writer.submit(job).await?;
    // New tickets may be due already (synced late) and retractions wait to be streamed.
    state.tracker_wake.notify_one();
    Ok(web::Json(answer))
}

/// A push body: at most `max_body_bytes` after gzip is undone, else 413 `batch_too_large`.
pub struct PushLimit;

impl BodyLimit for PushLimit {
    const MAX: usize = MAX_BODY_BYTES;
    const CODE: &'static str = "batch_too_large";
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PullQuery {
    /// The last page's `cursor`; absent for a first pull. One this server did not issue → 409.
    cursor: Option<String>,
    /// Records a page, 1 to 1000 (default 500).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Everything in scope changed since the cursor (everything, without one), in commit order.
#[utoipa::path(tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = PullResponse), (status = 401, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[get("/api/v1/sync/pull")]
pub async fn pull(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<PullQuery>,
) -> Result<web::Json<PullResponse>, ApiError> {
    who.authorize(Action::Sync)?;
    let limit = super::params::page_limit(q.limit, changes::DEFAULT_LIMIT, changes::MAX_LIMIT)?;
    let cursor = q.into_inner().cursor;
    let now = state.clock.now();
    let horizon = state.writer.horizon().clone();
    db::run(&state.pool, move |conn| {
        db::read_snapshot(conn, |conn| {
            let book = policies::load(conn)?;
            changes::pull(conn, &who, cursor.as_deref(), limit, &book, now, &horizon)
        })
    })
    .await
    .map(web::Json)
}
