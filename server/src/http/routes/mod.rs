//! HTTP routes, one module per resource. Authorization goes through `auth::Principal` and the
//! action table in `auth::authz`; no route decides by itself.

pub mod alerts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod callbacks;
pub mod channels;
pub mod checklist_report;
pub mod checklists;
pub mod devices;
pub mod health;
pub mod household_merge;
pub mod households;
pub mod openapi;
pub mod org;
pub mod params;
pub mod policy;
pub mod reports;
pub mod sync;
pub mod tickets;
pub mod ui;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(openapi::openapi_json)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::browser_login)
        .service(auth::browser_refresh)
        .service(auth::browser_logout)
        .service(auth::me)
        .service(org::create_area)
        .service(org::list_areas)
        .service(org::create_team)
        .service(org::list_teams)
        .service(org::create_user)
        .service(org::list_users)
        .service(org::deactivate_users)
        .service(org::update_user)
        .service(org::set_password)
        .service(devices::list_devices)
        .service(devices::revoke_device)
        .service(audit::list_audit)
        .service(sync::info)
        .service(sync::pull)
        .service(sync::push)
        .service(blobs::get_blob)
        .service(blobs::put_blob)
        .service(reports::compliance)
        .service(reports::daily)
        .service(reports::coverage)
        .service(reports::temperature)
        .service(checklist_report::checklist)
        .service(policy::get_policy)
        .service(policy::put_policy)
        .service(checklists::list_checklists)
        .service(checklists::put_checklist)
        .service(alerts::list_alerts)
        .service(alerts::alert_stream)
        .service(channels::list_channels)
        .service(channels::create_channel)
        .service(channels::update_channel)
        .service(channels::delete_channel)
        .service(channels::test_channel)
        .service(tickets::list_tickets)
        .service(tickets::get_ticket)
        .service(tickets::add_event)
        // Before `households/{id}`, which would take `duplicates` for an id.
        .service(household_merge::list_duplicates)
        .service(household_merge::merge_household)
        .service(callbacks::list_callbacks)
        .service(households::get_household)
        .service(ui::index)
        .service(ui::asset)
        .service(app::bare)
        .service(app::file);
}
