//! Alert schedule, retraction after late sync, and the next deadline.

mod common;

use common::{at, events, ticket, MIN};
use fieldvisit_sync_protocol::deadline::{
    next_deadline_at, project, retractions, schedule, AlertKind, Policy, Projection, ScheduledAlert, Stage,
};

fn projection(spec: &str, now: i64) -> Projection {
    project(&Policy::default(), &ticket(), &events(spec), at(now))
}

/// `kind/level stage cycle @minute` per alert.
fn summary(alerts: &[ScheduledAlert]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            let kind = serde_json::to_value(a.kind).expect("kind");
            let minute = (a.at - at(0)) / MIN;
            format!("{}/{} {} c{} @{minute}", kind.as_str().unwrap_or("?"), a.level, a.stage, a.cycle)
        })
        .collect()
}

#[test]
fn fresh_ticket_schedules_classify_alerts() {
    let alerts = schedule(&Policy::default(), &ticket(), &projection("", 0));
    assert_eq!(
        summary(&alerts),
        [
            "due_soon/0 classify c1 @45",
            "overdue/0 classify c1 @60",
            "escalated/1 classify c1 @120",
            "escalated/2 classify c1 @300"
        ]
    );
    assert!(alerts.iter().all(|a| a.due_at == at(60)));
}

#[test]
fn schedule_does_not_depend_on_now() {
    let early = schedule(&Policy::default(), &ticket(), &projection("classified@10", 11));
    let late = schedule(&Policy::default(), &ticket(), &projection("classified@10", 900));
    assert_eq!(early, late);
    assert_eq!(summary(&late)[0], "due_soon/0 dispatch c1 @55");
}

#[test]
fn closed_ticket_schedules_nothing() {
    let p = projection("on_site@10 resolved@20 feedback@30", 40);
    assert!(schedule(&Policy::default(), &ticket(), &p).is_empty());
}

#[test]
fn reopened_ticket_schedules_for_the_new_cycle() {
    let p = projection("on_site@10 resolved@20 feedback@30 reopened@100", 110);
    let alerts = schedule(&Policy::default(), &ticket(), &p);
    assert_eq!(summary(&alerts)[..2], ["due_soon/0 dispatch c2 @145", "overdue/0 dispatch c2 @160"]);
}

#[test]
fn no_escalation_levels_means_two_alerts() {
    let policy = Policy { escalation: Vec::new(), ..Policy::default() };
    let p = project(&policy, &ticket(), &[], at(0));
    assert_eq!(summary(&schedule(&policy, &ticket(), &p)).len(), 2);
}

#[test]
fn next_deadline_is_the_earliest_unfired() {
    let alerts = schedule(&Policy::default(), &ticket(), &projection("", 0));
    assert_eq!(next_deadline_at(&alerts, |_| false), Some(at(45)));
    let fired = |a: &ScheduledAlert| matches!(a.kind, AlertKind::DueSoon | AlertKind::Overdue);
    assert_eq!(next_deadline_at(&alerts, fired), Some(at(120)));
    assert_eq!(next_deadline_at(&alerts, |_| true), None);
    assert_eq!(next_deadline_at(&[], |_| false), None);
}

#[test]
fn late_synced_completion_before_due_retracts_the_overdue() {
    // At minute 70 the server saw no event and fired classify overdue.
    let before = projection("", 70);
    assert_eq!(before.overdue_by_ms, Some(10 * MIN));
    let fired = [(Stage::Classify, 1)];
    assert!(retractions(&before, &fired).is_empty());
    // Then the phone synced a classification made at minute 50.
    let after = projection("classified@50", 80);
    assert_eq!(retractions(&after, &fired), fired);
    assert_eq!(retractions(&after, &[(Stage::Classify, 1), (Stage::Classify, 1)]), fired);
}

#[test]
fn late_completion_after_due_is_not_retracted() {
    let after = projection("classified@65", 80);
    assert!(retractions(&after, &[(Stage::Classify, 1)]).is_empty());
}

#[test]
fn retraction_is_per_cycle() {
    let p = projection("on_site@70 resolved@80 feedback@90 reopened@100", 200);
    // c1 classify late (70 > 60); c1 dispatch met at 70; c2 dispatch overdue at 200.
    let fired = [(Stage::Classify, 1), (Stage::Dispatch, 1), (Stage::Dispatch, 2), (Stage::Close, 3)];
    assert_eq!(retractions(&p, &fired), [(Stage::Dispatch, 1)]);
}
