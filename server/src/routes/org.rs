//! Areas, teams and users (creating them is for admins, within their own area).

use actix_web::{get, post, web, HttpResponse};
use fieldvisit_sync_protocol::org::{Area, AreaKind, Role, Team, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::{self, NewUser};
use crate::auth::{Action, Principal};
use crate::db::{self, areas, users};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewArea {
    id: Option<Uuid>,
    parent_id: String,
    kind: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AreaList {
    #[schema(value_type = Vec<Object>)]
    areas: Vec<Area>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTeam {
    id: Option<Uuid>,
    name: String,
    area_id: String,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TeamList {
    #[schema(value_type = Vec<Object>)]
    teams: Vec<Team>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    id: Option<Uuid>,
    username: String,
    password: String,
    display_name: String,
    role: String,
    area_id: String,
    team_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    #[schema(value_type = Vec<Object>)]
    users: Vec<User>,
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = NewArea,
    responses((status = 201, body = Object), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
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
    responses((status = 201, body = Object), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
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
    responses((status = 201, body = Object), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let role = Role::parse(&b.role)
        .ok_or_else(|| ApiError::invalid("role", "volunteer, handler, dispatcher, supervisor or admin"))?;
    let now = state.clock.now();
    let new = NewUser {
        id: b.id,
        username: b.username,
        password: b.password,
        display_name: b.display_name,
        role,
        area_id: b.area_id,
        team_id: b.team_id,
    };
    let row = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let row = accounts::create_user(conn, new, Some(&who.area_path), now)?;
            let detail = json!({"username": row.username, "role": row.role});
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
    Ok(web::Json(UserList { users: rows.into_iter().map(User::from).collect() }))
}
