//! Tickets for the desk: the filtered list (overdue first when asked), one ticket with its
//! timeline, and adding one event over HTTP through the same write path as a push.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use fieldvisit_sync_protocol::org::Role;
use fieldvisit_sync_protocol::sync::pull::{sync_delay_s, TicketDetail, TicketEventOut, TicketOut, TimelineEvent};
use fieldvisit_sync_protocol::sync::push::{PushRequest, RecordStatus};
use fieldvisit_sync_protocol::sync::RecordErrorCode;
use fieldvisit_sync_protocol::time::format_utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::authz::TicketAccess;
use crate::auth::{Action, Principal};
use crate::db::records::{self, EventRow, TicketRow};
use crate::db::tickets::{self as queries, TicketFilter, Viewer};
use crate::db::{self, areas, policies, users};
use crate::error::{ApiError, Kind};
use crate::http::extract::Json;
use crate::http::keyset;
use crate::state::AppState;
use crate::sync::apply::Job;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TicketQuery {
    #[param(inline, value_type = Option<super::params::TicketStatus>)]
    status: Option<String>,
    /// `true`: open tickets past their current due time, most overdue first.
    overdue: Option<bool>,
    #[param(inline, value_type = Option<super::params::CurrentStage>)]
    stage: Option<String>,
    #[param(inline, value_type = Option<super::params::UuidText>)]
    area_id: Option<String>,
    #[param(inline, value_type = Option<super::params::UuidText>)]
    team_id: Option<String>,
    category: Option<String>,
    /// 1 to 500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The last page's `cursor`; one this server did not issue → 422 `invalid_cursor`.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    tickets: Vec<TicketOut>,
    cursor: Option<String>,
    has_more: bool,
}

fn one_of(field: &'static str, v: Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if !allowed.contains(&s.as_str()) => {
            Err(ApiError::bad_request("invalid_query", format!("{field} must be one of {}", allowed.join(", ")))
                .with_field(field))
        }
        other => Ok(other),
    }
}

/// A query value that must be an id: anything else is a malformed request, named by its field.
fn uuid_query(field: &'static str, v: String) -> Result<String, ApiError> {
    match uuid::Uuid::parse_str(&v) {
        Ok(_) => Ok(v),
        Err(_) => Err(ApiError::bad_request("invalid_query", format!("{field} must be a UUID")).with_field(field)),
    }
}

/// A handler also sees the tickets dispatched to their team.
fn viewer(who: &Principal) -> Viewer<'_> {
    let team_id = if who.role == Role::Handler { who.team_id.as_deref() } else { None };
    Viewer { area_path: &who.area_path, team_id }
}

pub fn access(t: &TicketRow) -> TicketAccess<'_> {
    TicketAccess { area_path: &t.area_path, team_id: t.team_id.as_deref(), reporter_id: &t.reporter_id }
}

/// Tickets in the caller's scope: newest reported first, or with `overdue=true` most overdue first.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(TicketQuery),
    responses((status = 200, body = TicketPage), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, description = "`area_id` names no area", body = crate::error::ErrorBody)))]
#[get("/api/v1/tickets")]
pub async fn list_tickets(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<TicketQuery>,
) -> Result<web::Json<TicketPage>, ApiError> {
    who.authorize(Action::ReadTickets)?;
    let q = q.into_inner();
    let limit = super::params::page_limit(q.limit, 100, 500)?;
    let now = state.clock.now();
    let mut filter = TicketFilter {
        status: one_of("status", q.status, &["open", "closed"])?,
        stage: one_of("stage", q.stage, &["classify", "dispatch", "on_site", "close", "done"])?,
        category: q.category,
        team_id: q.team_id.map(|t| uuid_query("team_id", t)).transpose()?,
        area_path: None,
        overdue_at: q.overdue.unwrap_or(false).then_some(now),
        after: q.cursor.as_deref().map(keyset::decode).transpose()?,
        limit: limit + 1,
    };
    let area_id = q.area_id;
    let (rows, book) = db::run(&state.pool, move |conn| {
        if let Some(id) = &area_id {
            filter.area_path = Some(area_filter(conn, &who, id)?);
        }
        Ok((queries::list(conn, &viewer(&who), &filter)?, policies::load(conn)?))
    })
    .await?;
    let has_more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(0))];
    let overdue = q.overdue.unwrap_or(false);
    let cursor = rows.last().map(|r| {
        let key = if overdue { r.current_due_at.unwrap_or_default() } else { r.reported_at };
        keyset::encode(key, &r.id)
    });
    let tickets = rows.iter().map(|r| r.to_out(book.version(r.policy_version), now)).collect();
    Ok(web::Json(TicketPage { tickets, cursor, has_more }))
}

/// The path of the `area_id` a list is filtered by: 422 `unknown_area`, 403 outside the caller's scope.
pub fn area_filter(conn: &mut db::DbConn, who: &Principal, id: &str) -> Result<String, ApiError> {
    let area = areas::find(conn, id)?
        .ok_or_else(|| ApiError::new(Kind::Unprocessable, "unknown_area", "no such area").with_field("area_id"))?;
    who.require_scope(&area.path).map_err(|_| ApiError::out_of_scope("area_id"))?;
    Ok(area.path)
}

fn timeline_event(e: &EventRow, names: &HashMap<String, String>) -> TimelineEvent {
    TimelineEvent {
        event: TicketEventOut::from(e),
        sync_delay_s: sync_delay_s(e.occurred_at, e.received_at),
        user_name: names.get(&e.user_id).cloned(),
    }
}

/// The ticket as the caller may see it, with its events in time order; `None` if not visible.
async fn ticket_with_events(state: &AppState, who: Principal, id: String) -> Result<Option<TicketDetail>, ApiError> {
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        let ids = [id.clone()];
        let Some(row) = records::tickets_by_id(conn, &ids)?.remove(&id) else { return Ok(None) };
        if !who.sees_ticket(&access(&row)) {
            return Ok(None);
        }
        let events = records::events_of(conn, &ids)?;
        let who_ids: Vec<String> = events.iter().map(|e| e.user_id.clone()).collect();
        let names = users::display_names(conn, &who_ids)?;
        let book = policies::load(conn)?;
        let ticket = row.to_out(book.version(row.policy_version), now);
        Ok(Some(TicketDetail { ticket, events: events.iter().map(|e| timeline_event(e, &names)).collect() }))
    })
    .await
}

/// One ticket with its timeline: raw and corrected times, who, which device, when received.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TicketDetail), (status = 404, body = crate::error::ErrorBody)))]
#[get("/api/v1/tickets/{id}")]
pub async fn get_ticket(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<web::Json<TicketDetail>, ApiError> {
    who.authorize(Action::ReadTickets)?;
    ticket_with_events(&state, who, id.into_inner()).await?.map(web::Json).ok_or_else(|| ApiError::not_found("ticket"))
}

/// Add one event (the shape of a push's `ticket_events[]`; `ticket_id` may be left out). Same
/// rules as a push: it goes through the push writer as a one-event batch.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)), request_body(content = Object, content_type = "application/json"),
    responses((status = 201, description = "the event is stored; the ticket as it is now", body = TicketDetail), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody),
        (status = 422, description = "the event is invalid, e.g. `team_out_of_scope`: a `dispatched` team that does not serve the ticket", body = crate::error::ErrorBody)))]
#[post("/api/v1/tickets/{id}/events")]
pub async fn add_event(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::WriteTicketEvent)?;
    let id = id.into_inner();
    let mut event = body.0;
    let Some(fields) = event.as_object_mut() else {
        return Err(ApiError::bad_request("invalid_body", "the event must be a JSON object"));
    };
    match fields.get("ticket_id") {
        None => {
            fields.insert("ticket_id".into(), json!(id));
        }
        Some(t) if t.as_str() == Some(id.as_str()) => {}
        Some(_) => return Err(ApiError::invalid("ticket_id", "does not match the ticket in the path")),
    }
    if ticket_with_events(&state, who.clone(), id.clone()).await?.is_none() {
        return Err(ApiError::not_found("ticket"));
    }
    let now = state.clock.now();
    let request = PushRequest {
        protocol_version: 1,
        batch_id: uuid::Uuid::new_v4(),
        device_time: format_utc(now),
        device_boot_id: None,
        device_elapsed_ms: None,
        households: Vec::new(),
        visits: Vec::new(),
        tickets: Vec::new(),
        ticket_events: vec![event],
    };
    let answer = state.writer.submit(Job::new(request, now, now, who.clone())).await?;
    state.tracker_wake.notify_one();
    let result = answer.results.into_iter().next().ok_or_else(|| ApiError::internal(anyhow::anyhow!("no result")))?;
    let error = |kind: Kind| {
        // A rejected or retried result always carries its error; a bare one is the writer's bug.
        let Some(e) = result.error.clone() else {
            return ApiError::internal(anyhow::anyhow!("a {:?} push result without an error", result.status));
        };
        // The body is the event itself: name its field, not `ticket_events[0].…`.
        let field = e.field.map(|f| f.strip_prefix("ticket_events[0].").map_or(f.clone(), str::to_owned));
        let err = ApiError::new(kind, e.code.as_str(), e.message);
        match field {
            Some(f) => err.with_field(f),
            None => err,
        }
    };
    match result.status {
        RecordStatus::Applied | RecordStatus::Duplicate | RecordStatus::Merged => {}
        RecordStatus::Rejected => {
            let code = result.error.as_ref().map(|e| e.code);
            let kind = if matches!(code, Some(RecordErrorCode::Forbidden | RecordErrorCode::OutOfScope)) {
                Kind::Forbidden
            } else {
                Kind::Unprocessable
            };
            return Err(error(kind));
        }
        RecordStatus::Conflict => {
            return Err(
                ApiError::conflict("conflict", "an event with this id is stored with other content").with_field("id")
            )
        }
        RecordStatus::Retry => return Err(error(Kind::Unavailable).retry_after(5)),
    }
    let ticket = ticket_with_events(&state, who, id).await?.ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(HttpResponse::Created().json(ticket))
}
