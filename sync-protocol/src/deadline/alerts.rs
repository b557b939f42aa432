//! Which alerts a projection calls for, and when. Pure, so the server only has to remember which
//! ones it already fired (unique by ticket, stage, cycle, kind, level).

use serde::{Deserialize, Serialize};

use super::{Policy, Projection, Stage, StageState, TicketFacts};
use crate::time::Millis;

/// The alert types of the contract's alert stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    DueSoon,
    Overdue,
    Escalated,
    /// Follows an `overdue` that late-synced data proved wrong; see [`retractions`].
    Retracted,
    /// **[1.1 addition]** The policy's `day_end` came (事不过夜) and an area still has open
    /// tickets: one per area and local day, about the area, not one ticket (see [`DayEnd`]).
    DayEnd,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] =
        [AlertKind::DueSoon, AlertKind::Overdue, AlertKind::Escalated, AlertKind::Retracted, AlertKind::DayEnd];

    /// The wire name, also the SSE event name (`due_soon`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::DueSoon => "due_soon",
            AlertKind::Overdue => "overdue",
            AlertKind::Escalated => "escalated",
            AlertKind::Retracted => "retracted",
            AlertKind::DayEnd => "day_end",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A fired alert as `GET /api/v1/alerts` lists it and the SSE stream sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOut {
    /// Increases in the order alerts were fired; the list's cursor follows it.
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: AlertKind,
    /// `null` on a `day_end` alert, which is about an area's open tickets (`day_end`).
    pub ticket_id: Option<uuid::Uuid>,
    /// `close` on a `day_end` alert: the stage its tickets have not finished.
    pub stage: Stage,
    pub cycle: u32,
    pub level: u32,
    pub due_at: String,
    /// When the alert was due to fire (its schedule time); for `retracted`, when the data arrived.
    pub at: String,
    /// When the server stored it: later than `at` when the tracker caught up after downtime.
    pub fired_at: String,
    /// Only on a `day_end` alert: the area and its tickets still open at the day's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_end: Option<DayEnd>,
}

/// What a `day_end` alert says: the tickets of one area still open at the policy's `day_end`
/// of one local day. `due_at` and `at` of the alert are that instant; `cycle` and `level` are 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayEnd {
    pub area_id: uuid::Uuid,
    pub area_name: String,
    /// The local day (`YYYY-MM-DD`, policy timezone).
    pub date: String,
    /// How many tickets of the area were open.
    pub open: u32,
    /// The open tickets, oldest report first; at most [`DAY_END_MAX_TICKETS`] of them.
    pub ticket_ids: Vec<uuid::Uuid>,
}

/// The most ticket ids a `day_end` alert lists (`open` still counts them all): enough for a
/// desk to work through, small enough for a group chat message and the SSE frame.
pub const DAY_END_MAX_TICKETS: usize = 200;

/// An alert a stage will call for at `at`, unless it completes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledAlert {
    pub kind: AlertKind,
    /// 0 for `due_soon` and `overdue`; `i` for the escalation `policy.escalation[i - 1]`.
    pub level: u32,
    pub stage: Stage,
    pub cycle: u32,
    pub due_at: Millis,
    pub at: Millis,
}

/// The alerts of every started, incomplete stage: `due_soon`, `overdue`, then one `escalated`
/// per escalation level, sorted by `at` (ties by cycle, stage, kind, level).
///
/// Independent of `now`: the caller fires those with `at <= now`. The window is read from the
/// view (`due_at - started_at`, fixed when the stage started), so `ticket` is not needed today;
/// it is taken so rules that depend on the ticket can be added without changing callers.
pub fn schedule(policy: &Policy, ticket: &TicketFacts, projection: &Projection) -> Vec<ScheduledAlert> {
    let _ = ticket;
    let mut out = Vec::new();
    for v in &projection.stages {
        let (Some(started_at), Some(due_at), None) = (v.started_at, v.due_at, v.completed_at) else {
            continue;
        };
        let alert = |kind, level, at| ScheduledAlert { kind, level, stage: v.name, cycle: v.cycle, due_at, at };
        out.push(alert(AlertKind::DueSoon, 0, policy.due_soon_at(started_at, due_at)));
        out.push(alert(AlertKind::Overdue, 0, due_at));
        for (level, e) in (1u32..).zip(&policy.escalation) {
            let at = due_at.saturating_add(e.after_overdue_s.saturating_mul(1000));
            out.push(alert(AlertKind::Escalated, level, at));
        }
    }
    out.sort_by_key(|a| (a.at, a.cycle, a.stage, a.kind, a.level));
    out
}

/// Of the `(stage, cycle)` pairs whose `overdue` alert was fired, those the projection now shows
/// as met (completed at or before due): the alert was an artefact of sync delay. In input order,
/// without duplicates.
pub fn retractions(projection: &Projection, fired_overdue: &[(Stage, u32)]) -> Vec<(Stage, u32)> {
    let mut out: Vec<(Stage, u32)> = Vec::new();
    for &(stage, cycle) in fired_overdue {
        let met = projection.stages.iter().any(|v| v.name == stage && v.cycle == cycle && v.state == StageState::Met);
        if met && !out.contains(&(stage, cycle)) {
            out.push((stage, cycle));
        }
    }
    out
}

/// What a ticket's schedule owes at one instant: see [`due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    /// The alerts to fire now.
    pub fire: Vec<&'a ScheduledAlert>,
    /// The earliest alert still to come: the ticket's next `next_deadline_at`.
    pub next_at: Option<Millis>,
}

/// The alerts of `schedule` to fire at `now`, given those `already_fired`: due and not fired yet,
/// except a `due_soon` whose stage is already overdue, which says nothing the `overdue` alert does
/// not (a ticket synced late would otherwise get both at once). The tracker asks this when a
/// deadline passes; a push asks it when it stores a ticket, so what was due before the data
/// arrived fires in the push's own commit.
pub fn due(schedule: &[ScheduledAlert], now: Millis, already_fired: impl Fn(&ScheduledAlert) -> bool) -> Due<'_> {
    let fire = schedule
        .iter()
        .filter(|a| a.at <= now && !already_fired(a) && !(a.kind == AlertKind::DueSoon && a.due_at <= now))
        .collect();
    Due { fire, next_at: next_deadline_at(schedule, |a| a.at <= now || already_fired(a)) }
}

/// The earliest alert not yet fired: what the server stores as the ticket's `next_deadline_at`.
pub fn next_deadline_at(
    schedule: &[ScheduledAlert],
    already_fired: impl Fn(&ScheduledAlert) -> bool,
) -> Option<Millis> {
    schedule.iter().filter(|a| !already_fired(a)).map(|a| a.at).min()
}
