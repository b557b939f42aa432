//! The deadline policy: everyone reads the latest version; an admin publishes a new one. Old
//! versions stay: a ticket keeps the version in force when it was reported.

use actix_web::{get, put, web};
use fieldvisit_sync_protocol::deadline::Policy;
use serde_json::{json, Value};

use crate::accounts;
use crate::auth::{Action, Principal};
use crate::db::policies::{self, PolicyRow};
use crate::db::{self, schema};
use crate::error::ApiError;
use crate::extract::{parse_json, Json};
use crate::state::AppState;

/// The deadline policy in force now.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = crate::error::ErrorBody)))]
#[get("/api/v1/policy")]
pub async fn get_policy(state: web::Data<AppState>, who: Principal) -> Result<web::Json<Policy>, ApiError> {
    who.authorize(Action::ReadPolicy)?;
    let book = db::run(&state.pool, |c| Ok(policies::load(c)?)).await?;
    Ok(web::Json(book.latest()))
}

/// Publish a new policy version (the body is a policy without `version`). Tickets reported from
/// now on follow it; earlier tickets keep theirs.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])), request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[put("/api/v1/policy")]
pub async fn put_policy(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<Value>,
) -> Result<web::Json<Policy>, ApiError> {
    who.authorize(Action::ManagePolicy)?;
    let mut body = body.0;
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::bad_request("invalid_body", "the policy must be a JSON object"));
    };
    // The server numbers versions; a `version` sent along is ignored.
    fields.insert("version".into(), json!(0));
    let mut policy: Policy = parse_json(body.to_string().as_bytes())?;
    policy.validate().map_err(|e| ApiError::invalid(e.field, e.message))?;
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            use diesel::prelude::*;
            let last: Option<i32> =
                schema::policies::table.select(diesel::dsl::max(schema::policies::version)).first(conn)?;
            policy.version = last.unwrap_or(0) + 1;
            let text = serde_json::to_string(&policy).map_err(|e| ApiError::internal(e.into()))?;
            let row = PolicyRow {
                version: policy.version,
                body: text,
                created_at: now,
                created_by: Some(who.user_id.clone()),
            };
            policies::insert(conn, &row)?;
            let version = policy.version.to_string();
            let detail = json!({"version": policy.version});
            accounts::audit_by(conn, &who, "policy_changed", ("policy", &version), &who.area_path, detail, now)?;
            Ok(policy)
        })
    })
    .await
    .map(web::Json)
}
