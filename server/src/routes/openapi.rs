//! The machine-readable contract, generated from the handlers and types themselves.

use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{alerts, audit, auth, blobs, devices, health, households, org, policy, reports, sync, tickets};

#[derive(OpenApi)]
#[openapi(
    info(title = "fieldvisit", description = "Offline sync and 1-1-2-4 deadline tracking for door-to-door visits"),
    paths(
        health::healthz, health::readyz,
        auth::login, auth::refresh, auth::logout, auth::me, auth::browser_login, auth::browser_refresh, auth::browser_logout,
        org::create_area, org::list_areas, org::create_team, org::list_teams, org::create_user, org::list_users,
        devices::list_devices, devices::revoke_device,
        audit::list_audit,
        sync::info, sync::push, sync::pull,
        blobs::put_blob, blobs::get_blob,
        reports::compliance, reports::daily, reports::coverage, reports::temperature,
        tickets::list_tickets, tickets::get_ticket, tickets::add_event, households::get_household,
        policy::get_policy, policy::put_policy, alerts::list_alerts, alerts::alert_stream,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
