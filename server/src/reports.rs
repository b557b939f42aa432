//! Report arithmetic, free of I/O: grouping tickets and visits, stage statistics, percentiles.
//! `routes/reports.rs` loads the rows (`db/reports.rs`) and hands them here.

use std::collections::{BTreeMap, HashMap};

use fieldvisit_sync_protocol::deadline::{Projection, Stage};
use serde::Serialize;

use crate::db::reports::TicketFact;

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

/// Compliance of `tickets` grouped by `by`, as of `now`.
pub fn compliance(tickets: &[TicketFact], by: GroupBy, scope_path: &str, now: i64) -> Vec<ComplianceGroup> {
    let mut groups: BTreeMap<String, ComplianceGroup> = BTreeMap::new();
    for t in tickets {
        let key = match by {
            GroupBy::Area => area_key(&t.area_path, scope_path),
            GroupBy::Team => t.team_id.clone().unwrap_or_else(|| "unassigned".into()),
            GroupBy::Category => t.category.clone(),
        };
        let g = groups.entry(key.clone()).or_insert_with(|| ComplianceGroup { key, ..Default::default() });
        g.tickets += 1;
        g.closed += u32::from(t.status == "closed");
        g.sync_delays.push((t.received_at - t.reported_at).max(0) / 1000);
        let Ok(p) = serde_json::from_str::<Projection>(&t.projection) else { continue };
        for s in &p.stages {
            let stats = g.stages.entry(s.name.as_str()).or_default();
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
    let mut out: Vec<ComplianceGroup> = groups.into_values().collect();
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
    /// Open when the day ended.
    pub still_open: u32,
    /// Open when the day ended with its current stage past due.
    pub overdue: u32,
}

/// Day-end clearance over `[start, end)` for tickets open at some point that day.
pub fn daily(tickets: &[TicketFact], scope_path: &str, start: i64, end: i64) -> Vec<DailyRow> {
    let mut rows: BTreeMap<String, DailyRow> = BTreeMap::new();
    for t in tickets {
        let key = area_key(&t.area_path, scope_path);
        let r = rows.entry(key.clone()).or_insert_with(|| DailyRow { area_id: key, ..Default::default() });
        r.reported += u32::from((start..end).contains(&t.reported_at));
        r.closed += u32::from(t.closed_at.is_some_and(|c| (start..end).contains(&c)));
        let open_at_end = t.reported_at < end && t.closed_at.is_none_or(|c| c >= end);
        if open_at_end {
            r.still_open += 1;
            let overdue = serde_json::from_str::<Projection>(&t.projection).is_ok_and(|p| {
                p.stages.iter().any(|s| {
                    s.started_at.is_some_and(|st| st < end)
                        && s.due_at.is_some_and(|d| d < end)
                        && s.completed_at.is_none_or(|c| c >= end)
                })
            });
            r.overdue += u32::from(overdue);
        }
    }
    rows.into_values().collect()
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
}
