//! What every handler can reach: the pool, the backend, settings, signing keys, clock and limits.

use std::sync::Arc;

use tokio::sync::{broadcast, Notify};

use crate::auth::ratelimit::LoginLimits;
use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::alerts::FiredAlert;
use crate::db::{Backend, DbPool};
use crate::sync::Writer;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub backend: Backend,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub clock: Clock,
    pub login_limits: Arc<LoginLimits>,
    /// Per-device rates of pushes and photo uploads.
    pub device_rates: Arc<crate::sync::rate::DeviceRates>,
    /// The group-commit write path of pushes.
    pub writer: Writer,
    /// Wakes the deadline tracker after a commit that may have changed deadlines or stored
    /// retractions (a push), so alerts never wait for its next timer.
    pub tracker_wake: Arc<Notify>,
    /// Wakes the channel delivery task (`channels/delivery.rs`) when the tracker sees new alerts
    /// committed.
    pub webhook_wake: Arc<Notify>,
    /// The channels' HTTP client, implicit webhook and link base.
    pub channels: Arc<crate::deadlines::channels::Delivery>,
    /// Alerts as the tracker sees them committed, for the SSE stream (`routes/alerts.rs`).
    pub alerts: broadcast::Sender<Arc<FiredAlert>>,
    /// Every ticket's report facts, brought up to date before each compliance report.
    pub ticket_index: Arc<crate::reports::ticket_index::TicketIndex>,
}
