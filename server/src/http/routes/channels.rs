//! Alert delivery channels, for admins within their area: list, create, change, delete, and send
//! a test message. A channel's URL and secret are never returned (the URL masked, the secret as
//! `has_secret`) nor logged nor audited.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use fieldvisit_sync_protocol::deadline::AlertKind;
use fieldvisit_sync_protocol::time::format_utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::accounts;
use crate::auth::{Action, Principal};
use crate::config::Settings;
use crate::db::channels::ChannelRow;
use crate::db::typed::Json as JsonColumn;
use crate::db::{self, areas, DbConn};
use crate::deadlines::channels::message::Notice;
use crate::deadlines::channels::{self, rate, Kind, Target};
use crate::error::{ApiError, Kind as ErrorKind};
use crate::http::extract::Json;
use crate::state::AppState;

/// Highest `min_level` accepted: policies have a handful of escalation levels.
const MAX_LEVEL: i32 = 10;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelOut {
    id: String,
    name: String,
    /// `webhook`, `wecom`, `dingtalk` or `feishu`.
    kind: String,
    area_id: String,
    /// Scheme, host and the URL's last 4 characters: enough to tell robots apart, not to call one.
    url: String,
    has_secret: bool,
    teams: Vec<String>,
    alert_types: Vec<String>,
    min_level: i32,
    enabled: bool,
    created_at: String,
    updated_at: String,
}

impl From<&ChannelRow> for ChannelOut {
    fn from(r: &ChannelRow) -> Self {
        ChannelOut {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            area_id: r.area_id.clone(),
            url: channels::mask_url(&r.url),
            has_secret: r.secret.is_some(),
            teams: r.team_ids().to_vec(),
            alert_types: r.types().to_vec(),
            min_level: r.min_level,
            enabled: r.enabled,
            created_at: format_utc(r.created_at),
            updated_at: format_utc(r.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    channels: Vec<ChannelOut>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    id: Option<Uuid>,
    name: String,
    kind: String,
    area_id: String,
    url: String,
    secret: Option<String>,
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default)]
    alert_types: Vec<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    min_level: i32,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// Absent fields stay as they are; `"secret": null` removes the secret.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    name: Option<String>,
    kind: Option<String>,
    area_id: Option<String>,
    url: Option<String>,
    #[serde(default, deserialize_with = "super::org::present")]
    #[schema(value_type = Option<String>, nullable)]
    secret: Option<Option<String>>,
    teams: Option<Vec<String>>,
    alert_types: Option<Vec<String>>,
    #[schema(minimum = 0, maximum = 10)]
    min_level: Option<i32>,
    enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestResult {
    delivered: bool,
    /// The status, the robot's error code or the error text; never the URL.
    error: Option<String>,
}

/// Checks every field of `row` (already merged) and sets its area path; the caller's scope must
/// hold the channel's area and every team of its filter.
fn validate(conn: &mut DbConn, who: &Principal, settings: &Settings, row: &mut ChannelRow) -> Result<(), ApiError> {
    let name = row.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    row.name = name.to_owned();
    if Kind::parse(&row.kind).is_none() {
        return Err(ApiError::invalid("kind", "webhook, wecom, dingtalk or feishu"));
    }
    if row.url.len() > 2000 {
        return Err(ApiError::invalid("url", "at most 2000 characters"));
    }
    let url = channels::parse_url(&row.url).map_err(|e| ApiError::invalid("url", e))?;
    if !channels::host_allowed(settings, &url) {
        return Err(ApiError::invalid("url", "this host is not in FIELDVISIT_CHANNEL_HOSTS"));
    }
    if row.secret.as_deref().is_some_and(|s| s.is_empty() || s.len() > 200) {
        return Err(ApiError::invalid("secret", "1 to 200 characters, or null for none"));
    }
    let area = areas::find(conn, &row.area_id)?.ok_or_else(|| ApiError::invalid("area_id", "no such area"))?;
    who.require_scope(&area.path).map_err(|_| ApiError::out_of_scope("area_id"))?;
    row.area_path = area.path;
    let teams = row.team_ids();
    if teams.len() > 100 {
        return Err(ApiError::invalid("teams", "at most 100 teams"));
    }
    let found = areas::teams_by_ids(conn, teams)?;
    for (i, id) in teams.iter().enumerate() {
        let team = found.get(id).ok_or_else(|| ApiError::invalid(format!("teams[{i}]"), "no such team"))?;
        if !who.sees(&team.area_path) {
            return Err(ApiError::out_of_scope(&format!("teams[{i}]")));
        }
    }
    for (i, t) in row.types().iter().enumerate() {
        if AlertKind::parse(t).is_none() {
            let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::invalid(format!("alert_types[{i}]"), format!("one of {}", known.join(", "))));
        }
    }
    if !(0..=MAX_LEVEL).contains(&row.min_level) {
        return Err(ApiError::invalid("min_level", format!("0 (every alert) to {MAX_LEVEL}")));
    }
    Ok(())
}

/// The channel, if it exists within the caller's area (404 otherwise, as for any record read).
fn find_in_scope(conn: &mut DbConn, who: &Principal, id: &str) -> Result<ChannelRow, ApiError> {
    match db::channels::find(conn, id)? {
        Some(row) if who.sees(&row.area_path) => Ok(row),
        _ => Err(ApiError::not_found("channel")),
    }
}

/// Channels whose area is within the caller's.
#[utoipa::path(tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = ChannelList), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/channels")]
pub async fn list_channels(state: web::Data<AppState>, who: Principal) -> Result<web::Json<ChannelList>, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let rows = db::run(&state.pool, move |c| Ok(db::channels::list_within(c, &who.area_path)?)).await?;
    Ok(web::Json(ChannelList { channels: rows.iter().map(ChannelOut::from).collect() }))
}

/// A new channel; it receives the alerts fired after it was created.
#[utoipa::path(tag = "channels", security(("bearer" = [])), request_body = NewChannel,
    responses((status = 201, body = ChannelOut), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[post("/api/v1/channels")]
pub async fn create_channel(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<NewChannel>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let b = body.0;
    let now = state.clock.now();
    let settings = state.settings.clone();
    let mut row = ChannelRow {
        id: b.id.unwrap_or_else(Uuid::new_v4).to_string(),
        name: b.name,
        kind: b.kind,
        area_id: b.area_id,
        area_path: String::new(),
        url: b.url,
        secret: b.secret,
        teams: JsonColumn(b.teams),
        alert_types: JsonColumn(b.alert_types),
        min_level: b.min_level,
        enabled: b.enabled,
        enqueued_to: 0,
        created_at: now,
        updated_at: now,
    };
    let row = db::run(&state.pool, move |c| {
        db::transaction(c, |c| {
            validate(c, &who, &settings, &mut row)?;
            if db::channels::find(c, &row.id)?.is_some() {
                return Err(ApiError::conflict("duplicate_id", "a channel with this id exists"));
            }
            // Inside the transaction, after every committed alert: it starts with the next one.
            row.enqueued_to = db::alerts::last_id(c)?;
            db::channels::insert(c, &row)?;
            let detail = json!({"name": row.name, "kind": row.kind});
            accounts::audit_by(c, &who, "channel_created", ("channel", &row.id), &row.area_path, detail, now)?;
            Ok(row)
        })
    })
    .await?;
    state.webhook_wake.notify_one();
    Ok(HttpResponse::Created().json(ChannelOut::from(&row)))
}

/// Changes a channel; alerts already queued for it go out with the new settings. A channel switched
/// back on hears the alerts fired from then on.
#[utoipa::path(tag = "channels", security(("bearer" = [])), request_body = ChannelPatch, params(("id" = String, Path)),
    responses((status = 200, body = ChannelOut), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[patch("/api/v1/channels/{id}")]
pub async fn update_channel(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: Json<ChannelPatch>,
) -> Result<web::Json<ChannelOut>, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let (id, b) = (path.into_inner(), body.0);
    let now = state.clock.now();
    let settings = state.settings.clone();
    let row = db::run(&state.pool, move |c| {
        db::transaction(c, |c| {
            let mut row = find_in_scope(c, &who, &id)?;
            let was_enabled = row.enabled;
            let mut changed: Vec<&str> = Vec::new();
            macro_rules! set {
                ($field:ident, $value:expr, $name:literal) => {
                    if let Some(v) = $value {
                        row.$field = v;
                        changed.push($name);
                    }
                };
            }
            set!(name, b.name, "name");
            set!(kind, b.kind, "kind");
            set!(area_id, b.area_id, "area_id");
            set!(url, b.url, "url");
            set!(secret, b.secret, "secret");
            set!(teams, b.teams.map(JsonColumn), "teams");
            set!(alert_types, b.alert_types.map(JsonColumn), "alert_types");
            set!(min_level, b.min_level, "min_level");
            set!(enabled, b.enabled, "enabled");
            validate(c, &who, &settings, &mut row)?;
            row.updated_at = now;
            db::channels::update(c, &row)?;
            if row.enabled && !was_enabled {
                // Switched back on: it hears what fires from now on, not what it missed meanwhile.
                let last = db::alerts::last_id(c)?;
                db::channels::advance(c, &row.id, last)?;
            }
            let detail = json!({"name": row.name, "changed": changed});
            accounts::audit_by(c, &who, "channel_updated", ("channel", &row.id), &row.area_path, detail, now)?;
            Ok(row)
        })
    })
    .await?;
    // The delivery task looks at the channel now, not at its next timer.
    state.webhook_wake.notify_one();
    Ok(web::Json(ChannelOut::from(&row)))
}

/// Deletes a channel with whatever it still had to send.
#[utoipa::path(tag = "channels", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[delete("/api/v1/channels/{id}")]
pub async fn delete_channel(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let id = path.into_inner();
    let now = state.clock.now();
    let gone = db::run(&state.pool, move |c| {
        db::transaction(c, |c| {
            let row = find_in_scope(c, &who, &id)?;
            db::channels::delete(c, &row.id)?;
            let detail = json!({"name": row.name, "kind": row.kind});
            accounts::audit_by(c, &who, "channel_deleted", ("channel", &row.id), &row.area_path, detail, now)?;
            Ok(row.id)
        })
    })
    .await?;
    rate::forget(&gone);
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test message through the channel now (within its rate limit) and says how it went.
#[utoipa::path(tag = "channels", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TestResult), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
#[post("/api/v1/channels/{id}/test")]
pub async fn test_channel(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<web::Json<TestResult>, ApiError> {
    who.authorize(Action::ManageOrganisation)?;
    let id = path.into_inner();
    let row = db::run(&state.pool, move |c| find_in_scope(c, &who, &id)).await?;
    let kind = Kind::parse(&row.kind).ok_or_else(|| ApiError::invalid("kind", "unknown channel kind"))?;
    let url = channels::parse_url(&row.url).map_err(|e| ApiError::invalid("url", e))?;
    if !channels::host_allowed(&state.settings, &url) {
        return Err(ApiError::invalid("url", "this host is not in FIELDVISIT_CHANNEL_HOSTS"));
    }
    if let Err(wait) = rate::take(&row.id, kind.limits()) {
        return Err(ApiError::new(ErrorKind::TooManyRequests, "rate_limited", "the robot's rate limit is reached")
            .retry_after(wait.as_secs().max(1)));
    }
    let target = Target { id: row.id.clone(), kind, url, secret: row.secret.clone() };
    let now = state.clock.now();
    let notice = Notice {
        kind: "test".into(),
        timezone: "Asia/Shanghai".into(),
        public_url: state.channels.public_url.clone(),
        ..Notice::default()
    };
    let webhook_json =
        serde_json::to_vec(&json!({"type": "test", "channel_id": row.id, "at": format_utc(now)})).unwrap_or_default();
    let (url, body) = channels::request(&target, &notice, &webhook_json, now);
    let result = channels::send(&state.channels.client, &target, url, body).await;
    Ok(web::Json(TestResult { delivered: result.is_ok(), error: result.err() }))
}
