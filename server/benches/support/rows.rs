//! Rows for seeding benchmarks straight through diesel (shared by `benches/deadlines.rs` and
//! `examples/ingest_limit.rs` with `#[path]`): a household and a new ticket folded under `policy`.

use std::collections::HashSet;

use fieldvisit_server::db::records::{HouseholdRow, TicketRow};
use fieldvisit_server::db::typed::{Enum, Json};
use fieldvisit_server::sync::apply::set_projection;
use fieldvisit_sync_protocol::deadline::{self, Policy, Severity, TicketFacts};
use fieldvisit_sync_protocol::sync::pull::TicketStatus;
use fieldvisit_sync_protocol::sync::records::Heating;
use uuid::Uuid;

/// Where seeded rows live: an area's id, materialized path and county id.
pub struct Place<'a> {
    pub area_id: &'a str,
    pub area_path: &'a str,
    pub county_id: &'a str,
}

pub fn household(at: &Place<'_>, address: String, now: i64) -> HouseholdRow {
    HouseholdRow {
        id: Uuid::new_v4().to_string(),
        area_id: at.area_id.to_owned(),
        area_path: at.area_path.to_owned(),
        county_id: at.county_id.to_owned(),
        address,
        head_name: "住户".into(),
        phone: None,
        heating: Enum(Heating::Central),
        tags: Json(Vec::new()),
        version: 1,
        updated_at: now,
        received_at: now,
        created_by: "bench".into(),
        seq: 0,
        dedup_key: None,
    }
}

/// A ticket reported at `reported_at`, received at `received_at`, folded as of `now`.
pub fn ticket(
    at: &Place<'_>,
    household_id: String,
    (reported_at, received_at, now): (i64, i64, i64),
    on_the_spot: bool,
    policy: &Policy,
) -> TicketRow {
    let facts = TicketFacts {
        reported_at,
        severity: Severity::Normal,
        category: "heating".into(),
        resolved_on_the_spot: on_the_spot,
    };
    let mut row = TicketRow {
        id: Uuid::new_v4().to_string(),
        household_id,
        visit_id: None,
        area_id: at.area_id.to_owned(),
        area_path: at.area_path.to_owned(),
        county_id: at.county_id.to_owned(),
        category: "heating".into(),
        severity: Enum(Severity::Normal),
        description: "暖气不热".into(),
        reported_at,
        device_reported_at: reported_at,
        received_at,
        clock_verified: false,
        resolved_on_the_spot: on_the_spot,
        photos: Json(Vec::new()),
        reporter_id: "bench".into(),
        device_id: "bench".into(),
        content_hash: String::new(),
        policy_version: policy.version,
        // The fold's columns, set by `set_projection` below.
        status: Enum(TicketStatus::Open),
        stage: String::new(),
        team_id: None,
        effective_category: String::new(),
        projection: Json(deadline::project(policy, &facts, &[], now)),
        current_due_at: None,
        next_deadline_at: None,
        closed_at: None,
        last_event_received_at: None,
        version: 1,
        seq: 0,
        stage_times: String::new(),
        latest_satisfaction: None,
    };
    set_projection(&mut row, policy, &[], now, &HashSet::new());
    row
}
