//! Report arithmetic, free of I/O: grouping tickets and visits, stage statistics, percentiles.
//! `http/routes/reports.rs` loads the rows (`db/reports.rs`) and hands them here; `checklist`
//! does the same for the checklist report.

pub mod checklist;
pub mod ticket_index;

use std::collections::{BTreeMap, HashMap};

use fieldvisit_sync_protocol::deadline::{FoldEvent, Projection, Stage};
use fieldvisit_sync_protocol::sync::records::Satisfaction;
use fieldvisit_sync_protocol::time::Millis;
use serde::Serialize;

use crate::db::reports::TicketFact;
use ticket_index::Fact;

/// Nearest-rank percentile of `values` (sorted here); None when empty.
pub fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The area a row is reported under: the child of the scope area it lies in, or the scope area
/// itself for rows directly in it. Paths are materialized ("/county/town/grid/").
pub fn area_key(path: &str, scope_path: &str) -> String {
    let rest = path.strip_prefix(scope_path).unwrap_or("");
    match rest.split('/').find(|s| !s.is_empty()) {
        Some(child) => child.to_owned(),
        None => scope_path.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_owned(),
    }
}

/// One stage of one cycle of a ticket's projection, as kept in `tickets.stage_times`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTimes {
    pub name: Stage,
    pub started_at: Option<Millis>,
    pub due_at: Option<Millis>,
    pub completed_at: Option<Millis>,
}

impl StageTimes {
    /// `name:started:due:completed` per stage (empty when null), `;` between, in the projection's
    /// order: what the reports read instead of parsing the projection's JSON. The migration
    /// that added the column writes the same text from the stored JSON.
    pub fn encode(p: &Projection) -> String {
        let time = |t: Option<Millis>| t.map(|t| t.to_string()).unwrap_or_default();
        let stages: Vec<String> = p
            .stages
            .iter()
            .map(|s| format!("{}:{}:{}:{}", s.name.as_str(), time(s.started_at), time(s.due_at), time(s.completed_at)))
            .collect();
        stages.join(";")
    }

    /// The stages of `text`; a malformed stage is left out (as an unreadable projection was).
    pub fn decode(text: &str) -> impl Iterator<Item = StageTimes> + '_ {
        text.split(';').filter_map(|stage| {
            let mut parts = stage.split(':');
            let name = Stage::parse(parts.next()?)?;
            let mut time = || -> Option<Option<Millis>> {
                let t = parts.next()?;
                if t.is_empty() {
                    Some(None)
                } else {
                    t.parse().ok().map(Some)
                }
            };
            Some(StageTimes { name, started_at: time()?, due_at: time()?, completed_at: time()? })
        })
    }
}

/// A ticket's latest satisfaction: that of its latest event carrying one, whatever the event's
/// type, by time and then by id (ids do not change; an event's `seq` does when its ticket moves
/// team). Kept on the ticket as `latest_satisfaction` with the projection, for compliance.
pub fn latest_satisfaction(events: &[FoldEvent]) -> Option<Satisfaction> {
    events
        .iter()
        .filter(|e| e.satisfaction.is_some())
        .max_by_key(|e| (e.occurred_at, e.id))
        .and_then(|e| e.satisfaction)
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct StageStats {
    pub met: u32,
    pub late: u32,
    pub overdue: u32,
    /// Handling time (completed − started) of completed stages.
    pub p50_s: Option<i64>,
    pub p90_s: Option<i64>,
    #[serde(skip)]
    durations: Vec<i64>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct ComplianceGroup {
    pub key: String,
    pub name: String,
    pub tickets: u32,
    pub closed: u32,
    /// Tickets the reporter fixed during the visit: their first cycle's stages, all met at the
    /// report time, are left out of the stage counts, the rate and the percentiles.
    pub closed_on_the_spot: u32,
    /// Tickets still open at the policy's day end (`day_end`) that followed their report.
    pub carried_overnight: u32,
    /// Tickets whose resident gave a satisfaction (the latest event carrying one), and the
    /// share of those satisfied; None with none.
    pub satisfaction_answers: u32,
    pub satisfied_share: Option<f64>,
    #[serde(skip)]
    satisfied: u32,
    /// Met stages over every stage that is finished or overdue; None with no such stage.
    pub on_time_rate: Option<f64>,
    pub stages: BTreeMap<&'static str, StageStats>,
    /// Receipt − report time: how long tickets sat on phones before reaching the server.
    pub sync_delay_p50_s: Option<i64>,
    pub sync_delay_p90_s: Option<i64>,
    #[serde(skip)]
    sync_delays: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Area,
    Team,
    Category,
}

/// What compliance needs beside the tickets: the first day end at or after an instant (the
/// policy's `day_end` in its timezone).
pub struct ComplianceContext<'a> {
    pub day_end_after: &'a dyn Fn(Millis) -> Millis,
}

impl ComplianceGroup {
    /// Counts one ticket in this group, as of `now`.
    fn add(&mut self, t: &Fact, now: i64, cx: &ComplianceContext<'_>) {
        self.tickets += 1;
        self.closed += u32::from(t.closed);
        self.sync_delays.push((t.received_at - t.reported_at).max(0) / 1000);
        self.closed_on_the_spot += u32::from(t.on_the_spot);
        let day_end = (cx.day_end_after)(t.reported_at);
        self.carried_overnight += u32::from(day_end <= now && t.closed_at.is_none_or(|c| c > day_end));
        if let Some(s) = t.satisfaction {
            self.satisfaction_answers += 1;
            self.satisfied += u32::from(s == Satisfaction::Satisfied);
        }
        // Stages come cycle by cycle and the first cycle has all four: an on-the-spot ticket's
        // first cycle is its first `Stage::ALL.len()`; a reopened one's later cycles count as any.
        let skip = if t.on_the_spot { Stage::ALL.len() } else { 0 };
        for s in t.stages.iter().skip(skip) {
            let stats = self.stages.entry(s.name.as_str()).or_default();
            match (s.started_at, s.due_at, s.completed_at) {
                (Some(start), Some(due), Some(done)) => {
                    if done <= due {
                        stats.met += 1;
                    } else {
                        stats.late += 1;
                    }
                    stats.durations.push((done - start).max(0) / 1000);
                }
                (Some(_), Some(due), None) if now >= due => stats.overdue += 1,
                _ => {}
            }
        }
    }
}

/// Fills in each group's rates and percentiles.
fn finish_groups(mut out: Vec<ComplianceGroup>) -> Vec<ComplianceGroup> {
    for g in &mut out {
        for stage in Stage::ALL {
            g.stages.entry(stage.as_str()).or_default();
        }
        let (mut met, mut counted) = (0u32, 0u32);
        for s in g.stages.values_mut() {
            met += s.met;
            counted += s.met + s.late + s.overdue;
            s.p50_s = percentile(&mut s.durations, 0.5);
            s.p90_s = percentile(&mut s.durations, 0.9);
        }
        g.on_time_rate = (counted > 0).then(|| f64::from(met) / f64::from(counted));
        g.satisfied_share =
            (g.satisfaction_answers > 0).then(|| f64::from(g.satisfied) / f64::from(g.satisfaction_answers));
        g.sync_delay_p50_s = percentile(&mut g.sync_delays, 0.5);
        g.sync_delay_p90_s = percentile(&mut g.sync_delays, 0.9);
    }
    out
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct DailyRow {
    pub area_id: String,
    pub name: String,
    pub reported: u32,
    pub closed: u32,
    /// Reported that day and fixed during the visit (also counted in `reported` and `closed`).
    pub closed_on_the_spot: u32,
    /// Open at the policy's day end (`day_end`) of that day; 0 until that time has passed.
    pub carried_overnight: u32,
    /// Open when the day ended.
    pub still_open: u32,
    /// Open when the day ended with its current stage past due.
    pub overdue: u32,
}

/// Day-end clearance over `[start, end)` for tickets open at some point that day; `day_end` is
/// the policy's day end within it, counted only once it is before `now`.
pub fn daily(
    tickets: &[TicketFact],
    scope_path: &str,
    (start, end): (i64, i64),
    day_end: i64,
    now: i64,
) -> Vec<DailyRow> {
    let mut rows: BTreeMap<String, DailyRow> = BTreeMap::new();
    for t in tickets {
        let key = area_key(&t.area_path, scope_path);
        let r = rows.entry(key.clone()).or_insert_with(|| DailyRow { area_id: key, ..Default::default() });
        r.reported += u32::from((start..end).contains(&t.reported_at));
        r.closed_on_the_spot += u32::from(t.resolved_on_the_spot && (start..end).contains(&t.reported_at));
        let open_at_day_end = t.reported_at <= day_end && t.closed_at.is_none_or(|c| c > day_end);
        r.carried_overnight += u32::from(day_end <= now && open_at_day_end);
        r.closed += u32::from(t.closed_at.is_some_and(|c| (start..end).contains(&c)));
        let open_at_end = t.reported_at < end && t.closed_at.is_none_or(|c| c >= end);
        if open_at_end {
            r.still_open += 1;
            let overdue = StageTimes::decode(&t.stage_times).any(|s| {
                s.started_at.is_some_and(|st| st < end)
                    && s.due_at.is_some_and(|d| d < end)
                    && s.completed_at.is_none_or(|c| c >= end)
            });
            r.overdue += u32::from(overdue);
        }
    }
    rows.into_values().collect()
}

/// An area's temperature readings as counts per value (tenths of a degree), and its households
/// below the standard.
#[derive(Debug, Default)]
pub struct Readings {
    counts: BTreeMap<i32, i64>,
    pub below: i64,
}

impl Readings {
    pub fn add(&mut self, tenths: i32, visits: i64) {
        *self.counts.entry(tenths).or_default() += visits;
    }

    pub fn visits(&self) -> i64 {
        self.counts.values().sum()
    }

    /// Nearest-rank percentile, as [`percentile`] gives over the readings one by one.
    pub fn percentile(&self, p: f64) -> Option<i32> {
        let total = self.visits();
        if total == 0 {
            return None;
        }
        let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
        let mut seen = 0;
        self.counts.iter().find_map(|(&value, &n)| {
            seen += n;
            (seen >= rank).then_some(value)
        })
    }
}

/// Fills `name` fields from an id → name map.
pub fn name_of(names: &HashMap<String, String>, key: &str) -> String {
    names.get(key).cloned().unwrap_or_else(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&mut [], 0.5), None);
        assert_eq!(percentile(&mut [7], 0.9), Some(7));
        let mut v = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&mut v, 0.5), Some(50));
        assert_eq!(percentile(&mut v, 0.9), Some(90));
        assert_eq!(percentile(&mut v, 0.1), Some(10));
    }

    #[test]
    fn rows_group_under_the_scope_child_they_lie_in() {
        assert_eq!(area_key("/c/t1/g1/", "/c/"), "t1");
        assert_eq!(area_key("/c/t1/", "/c/"), "t1");
        assert_eq!(area_key("/c/", "/c/"), "c");
        assert_eq!(area_key("/c/t1/g1/", "/c/t1/"), "g1");
    }

    #[test]
    fn counted_readings_give_the_percentiles_of_the_readings() {
        let values = [165, 200, 200, 180, 150, 210, 165, 190, 170, 200, 155];
        let mut r = Readings::default();
        for v in values {
            r.add(v, 1);
        }
        for p in [0.1, 0.5, 0.9, 1.0] {
            let mut list: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
            assert_eq!(r.percentile(p).map(i64::from), percentile(&mut list, p), "p{p}");
        }
        assert_eq!(Readings::default().percentile(0.5), None);
    }

    #[test]
    fn the_latest_satisfaction_is_by_time_then_id_whatever_the_order() {
        use fieldvisit_sync_protocol::deadline::{Author, EventType};
        let event = |id: u128, at: Millis, satisfaction: Option<Satisfaction>| FoldEvent {
            id: uuid::Uuid::from_u128(id),
            event_type: EventType::Comment,
            occurred_at: at,
            category: None,
            team_id: None,
            author: Author::Staff,
            satisfaction,
        };
        let mut events = vec![
            event(1, 30, Some(Satisfaction::Satisfied)),
            event(9, 10, Some(Satisfaction::Unsatisfied)),
            event(3, 40, None),
            event(2, 30, Some(Satisfaction::Neutral)),
        ];
        // At 30 two answers: the larger id wins; a later event without one does not count.
        assert_eq!(latest_satisfaction(&events), Some(Satisfaction::Neutral));
        events.reverse();
        assert_eq!(latest_satisfaction(&events), Some(Satisfaction::Neutral));
        assert_eq!(latest_satisfaction(&[event(3, 40, None)]), None);
        assert_eq!(latest_satisfaction(&[]), None);
    }

    #[test]
    fn stage_times_read_back_what_was_written() {
        use fieldvisit_sync_protocol::deadline::StageState;
        let view = |name, cycle, started_at, due_at, completed_at| fieldvisit_sync_protocol::deadline::StageView {
            name,
            cycle,
            started_at,
            due_at,
            completed_at,
            state: StageState::Pending,
        };
        let p = Projection {
            stages: vec![
                view(Stage::Classify, 1, Some(1), Some(2), Some(3)),
                view(Stage::OnSite, 2, Some(4), None, None),
            ],
            closed: false,
            current_stage: Some(Stage::OnSite),
            cycle: 2,
            team_id: None,
            category: "heating".into(),
            overdue_by_ms: None,
        };
        let text = StageTimes::encode(&p);
        assert_eq!(text, "classify:1:2:3;on_site:4::");
        let back: Vec<StageTimes> = StageTimes::decode(&text).collect();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], StageTimes { name: Stage::OnSite, started_at: Some(4), due_at: None, completed_at: None });
        assert_eq!(StageTimes::decode("").count(), 0);
    }
}
