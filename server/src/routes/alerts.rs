//! Deadline alerts for the desk: the stored list (for clients that were not connected) and the
//! live Server-Sent Events stream fed by the tracker (`tracker.rs`). Both are scoped to the
//! caller's area.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use fieldvisit_sync_protocol::deadline::AlertOut;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::{interval_at, Instant, Interval};

use crate::auth::{Action, Principal};
use crate::db::{self, alerts, scope};
use crate::error::ApiError;
use crate::keyset;
use crate::state::AppState;
use crate::tracker::FiredAlert;

/// Proxies drop idle connections; a comment this often keeps the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<AlertOut>,
    /// Pass back to get the alerts fired after this page; unchanged when the page is empty.
    cursor: Option<String>,
    has_more: bool,
}

/// Fired alerts within the caller's area, in the order fired.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/alerts")]
pub async fn list_alerts(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<AlertQuery>,
) -> Result<web::Json<AlertPage>, ApiError> {
    who.authorize(Action::WatchAlerts)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be 1..=1000").with_field("limit"));
    }
    let after = match &q.cursor {
        Some(c) => keyset::decode(c)?.0,
        None => 0,
    };
    let horizon = state.writer.horizon().clone();
    let mut rows =
        db::run(&state.pool, move |c| Ok(alerts::after(c, Some(&who.area_path), after, limit + 1, &horizon)?)).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let cursor = rows.last().map(|r| keyset::encode(r.id, "")).or_else(|| q.cursor.clone());
    Ok(web::Json(AlertPage { alerts: rows.iter().map(AlertOut::from).collect(), cursor, has_more }))
}

/// Live alerts within the caller's area as Server-Sent Events: the event name is the alert's
/// `type`, the data its JSON, the SSE `id` its id. A reconnecting client that sends
/// `Last-Event-ID` first gets what it missed. A `: keep-alive` comment comes every 15 s.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream"), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/alerts/stream")]
pub async fn alert_stream(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::WatchAlerts)?;
    // Subscribe before reading the missed ones, so nothing falls between the two.
    let rx = state.alerts.subscribe();
    let last_seen =
        req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let mut first = String::from(": connected\n\n");
    let mut replayed_to = 0;
    if let Some(after) = last_seen {
        let scope_path = who.area_path.clone();
        let horizon = state.writer.horizon().clone();
        let missed =
            db::run(&state.pool, move |c| Ok(alerts::after(c, Some(&scope_path), after, 1000, &horizon)?)).await?;
        for r in &missed {
            first.push_str(&frame(&AlertOut::from(r)));
            replayed_to = r.id;
        }
    }
    let feed =
        Feed { rx, tick: interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE), scope: who.area_path, replayed_to };
    let first = futures_util::stream::once(async move { Ok::<_, Infallible>(Bytes::from(first)) });
    let live = futures_util::stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next().await?;
        Some((Ok::<_, Infallible>(chunk), feed))
    });
    use futures_util::StreamExt as _;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(first.chain(live)))
}

struct Feed {
    rx: Receiver<Arc<FiredAlert>>,
    tick: Interval,
    scope: String,
    /// Alerts up to this id were sent from the table already.
    replayed_to: i64,
}

impl Feed {
    /// The next chunk to send; `None` ends the stream (the server is shutting down).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            tokio::select! {
                _ = self.tick.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
                msg = self.rx.recv() => match msg {
                    Ok(a) if a.alert.id > self.replayed_to && scope::is_within(&a.area_path, &self.scope) => {
                        return Some(Bytes::from(frame(&a.alert)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        // Too slow a reader: say so, so it can catch up from the list.
                        return Some(Bytes::from(format!(": lagged, {n} alerts skipped; see GET /api/v1/alerts\n\n")));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn frame(a: &AlertOut) -> String {
    let data = serde_json::to_string(a).unwrap_or_default();
    format!("id: {}\nevent: {}\ndata: {data}\n\n", a.id, a.kind.as_str())
}
