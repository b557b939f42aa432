//! What the server sends: `GET /api/v1/sync/pull` and the ticket and household endpoints.
//!
//! Field names are the contract's. Times are strings in UTC with milliseconds
//! ([`format_utc`]); absent optional values are sent as `null`, so every object of a type has
//! the same keys. Corrected times carry the contract's names (`visited_at`, ...), raw phone
//! times the `device_` prefix.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::records::{Heating, HouseholdFields, Location, Satisfaction};
use crate::deadline::{EventType, Projection, Severity, Stage, StageState};
use crate::org::{Area, Team};
use crate::time::{format_utc, Millis};

/// A household as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdOut {
    pub id: Uuid,
    pub area_id: Uuid,
    pub address: String,
    pub head_name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub phone: Option<String>,
    pub heating: Heating,
    pub tags: Vec<String>,
    pub version: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub updated_at: String,
    /// **[1.1]** In pulls: the latest visit's corrected time (null if never visited) and the
    /// number of visits, as of the page that carries the household; later visits arrive as visits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_visited_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_count: Option<i64>,
}

impl HouseholdOut {
    pub fn new(id: Uuid, area_id: Uuid, fields: HouseholdFields, version: i64, updated_at: Millis) -> Self {
        let HouseholdFields { address, head_name, phone, heating, tags } = fields;
        HouseholdOut {
            id,
            area_id,
            address,
            head_name,
            phone,
            heating,
            tags,
            version,
            updated_at: format_utc(updated_at),
            last_visited_at: None,
            visit_count: None,
        }
    }

    /// The mergeable part, for [`merge_household`](super::merge::merge_household).
    pub fn fields(&self) -> HouseholdFields {
        HouseholdFields {
            address: self.address.clone(),
            head_name: self.head_name.clone(),
            phone: self.phone.clone(),
            heating: self.heating,
            tags: self.tags.clone(),
        }
    }
}

/// A stored visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitOut {
    pub id: Uuid,
    pub household_id: Uuid,
    pub area_id: Uuid,
    /// Corrected time.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub visited_at: String,
    /// The phone's raw clock reading.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub device_visited_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub received_at: String,
    pub clock_verified: bool,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub indoor_temp_c: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub checklist: Map<String, Value>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub service_card_given: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub notes: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub location: Option<Location>,
    pub photos: Vec<String>,
    pub volunteer_id: String,
    pub device_id: String,
    /// **[1.1]** The template version the answers were filled from, when the visit named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist_template: Option<crate::sync::records::TemplateRef>,
}

/// A stored ticket event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketEventOut {
    pub id: Uuid,
    pub ticket_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Corrected time.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub occurred_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub device_occurred_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub received_at: String,
    pub clock_verified: bool,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub category: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub team_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub note: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub satisfaction: Option<Satisfaction>,
    pub user_id: String,
    pub device_id: String,
}

/// One stage of one cycle of a ticket; a stage not yet started has null times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageOut {
    pub name: Stage,
    pub cycle: u32,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub started_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub due_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub completed_at: Option<String>,
    pub state: StageState,
}

/// `open` until the last cycle's close stage completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TicketStatus {
    Open,
    Closed,
}

impl TicketStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Closed => "closed",
        }
    }
}

/// A ticket's current stage, or `done` once it is closed: the schema of `TicketOut::stage`
/// (`Projection::stage_label`).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CurrentStage {
    Classify,
    Dispatch,
    OnSite,
    Close,
    Done,
}

/// A ticket with its derived deadline state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketOut {
    pub id: Uuid,
    pub household_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub visit_id: Option<Uuid>,
    pub area_id: Uuid,
    pub category: String,
    pub severity: Severity,
    pub description: String,
    /// Corrected time.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub reported_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub device_reported_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub received_at: String,
    pub status: TicketStatus,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub team_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(value_type = CurrentStage))]
    pub stage: String,
    pub policy_version: i32,
    pub stages: Vec<StageOut>,
    pub overdue: bool,
    /// How long past due the current stage is; 0 when not overdue.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub overdue_by_s: i64,
    /// Receipt time − corrected report time, in seconds (0 if received "before" it).
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub sync_delay_s: i64,
    pub version: i64,
    pub photos: Vec<String>,
    pub resolved_on_the_spot: bool,
}

impl TicketOut {
    /// Sets the fields derived from the deadline fold: `status`, `stage`, `stages`, `overdue`,
    /// `overdue_by_s`. (`team_id` and `category` stay the caller's: the projection's are the
    /// latest dispatched team and classified category, which the server may store as well.)
    pub fn apply_projection(&mut self, projection: &Projection) {
        self.status = if projection.closed { TicketStatus::Closed } else { TicketStatus::Open };
        self.stage = projection.stage_label().to_owned();
        self.stages = ticket_out_stages(projection);
        self.overdue = projection.overdue_by_ms.is_some();
        self.overdue_by_s = projection.overdue_by_ms.map_or(0, |ms| ms.max(0) / 1000);
    }
}

/// The contract's `stages` list from a fold's projection: every stage of every cycle, in order.
pub fn ticket_out_stages(projection: &Projection) -> Vec<StageOut> {
    projection
        .stages
        .iter()
        .map(|s| StageOut {
            name: s.name,
            cycle: s.cycle,
            started_at: s.started_at.map(format_utc),
            due_at: s.due_at.map(format_utc),
            completed_at: s.completed_at.map(format_utc),
            state: s.state,
        })
        .collect()
}

/// One ticket with its timeline: `GET /api/v1/tickets/{id}`, and the answer to adding an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketOut,
    /// In the order they happened.
    pub events: Vec<TimelineEvent>,
}

/// An event on a ticket's timeline: the stored event, when the server heard of it and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEvent {
    #[serde(flatten)]
    pub event: TicketEventOut,
    /// Receipt time − corrected time, in whole seconds, never negative.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub sync_delay_s: i64,
    /// The display name of `user_id`; null if no such user is stored.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_name: Option<String>,
}

/// One household with its visits and tickets: `GET /api/v1/households/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdDetail {
    #[serde(flatten)]
    pub household: HouseholdOut,
    /// Empty for a handler who sees the household only through their team's tickets.
    pub visits: Vec<VisitOut>,
    pub tickets: Vec<TicketOut>,
}

/// The ticket's `sync_delay_s`: how long after it happened (corrected time) the server heard of
/// it, in whole seconds, never negative.
pub fn sync_delay_s(happened_at: Millis, received_at: Millis) -> i64 {
    received_at.saturating_sub(happened_at).max(0) / 1000
}

/// The kinds of record a pull may list under `removed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RemovedType {
    Household,
    Visit,
    Ticket,
    TicketEvent,
    Area,
    Team,
}

/// A record that left the user's scope since the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    #[serde(rename = "type")]
    pub record_type: RemovedType,
    pub id: Uuid,
}

/// The pull answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Opaque; pass it back to get what changed since.
    pub cursor: String,
    pub has_more: bool,
    pub server_time: String,
    pub households: Vec<HouseholdOut>,
    pub visits: Vec<VisitOut>,
    pub tickets: Vec<TicketOut>,
    pub ticket_events: Vec<TicketEventOut>,
    pub areas: Vec<Area>,
    pub teams: Vec<Team>,
    /// The deadline policy in force (`GET /api/v1/policy`'s body); `null` when unchanged since
    /// the cursor.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub policy: Option<Value>,
    pub removed: Vec<Removed>,
    /// Checklist templates (contract 1.1): the county's active ones on a first pull, after a
    /// cursor the ones changed since.
    #[serde(default)]
    pub checklist_templates: Vec<crate::checklist::Template>,
}
