//! The machine-readable contract, generated from the handlers and types themselves.

use actix_web::{get, HttpResponse};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, Response};
use utoipa::{Modify, OpenApi};

use super::{
    alerts, audit, auth, blobs, callbacks, channels, checklist_report, checklists, devices, health, household_merge,
    households, org, policy, reports, sync, tickets,
};

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
        org::update_user, org::set_password, org::deactivate_users,
        checklists::list_checklists, checklists::put_checklist,
        channels::list_channels, channels::create_channel, channels::update_channel, channels::delete_channel,
        channels::test_channel,
        callbacks::list_callbacks,
        checklist_report::checklist, household_merge::merge_household, household_merge::list_duplicates,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth, &CommonErrors)
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

/// The error answers every handler of a kind can give, so no operation has to repeat them:
/// 401 where a bearer token is required (missing, expired or revoked); 400 where a query string
/// is parsed; 400, 413 and 415 where a JSON body is read (bad JSON or shape, past the body limit,
/// another content type).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in operations.into_iter().flatten() {
                add_common_errors(op);
            }
        }
    }
}

fn add_common_errors(op: &mut Operation) {
    let mut codes = Vec::new();
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.push(("401", "missing, invalid, expired or revoked token"));
    }
    let has_query = op.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let json_body =
        op.request_body.as_ref().is_some_and(|b| b.content.keys().any(|c| c.starts_with("application/json")));
    if has_query || json_body {
        codes.push(("400", "a query parameter or the body is malformed"));
    }
    if json_body {
        codes.push(("413", "the body is larger than allowed"));
        codes.push(("415", "the body is not application/json, or its Content-Encoding is not gzip/identity"));
        codes.push(("408", "the body stalled (body_timeout)"));
    }
    for (code, description) in codes {
        op.responses.responses.entry(code.to_owned()).or_insert_with(|| {
            let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            Response::builder().description(description).content("application/json", body).build().into()
        });
    }
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_sync_protocol::deadline::Stage;
    use serde_json::json;

    /// The push and policy schemas come from the `sync-protocol` types, with their constraints:
    /// what a client generator reads is what the server parses.
    #[test]
    fn the_spec_carries_the_wire_types_and_their_limits() {
        let spec = serde_json::to_value(ApiDoc::openapi()).expect("spec serializes");
        let schemas = &spec["components"]["schemas"];
        let push = &schemas["PushRequest"];
        let required: Vec<&str> =
            push["required"].as_array().expect("required").iter().filter_map(|r| r.as_str()).collect();
        assert_eq!(required, ["protocol_version", "batch_id", "device_time"], "{push}");
        assert_eq!(push["properties"]["visits"]["maxItems"], 1000, "{push}");
        let policy = &schemas["Policy"]["properties"];
        assert_eq!(policy["day_end"]["pattern"], "^([01][0-9]|2[0-3]):[0-5][0-9]$", "{policy}");
        assert_eq!(policy["clock_tolerance_s"]["maximum"], 3600, "{policy}");
        assert!(schemas["Role"]["enum"].as_array().is_some_and(|e| e.len() == 5), "{}", schemas["Role"]);
        let body = &spec["paths"]["/api/v1/sync/push"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/PushRequest", "{body}");
        // The answers too: the field app's type check reads `results[].hint` and the pull's pages.
        let answer =
            &spec["paths"]["/api/v1/sync/push"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(answer["$ref"], "#/components/schemas/PushResponse", "{answer}");
        let result = &schemas["RecordResult"]["properties"];
        assert!(
            schemas["RecordStatus"]["enum"].as_array().is_some_and(|e| e.len() == 6),
            "{}",
            schemas["RecordStatus"]
        );
        assert_eq!(result["hint"]["oneOf"][1]["$ref"], "#/components/schemas/Hint", "{result}");
        let pull =
            &spec["paths"]["/api/v1/sync/pull"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(pull["$ref"], "#/components/schemas/PullResponse", "{pull}");
        let visit = &schemas["VisitOut"]["properties"];
        assert_eq!(visit["checklist_template"]["oneOf"][1]["$ref"], "#/components/schemas/TemplateRef", "{visit}");
    }

    /// Every JSON success answer names its type: a bare `object` would be `any` to the client type
    /// check. The desk's ticket and household answers carry their nested lists and enums.
    #[test]
    fn every_json_answer_is_described() {
        let spec = serde_json::to_value(ApiDoc::openapi()).expect("spec serializes");
        let mut bare = Vec::new();
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                for code in ["200", "201"] {
                    let schema = &op["responses"][code]["content"]["application/json"]["schema"];
                    if schema["type"] == "object" && schema.get("properties").is_none() {
                        bare.push(format!("{method} {path} {code}"));
                    }
                }
            }
        }
        assert!(bare.is_empty(), "answers without a schema: {bare:?}");
        let schemas = &spec["components"]["schemas"];
        let answer = |path: &str, method: &str, code: &str| {
            spec["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]["$ref"].clone()
        };
        assert_eq!(answer("/api/v1/tickets/{id}", "get", "200"), "#/components/schemas/TicketDetail");
        assert_eq!(answer("/api/v1/tickets/{id}/events", "post", "201"), "#/components/schemas/TicketDetail");
        assert_eq!(answer("/api/v1/households/{id}", "get", "200"), "#/components/schemas/HouseholdDetail");
        assert_eq!(answer("/api/v1/households/{id}/merge", "post", "200"), "#/components/schemas/HouseholdOut");
        assert_eq!(answer("/api/v1/policy", "get", "200"), "#/components/schemas/Policy");
        assert_eq!(answer("/api/v1/auth/browser-login", "post", "200"), "#/components/schemas/BrowserSession");
        assert_eq!(answer("/api/v1/auth/browser-refresh", "post", "200"), "#/components/schemas/BrowserSession");
        let detail = &schemas["TicketDetail"]["allOf"];
        assert_eq!(detail[0]["$ref"], "#/components/schemas/TicketOut", "{detail}");
        assert_eq!(
            detail[1]["properties"]["events"]["items"]["$ref"], "#/components/schemas/TimelineEvent",
            "{detail}"
        );
        assert_eq!(schemas["TimelineEvent"]["allOf"][1]["required"], json!(["sync_delay_s", "user_name"]));
        let ticket = &schemas["TicketOut"];
        assert_eq!(ticket["properties"]["stage"]["$ref"], "#/components/schemas/CurrentStage", "{ticket}");
        assert_eq!(ticket["properties"]["reported_at"]["format"], "date-time", "{ticket}");
        // Sent as null when absent, so present in every ticket.
        assert!(ticket["required"].as_array().is_some_and(|r| r.contains(&json!("team_id"))), "{ticket}");
        // What `Projection::stage_label` can say: every stage, or `done`.
        let labels: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).chain(["done"]).collect();
        assert_eq!(schemas["CurrentStage"]["enum"], json!(labels));
    }

    /// A rejected record's `error.code` is an enum in the spec, derived from `RecordErrorCode`
    /// itself, so its names are every variant's: this also proves `RecordErrorCode::ALL` complete.
    #[test]
    fn record_error_codes_are_an_enum_of_every_variant() {
        use fieldvisit_sync_protocol::sync::RecordErrorCode;
        let spec = serde_json::to_value(ApiDoc::openapi()).expect("spec serializes");
        let schemas = &spec["components"]["schemas"];
        let code = &schemas["RecordError"]["properties"]["code"];
        assert_eq!(code["$ref"], "#/components/schemas/RecordErrorCode", "{code}");
        let mut listed: Vec<&str> = schemas["RecordErrorCode"]["enum"]
            .as_array()
            .expect("RecordErrorCode is an enum")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        listed.sort_unstable();
        let mut names: Vec<&str> = RecordErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        assert_eq!(listed, names);
    }
}
