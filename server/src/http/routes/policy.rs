//! The deadline policy, one per county (contract 1.1): everyone reads their county's (or, with
//! `area_id`, the county of an area they see or live under); an admin of the county or above
//! publishes a new version. Old versions stay: a ticket keeps the version in force when it was
//! reported.

use actix_web::{get, put, web};
use fieldvisit_sync_protocol::deadline::Policy;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::accounts;
use crate::auth::{Action, Principal};
use crate::db::policies::{self, County, PolicyBook, PolicyRow};
use crate::db::{self, areas, schema, scope, DbConn};
use crate::error::ApiError;
use crate::http::extract::{parse_json, Json};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PolicyQuery {
    /// A county, or any area (its county is meant); default: the caller's county.
    area_id: Option<String>,
}

/// The county that `area_id` (default: the caller's area) belongs to, with the policy book.
pub(crate) fn county_for(
    conn: &mut DbConn,
    who: &Principal,
    area_id: Option<&str>,
) -> Result<(PolicyBook, County), ApiError> {
    let path = match area_id {
        None => who.area_path.clone(),
        Some(id) => {
            let area = areas::find(conn, id)?;
            area.map(|a| a.path).ok_or_else(|| ApiError::not_found("area").with_field("area_id"))?
        }
    };
    let book = policies::load(conn)?;
    let county = book.county_of(&path).cloned().ok_or_else(|| ApiError::not_found("county"))?;
    Ok((book, county))
}

/// Like [`county_for`], for reading: one's own county, or a county within one's area.
pub(crate) fn readable_county(
    conn: &mut DbConn,
    who: &Principal,
    area_id: Option<&str>,
) -> Result<(PolicyBook, County), ApiError> {
    let (book, county) = county_for(conn, who, area_id)?;
    if !(who.sees(&county.path) || scope::is_within(&who.area_path, &county.path)) {
        return Err(ApiError::forbidden("the area is outside your scope").with_field("area_id"));
    }
    Ok((book, county))
}

/// A versioned body (`what`: "the policy") parsed with the server's own values for `fields`
/// (its `version`, ...): those sent along are ignored.
pub(crate) fn parse_versioned<T: serde::de::DeserializeOwned>(
    mut body: Value,
    what: &str,
    fields: &[(&str, Value)],
) -> Result<T, ApiError> {
    let Some(object) = body.as_object_mut() else {
        return Err(ApiError::bad_request("invalid_body", format!("{what} must be a JSON object")));
    };
    for (name, value) in fields {
        object.insert((*name).into(), value.clone());
    }
    parse_json(body.to_string().as_bytes())
}

/// The deadline policy in force now in a county.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])), params(PolicyQuery),
    responses((status = 200, body = Policy), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[get("/api/v1/policy")]
pub async fn get_policy(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<PolicyQuery>,
) -> Result<web::Json<Policy>, ApiError> {
    who.authorize(Action::ReadPolicy)?;
    let policy = db::run(&state.pool, move |conn| {
        let (book, county) = readable_county(conn, &who, q.area_id.as_deref())?;
        Ok(book.latest_for(&county.path))
    })
    .await?;
    Ok(web::Json(policy))
}

/// Publish a new policy version for a county (the body is a policy without `version`): only an
/// admin whose area is that county or above it. Tickets of the county reported from now on follow
/// it; earlier tickets keep theirs.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])), params(PolicyQuery), request_body(content = Policy, content_type = "application/json"),
    responses((status = 200, body = Policy), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
#[put("/api/v1/policy")]
pub async fn put_policy(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<PolicyQuery>,
    body: Json<Value>,
) -> Result<web::Json<Policy>, ApiError> {
    who.authorize(Action::ManagePolicy)?;
    // The server numbers versions.
    let mut policy: Policy = parse_versioned(body.0, "the policy", &[("version", json!(0))])?;
    policy.validate().map_err(|e| ApiError::invalid(e.field, e.message))?;
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            use diesel::prelude::*;
            let (_, county) = county_for(conn, &who, q.area_id.as_deref())?;
            if !who.sees(&county.path) {
                return Err(ApiError::forbidden("only an admin of the county or above may change its policy"));
            }
            let last: Option<i32> =
                schema::policies::table.select(diesel::dsl::max(schema::policies::version)).first(conn)?;
            policy.version = last.unwrap_or(0) + 1;
            let text = serde_json::to_string(&policy).map_err(|e| ApiError::internal(e.into()))?;
            let row = PolicyRow {
                version: policy.version,
                body: text,
                created_at: now,
                created_by: Some(who.user_id.clone()),
                county_id: Some(county.id.clone()),
            };
            policies::insert(conn, &row)?;
            let version = policy.version.to_string();
            let detail = json!({"version": policy.version, "county_id": county.id});
            // Audited under the county, where its admins (and those above) read it.
            accounts::audit_by(conn, &who, "policy_changed", ("policy", &version), &county.path, detail, now)?;
            Ok(policy)
        })
    })
    .await
    .map(web::Json)
}
