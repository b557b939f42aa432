//! Duplicate households (contract 1.1): the desk's list of households that share a grid, an
//! address and a head's name, and `POST /api/v1/households/{id}/merge` that folds one into another.

use actix_web::{get, post, web};
use fieldvisit_sync_protocol::sync::pull::HouseholdOut;
use fieldvisit_sync_protocol::time::format_utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::accounts;
use crate::auth::{Action, Principal};
use crate::db::{self, duplicates};
use crate::error::ApiError;
use crate::http::extract::Json;
use crate::http::routes::reports::area_names;
use crate::state::AppState;

fn out(c: &duplicates::Counted) -> HouseholdOut {
    let mut h = HouseholdOut::from(&c.row);
    h.last_visited_at = c.last_visited_at.map(format_utc);
    h.visit_count = Some(c.visit_count);
    h
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The household that stays; `{id}` is merged into it.
    into: String,
}

/// Merge household `{id}` into `into` (both in the caller's scope): its visits and tickets move to
/// `into`, it is deleted and reaches phones in pull's `removed`; audited. Answers the survivor.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(("id" = String, Path, description = "The household merged away")),
    request_body = MergeBody,
    responses((status = 200, body = HouseholdOut), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/households/{id}/merge")]
pub async fn merge_household(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    body: Json<MergeBody>,
) -> Result<web::Json<HouseholdOut>, ApiError> {
    who.authorize(Action::MergeHouseholds)?;
    let (id, into) = (id.into_inner(), body.0.into);
    if id == into {
        return Err(ApiError::invalid("into", "a household cannot be merged into itself"));
    }
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let from = duplicates::counted(conn, &id)?.ok_or_else(|| ApiError::not_found("household"))?;
            let target =
                duplicates::counted(conn, &into)?.ok_or_else(|| ApiError::not_found("household").with_field("into"))?;
            who.require_scope(&from.row.area_path).map_err(|_| ApiError::out_of_scope("id"))?;
            who.require_scope(&target.row.area_path).map_err(|_| ApiError::out_of_scope("into"))?;
            let moved = duplicates::merge(conn, &from, &target, now)?;
            let detail = json!({"into": into, "visits": moved.visits, "tickets": moved.tickets,
                "address": from.row.address, "head_name": from.row.head_name});
            let area = target.row.area_path.clone();
            accounts::audit_by(conn, &who, "household_merged", ("household", &id), &area, detail, now)?;
            let survivor = duplicates::counted(conn, &into)?.ok_or_else(|| ApiError::not_found("household"))?;
            Ok(web::Json(out(&survivor)))
        })
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DuplicatesQuery {
    /// At most this many groups (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DuplicateGroup {
    area_id: String,
    name: String,
    /// Oldest first: the one the desk usually keeps.
    households: Vec<HouseholdOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Duplicates {
    groups: Vec<DuplicateGroup>,
}

/// Possible duplicates in the caller's scope: households of one grid with the same normalised
/// address and head's name.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(DuplicatesQuery),
    responses((status = 200, body = Duplicates), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/households/duplicates")]
pub async fn list_duplicates(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<DuplicatesQuery>,
) -> Result<web::Json<Duplicates>, ApiError> {
    who.authorize(Action::MergeHouseholds)?;
    let limit = super::params::page_limit(q.limit, 100, 500)?;
    db::run(&state.pool, move |conn| {
        let names = area_names(conn, &who.area_path)?;
        let mut groups = Vec::new();
        for rows in duplicates::groups_in(conn, &who.area_path, limit)? {
            let Some(first) = rows.first() else { continue };
            let area_id = first.area_id.clone();
            let mut households = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(c) = duplicates::counted(conn, &row.id)? {
                    households.push(out(&c));
                }
            }
            groups.push(DuplicateGroup { name: crate::reports::name_of(&names, &area_id), area_id, households });
        }
        Ok(web::Json(Duplicates { groups }))
    })
    .await
}
