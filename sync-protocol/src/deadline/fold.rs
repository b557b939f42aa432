//! The fold: a ticket's stage times as a pure function of its events, so late, duplicated or
//! reordered sync gives the same answer as on-time delivery.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Author, EventType, Policy, Severity, Stage, StageState};
use crate::sync::records::Satisfaction;
use crate::time::Millis;

/// What the fold needs to know about the ticket itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub reported_at: Millis,
    pub severity: Severity,
    /// The category at report time; a `classified` event may change it.
    pub category: String,
    /// Fixed on the spot during the visit: every stage of cycle 1 is met at `reported_at`.
    pub resolved_on_the_spot: bool,
}

/// One ticket event as the fold sees it (corrected event time).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FoldEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub occurred_at: Millis,
    /// On `classified`: the category the ticket is classified into.
    pub category: Option<String>,
    /// On `dispatched`: the team sent.
    pub team_id: Option<Uuid>,
    /// Who wrote it, as far as the fold cares: which stages the event may complete.
    #[serde(default)]
    pub author: Author,
    /// On `feedback` and `callback`: the resident's answer. An `unsatisfied` callback on a
    /// closed ticket reopens it under a policy with `reopen_on_unsatisfied_callback`.
    #[serde(default)]
    pub satisfaction: Option<Satisfaction>,
}

/// One stage of one cycle, as of `now`. Times are null until the stage starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageView {
    pub name: Stage,
    pub cycle: u32,
    pub started_at: Option<Millis>,
    pub due_at: Option<Millis>,
    pub completed_at: Option<Millis>,
    pub state: StageState,
}

/// The derived deadline state of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// Every stage of every cycle, cycle by cycle, in stage order.
    pub stages: Vec<StageView>,
    /// The last cycle's close stage is complete.
    pub closed: bool,
    /// The first incomplete stage of the last cycle; `None` once closed.
    pub current_stage: Option<Stage>,
    /// The last (current) cycle, from 1.
    pub cycle: u32,
    /// The team of the latest `dispatched` event that named one.
    pub team_id: Option<Uuid>,
    /// The category after the latest `classified` event that named one.
    pub category: String,
    /// How far past due the current stage is, when it is overdue at `now`.
    pub overdue_by_ms: Option<i64>,
}

impl Projection {
    /// The contract's ticket `stage`: the current stage's wire name, or `done` when closed.
    pub fn stage_label(&self) -> &'static str {
        self.current_stage.map_or("done", Stage::as_str)
    }

    /// The view of the current stage, if any.
    pub fn current(&self) -> Option<&StageView> {
        let stage = self.current_stage?;
        self.stages.iter().find(|v| v.cycle == self.cycle && v.name == stage)
    }
}

/// Folds `events` into the ticket's stage times under `policy`; `now` only decides the states
/// of started, incomplete stages (`pending`, `due_soon`, `overdue`).
///
/// Total and order-free: events are de-duplicated by id (if copies differ, the smallest by
/// `FoldEvent`'s ordering is kept), sorted by `(occurred_at, id)`, and times before
/// `reported_at` are clamped to it. A stage's window is fixed when it starts, from the ticket's
/// severity and the category in effect at that instant: a `classified` event naming a category
/// takes effect at its time, so the dispatch stage it starts uses it, while classify (already
/// running) keeps the report-time window. A running stage is never re-timed.
pub fn project(policy: &Policy, ticket: &TicketFacts, events: &[FoldEvent], now: Millis) -> Projection {
    let mut fold = Fold {
        policy,
        severity: ticket.severity,
        category: ticket.category.clone(),
        team_id: None,
        cycles: Vec::new(),
    };
    fold.open_cycle(&Stage::ALL, ticket.reported_at);
    if ticket.resolved_on_the_spot {
        fold.finish_cycle(ticket.reported_at);
    }
    for event in normalize(events, ticket.reported_at) {
        fold.apply(&event);
    }
    fold.into_projection(now)
}

/// De-duplicates, clamps and orders the events so arrival order and retries cannot matter.
fn normalize(events: &[FoldEvent], reported_at: Millis) -> Vec<FoldEvent> {
    let mut events: Vec<FoldEvent> =
        events.iter().map(|e| FoldEvent { occurred_at: e.occurred_at.max(reported_at), ..e.clone() }).collect();
    events.sort();
    events.dedup_by_key(|e| e.id);
    events.sort_by_key(|e| (e.occurred_at, e.id));
    events
}

struct Slot {
    name: Stage,
    started_at: Option<Millis>,
    due_at: Option<Millis>,
    completed_at: Option<Millis>,
}

struct Cycle {
    slots: Vec<Slot>,
    resolved: bool,
    feedback: bool,
}

impl Cycle {
    fn closed(&self) -> bool {
        self.slots.last().is_some_and(|s| s.completed_at.is_some())
    }
}

struct Fold<'a> {
    policy: &'a Policy,
    severity: Severity,
    category: String,
    team_id: Option<Uuid>,
    /// Never empty after `project` opens cycle 1.
    cycles: Vec<Cycle>,
}

impl Fold<'_> {
    fn open_cycle(&mut self, stages: &[Stage], at: Millis) {
        let slots =
            stages.iter().map(|&name| Slot { name, started_at: None, due_at: None, completed_at: None }).collect();
        self.cycles.push(Cycle { slots, resolved: false, feedback: false });
        self.start_next(at);
    }

    /// Starts the first unstarted stage of the last cycle at `at`, fixing its due time.
    fn start_next(&mut self, at: Millis) {
        let (policy, severity, category) = (self.policy, self.severity, self.category.as_str());
        let Some(cycle) = self.cycles.last_mut() else {
            return;
        };
        if let Some(slot) = cycle.slots.iter_mut().find(|s| s.started_at.is_none()) {
            let window_ms = policy.window_s(slot.name, severity, category).saturating_mul(1000);
            slot.started_at = Some(at);
            slot.due_at = Some(at.saturating_add(window_ms));
        }
    }

    /// Completes every incomplete stage of the last cycle up to and including `target` at `at`;
    /// each completion starts the next stage, so the first incomplete stage is always started.
    fn complete_through(&mut self, target: Stage, at: Millis) {
        loop {
            let Some(cycle) = self.cycles.last_mut() else {
                return;
            };
            let Some(slot) = cycle.slots.iter_mut().find(|s| s.completed_at.is_none()) else {
                return;
            };
            if slot.name > target {
                return;
            }
            slot.completed_at = Some(at);
            self.start_next(at);
        }
    }

    fn finish_cycle(&mut self, at: Millis) {
        if let Some(cycle) = self.cycles.last_mut() {
            cycle.resolved = true;
            cycle.feedback = true;
        }
        self.complete_through(Stage::Close, at);
    }

    fn apply(&mut self, event: &FoldEvent) {
        let at = event.occurred_at;
        let closed = self.cycles.last().is_none_or(Cycle::closed);
        let reach = event.author.completes_through(event.event_type);
        match event.event_type {
            EventType::Comment => {}
            // A new cycle has no classify stage: the problem is known, it needs another visit.
            EventType::Reopened if closed => self.open_cycle(&Stage::ALL[1..], at),
            // The resident says the repair did not hold: the same as a reopen, if the policy wants.
            EventType::Callback
                if closed
                    && self.policy.reopen_on_unsatisfied_callback
                    && event.satisfaction == Some(Satisfaction::Unsatisfied) =>
            {
                self.open_cycle(&Stage::ALL[1..], at);
            }
            // Any other callback only records the resident's answer.
            EventType::Callback => {}
            // Reopening an open cycle changes nothing about its timing.
            EventType::Reopened => {}
            // Desk events of an author who may not complete their stage change nothing.
            EventType::Classified | EventType::Dispatched | EventType::OnSite if reach.is_none() => {}
            EventType::Classified => {
                if let Some(category) = &event.category {
                    self.category.clone_from(category);
                }
                self.complete_through(Stage::Classify, at);
            }
            EventType::Dispatched => {
                if event.team_id.is_some() {
                    self.team_id = event.team_id;
                }
                self.complete_through(Stage::Dispatch, at);
            }
            EventType::OnSite => self.complete_through(Stage::OnSite, at),
            EventType::Resolved | EventType::Feedback if !closed => {
                if let Some(stage) = reach {
                    self.complete_through(stage, at);
                }
                let Some(cycle) = self.cycles.last_mut() else {
                    return;
                };
                if event.event_type == EventType::Resolved {
                    cycle.resolved = true;
                } else {
                    cycle.feedback = true;
                }
                // Close completes when both are in and every earlier stage is met; events arrive
                // in time order, so the event completing it is the latest of them.
                let before_close_done = cycle.slots.iter().all(|s| s.name == Stage::Close || s.completed_at.is_some());
                if cycle.resolved && cycle.feedback && before_close_done {
                    self.complete_through(Stage::Close, at);
                }
            }
            EventType::Resolved | EventType::Feedback => {}
        }
    }

    fn into_projection(self, now: Millis) -> Projection {
        let cycle = u32::try_from(self.cycles.len()).unwrap_or(u32::MAX);
        let last = self.cycles.last();
        let closed = last.is_some_and(Cycle::closed);
        let current = last.and_then(|c| c.slots.iter().find(|s| s.completed_at.is_none()));
        let overdue_by_ms = current.and_then(|s| s.due_at).filter(|&due| now >= due).map(|due| now.saturating_sub(due));
        let stages = (1u32..)
            .zip(&self.cycles)
            .flat_map(|(n, c)| c.slots.iter().map(move |s| view(self.policy, n, s, now)))
            .collect();
        Projection {
            stages,
            closed,
            current_stage: current.map(|s| s.name),
            cycle,
            team_id: self.team_id,
            category: self.category,
            overdue_by_ms,
        }
    }
}

fn view(policy: &Policy, cycle: u32, slot: &Slot, now: Millis) -> StageView {
    StageView {
        name: slot.name,
        cycle,
        started_at: slot.started_at,
        due_at: slot.due_at,
        completed_at: slot.completed_at,
        state: state_of(policy, slot.started_at, slot.due_at, slot.completed_at, now),
    }
}

/// A stage's state at `now`: its times are fixed by the events, only the state moves with the clock.
pub fn state_of(
    policy: &Policy,
    started_at: Option<Millis>,
    due_at: Option<Millis>,
    completed_at: Option<Millis>,
    now: Millis,
) -> StageState {
    match (started_at, due_at, completed_at) {
        (_, Some(due), Some(done)) if done <= due => StageState::Met,
        (_, _, Some(_)) => StageState::Late,
        (Some(_), Some(due), None) if now >= due => StageState::Overdue,
        (Some(start), Some(due), None) if now >= policy.due_soon_at(start, due) => StageState::DueSoon,
        (Some(_), _, None) => StageState::Pending,
        (None, _, None) => StageState::NotStarted,
    }
}

impl Projection {
    /// The same projection seen at `now`: stored projections are re-stated on every read, so a
    /// list of tickets shows live states without folding their events again.
    pub fn at(mut self, policy: &Policy, now: Millis) -> Projection {
        for s in &mut self.stages {
            s.state = state_of(policy, s.started_at, s.due_at, s.completed_at, now);
        }
        let current = self.stages.iter().find(|s| s.cycle == self.cycle && s.completed_at.is_none());
        self.overdue_by_ms =
            current.and_then(|s| s.due_at).filter(|&due| now >= due).map(|due| now.saturating_sub(due));
        self
    }
}
