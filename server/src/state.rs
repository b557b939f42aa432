//! What every handler can reach: the pool, the backend, settings, signing keys, clock and limits.

use std::sync::Arc;

use crate::auth::ratelimit::LoginLimits;
use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Settings;
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
    /// The group-commit write path of pushes.
    pub writer: Writer,
}
