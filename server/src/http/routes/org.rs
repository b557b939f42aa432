//! Areas, teams and users (creating them is for admins, within their own area).

use actix_web::{get, patch, post, web, HttpResponse};
use fieldvisit_sync_protocol::org::{Area, AreaKind, Role, Team, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::accounts::lifecycle::{self, Actor, UserPatch};
use crate::auth::accounts::{self, NewUser};
use crate::auth::{password, Action, Principal};
use crate::db::{self, areas, users};
use crate::error::ApiError;
use crate::http::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewArea {
    #[schema(value_type = Option<super::params::UuidText>)]
    id: Option<Uuid>,
    #[schema(value_type = super::params::UuidText)]
    parent_id: String,
    #[schema(value_type = fieldvisit_sync_protocol::org::AreaKind)]
    kind: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AreaList {
    #[schema(value_type = Vec<Object>)]
    areas: Vec<Area>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTeam {
    #[schema(value_type = Option<super::params::UuidText>)]
    id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(value_type = super::params::UuidText)]
    area_id: String,
    #[serde(default)]
    #[schema(max_items = 50)]
    categories: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TeamList {
    #[schema(value_type = Vec<Object>)]
    teams: Vec<Team>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    #[schema(value_type = Option<super::params::UuidText>)]
    id: Option<Uuid>,
    #[schema(pattern = r"^\S{1,64}$")]
    username: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    #[schema(min_length = 1, max_length = 100)]
    display_name: String,
    #[schema(value_type = fieldvisit_sync_protocol::org::Role)]
    role: String,
    #[schema(value_type = super::params::UuidText)]
    area_id: String,
    #[schema(value_type = Option<super::params::UuidText>)]
    team_id: Option<String>,
}

/// A user as admins see them: the contract's user plus whether they may log in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserOut {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    user: User,
    active: bool,
}

impl From<users::UserRow> for UserOut {
    fn from(row: users::UserRow) -> Self {
        let active = row.active;
        UserOut { user: row.into(), active }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<UserOut>,
}

/// Absent fields stay as they are; `"team_id": null` takes the user off their team.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchRequest {
    #[schema(min_length = 1, max_length = 100)]
    display_name: Option<String>,
    #[schema(value_type = Option<fieldvisit_sync_protocol::org::Role>)]
    role: Option<String>,
    #[schema(value_type = Option<super::params::UuidText>)]
    area_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<super::params::UuidText>, nullable)]
    team_id: Option<Option<String>>,
    active: Option<bool>,
}

/// `Some(None)` for an explicit null, `None` (via `default`) for an absent field.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordRequest {
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BulkDeactivateRequest {
    #[schema(value_type = super::params::UuidText)]
    area_id: String,
    #[schema(value_type = fieldvisit_sync_protocol::org::Role)]
    role: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkDeactivated {
    deactivated: usize,
    user_ids: Vec<String>,
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::parse(role).ok_or_else(|| ApiError::invalid("role", "volunteer, handler, dispatcher, supervisor or admin"))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = NewArea,
    responses((status = 201, body = Area), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/areas")]
pub async fn create_area(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<NewArea>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let kind = AreaKind::parse(&b.kind)
        .ok_or_else(|| ApiError::invalid("kind", "province, city, county, town, community or grid"))?;
    let now = state.clock.now();
    let row = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let row = accounts::create_area(conn, b.id, &b.parent_id, kind, &b.name, &who.area_path, now)?;
            accounts::audit_by(
                conn,
                &who,
                "area_created",
                ("area", &row.id),
                &row.path,
                json!({"name": row.name}),
                now,
            )?;
            Ok(row)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(Area::from(row)))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), responses((status = 200, body = AreaList)))]
#[get("/api/v1/areas")]
pub async fn list_areas(state: web::Data<AppState>, who: Principal) -> Result<web::Json<AreaList>, ApiError> {
    who.authorize(Action::ReadOrganisation)?;
    let rows = db::run(&state.pool, move |conn| Ok(areas::list_within(conn, &who.area_path)?)).await?;
    Ok(web::Json(AreaList { areas: rows.into_iter().map(Area::from).collect() }))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = NewTeam,
    responses((status = 201, body = Team), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/teams")]
pub async fn create_team(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<NewTeam>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let now = state.clock.now();
    let row = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let row = accounts::create_team(conn, b.id, &b.name, &b.area_id, &b.categories, &who.area_path, now)?;
            accounts::audit_by(
                conn,
                &who,
                "team_created",
                ("team", &row.id),
                &row.area_path,
                json!({"name": row.name}),
                now,
            )?;
            Ok(row)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(Team::from(row)))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), responses((status = 200, body = TeamList)))]
#[get("/api/v1/teams")]
pub async fn list_teams(state: web::Data<AppState>, who: Principal) -> Result<web::Json<TeamList>, ApiError> {
    who.authorize(Action::ReadOrganisation)?;
    let rows = db::run(&state.pool, move |conn| Ok(areas::teams_serving(conn, &who.area_path)?)).await?;
    Ok(web::Json(TeamList { teams: rows.into_iter().map(Team::from).collect() }))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = NewUserRequest,
    responses((status = 201, body = User), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let role = parse_role(&b.role)?;
    let now = state.clock.now();
    let new = NewUser {
        id: b.id,
        username: b.username,
        password: password::Hashed::off_thread(b.password).await?,
        display_name: b.display_name,
        role,
        area_id: b.area_id,
        team_id: b.team_id,
    };
    let row = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let row = accounts::create_user(conn, new, Some(&who.area_path), now)?;
            let detail = json!({"username": row.username, "role": row.role.0.as_str()});
            accounts::audit_by(conn, &who, "user_created", ("user", &row.id), &row.area_path, detail, now)?;
            Ok(row)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(User::from(row)))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), responses((status = 200, body = UserList), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/users")]
pub async fn list_users(state: web::Data<AppState>, who: Principal) -> Result<web::Json<UserList>, ApiError> {
    who.authorize(Action::ListUsers)?;
    let rows = db::run(&state.pool, move |conn| Ok(users::list_within(conn, &who.area_path)?)).await?;
    Ok(web::Json(UserList { users: rows.into_iter().map(UserOut::from).collect() }))
}

/// Change a user within the caller's area: name, role (not above the caller's own), area, team,
/// `active`. Deactivating ends all of the user's sessions at once.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = UserPatchRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: Json<UserPatchRequest>,
) -> Result<web::Json<UserOut>, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let patch = UserPatch {
        display_name: b.display_name,
        role: b.role.as_deref().map(parse_role).transpose()?,
        area_id: b.area_id,
        team_id: b.team_id,
        active: b.active,
    };
    let now = state.clock.now();
    let row = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| lifecycle::update_user(conn, Actor::Admin(&who), &path, patch, now))
    })
    .await?;
    Ok(web::Json(row.into()))
}

/// Set a user's password (within the caller's area); all of the user's sessions end at once.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = PasswordRequest,
    params(("id" = String, Path)),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/users/{id}/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let now = state.clock.now();
    let new = password::Hashed::off_thread(body.0.password).await?;
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| lifecycle::set_password(conn, Actor::Admin(&who), &path, new, now))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deactivate every active user of one role at or below an area (a season's volunteers), never
/// the caller; each one's sessions end at once.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = BulkDeactivateRequest,
    responses((status = 200, body = BulkDeactivated), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/users/deactivate")]
pub async fn deactivate_users(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<BulkDeactivateRequest>,
) -> Result<web::Json<BulkDeactivated>, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let role = parse_role(&body.0.role)?;
    let now = state.clock.now();
    let done = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| lifecycle::deactivate_within(conn, Actor::Admin(&who), &body.0.area_id, role, now))
    })
    .await?;
    let user_ids: Vec<String> = done.into_iter().map(|u| u.id).collect();
    Ok(web::Json(BulkDeactivated { deactivated: user_ids.len(), user_ids }))
}
