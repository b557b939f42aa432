//! HTTP routes, one module per resource. Authorization goes through `auth::Principal`, never ad hoc.

pub mod health;
pub mod openapi;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz).service(health::readyz).service(openapi::openapi_json);
}
