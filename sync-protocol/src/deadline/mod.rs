//! The 1-1-2-4 deadline rule as pure functions: a ticket's stage times are a fold of its events under
//! a versioned [`Policy`], so the server and an offline phone derive the same due times.
//!
//! * [`policy`]: the policy document (`GET /api/v1/policy`), its validation and window lookup.
//! * [`fold`]: [`project`], events + policy + `now` → per-stage start, due, completion and state.
//! * [`alerts`]: which alerts a projection schedules, and which fired `overdue` alerts to retract.

pub mod alerts;
pub mod fold;
pub mod policy;

pub use alerts::{next_deadline_at, retractions, schedule, AlertKind, ScheduledAlert};
pub use fold::{project, FoldEvent, Projection, StageView, TicketFacts};
pub use policy::{Escalation, Notify, Override, Policy, PolicyError, StageWindow};

use serde::{Deserialize, Serialize};

/// A stage of a ticket's handling. The declaration order is the order the stages run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Classify,
    Dispatch,
    OnSite,
    Close,
}

impl Stage {
    /// All stages, in the order they run.
    pub const ALL: [Stage; 4] = [
        Stage::Classify,
        Stage::Dispatch,
        Stage::OnSite,
        Stage::Close,
    ];

    /// The wire name (`on_site`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Classify => "classify",
            Stage::Dispatch => "dispatch",
            Stage::OnSite => "on_site",
            Stage::Close => "close",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a ticket event records. Only these drive the fold; `comment` never changes timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Classified,
    Dispatched,
    OnSite,
    Resolved,
    Feedback,
    Reopened,
    Comment,
}

/// How bad a reported problem is; overrides may give severe tickets shorter windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    Urgent,
    Critical,
}

/// A stage's state as of some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// The previous stage is not complete yet; all times are null.
    NotStarted,
    /// Started, incomplete, before the due-soon share of its window.
    Pending,
    /// Started, incomplete, past the due-soon share but before the due time.
    DueSoon,
    /// Started, incomplete, at or past the due time.
    Overdue,
    /// Completed at or before the due time.
    Met,
    /// Completed after the due time.
    Late,
}
