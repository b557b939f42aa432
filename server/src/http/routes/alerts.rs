//! Deadline alerts for the desk: the stored list (for clients that were not connected) and the
//! live Server-Sent Events stream fed by the tracker (`tracker.rs`). Both are scoped to the
//! caller's area.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use fieldvisit_sync_protocol::deadline::AlertOut;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::{interval_at, Instant, Interval};

use crate::auth::principal::live_session;
use crate::auth::{Action, Principal};
use crate::db::alerts::FiredAlert;
use crate::db::{self, alerts, scope};
use crate::error::{ApiError, Kind};
use crate::http::keyset;
use crate::state::AppState;

/// Proxies drop idle connections; a comment this often keeps the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertQuery {
    /// The last page's `cursor`; one this server did not issue → 422 `invalid_cursor`.
    cursor: Option<String>,
    /// 1 to 1000.
    #[param(minimum = 1, maximum = 1000)]
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

/// Fired alerts in the order fired: within the caller's area, or for a handler those of tickets
/// dispatched to their team (as the stream).
#[utoipa::path(tag = "deadlines", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, description = "a cursor this server did not issue", body = crate::error::ErrorBody)))]
#[get("/api/v1/alerts")]
pub async fn list_alerts(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<AlertQuery>,
) -> Result<web::Json<AlertPage>, ApiError> {
    let watch = Watch::for_caller(&who)?;
    let limit = super::params::page_limit(q.limit, 100, 1000)?;
    let after = match &q.cursor {
        Some(c) => keyset::decode(c)?.0,
        None => 0,
    };
    let horizon = state.writer.horizon().clone();
    let mut rows = db::run(&state.pool, move |c| {
        let (area, team) = match &watch {
            Watch::Area(path) => (Some(path.as_str()), None),
            Watch::Team(team) => (None, Some(team.as_str())),
        };
        Ok(alerts::after_for(c, area, team, after, limit + 1, &horizon)?)
    })
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let cursor = rows.last().map(|r| keyset::encode(r.id, "")).or_else(|| q.cursor.clone());
    Ok(web::Json(AlertPage { alerts: rows.iter().map(AlertOut::from).collect(), cursor, has_more }))
}

/// Live alerts as Server-Sent Events: within the caller's area, or for a handler those of tickets
/// dispatched to their team. The event name is the alert's `type`, the data its JSON, the SSE `id`
/// its id. A reconnecting client that sends `Last-Event-ID` first gets what it missed. A
/// `: keep-alive` comment comes every 15 s. The stream ends within a few seconds of its session
/// ending (logout, revoked device, deactivated user, new password) or its access token expiring;
/// a user holds at most 5 streams at once.
#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream"), (status = 403, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
#[get("/api/v1/alerts/stream")]
pub async fn alert_stream(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let watch = Watch::for_caller(&who)?;
    let slot = StreamSlot::take(&who.user_id)?;
    // Subscribe before reading the missed ones, so nothing falls between the two.
    let rx = state.alerts.subscribe();
    let last_seen =
        req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let mut first = String::from(": connected\n\n");
    let mut replayed_to = 0;
    if let Some(after) = last_seen {
        let area = match &watch {
            Watch::Area(path) => Some(path.clone()),
            Watch::Team(_) => None,
        };
        let horizon = state.writer.horizon().clone();
        let missed =
            db::run(&state.pool, move |c| Ok(alerts::after(c, area.as_deref(), after, 1000, &horizon)?)).await?;
        for r in missed.iter().filter(|r| watch.covers(&r.area_path, r.team_id.as_deref())) {
            first.push_str(&frame(&AlertOut::from(r)));
            replayed_to = r.id;
        }
    }
    let feed = Feed {
        rx,
        tick: interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
        recheck: interval_at(Instant::now() + SESSION_RECHECK, SESSION_RECHECK),
        watch,
        replayed_to,
        session: SessionWatch { state: state.clone(), session_id: who.session_id, expires_at: who.expires_at },
        ended: false,
        _slot: slot,
    };
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

/// How often an open stream checks that its session still stands (the contract allows 5 s).
const SESSION_RECHECK: Duration = Duration::from_secs(2);

/// Which alerts a stream carries.
enum Watch {
    /// Everything within the area at this path (dispatchers, supervisors, admins).
    Area(String),
    /// Alerts of tickets dispatched to this team (a handler).
    Team(String),
}

impl Watch {
    fn for_caller(who: &Principal) -> Result<Self, ApiError> {
        if who.authorize(Action::WatchTeamAlerts).is_ok() {
            let team =
                who.team_id.clone().ok_or_else(|| ApiError::forbidden("a handler without a team has no alerts"))?;
            return Ok(Watch::Team(team));
        }
        who.authorize(Action::WatchAlerts)?;
        Ok(Watch::Area(who.area_path.clone()))
    }

    fn covers(&self, area_path: &str, team_id: Option<&str>) -> bool {
        match self {
            Watch::Area(scope) => scope::is_within(area_path, scope),
            Watch::Team(team) => team_id == Some(team.as_str()),
        }
    }
}

/// The session a stream was opened with; it is checked every [`SESSION_RECHECK`].
struct SessionWatch {
    state: web::Data<AppState>,
    session_id: String,
    /// The access token's expiry, in Unix seconds.
    expires_at: i64,
}

impl SessionWatch {
    /// Why the stream must end, if it must.
    async fn ended(&self) -> Option<String> {
        let now = self.state.clock.now();
        if now / 1000 >= self.expires_at {
            return Some("token_expired".into());
        }
        let sid = self.session_id.clone();
        match db::run(&self.state.pool, move |c| live_session(c, &sid, None, now).map(drop)).await {
            Ok(()) => None,
            Err(e) if e.kind == Kind::Unauthorized => Some(e.code.into_owned()),
            // The database is briefly away: keep the stream, ask again at the next check.
            Err(_) => None,
        }
    }
}

/// Streams a user holds open, by user id: each takes a slot, freed when the stream is dropped.
static OPEN_STREAMS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

/// At most this many open streams per user (a desk has a few screens; 2,000 were seen).
const STREAMS_PER_USER: usize = 5;

struct StreamSlot(String);

impl StreamSlot {
    fn take(user_id: &str) -> Result<Self, ApiError> {
        let mut open = OPEN_STREAMS.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user_id.to_owned()).or_default();
        if *n >= STREAMS_PER_USER {
            return Err(ApiError::new(
                Kind::TooManyRequests,
                "too_many_streams",
                format!("at most {STREAMS_PER_USER} alert streams per user; close one first"),
            )
            .retry_after(15));
        }
        *n += 1;
        Ok(StreamSlot(user_id.to_owned()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = OPEN_STREAMS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}

struct Feed {
    rx: Receiver<Arc<FiredAlert>>,
    tick: Interval,
    recheck: Interval,
    watch: Watch,
    /// Alerts up to this id were sent from the table already.
    replayed_to: i64,
    session: SessionWatch,
    /// The closing comment was sent; the next call ends the stream.
    ended: bool,
    _slot: StreamSlot,
}

impl Feed {
    /// The next chunk to send; `None` ends the stream (its session ended, or the server is
    /// shutting down).
    async fn next(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                _ = self.tick.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
                _ = self.recheck.tick() => if let Some(code) = self.session.ended().await {
                    self.ended = true;
                    return Some(Bytes::from(format!(": session ended ({code})\n\n")));
                },
                msg = self.rx.recv() => match msg {
                    Ok(a) if a.alert.id > self.replayed_to && self.watch.covers(&a.area_path, a.team_id.as_deref()) => {
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
