//! Checklist templates (contract 1.1), per county and versioned like the policy: everyone reads
//! their county's; an admin of the county or above publishes a new version. Old versions stay
//! readable (`?id=&version=`): a visit is checked against the version it names.

use actix_web::{get, put, web};
use fieldvisit_sync_protocol::checklist::Template;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::accounts;
use crate::auth::{Action, Principal};
use crate::db::{self, checklists};
use crate::error::ApiError;
use crate::http::extract::Json;
use crate::http::routes::policy::{county_for, parse_versioned, readable_county};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ChecklistQuery {
    /// A county, or any area (its county is meant); default: the caller's county.
    #[param(inline, value_type = Option<super::params::UuidText>)]
    area_id: Option<String>,
    /// Only this template.
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    id: Option<String>,
    /// With `id`: this version (old ones included); default: the newest of each template.
    #[param(minimum = 1)]
    version: Option<i32>,
    /// `true`: only templates phones should offer.
    active: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Templates {
    templates: Vec<Template>,
}

/// The county's checklist templates: the newest version of each, or one version by `id` and `version`.
#[utoipa::path(tag = "checklists", security(("bearer" = [])), params(ChecklistQuery),
    responses((status = 200, body = Templates), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
#[get("/api/v1/checklists")]
pub async fn list_checklists(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<ChecklistQuery>,
) -> Result<web::Json<Templates>, ApiError> {
    who.authorize(Action::ReadPolicy)?;
    let q = q.into_inner();
    if q.version.is_some() && q.id.is_none() {
        return Err(ApiError::invalid("id", "a version needs the template's id"));
    }
    let templates = db::run(&state.pool, move |conn| {
        let (_, county) = readable_county(conn, &who, q.area_id.as_deref())?;
        let rows = match q.version {
            Some(v) => checklists::versions_for(conn, Some(&county))?.into_iter().filter(|r| r.version == v).collect(),
            None => checklists::latest_for(conn, Some(&county))?,
        };
        let templates: Vec<Template> = rows
            .iter()
            .filter(|r| q.id.as_ref().is_none_or(|id| *id == r.id))
            .filter(|r| q.active.is_none_or(|a| a == r.active))
            .filter_map(checklists::TemplateRow::template)
            .collect();
        if q.id.is_some() && templates.is_empty() {
            return Err(ApiError::not_found("checklist template").with_field("id"));
        }
        Ok(templates)
    })
    .await?;
    Ok(web::Json(Templates { templates }))
}

/// Publish a new version of a county's template (the body is a template without `version`; its
/// `id` is the path's): only an admin whose area is that county or above it. Visits filled from
/// earlier versions keep being checked against theirs.
#[utoipa::path(tag = "checklists", security(("bearer" = [])), params(("id" = String, Path, description = "The template's id"), ChecklistQuery),
    request_body(content = Template, content_type = "application/json"),
    responses((status = 200, body = Template), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
#[put("/api/v1/checklists/{id}")]
pub async fn put_checklist(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    q: web::Query<ChecklistQuery>,
    body: Json<Value>,
) -> Result<web::Json<Template>, ApiError> {
    who.authorize(Action::ManagePolicy)?;
    // The server numbers versions and the path names the template.
    let fields = [("version", json!(0)), ("id", json!(id.into_inner()))];
    let mut template: Template = parse_versioned(body.0, "the template", &fields)?;
    template.validate().map_err(|e| ApiError::invalid(e.key, e.message))?;
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let (_, county) = county_for(conn, &who, q.area_id.as_deref())?;
            if !who.sees(&county.path) {
                return Err(ApiError::forbidden("only an admin of the county or above may change its checklists"));
            }
            template.version = checklists::next_version(conn, &template.id)?;
            checklists::insert(conn, &template, Some(county.id.clone()), Some(who.user_id.clone()), now)?;
            let detail = json!({"id": template.id, "version": template.version, "county_id": county.id});
            let target = format!("{}@{}", template.id, template.version);
            // Audited under the county, where its admins (and those above) read it.
            accounts::audit_by(conn, &who, "checklist_changed", ("checklist", &target), &county.path, detail, now)?;
            Ok(template)
        })
    })
    .await
    .map(web::Json)
}
