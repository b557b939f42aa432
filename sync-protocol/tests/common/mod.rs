//! Compact notation for deadline tests. Times are whole minutes after the report time `T0`.
//!
//! Events: whitespace-separated `kind[:arg][#id]@minute`, e.g. `classified:gas@10 dispatched:7@30`.
//! `arg` is the category of `classified` or the team number of `dispatched`; ids default to the
//! token's position, so ties at one instant fold in the order written. A leading `~` marks an
//! event written by a volunteer (`~feedback@40`); others are staff's.
//!
//! Expected: `;`-separated items. A stage item is `c<cycle> <stage> <state>` with optional
//! `start=`, `due=`, `done=` minutes; every stage of the projection must be listed, in order.
//! Other items: `open`, `closed`, `stage=<label>`, `cycle=<n>`, `team=<n>`, `category=<name>`,
//! `overdue_by=<minutes>`.
#![allow(dead_code)]

use fieldvisit_sync_protocol::deadline::{
    project, Author, EventType, FoldEvent, Policy, Projection, Severity, Stage, StageState, TicketFacts,
};
use fieldvisit_sync_protocol::time::Millis;
use uuid::Uuid;

/// An arbitrary report time (2026-11-27T02:00:00Z).
pub const T0: Millis = 1_795_744_800_000;
pub const MIN: Millis = 60_000;

pub fn at(minute: i64) -> Millis {
    T0 + minute * MIN
}

pub fn ticket() -> TicketFacts {
    TicketFacts {
        reported_at: T0,
        severity: Severity::Normal,
        category: "heating".to_owned(),
        resolved_on_the_spot: false,
    }
}

pub fn team(n: u128) -> Uuid {
    Uuid::from_u128(0x7ea0_0000 + n)
}

pub fn event_type(name: &str) -> EventType {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .unwrap_or_else(|_| panic!("unknown event type {name:?}"))
}

pub fn stage(name: &str) -> Stage {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .unwrap_or_else(|_| panic!("unknown stage {name:?}"))
}

pub fn state(name: &str) -> StageState {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .unwrap_or_else(|_| panic!("unknown state {name:?}"))
}

pub fn events(spec: &str) -> Vec<FoldEvent> {
    spec.split_whitespace()
        .enumerate()
        .map(|(i, token)| {
            let (author, token) = match token.strip_prefix('~') {
                Some(rest) => (Author::Volunteer, rest),
                None => (Author::Staff, token),
            };
            let (head, minute) = token.split_once('@').expect("event needs @minute");
            let minute: i64 = minute.parse().expect("minute");
            let (head, id) = match head.split_once('#') {
                Some((head, id)) => (head, id.parse::<u128>().expect("id")),
                None => (head, i as u128 + 1),
            };
            let (kind, arg) = match head.split_once(':') {
                Some((kind, arg)) => (kind, Some(arg)),
                None => (head, None),
            };
            let event_type = event_type(kind);
            let (mut category, mut team_id, mut satisfaction) = (None, None, None);
            match (event_type, arg) {
                (_, None) => {}
                (EventType::Classified, Some(c)) => category = Some(c.to_owned()),
                (EventType::Dispatched, Some(t)) => team_id = Some(team(t.parse().expect("team"))),
                (EventType::Callback | EventType::Feedback, Some(s)) => {
                    satisfaction =
                        Some(serde_json::from_value(serde_json::Value::String(s.to_owned())).expect("satisfaction"));
                }
                (other, Some(_)) => panic!("{other:?} takes no argument"),
            }
            FoldEvent {
                id: Uuid::from_u128(id),
                event_type,
                occurred_at: at(minute),
                category,
                team_id,
                author,
                satisfaction,
            }
        })
        .collect()
}

pub fn check(events_spec: &str, now: i64, expected: &str) -> Projection {
    check_with(&Policy::default(), &ticket(), events_spec, now, expected)
}

pub fn check_with(policy: &Policy, ticket: &TicketFacts, events_spec: &str, now: i64, expected: &str) -> Projection {
    let p = project(policy, ticket, &events(events_spec), at(now));
    let ctx = format!("events {events_spec:?} now {now}\n{p:#?}");
    let mut stage_items = 0;
    for item in expected.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split_whitespace();
        let first = words.next().expect("item");
        if let Some(cycle) = first.strip_prefix('c').and_then(|c| c.parse::<u32>().ok()) {
            let view = p.stages.get(stage_items).unwrap_or_else(|| panic!("no stage for {item:?}: {ctx}"));
            stage_items += 1;
            let name = stage(words.next().expect("stage name"));
            let want = state(words.next().expect("state"));
            assert_eq!((view.cycle, view.name, view.state), (cycle, name, want), "{item:?}: {ctx}");
            if want == StageState::NotStarted {
                let times = (view.started_at, view.due_at, view.completed_at);
                assert_eq!(times, (None, None, None), "{item:?}: {ctx}");
            }
            for field in words {
                let (key, minute) = field.split_once('=').expect("key=minute");
                let minute: i64 = minute.parse().expect("minute");
                let got = match key {
                    "start" => view.started_at,
                    "due" => view.due_at,
                    "done" => view.completed_at,
                    _ => panic!("unknown field {key}"),
                };
                assert_eq!(got, Some(at(minute)), "{item:?} {key}: {ctx}");
            }
            continue;
        }
        match first.split_once('=') {
            None if first == "open" => assert!(!p.closed, "open: {ctx}"),
            None if first == "closed" => assert!(p.closed, "closed: {ctx}"),
            Some(("stage", label)) => assert_eq!(p.stage_label(), label, "{ctx}"),
            Some(("cycle", n)) => assert_eq!(p.cycle.to_string(), n, "{ctx}"),
            Some(("team", n)) => {
                assert_eq!(p.team_id, Some(team(n.parse().expect("team"))), "{ctx}")
            }
            Some(("category", c)) => assert_eq!(p.category, c, "{ctx}"),
            Some(("overdue_by", m)) => {
                let m: i64 = m.parse().expect("minutes");
                assert_eq!(p.overdue_by_ms, Some(m * MIN), "{ctx}");
            }
            _ => panic!("unknown expectation {item:?}"),
        }
    }
    assert_eq!(stage_items, p.stages.len(), "every stage must be listed: {ctx}");
    p
}
