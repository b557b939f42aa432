//! Building and running the application: pool, migrations, first-start bootstrap, HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpServer, ResponseError};
use futures_util::future::Either;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::accounts;
use crate::auth::keys;
use crate::auth::ratelimit::LoginLimits;
use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, DbLocation, DbPool};
use crate::deadlines::channels::delivery;
use crate::deadlines::channels::Delivery;
use crate::deadlines::{alert_bus, tracker};
use crate::error::{ApiError, Kind};
use crate::http::{methods, metrics, routes};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// The alert id the implicit webhook's outbox starts after (0 without `FIELDVISIT_WEBHOOK_URL`).
    webhook_start: i64,
}

impl Application {
    /// Connects, migrates and binds; `bind` with port 0 picks a free port (tests).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let location = settings.location().map_err(anyhow::Error::msg)?;
        let backend = location.backend();
        let pool_size = settings.db_pool_size.max(2);
        let keys = Keys::new(&keys::load_or_create(settings.jwt_secret.as_ref(), &settings.data_dir())?);
        let clock = Clock::default();
        let channels = Arc::new(Delivery::from_settings(&settings)?);
        let with_webhook = channels.has_implicit();
        let boot_settings = settings.clone();
        let now = clock.now();
        let (pool, webhook_start) = tokio::task::spawn_blocking(move || -> anyhow::Result<(DbPool, i64)> {
            let pool = db::pool::connect(&location, pool_size)?;
            let mut conn = pool.get()?;
            let applied = db::migrate::run_pending(&mut conn)?;
            if applied > 0 {
                tracing::info!(migrations = applied, "database migrated");
            }
            if let Some(password) = accounts::bootstrap(&mut conn, &boot_settings, now)? {
                // Printed once, on the console only: it is never stored in clear or logged again.
                eprintln!("first start: created user `admin` with password {password} (change it)");
            }
            // Read before anything can fire an alert: nothing stored from here on is missed.
            let webhook_start = if with_webhook { delivery::start_after(&mut conn)? } else { 0 };
            Ok((pool, webhook_start))
        })
        .await??;

        let login_limits = Arc::new(LoginLimits::new(settings.login_attempts_per_minute));
        let state = AppState {
            pool: pool.clone(),
            backend,
            keys: Arc::new(keys),
            clock,
            login_limits: login_limits.clone(),
            device_rates: Arc::new(crate::sync::rate::DeviceRates::new(
                settings.device_pushes_per_minute,
                settings.device_uploads_per_minute,
            )),
            writer: crate::sync::Writer::start(pool.clone(), backend, settings.wal_rewind_mib)?,
            settings: Arc::new(settings),
            tracker_wake: Arc::new(tokio::sync::Notify::new()),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            channels,
            // A subscriber that falls this far behind skips ahead (it is told, see routes/alerts.rs).
            alerts: tokio::sync::broadcast::channel(1024).0,
            ticket_index: Arc::default(),
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                login_limits.shrink();
            }
        });
        let listener = TcpListener::bind(&state.settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.bind))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone())?;
        tracing::info!(port, database = backend.name(), webhook = with_webhook, "fieldvisit listening");
        Ok(Self { port, server, state, webhook_start })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs the HTTP server, the deadline tracker, the channel delivery task and, on PostgreSQL,
    /// the alert bus listener (`alert_bus.rs`)
    /// side by side until SIGINT/SIGTERM (in-flight requests are given time to finish). If a task
    /// stops, that is an error: deadlines (or their delivery) would silently go unwatched, so the
    /// process stops and says why.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut tracker = tokio::spawn(tracker::run(self.state.clone()));
        let mut channels = tokio::spawn(delivery::run(self.state.clone(), self.webhook_start));
        let mut bus = match self.state.settings.location() {
            Ok(DbLocation::Postgres(url)) => Some(tokio::spawn(alert_bus::listen(self.state.clone(), url))),
            _ => None,
        };
        let bus_stopped = async {
            match bus.as_mut() {
                Some(task) => task.await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            served = self.server => served,
            stopped = &mut tracker => Err(task_stopped("the deadline tracker", stopped)),
            stopped = &mut channels => Err(task_stopped("the channel delivery task", stopped)),
            stopped = bus_stopped => Err(task_stopped("the alert bus listener", stopped)),
        };
        tracker.abort();
        channels.abort();
        if let Some(task) = &bus {
            task.abort();
        }
        result
    }
}

fn task_stopped(what: &str, stopped: Result<anyhow::Result<()>, tokio::task::JoinError>) -> std::io::Error {
    let why = match stopped {
        Ok(Ok(())) => "returned".to_owned(),
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => e.to_string(),
    };
    tracing::error!(error = %why, "{what} stopped");
    std::io::Error::other(format!("{what} stopped: {why}"))
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let metrics::Metrics { prometheus, unknown_methods } = metrics::build(state.pool.clone())?;
    let metrics_listener = match &state.settings.metrics_bind {
        Some(bind) => {
            Some(TcpListener::bind(bind).map_err(|e| anyhow::anyhow!("cannot listen for /metrics on {bind}: {e}"))?)
        }
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let data = web::Data::new(state);
    let routes_by_path = Arc::new(methods::Routes::from_spec());
    let server = HttpServer::new(move || {
        App::new()
            .wrap(ErrorHandlers::new().default_handler(json_error_fallback))
            .wrap(prometheus.clone())
            .wrap_fn({
                // Outside the per-route counters, whose method label would grow with every name sent.
                let (routes_by_path, unknown_methods) = (routes_by_path.clone(), unknown_methods.clone());
                move |req, srv| {
                    use actix_web::dev::Service as _;
                    let answer = if metrics::is_standard_method(req.method()) {
                        Either::Left(srv.call(req))
                    } else {
                        unknown_methods.inc();
                        let res = routes_by_path.answer(req.request());
                        Either::Right(ServiceResponse::new(req.into_parts().0, res))
                    };
                    async move {
                        match answer {
                            Either::Left(fut) => fut.await.map(ServiceResponse::map_into_boxed_body),
                            Either::Right(res) => Ok(res),
                        }
                    }
                }
            })
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service as _;
                let state = req.app_data::<web::Data<AppState>>().cloned();
                let is_metrics = req.path() == "/metrics";
                // With a metrics address, /metrics is served there and nothing else is.
                let misplaced = metrics_addr.is_some_and(|a| is_metrics != (req.app_config().local_addr() == a));
                let refused = misplaced
                    || is_metrics
                        && state.as_ref().and_then(|s| s.settings.metrics_token.as_ref()).is_some_and(|token| {
                            crate::auth::principal::bearer(req.request()).map_or(true, |t| t != token.expose())
                        });
                let fut = (!refused).then(|| srv.call(req));
                async move {
                    match fut {
                        Some(f) => f.await,
                        None if misplaced => Err(ApiError::not_found("resource").into()),
                        None => Err(ApiError::unauthorized("invalid_token", "/metrics needs its bearer token").into()),
                    }
                }
            })
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                use actix_web::HttpMessage as _;
                let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    if let Some(v) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), v);
                    }
                    Ok(res)
                }
            })
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    security_headers(res.headers_mut());
                    keep_event_streams_plain(res.headers_mut());
                    Ok(res)
                }
            })
            // Answers are gzip-compressed when the client asks (contract 1.1): a pull page shrinks
            // about tenfold on a village link. Outside the error handler, so rewritten errors too.
            .wrap(actix_web::middleware::Compress::default())
            .wrap(TracingLogger::default())
            .app_data(data.clone())
            // Handlers read bodies through extract::{Json, Body}, never web::Bytes/web::Json/String:
            // actix inflates a whole gzip chunk before its own limit is checked. This limit only
            // bounds such a use should one slip in.
            .app_data(web::PayloadConfig::new(crate::http::extract::JSON_MAX_BYTES))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("invalid_query", e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::new(Kind::NotFound, "not_found", e.to_string()).into()),
            )
            .configure(routes::configure)
            .default_service(web::to({
                let routes_by_path = routes_by_path.clone();
                move |req: actix_web::HttpRequest| {
                    let routes_by_path = routes_by_path.clone();
                    async move { routes_by_path.answer(&req) }
                }
            }))
    })
    // Answers go out as they are written: with Nagle's algorithm a response written in parts (a
    // gzip stream, a header then a body) waited for the client's delayed ACK, ~40 ms a request.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        }
    })
    // A client that closes its end is gone: end its response at once. The default (half-closed
    // connections allowed) kept a closed alert stream, and its slot of five, until a keep-alive
    // write failed up to 30 s later, so a desk that reloaded a few times got 429s. No phone or
    // browser half-closes a request it still wants the answer to.
    .h1_allow_half_closed(false)
    .listen(listener)?;
    let server = match metrics_listener {
        Some(l) => server.listen(l)?,
        None => server,
    };
    Ok(server.shutdown_timeout(30).run())
}

/// The dashboard's script policy (no inline scripts or styles, nothing from elsewhere, no framing)
/// and the usual hardening, on every response. Responses that set no cache policy are not stored:
/// most are authenticated data.
fn security_headers(headers: &mut header::HeaderMap) {
    const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
        connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Server-sent events go out uncompressed: each event is a few hundred bytes that must leave at
/// once, and a compressor (or a proxy that sees `Content-Encoding`) may hold them back.
fn keep_event_streams_plain(headers: &mut header::HeaderMap) {
    let is_stream = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if is_stream && !headers.contains_key(header::CONTENT_ENCODING) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("identity"));
    }
}

/// Every error answers in the contract's JSON shape, including the framework's own 404/405/413.
fn json_error_fallback<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let kind = Kind::from_status(status);
    let (code, message) = match kind {
        Kind::NotFound => ("not_found", "no such resource".to_owned()),
        Kind::MethodNotAllowed => ("method_not_allowed", "method not allowed on this resource".to_owned()),
        Kind::PayloadTooLarge => ("body_too_large", "the request body is larger than allowed".to_owned()),
        Kind::Internal | Kind::Unavailable => ("internal_error", "internal server error".to_owned()),
        _ => ("bad_request", res.response().error().map(|e| e.to_string()).unwrap_or_default()),
    };
    let (req, _) = res.into_parts();
    let body = ApiError::new(kind, code, message).error_response();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, body).map_into_right_body()))
}
