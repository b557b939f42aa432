//! The 1-1-2-4 deadline rule as pure functions: a ticket's stage times are a fold of its events under
//! a versioned [`Policy`], so the server and an offline phone derive the same due times.
//!
//! * [`policy`]: the policy document (`GET /api/v1/policy`), its validation and window lookup.
//! * [`fold`]: [`project`], events + policy + `now` → per-stage start, due, completion and state.
//! * [`alerts`]: which alerts a projection schedules, and which fired `overdue` alerts to retract.
//!
//! ```
//! use fieldvisit_sync_protocol::deadline::*;
//!
//! let policy = Policy::default();
//! let ticket = TicketFacts {
//!     reported_at: 0,
//!     severity: Severity::Normal,
//!     category: "heating".into(),
//!     resolved_on_the_spot: false,
//! };
//! let classified = FoldEvent {
//!     id: uuid::Uuid::from_u128(1),
//!     event_type: EventType::Classified,
//!     occurred_at: 600_000, // 10 min after the report
//!     category: None,
//!     team_id: None,
//!     author: Author::Staff,
//!     satisfaction: None,
//! };
//! let p = project(&policy, &ticket, &[classified], 5_400_000); // looked at after 90 min
//! assert_eq!(p.stage_label(), "dispatch");
//! assert_eq!(p.stages[1].due_at, Some(4_200_000)); // 10 min + 1 h
//! assert_eq!(p.stages[1].state, StageState::Overdue);
//! // The server fired the due_soon and overdue alerts already (their `at` has passed).
//! let next = next_deadline_at(&schedule(&policy, &ticket, &p), |a| a.at <= 5_400_000);
//! assert_eq!(next, Some(4_200_000 + 3_600_000)); // first escalation, one hour past due
//! ```

pub mod alerts;
pub mod fold;
pub mod policy;

pub use alerts::{
    due, next_deadline_at, retractions, schedule, AlertKind, AlertOut, DayEnd, Due, ScheduledAlert, DAY_END_MAX_TICKETS,
};
pub use fold::{project, state_of, FoldEvent, Projection, StageView, TicketFacts};
pub use policy::{Escalation, Notify, Override, Policy, PolicyError, StageWindow};

use serde::{Deserialize, Serialize};

/// A stage of a ticket's handling. The declaration order is the order the stages run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Classify,
    Dispatch,
    OnSite,
    Close,
}

impl Stage {
    /// All stages, in the order they run.
    pub const ALL: [Stage; 4] = [Stage::Classify, Stage::Dispatch, Stage::OnSite, Stage::Close];

    /// The stage of a wire name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    Classified,
    Dispatched,
    OnSite,
    Resolved,
    Feedback,
    Reopened,
    Comment,
    /// **[1.1 addition]** The desk called the resident back (回访) after closing; carries
    /// `satisfaction`. Completes no stage; an `unsatisfied` one reopens a closed ticket when the
    /// policy says so (`reopen_on_unsatisfied_callback`).
    Callback,
}

impl EventType {
    /// Every event type, in declaration order.
    pub const ALL: [EventType; 8] = [
        EventType::Classified,
        EventType::Dispatched,
        EventType::OnSite,
        EventType::Resolved,
        EventType::Feedback,
        EventType::Reopened,
        EventType::Comment,
        EventType::Callback,
    ];

    /// The wire name (`on_site`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Classified => "classified",
            EventType::Dispatched => "dispatched",
            EventType::OnSite => "on_site",
            EventType::Resolved => "resolved",
            EventType::Feedback => "feedback",
            EventType::Reopened => "reopened",
            EventType::Comment => "comment",
            EventType::Callback => "callback",
        }
    }
}

/// Who wrote an event, as far as the fold cares: which stages it may complete. Kept with the
/// stored event (from the author's role when it was written), so a re-fold answers the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// Handlers, dispatchers, supervisors and admins (and events stored before authors were
    /// kept): every stage their event type completes.
    #[default]
    Staff,
    /// A volunteer: they may resolve their own ticket on the spot, but their feedback speaks for
    /// the household only, so it never meets classify, dispatch or on_site, nor do desk events.
    Volunteer,
}

impl Author {
    /// The author of an event written by `role`; `None` (unknown) counts as staff.
    pub fn of(role: Option<crate::org::Role>) -> Author {
        match role {
            Some(crate::org::Role::Volunteer) => Author::Volunteer,
            _ => Author::Staff,
        }
    }

    /// The last stage an event of `event` by this author completes (with every earlier one);
    /// `None`: it completes no stage itself (feedback still counts towards close).
    pub fn completes_through(self, event: EventType) -> Option<Stage> {
        use EventType::*;
        match (self, event) {
            (_, Comment | Reopened | Callback) => None,
            (Author::Volunteer, Classified | Dispatched | OnSite | Feedback) => None,
            (Author::Staff, Classified) => Some(Stage::Classify),
            (Author::Staff, Dispatched) => Some(Stage::Dispatch),
            (_, Resolved) | (Author::Staff, OnSite | Feedback) => Some(Stage::OnSite),
        }
    }
}

/// How bad a reported problem is; overrides may give severe tickets shorter windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    Urgent,
    Critical,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 3] = [Severity::Normal, Severity::Urgent, Severity::Critical];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Urgent => "urgent",
            Severity::Critical => "critical",
        }
    }
}

/// A stage's state as of some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
