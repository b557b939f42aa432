//! The JSON of push and pull, checked against the contract's exact field names.

use fieldvisit_sync_protocol::deadline::{
    project, Author, EventType, FoldEvent, Policy, Severity, Stage, StageState, TicketFacts,
};
use fieldvisit_sync_protocol::org::{Area, Team};
use fieldvisit_sync_protocol::sync::pull::{
    sync_delay_s, ticket_out_stages, HouseholdOut, PullResponse, Removed, RemovedType, StageOut, TicketEventOut,
    TicketOut, TicketStatus, VisitOut,
};
use fieldvisit_sync_protocol::sync::{
    EnvelopeError, FieldError, Heating, HouseholdFields, PushRequest, PushResponse, RecordError, RecordErrorCode,
    RecordResult, RecordStatus, RecordType, Satisfaction, Summary,
};
use fieldvisit_sync_protocol::time::{parse_rfc3339, Millis};
use serde_json::{json, Value};
use uuid::Uuid;

const BATCH: &str = "6a1f0c2e-1111-4c1e-9a53-0e7f5b1e2a07";
const T0: Millis = 1_795_744_800_000; // 2026-11-27T02:00:00Z
const MIN: Millis = 60_000;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + n)
}

fn push(body: Value) -> Result<PushRequest, serde_json::Error> {
    serde_json::from_value(body)
}

/// Keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

// ---------------------------------------------------------------------------------------------
// Push request

#[test]
fn a_minimal_push_has_empty_arrays() {
    let p = push(json!({"protocol_version": 1, "batch_id": BATCH, "device_time": "2026-11-27T10:05:00+08:00"}))
        .expect("valid");
    assert_eq!(p.record_count(), 0);
    assert_eq!((p.device_boot_id.as_deref(), p.device_elapsed_ms), (None, None));
    assert_eq!(p.check_envelope(1000).ok(), parse_rfc3339("2026-11-27T10:05:00+08:00"));
}

#[test]
fn null_arrays_read_as_empty_and_unknown_fields_are_ignored() {
    let p = push(json!({
        "protocol_version": 1, "batch_id": BATCH, "device_time": "2026-11-27T10:05:00+08:00",
        "households": null, "visits": [{"id": "x"}, 7], "tickets": [], "app_version": "2.1", "extra": {"a": 1},
    }))
    .expect("valid");
    assert_eq!(p.record_count(), 2);
    assert!(p.households.is_empty());
}

#[test]
fn the_envelope_shape_is_strict() {
    let good = json!({"protocol_version": 1, "batch_id": BATCH, "device_time": "2026-11-27T10:05:00+08:00"});
    for (key, value) in [
        ("batch_id", json!("not-a-uuid")),
        ("batch_id", Value::Null),
        ("protocol_version", json!("1")),
        ("protocol_version", json!(-1)),
        ("device_time", json!(12)),
        ("visits", json!({"id": "x"})),
        ("device_elapsed_ms", json!("5")),
    ] {
        let mut body = good.clone();
        body[key] = value.clone();
        assert!(push(body).is_err(), "{key}: {value}");
    }
    for key in ["protocol_version", "batch_id", "device_time"] {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(key);
        assert!(push(body).is_err(), "{key} is required");
    }
}

#[test]
fn envelope_checks() {
    let body = |version: u32, time: &str, visits: usize| {
        push(json!({"protocol_version": version, "batch_id": BATCH, "device_time": time, "visits": vec![json!({}); visits]}))
            .expect("valid shape")
    };
    let ok = "2026-11-27T10:05:00+08:00";
    let err = body(2, ok, 0).check_envelope(1000).expect_err("version 2");
    assert_eq!((err.code(), err.field()), ("unsupported_protocol_version", None));
    assert_eq!(err, EnvelopeError::UnsupportedVersion(2));
    let err = body(1, ok, 1001).check_envelope(1000).expect_err("too many");
    assert_eq!(err.code(), "batch_too_large");
    assert_eq!(err, EnvelopeError::TooManyRecords { count: 1001, max: 1000 });
    assert!(body(1, ok, 1000).check_envelope(1000).is_ok());
    let err = body(1, "2026-11-27T10:05:00", 0).check_envelope(1000).expect_err("no offset");
    assert_eq!((err.code(), err.field()), ("invalid_time", Some("device_time")));
    assert!(!err.to_string().is_empty());
}

#[test]
fn records_come_in_the_order_they_are_applied() {
    let p = push(json!({
        "protocol_version": 1, "batch_id": BATCH, "device_time": "2026-11-27T10:05:00+08:00",
        "ticket_events": [{"n": 6}], "tickets": [{"n": 4}, {"n": 5}], "visits": [{"n": 3}], "households": [{"n": 1}, {"n": 2}],
    }))
    .expect("valid");
    let order: Vec<(RecordType, usize, i64)> =
        p.records().map(|(t, i, v)| (t, i, v["n"].as_i64().expect("n"))).collect();
    use RecordType::*;
    assert_eq!(
        order,
        [(Household, 0, 1), (Household, 1, 2), (Visit, 0, 3), (Ticket, 0, 4), (Ticket, 1, 5), (TicketEvent, 0, 6)]
    );
    assert_eq!(TicketEvent.path(12), "ticket_events[12]");
}

// ---------------------------------------------------------------------------------------------
// Push response

fn sample_results() -> Vec<RecordResult> {
    vec![
        RecordResult::applied(RecordType::Household, "h1"),
        RecordResult::merged(RecordType::Household, "h2", json!({"version": 4}), vec!["phone".into()]),
        RecordResult::merged(RecordType::Household, "h3", json!({"version": 2}), vec![]),
        RecordResult::duplicate(RecordType::Visit, "v1"),
        RecordResult::rejected(
            RecordType::Visit,
            "",
            FieldError::new(RecordErrorCode::InvalidTime, "must be RFC 3339 with an offset", "visits[1].visited_at"),
        ),
        RecordResult::conflict(RecordType::Ticket, "t1", json!({"id": "t1"})),
        RecordResult::rejected(
            RecordType::TicketEvent,
            "e1",
            RecordError::new(RecordErrorCode::UnknownTicket, "no such ticket"),
        ),
        // The server answers trouble for the whole batch (503), so no code is retry-only yet.
        RecordResult::retry(
            RecordType::TicketEvent,
            "e2",
            RecordError::new(RecordErrorCode::UnknownTicket, "try again"),
        ),
    ]
}

#[test]
fn push_response_json_has_the_contract_names_and_skips_nones() {
    let response = PushResponse::new(Uuid::parse_str(BATCH).expect("uuid"), T0, -10_800_000, sample_results());
    let v = serde_json::to_value(&response).expect("serializes");
    assert_eq!(
        v,
        json!({
            "batch_id": BATCH,
            "server_time": "2026-11-27T02:00:00.000Z",
            "clock_offset_ms": -10_800_000,
            "results": [
                {"type": "household", "id": "h1", "status": "applied"},
                {"type": "household", "id": "h2", "status": "merged", "current": {"version": 4},
                 "conflicting_fields": ["phone"]},
                {"type": "household", "id": "h3", "status": "merged", "current": {"version": 2}},
                {"type": "visit", "id": "v1", "status": "duplicate"},
                {"type": "visit", "id": "", "status": "rejected",
                 "error": {"code": "invalid_time", "message": "must be RFC 3339 with an offset",
                           "field": "visits[1].visited_at"}},
                {"type": "ticket", "id": "t1", "status": "conflict", "current": {"id": "t1"}},
                {"type": "ticket_event", "id": "e1", "status": "rejected",
                 "error": {"code": "unknown_ticket", "message": "no such ticket"}},
                {"type": "ticket_event", "id": "e2", "status": "retry",
                 "error": {"code": "unknown_ticket", "message": "try again"}},
            ],
            "summary": {"applied": 1, "duplicate": 1, "merged": 2, "conflict": 1, "rejected": 2, "retry": 1},
        })
    );
    let back: PushResponse = serde_json::from_value(v).expect("round-trips");
    assert_eq!(back, response);
}

#[test]
fn summary_counts_each_status() {
    assert_eq!(Summary::of(&[]), Summary::default());
    let s = Summary::of(&sample_results());
    assert_eq!((s.applied, s.duplicate, s.merged, s.conflict, s.rejected, s.retry), (1, 1, 2, 1, 2, 1));
    let statuses = ["applied", "duplicate", "merged", "conflict", "rejected", "retry"];
    for name in statuses {
        let status: RecordStatus = serde_json::from_value(json!(name)).expect("status");
        assert_eq!(serde_json::to_value(status).expect("serializes"), json!(name));
    }
    for (t, name) in [
        (RecordType::Household, "household"),
        (RecordType::Visit, "visit"),
        (RecordType::Ticket, "ticket"),
        (RecordType::TicketEvent, "ticket_event"),
    ] {
        assert_eq!(serde_json::to_value(t).expect("serializes"), json!(name));
        assert_eq!(t.as_str(), name);
    }
}

// ---------------------------------------------------------------------------------------------
// Pull

fn fields() -> HouseholdFields {
    HouseholdFields {
        address: "3-2-401".into(),
        head_name: "Li Wei".into(),
        phone: None,
        heating: Heating::Gas,
        tags: vec!["elderly_alone".into()],
    }
}

#[test]
fn household_out() {
    let h = HouseholdOut::new(id(1), id(2), fields(), 3, T0);
    let v = serde_json::to_value(&h).expect("serializes");
    assert_eq!(
        v,
        json!({"id": id(1), "area_id": id(2), "address": "3-2-401", "head_name": "Li Wei", "phone": null,
               "heating": "gas", "tags": ["elderly_alone"], "version": 3, "updated_at": "2026-11-27T02:00:00.000Z"})
    );
    assert_eq!(h.fields(), fields());
    assert_eq!(serde_json::from_value::<HouseholdOut>(v).expect("round-trips"), h);
    let stored = serde_json::to_value(fields()).expect("serializes");
    assert_eq!(serde_json::from_value::<HouseholdFields>(stored).expect("round-trips"), fields());
}

fn projected(events: &[(EventType, i64)], now: i64) -> fieldvisit_sync_protocol::deadline::Projection {
    let facts = TicketFacts {
        reported_at: T0,
        severity: Severity::Normal,
        category: "heating".into(),
        resolved_on_the_spot: false,
    };
    let events: Vec<FoldEvent> = events
        .iter()
        .enumerate()
        .map(|(n, &(event_type, minute))| FoldEvent {
            id: id(100 + n as u128),
            event_type,
            occurred_at: T0 + minute * MIN,
            category: None,
            team_id: (event_type == EventType::Dispatched).then(|| id(7)),
            author: Author::Staff,
            satisfaction: None,
        })
        .collect();
    project(&Policy::default(), &facts, &events, T0 + now * MIN)
}

fn ticket() -> TicketOut {
    TicketOut {
        id: id(10),
        household_id: id(1),
        visit_id: None,
        area_id: id(2),
        category: "heating".into(),
        severity: Severity::Urgent,
        description: "No heat".into(),
        reported_at: "2026-11-27T02:00:00.000Z".into(),
        device_reported_at: "2026-11-27T05:00:00.000Z".into(),
        received_at: "2026-11-27T04:01:40.000Z".into(),
        status: TicketStatus::Open,
        team_id: None,
        stage: String::new(),
        policy_version: 1,
        stages: vec![],
        overdue: false,
        overdue_by_s: 0,
        sync_delay_s: sync_delay_s(T0, T0 + 2 * 3_600_000 + 100_000),
        version: 1,
        photos: vec![],
        resolved_on_the_spot: false,
    }
}

#[test]
fn ticket_out_from_a_projection() {
    // Classified after 10 min, looked at after 90 min: dispatch (due at 70) is 20 min overdue.
    let p = projected(&[(EventType::Classified, 10)], 90);
    let mut t = ticket();
    t.apply_projection(&p);
    assert_eq!((t.status, t.stage.as_str(), t.overdue, t.overdue_by_s), (TicketStatus::Open, "dispatch", true, 1200));
    assert_eq!(t.sync_delay_s, 7300);
    let v = serde_json::to_value(&t).expect("serializes");
    assert_eq!(
        keys(&v),
        [
            "area_id",
            "category",
            "description",
            "device_reported_at",
            "household_id",
            "id",
            "overdue",
            "overdue_by_s",
            "photos",
            "policy_version",
            "received_at",
            "reported_at",
            "resolved_on_the_spot",
            "severity",
            "stage",
            "stages",
            "status",
            "sync_delay_s",
            "team_id",
            "version",
            "visit_id",
        ]
    );
    assert_eq!(v["status"], json!("open"));
    assert_eq!(v["visit_id"], Value::Null);
    assert_eq!(
        v["stages"],
        json!([
            {"name": "classify", "cycle": 1, "started_at": "2026-11-27T02:00:00.000Z", "due_at": "2026-11-27T03:00:00.000Z",
             "completed_at": "2026-11-27T02:10:00.000Z", "state": "met"},
            {"name": "dispatch", "cycle": 1, "started_at": "2026-11-27T02:10:00.000Z", "due_at": "2026-11-27T03:10:00.000Z",
             "completed_at": null, "state": "overdue"},
            {"name": "on_site", "cycle": 1, "started_at": null, "due_at": null, "completed_at": null, "state": "not_started"},
            {"name": "close", "cycle": 1, "started_at": null, "due_at": null, "completed_at": null, "state": "not_started"},
        ])
    );
    assert_eq!(serde_json::from_value::<TicketOut>(v).expect("round-trips"), t);
}

#[test]
fn a_closed_ticket_is_done_and_not_overdue() {
    let p = projected(
        &[
            (EventType::Classified, 10),
            (EventType::Dispatched, 20),
            (EventType::OnSite, 60),
            (EventType::Resolved, 90),
            (EventType::Feedback, 95),
        ],
        600,
    );
    let mut t = ticket();
    t.apply_projection(&p);
    assert_eq!((t.status, t.stage.as_str(), t.overdue, t.overdue_by_s), (TicketStatus::Closed, "done", false, 0));
    assert_eq!(serde_json::to_value(t.status).expect("serializes"), json!("closed"));
    let stages = ticket_out_stages(&p);
    assert_eq!(stages.len(), 4);
    assert!(stages.iter().all(|s| s.state == StageState::Met && s.completed_at.is_some()));
    assert_eq!(
        stages[3],
        StageOut {
            name: Stage::Close,
            cycle: 1,
            started_at: Some("2026-11-27T03:00:00.000Z".into()),
            due_at: Some("2026-11-27T07:00:00.000Z".into()),
            completed_at: Some("2026-11-27T03:35:00.000Z".into()),
            state: StageState::Met,
        }
    );
}

#[test]
fn sync_delay_is_whole_seconds_and_never_negative() {
    assert_eq!(sync_delay_s(T0, T0 + 1999), 1);
    assert_eq!(sync_delay_s(T0, T0), 0);
    assert_eq!(sync_delay_s(T0 + 5000, T0), 0);
}

#[test]
fn visit_and_event_out() {
    let visit = VisitOut {
        id: id(20),
        household_id: id(1),
        area_id: id(2),
        visited_at: "2026-11-27T02:05:00.000Z".into(),
        device_visited_at: "2026-11-27T05:05:00.000Z".into(),
        received_at: "2026-11-27T02:30:00.000Z".into(),
        clock_verified: false,
        indoor_temp_c: Some(17.5),
        checklist: json!({"radiator_ok": true}).as_object().cloned().expect("object"),
        service_card_given: None,
        notes: None,
        location: None,
        photos: vec![],
        volunteer_id: id(30).to_string(),
        device_id: "phone-1".into(),
        checklist_template: None,
    };
    let v = serde_json::to_value(&visit).expect("serializes");
    assert_eq!(
        keys(&v),
        [
            "area_id",
            "checklist",
            "clock_verified",
            "device_id",
            "device_visited_at",
            "household_id",
            "id",
            "indoor_temp_c",
            "location",
            "notes",
            "photos",
            "received_at",
            "service_card_given",
            "visited_at",
            "volunteer_id",
        ]
    );
    assert_eq!(serde_json::from_value::<VisitOut>(v).expect("round-trips"), visit);

    let event = TicketEventOut {
        id: id(40),
        ticket_id: id(10),
        event_type: EventType::Feedback,
        occurred_at: "2026-11-27T06:00:00.000Z".into(),
        device_occurred_at: "2026-11-27T06:00:00.000Z".into(),
        received_at: "2026-11-27T06:01:00.000Z".into(),
        clock_verified: true,
        category: None,
        team_id: None,
        note: Some("warm".into()),
        satisfaction: Some(Satisfaction::Neutral),
        user_id: id(31).to_string(),
        device_id: "phone-2".into(),
    };
    let v = serde_json::to_value(&event).expect("serializes");
    assert_eq!(v["type"], json!("feedback"));
    assert_eq!(v["satisfaction"], json!("neutral"));
    assert_eq!(
        keys(&v),
        [
            "category",
            "clock_verified",
            "device_id",
            "device_occurred_at",
            "id",
            "note",
            "occurred_at",
            "received_at",
            "satisfaction",
            "team_id",
            "ticket_id",
            "type",
            "user_id",
        ]
    );
    assert_eq!(serde_json::from_value::<TicketEventOut>(v).expect("round-trips"), event);
}

#[test]
fn pull_response() {
    let pull = PullResponse {
        cursor: "c1".into(),
        has_more: false,
        server_time: "2026-11-27T02:00:00.000Z".into(),
        households: vec![HouseholdOut::new(id(1), id(2), fields(), 1, T0)],
        visits: vec![],
        tickets: vec![],
        ticket_events: vec![],
        areas: vec![Area { id: id(2).to_string(), parent_id: None, kind: "grid".into(), name: "Grid 7".into() }],
        teams: vec![Team {
            id: id(7).to_string(),
            name: "Heating team".into(),
            area_id: id(2).to_string(),
            categories: vec!["heating".into()],
        }],
        policy: None,
        removed: vec![Removed { record_type: RemovedType::TicketEvent, id: id(40) }],
        checklist_templates: vec![],
    };
    let v = serde_json::to_value(&pull).expect("serializes");
    assert_eq!(
        keys(&v),
        [
            "areas",
            "checklist_templates",
            "cursor",
            "has_more",
            "households",
            "policy",
            "removed",
            "server_time",
            "teams",
            "ticket_events",
            "tickets",
            "visits",
        ]
    );
    assert_eq!(v["removed"], json!([{"type": "ticket_event", "id": id(40)}]));
    assert_eq!(v["areas"][0], json!({"id": id(2), "parent_id": null, "kind": "grid", "name": "Grid 7"}));
    assert_eq!(keys(&v["teams"][0]), ["area_id", "categories", "id", "name"]);
    assert_eq!(serde_json::from_value::<PullResponse>(v).expect("round-trips"), pull);
}
