//! The machine-readable contract, generated from the handlers and types themselves.

use actix_web::{get, HttpResponse};
use utoipa::OpenApi;

use super::health;

#[derive(OpenApi)]
#[openapi(
    info(title = "fieldvisit", description = "Offline sync and 1-1-2-4 deadline tracking for door-to-door visits"),
    paths(health::healthz, health::readyz),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
pub struct ApiDoc;

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
