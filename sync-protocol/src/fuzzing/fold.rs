//! Arbitrary event histories through the deadline fold, its restatement and its alert schedule.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use uuid::Uuid;

use crate::deadline::policy::MAX_WINDOW_S;
use crate::deadline::{
    project, schedule, Author, Escalation, EventType, FoldEvent, Notify, Override, Policy, Severity, Stage, StageState,
    TicketFacts,
};
use crate::sync::records::Satisfaction;
use crate::time::Millis;

const CATEGORIES: [&str; 3] = ["heating", "gas", "water"];
const SATISFACTIONS: [Satisfaction; 3] = [Satisfaction::Satisfied, Satisfaction::Neutral, Satisfaction::Unsatisfied];

/// The fuzzer's input, decoded from raw bytes. Small ids make duplicate ids (with different
/// content) common; times are full `i64`s so saturation at the ends is exercised too.
#[derive(Debug, Arbitrary)]
struct Case {
    windows: [u32; 4],
    overrides: Vec<RawOverride>,
    escalations: Vec<u32>,
    due_soon_permille: u16,
    severity: u8,
    category: u8,
    resolved_on_the_spot: bool,
    reported_at: i64,
    events: Vec<RawEvent>,
    /// Indexes of events to duplicate, then a seed for shuffling.
    duplicates: Vec<u8>,
    shuffle: u64,
    now: i64,
    later: u32,
}

#[derive(Debug, Arbitrary)]
struct RawOverride {
    severity: Option<u8>,
    category: Option<u8>,
    windows: Vec<(u8, u32)>,
}

#[derive(Debug, Arbitrary)]
struct RawEvent {
    id: u8,
    event_type: u8,
    occurred_at: i64,
    category: Option<u8>,
    team: Option<u8>,
}

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

fn window(raw: u32) -> i64 {
    1 + i64::from(raw) % MAX_WINDOW_S
}

impl Case {
    /// A policy that passes [`Policy::validate`], as the server only folds under valid ones.
    fn policy(&self) -> Policy {
        let mut escalation_s = 0i64;
        let policy = Policy {
            stages: Stage::ALL
                .iter()
                .zip(self.windows)
                .map(|(&name, w)| crate::deadline::StageWindow { name, window_s: window(w) })
                .collect(),
            due_soon_ratio: (f64::from(self.due_soon_permille % 999) + 1.0) / 1000.0,
            overrides: self
                .overrides
                .iter()
                .map(|o| Override {
                    severity: o.severity.map(|s| pick(&Severity::ALL, s)),
                    category: o.category.map(|c| pick(&CATEGORIES, c).to_owned()),
                    stages: o
                        .windows
                        .iter()
                        .map(|&(s, w)| (pick(&Stage::ALL, s), window(w)))
                        .collect::<BTreeMap<_, _>>(),
                })
                .collect(),
            escalation: self
                .escalations
                .iter()
                .map(|&step| {
                    escalation_s = escalation_s.saturating_add(1 + i64::from(step));
                    Escalation { after_overdue_s: escalation_s, notify: Notify::Area }
                })
                .collect(),
            ..Policy::default()
        };
        policy.validate().expect("the fuzzed policy is valid by construction");
        policy
    }

    fn ticket(&self) -> TicketFacts {
        TicketFacts {
            reported_at: self.reported_at,
            severity: pick(&Severity::ALL, self.severity),
            category: pick(&CATEGORIES, self.category).to_owned(),
            resolved_on_the_spot: self.resolved_on_the_spot,
        }
    }

    fn events(&self) -> Vec<FoldEvent> {
        self.events
            .iter()
            .map(|e| FoldEvent {
                id: Uuid::from_u128(u128::from(e.id)),
                event_type: pick(&EventType::ALL, e.event_type),
                occurred_at: e.occurred_at,
                category: e.category.map(|c| pick(&CATEGORIES, c).to_owned()),
                team_id: e.team.map(|t| Uuid::from_u128(0x7ea0_0000 + u128::from(t))),
                author: Author::Staff,
                // From the team byte, so the committed corpus keeps its meaning.
                satisfaction: e.team.map(|t| pick(&SATISFACTIONS, t)),
            })
            .collect()
    }

    /// The same events with some repeated, in another order (a Fisher–Yates shuffle).
    fn delivered(&self, events: &[FoldEvent]) -> Vec<FoldEvent> {
        let mut mixed = events.to_vec();
        if !events.is_empty() {
            mixed.extend(self.duplicates.iter().map(|&d| events[usize::from(d) % events.len()].clone()));
        }
        let mut seed = self.shuffle;
        for i in (1..mixed.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from((seed >> 33) % (i as u64 + 1)).unwrap_or(0);
            mixed.swap(i, j);
        }
        mixed
    }
}

/// Decodes `data` into a policy, a ticket, events and instants, and asserts the fold's
/// properties: no panic; arrival order and duplicates do not matter; stage times do not depend
/// on `now`; a stored projection restated later equals a fresh fold then; states only move
/// forward in time; stages run in order; the schedule is sorted and covers only open stages.
pub fn deadline_fold(data: &[u8]) {
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (policy, ticket, events) = (case.policy(), case.ticket(), case.events());
    let now = case.now;
    let later = now.saturating_add(i64::from(case.later));

    let p = project(&policy, &ticket, &events, now);
    assert_eq!(p, project(&policy, &ticket, &case.delivered(&events), now), "arrival order changed the fold");
    let at_later = project(&policy, &ticket, &events, later);
    assert_eq!(p.clone().at(&policy, later), at_later, "restating differs from folding again");
    let times = |p: &crate::deadline::Projection| {
        p.stages.iter().map(|v| (v.cycle, v.name, v.started_at, v.due_at, v.completed_at)).collect::<Vec<_>>()
    };
    assert_eq!(times(&p), times(&at_later), "stage times moved with now");
    for (before, after) in p.stages.iter().zip(&at_later.stages) {
        assert!(forward(before.state, after.state), "{:?} went back to {:?}", before.state, after.state);
    }
    if let (Some(a), Some(b)) = (p.overdue_by_ms, at_later.overdue_by_ms) {
        assert!(a <= b, "overdue_by shrank");
    }
    check_stage_order(&p, ticket.reported_at);

    let alerts = schedule(&policy, &ticket, &p);
    assert!(alerts.windows(2).all(|w| w[0].at <= w[1].at), "schedule not sorted");
    let open = p.stages.iter().filter(|v| v.started_at.is_some() && v.completed_at.is_none()).count();
    assert_eq!(alerts.len(), open * (2 + policy.escalation.len()));
    assert_eq!(p.closed, p.current_stage.is_none());
}

/// An incomplete stage goes pending → due soon → overdue; a completed one stays as it is.
fn forward(before: StageState, after: StageState) -> bool {
    match before {
        StageState::Met | StageState::Late | StageState::NotStarted => before == after,
        _ => matches!(after, StageState::Pending | StageState::DueSoon | StageState::Overdue) && before <= after,
    }
}

fn check_stage_order(p: &crate::deadline::Projection, reported_at: Millis) {
    let mut previous: Option<(u32, Option<Millis>)> = None;
    for v in &p.stages {
        assert!(v.started_at.is_none_or(|s| s >= reported_at), "a stage started before the report");
        if let (Some(done), Some(started)) = (v.completed_at, v.started_at) {
            assert!(done >= started, "completed before it started");
        }
        if let Some((cycle, prev_done)) = previous {
            if cycle == v.cycle {
                assert_eq!(v.started_at, prev_done, "a stage starts when the previous one completes");
            } else {
                assert_eq!(v.cycle, cycle + 1);
                assert!(prev_done.is_some_and(|d| v.started_at.is_some_and(|s| s >= d)), "cycle opened early");
            }
        }
        previous = Some((v.cycle, v.completed_at));
    }
}
