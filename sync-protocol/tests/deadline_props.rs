//! Properties of the fold and the schedule over random event histories.

mod common;

use std::collections::BTreeMap;

use common::{team, T0};
use fieldvisit_sync_protocol::deadline::{
    due, project, retractions, schedule, AlertKind, Author, EventType, FoldEvent, Override, Policy, ScheduledAlert,
    Severity, Stage, StageState, TicketFacts,
};
use fieldvisit_sync_protocol::sync::records::Satisfaction;
use fieldvisit_sync_protocol::time::Millis;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use uuid::Uuid;

const HOUR: Millis = 3_600_000;
const CATEGORIES: [&str; 3] = ["heating", "gas", "water"];

/// Default windows plus overrides, so severity and reclassification change due times.
fn policy() -> Policy {
    Policy {
        overrides: vec![
            Override {
                severity: Some(Severity::Critical),
                category: None,
                stages: BTreeMap::from([(Stage::Classify, 600), (Stage::OnSite, 1800)]),
            },
            Override {
                severity: None,
                category: Some("gas".to_owned()),
                stages: BTreeMap::from([(Stage::Dispatch, 900), (Stage::Close, 3600)]),
            },
        ],
        ..Policy::default()
    }
}

fn ticket() -> impl Strategy<Value = TicketFacts> {
    let severity = select(Severity::ALL.to_vec());
    (severity, select(CATEGORIES.to_vec()), prop::bool::weighted(0.1)).prop_map(
        |(severity, category, resolved_on_the_spot)| TicketFacts {
            reported_at: T0,
            severity,
            category: category.to_owned(),
            resolved_on_the_spot,
        },
    )
}

fn event_type() -> impl Strategy<Value = EventType> {
    select(EventType::ALL.to_vec())
}

/// Events with distinct ids, some before the report time, some at the same instant.
fn events() -> impl Strategy<Value = Vec<FoldEvent>> {
    let event = (
        event_type(),
        prop_oneof![-HOUR..12 * HOUR, (-2i64..24).prop_map(|h| h * HOUR / 2)],
        prop::option::of(select(CATEGORIES.to_vec())),
        prop::option::of(1u128..4),
        select(vec![Author::Staff, Author::Staff, Author::Volunteer]),
        prop::option::of(select(vec![Satisfaction::Satisfied, Satisfaction::Neutral, Satisfaction::Unsatisfied])),
    );
    vec(event, 0..14).prop_map(|raw| {
        (1u128..)
            .zip(raw)
            .map(|(id, (event_type, offset, category, team_no, author, satisfaction))| FoldEvent {
                id: Uuid::from_u128(id),
                event_type,
                occurred_at: T0 + offset,
                category: category.map(str::to_owned),
                team_id: team_no.map(team),
                author,
                satisfaction,
            })
            .collect()
    })
}

/// A history, the same history duplicated and shuffled, and an instant to look at it.
fn scenario() -> impl Strategy<Value = (TicketFacts, Vec<FoldEvent>, Vec<FoldEvent>, Millis)> {
    (ticket(), events(), vec(any::<Index>(), 0..8), 0..16 * HOUR).prop_flat_map(|(ticket, events, dups, now)| {
        let mut mixed = events.clone();
        if !events.is_empty() {
            mixed.extend(dups.iter().map(|d| events[d.index(events.len())].clone()));
        }
        (Just(ticket), Just(events), Just(mixed).prop_shuffle(), Just(T0 + now))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arrival_order_and_duplicates_do_not_matter((t, events, mixed, now) in scenario()) {
        let policy = policy();
        let a = project(&policy, &t, &events, now);
        let b = project(&policy, &t, &mixed, now);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(schedule(&policy, &t, &a), schedule(&policy, &t, &b));
    }

    /// Contract 1.1: an event never completes a stage its author's role may not complete. Every
    /// stage before close was completed at the time of an event whose author may complete it.
    #[test]
    fn stages_are_completed_only_by_authors_who_may((t, events, _mixed, now) in scenario()) {
        let p = project(&policy(), &t, &events, now);
        for v in p.stages.iter().filter(|v| v.name != Stage::Close) {
            let Some(done) = v.completed_at else { continue };
            let on_the_spot = t.resolved_on_the_spot && v.cycle == 1 && done == t.reported_at;
            // Staff complete stages; a volunteer only by resolving their own ticket on the spot.
            let by_one_who_may = events.iter().any(|e| {
                e.occurred_at.max(t.reported_at) == done
                    && match e.author {
                        Author::Staff => {
                            !matches!(e.event_type, EventType::Comment | EventType::Reopened | EventType::Callback)
                        }
                        Author::Volunteer => e.event_type == EventType::Resolved,
                    }
            });
            prop_assert!(on_the_spot || by_one_who_may, "{:?} of cycle {} done at {} by no one allowed", v.name, v.cycle, done);
        }
    }

    /// A volunteer's feedback adds nothing before close: the same history without it has the
    /// same classify, dispatch and on_site times in cycle 1.
    #[test]
    fn a_volunteers_feedback_never_moves_a_desk_stage((t, events, _mixed, now) in scenario()) {
        let policy = policy();
        let without: Vec<FoldEvent> = events
            .iter()
            .filter(|e| !(e.author == Author::Volunteer && e.event_type == EventType::Feedback))
            .cloned()
            .collect();
        let desk = |events: &[FoldEvent]| {
            project(&policy, &t, events, now)
                .stages
                .iter()
                .filter(|v| v.cycle == 1 && v.name != Stage::Close)
                .map(|v| (v.name, v.started_at, v.completed_at))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(desk(&events), desk(&without));
    }

    /// A callback completes no stage: without the callbacks that do not find the resident
    /// unsatisfied, the fold is the same.
    #[test]
    fn a_callback_that_is_not_unsatisfied_changes_nothing((t, events, _mixed, now) in scenario()) {
        let policy = policy();
        let without: Vec<FoldEvent> = events
            .iter()
            .filter(|e| !(e.event_type == EventType::Callback && e.satisfaction != Some(Satisfaction::Unsatisfied)))
            .cloned()
            .collect();
        prop_assert_eq!(project(&policy, &t, &events, now), project(&policy, &t, &without, now));
    }

    /// An unsatisfied callback is a reopen (a new cycle on a closed ticket, nothing on an open one)
    /// when the policy says so, and nothing at all when it does not.
    #[test]
    fn an_unsatisfied_callback_reopens_only_when_the_policy_says_so((t, events, _mixed, now) in scenario()) {
        let unsatisfied = |e: &FoldEvent| e.event_type == EventType::Callback && e.satisfaction == Some(Satisfaction::Unsatisfied);
        let as_reopen: Vec<FoldEvent> = events
            .iter()
            .map(|e| if unsatisfied(e) { FoldEvent { event_type: EventType::Reopened, ..e.clone() } } else { e.clone() })
            .collect();
        let reopening = policy();
        prop_assert_eq!(project(&reopening, &t, &events, now), project(&reopening, &t, &as_reopen, now));
        let keeping = Policy { reopen_on_unsatisfied_callback: false, ..policy() };
        let without: Vec<FoldEvent> = events.iter().filter(|e| e.event_type != EventType::Callback).cloned().collect();
        prop_assert_eq!(project(&keeping, &t, &events, now), project(&keeping, &t, &without, now));
    }

    #[test]
    fn stage_times_do_not_depend_on_now((t, events, _mixed, now) in scenario()) {
        let policy = policy();
        let times = |now| {
            project(&policy, &t, &events, now)
                .stages
                .iter()
                .map(|v| (v.cycle, v.name, v.started_at, v.due_at, v.completed_at))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(times(now), times(now + 48 * HOUR));
    }

    #[test]
    fn a_stored_projection_restated_later_equals_a_fresh_fold((t, events, _mixed, now) in scenario(), later in 0i64..(72 * HOUR)) {
        let policy = policy();
        let stored = project(&policy, &t, &events, now);
        prop_assert_eq!(stored.at(&policy, now + later), project(&policy, &t, &events, now + later));
    }

    #[test]
    fn stages_run_in_order((t, events, _mixed, now) in scenario()) {
        let p = project(&policy(), &t, &events, now);
        let mut previous: Option<(u32, Option<Millis>)> = None;
        for v in &p.stages {
            if let Some(started) = v.started_at {
                prop_assert!(started >= t.reported_at);
            }
            if let (Some(done), Some(started)) = (v.completed_at, v.started_at) {
                prop_assert!(done >= started);
            }
            if let Some((cycle, prev_done)) = previous {
                if cycle == v.cycle {
                    // A stage starts exactly when the previous one completes.
                    prop_assert_eq!(v.started_at, prev_done);
                    if let Some(done) = v.completed_at {
                        prop_assert!(prev_done.is_some_and(|p| p <= done));
                    }
                } else {
                    // A new cycle opens only after the last one closed.
                    prop_assert_eq!(v.cycle, cycle + 1);
                    prop_assert!(prev_done.is_some_and(|p| v.started_at.is_some_and(|s| s >= p)));
                }
            }
            previous = Some((v.cycle, v.completed_at));
        }
    }

    #[test]
    fn states_agree_with_times((t, events, _mixed, now) in scenario()) {
        let p = project(&policy(), &t, &events, now);
        for v in &p.stages {
            match (v.started_at, v.due_at, v.completed_at) {
                (Some(_), Some(due), Some(done)) => {
                    let want = if done <= due { StageState::Met } else { StageState::Late };
                    prop_assert_eq!(v.state, want);
                }
                (Some(_), Some(due), None) => {
                    prop_assert!(matches!(v.state, StageState::Pending | StageState::DueSoon | StageState::Overdue));
                    prop_assert_eq!(v.state == StageState::Overdue, now >= due);
                }
                (None, None, None) => prop_assert_eq!(v.state, StageState::NotStarted),
                other => prop_assert!(false, "inconsistent times {:?}", other),
            }
        }
        prop_assert_eq!(p.closed, p.current_stage.is_none());
        prop_assert_eq!(p.overdue_by_ms.is_some(), p.current().is_some_and(|v| v.state == StageState::Overdue));
        let cycles = p.stages.iter().map(|v| v.cycle).max();
        prop_assert_eq!(Some(p.cycle), cycles);
        let cycle1: Vec<Stage> = p.stages.iter().filter(|v| v.cycle == 1).map(|v| v.name).collect();
        prop_assert_eq!(cycle1, Stage::ALL.to_vec());
        for c in 2..=p.cycle {
            let names: Vec<Stage> = p.stages.iter().filter(|v| v.cycle == c).map(|v| v.name).collect();
            prop_assert_eq!(names, Stage::ALL[1..].to_vec());
        }
    }

    #[test]
    fn schedule_is_sorted_and_only_for_open_stages((t, events, _mixed, now) in scenario()) {
        let policy = policy();
        let p = project(&policy, &t, &events, now);
        let alerts = schedule(&policy, &t, &p);
        prop_assert!(alerts.windows(2).all(|w| w[0].at <= w[1].at));
        prop_assert_eq!(alerts.len(), if p.closed { 0 } else { 2 + policy.escalation.len() });
        for a in &alerts {
            let view = p.stages.iter().find(|v| v.name == a.stage && v.cycle == a.cycle);
            prop_assert!(view.is_some_and(|v| v.completed_at.is_none() && v.due_at == Some(a.due_at)));
            prop_assert!(view.and_then(|v| v.started_at).is_some_and(|s| s <= a.at));
        }
    }

    #[test]
    fn due_fires_each_alert_once_and_points_at_the_next(
        (t, events, _mixed, now) in scenario(),
        steps in vec(0i64..(3 * HOUR), 1..6),
    ) {
        let policy = policy();
        let alerts = schedule(&policy, &t, &project(&policy, &t, &events, now));
        let mut fired: Vec<ScheduledAlert> = Vec::new();
        let mut at = now;
        for step in steps {
            at += step;
            let d = due(&alerts, at, |a| fired.contains(a));
            for a in &d.fire {
                prop_assert!(a.at <= at && !fired.contains(a));
            }
            let later = alerts.iter().filter(|a| a.at > at && !fired.contains(a)).map(|a| a.at).min();
            prop_assert_eq!(d.next_at, later);
            fired.extend(d.fire.into_iter().cloned());
            prop_assert!(due(&alerts, at, |a| fired.contains(a)).fire.is_empty(), "asked again, nothing more fires");
        }
        // Only a due_soon can be passed over, and only once its stage was overdue.
        for a in alerts.iter().filter(|a| a.at <= at && !fired.contains(a)) {
            prop_assert!(a.kind == AlertKind::DueSoon && a.due_at <= at);
        }
    }

    #[test]
    fn retractions_only_for_met_stages((t, events, _mixed, now) in scenario()) {
        let p = project(&policy(), &t, &events, now);
        let fired: Vec<(Stage, u32)> = (1..=p.cycle + 1)
            .flat_map(|c| Stage::ALL.iter().map(move |&s| (s, c)))
            .collect();
        let retracted = retractions(&p, &fired);
        for (stage, cycle) in &retracted {
            let view = p.stages.iter().find(|v| v.name == *stage && v.cycle == *cycle);
            prop_assert!(view.is_some_and(|v| v.state == StageState::Met));
        }
        let met = p.stages.iter().filter(|v| v.state == StageState::Met).count();
        prop_assert_eq!(retracted.len(), met);
    }
}
