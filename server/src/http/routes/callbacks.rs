//! The desk's callback list (回访): closed tickets whose resident is still to be called back,
//! with whom to call. The callback itself is a `callback` ticket event
//! (`POST /api/v1/tickets/{id}/events`).

use actix_web::{get, web};
use fieldvisit_sync_protocol::deadline::EventType;
use fieldvisit_sync_protocol::time::format_utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{Action, Principal};
use crate::db::records::{self, EventRow};
use crate::db::{self, callbacks, policies};
use crate::error::ApiError;
use crate::http::keyset;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// Only tickets of this area (within the caller's).
    #[param(inline, value_type = Option<super::params::UuidText>)]
    area_id: Option<String>,
    /// `true`: also the tickets still inside the policy's `callback_within_h`.
    pending: Option<bool>,
    /// 1 to 500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The last page's `cursor`.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackPage {
    /// The policy's window: a resident should be called back this many hours after the close.
    callback_within_h: i64,
    /// Tickets (as in `GET /api/v1/tickets`) with `closed_at`, `callback_due_at`,
    /// `callback_overdue_s`, `household` (`id`, `address`, `head_name`, `phone`) and
    /// `feedback_satisfaction` (the last feedback's, or null).
    #[schema(value_type = Vec<Object>)]
    tickets: Vec<Value>,
    cursor: Option<String>,
    has_more: bool,
}

/// Closed tickets in scope whose resident has not been called back since the close, oldest close
/// first: by default those past the policy's `callback_within_h`, with `pending=true` all.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(CallbackQuery),
    responses((status = 200, body = CallbackPage), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, description = "`area_id` names no area", body = crate::error::ErrorBody)))]
#[get("/api/v1/callbacks")]
pub async fn list_callbacks(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<CallbackQuery>,
) -> Result<web::Json<CallbackPage>, ApiError> {
    who.authorize(Action::CallBack)?;
    let q = q.into_inner();
    let limit = super::params::page_limit(q.limit, 100, 500)?;
    let after = q.cursor.as_deref().map(keyset::decode).transpose()?;
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        let scope = match &q.area_id {
            Some(id) => super::tickets::area_filter(conn, &who, id)?,
            None => who.area_path.clone(),
        };
        let book = policies::load(conn)?;
        let within_ms = book.latest_for(&scope).callback_within_h.saturating_mul(3_600_000);
        let closed_by = if q.pending.unwrap_or(false) { i64::MAX } else { now.saturating_sub(within_ms) };
        let mut rows = callbacks::awaiting(conn, &scope, closed_by, after.as_ref(), limit + 1)?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let household_ids: Vec<String> = rows.iter().map(|r| r.household_id.clone()).collect();
        let households = records::households_by_id(conn, &household_ids)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let events = records::events_of(conn, &ids)?;
        let cursor = rows.last().map(|r| keyset::encode(r.closed_at.unwrap_or_default(), &r.id));
        let tickets = rows
            .iter()
            .map(|r| {
                let closed_at = r.closed_at.unwrap_or_default();
                let due_at = closed_at.saturating_add(within_ms);
                let mut v = serde_json::to_value(r.to_out(book.version(r.policy_version), now)).unwrap_or(Value::Null);
                v["closed_at"] = json!(format_utc(closed_at));
                v["callback_due_at"] = json!(format_utc(due_at));
                v["callback_overdue_s"] = json!(now.saturating_sub(due_at).max(0) / 1000);
                v["household"] = households.get(&r.household_id).map_or(
                    Value::Null,
                    |h| json!({"id": h.id, "address": h.address, "head_name": h.head_name, "phone": h.phone}),
                );
                v["feedback_satisfaction"] = json!(last_feedback(&events, &r.id));
                v
            })
            .collect();
        Ok(web::Json(CallbackPage {
            callback_within_h: within_ms / 3_600_000,
            tickets,
            cursor: cursor.filter(|_| has_more),
            has_more,
        }))
    })
    .await
}

/// The satisfaction of the ticket's latest feedback that recorded one.
fn last_feedback<'a>(events: &'a [EventRow], ticket_id: &str) -> Option<&'a str> {
    events
        .iter()
        .filter(|e| e.ticket_id == ticket_id && e.event_type() == EventType::Feedback)
        .filter_map(|e| e.satisfaction.map(|s| (e.occurred_at, s.0.as_str())))
        .max_by_key(|(at, _)| *at)
        .map(|(_, s)| s)
}
