//! What every handler can reach: the pool, the backend and the settings.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::{Backend, DbPool};

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub backend: Backend,
    pub settings: Arc<Settings>,
}
