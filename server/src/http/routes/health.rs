//! Liveness and readiness.

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(tag = "service", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// 200 when the database answers, else 503 `database_unavailable`.
#[utoipa::path(tag = "service", responses((status = 200, body = Ready), (status = 503, body = crate::error::ErrorBody)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.pool, |conn| conn.batch_execute("SELECT 1").map_err(ApiError::database_unavailable)).await?;
    Ok(HttpResponse::Ok().json(Ready { status: "ready", database: state.backend.name() }))
}
