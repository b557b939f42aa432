//! The policy document: wire shape, validation and window lookup.

use std::collections::BTreeMap;

use fieldvisit_sync_protocol::deadline::{
    EventType, Notify, Override, Policy, Severity, Stage, StageState, StageWindow,
};
use serde_json::json;

fn default_json() -> serde_json::Value {
    json!({
        "version": 1,
        "stages": [
            {"name": "classify", "window_s": 3600},
            {"name": "dispatch", "window_s": 3600},
            {"name": "on_site", "window_s": 7200},
            {"name": "close", "window_s": 14400}
        ],
        "anchor": "previous_stage",
        "due_soon_ratio": 0.75,
        "overrides": [],
        "escalation": [
            {"after_overdue_s": 3600, "notify": "area"},
            {"after_overdue_s": 14400, "notify": "parent_area"}
        ],
        "clock_tolerance_s": 120,
        "timezone": "Asia/Shanghai",
        "pull_visit_days": 30,
        "day_end": "20:00",
        "callback_within_h": 24,
        "reopen_on_unsatisfied_callback": true
    })
}

#[test]
fn a_policy_stored_before_pull_visit_days_reads_as_thirty_days() {
    let mut stored = default_json();
    stored.as_object_mut().expect("object").remove("pull_visit_days");
    let policy: Policy = serde_json::from_value(stored).expect("an old version still reads");
    assert_eq!(policy.pull_visit_days, 30);
    for (days, ok) in [(0, false), (1, true), (366, true), (367, false), (-5, false)] {
        let p = Policy { pull_visit_days: days, ..Policy::default() };
        assert_eq!(p.validate().is_ok(), ok, "{days}");
        if !ok {
            assert_eq!(p.validate().map_err(|e| e.field), Err("pull_visit_days".to_owned()));
        }
    }
}

#[test]
fn a_policy_stored_before_day_end_reads_with_the_defaults() {
    let mut stored = default_json();
    for key in ["day_end", "callback_within_h", "reopen_on_unsatisfied_callback"] {
        stored.as_object_mut().expect("object").remove(key);
    }
    let policy: Policy = serde_json::from_value(stored).expect("an old version still reads");
    assert_eq!((policy.day_end.as_str(), policy.callback_within_h), ("20:00", 24));
    assert!(policy.reopen_on_unsatisfied_callback);
    assert_eq!(policy.day_end_minutes(), 20 * 60);
}

#[test]
fn day_end_and_callback_window_are_validated() {
    for (day_end, ok) in [
        ("20:00", true),
        ("00:00", true),
        ("23:59", true),
        ("24:00", false),
        ("8:00", false),
        ("20:60", false),
        ("2000", false),
        ("", false),
        ("+1:00", false),
    ] {
        let p = Policy { day_end: day_end.into(), ..Policy::default() };
        assert_eq!(p.validate().map_err(|e| e.field), if ok { Ok(()) } else { Err("day_end".to_owned()) }, "{day_end}");
    }
    assert_eq!(Policy { day_end: "07:30".into(), ..Policy::default() }.day_end_minutes(), 450);
    for (hours, ok) in [(0, false), (1, true), (168, true), (169, false)] {
        let p = Policy { callback_within_h: hours, ..Policy::default() };
        assert_eq!(p.validate().is_ok(), ok, "{hours}");
    }
}

#[test]
fn default_policy_has_the_contract_shape() {
    let value = serde_json::to_value(Policy::default()).expect("serialize");
    assert_eq!(value, default_json());
    let back: Policy = serde_json::from_value(value).expect("deserialize");
    assert_eq!(back, Policy::default());
    assert_eq!(Policy::default().validate(), Ok(()));
}

#[test]
fn override_keys_are_optional_on_the_wire() {
    let mut value = default_json();
    value["overrides"] = json!([
        {"stages": {"on_site": 1800}},
        {"severity": "critical", "category": "gas", "stages": {"classify": 600, "close": 7200}}
    ]);
    let policy: Policy = serde_json::from_value(value.clone()).expect("deserialize");
    assert_eq!(policy.overrides[0].severity, None);
    assert_eq!(policy.overrides[0].category, None);
    assert_eq!(policy.overrides[1].severity, Some(Severity::Critical));
    assert_eq!(policy.overrides[1].stages.get(&Stage::Close), Some(&7200));
    assert_eq!(serde_json::to_value(&policy).expect("serialize"), value);
    assert_eq!(policy.validate(), Ok(()));
}

#[test]
fn enums_use_snake_case_wire_names() {
    let names = |v: serde_json::Value| v.to_string();
    assert_eq!(names(json!(Stage::ALL)), r#"["classify","dispatch","on_site","close"]"#);
    assert_eq!(
        names(json!(EventType::ALL)),
        r#"["classified","dispatched","on_site","resolved","feedback","reopened","comment","callback"]"#
    );
    let states = [
        StageState::NotStarted,
        StageState::Pending,
        StageState::DueSoon,
        StageState::Overdue,
        StageState::Met,
        StageState::Late,
    ];
    assert_eq!(names(json!(states)), r#"["not_started","pending","due_soon","overdue","met","late"]"#);
    assert_eq!(
        names(json!([Severity::Normal, Severity::Urgent, Severity::Critical])),
        r#"["normal","urgent","critical"]"#
    );
    assert_eq!(names(json!([Notify::Area, Notify::ParentArea])), r#"["area","parent_area"]"#);
}

/// Applies `edit` to the default policy and returns the field validation blames, if any.
fn refused(edit: impl FnOnce(&mut Policy)) -> Option<String> {
    let mut policy = Policy::default();
    edit(&mut policy);
    policy.validate().err().map(|e| {
        assert!(!e.message.is_empty());
        e.field
    })
}

fn field(f: &str) -> Option<String> {
    Some(f.to_owned())
}

#[test]
fn validate_requires_every_stage_exactly_once() {
    assert_eq!(
        refused(|p| {
            p.stages.pop();
        }),
        field("stages")
    );
    assert_eq!(refused(|p| p.stages.clear()), field("stages"));
    assert_eq!(refused(|p| p.stages[1].name = Stage::Classify), field("stages[1].name"));
    assert_eq!(refused(|p| p.stages.push(StageWindow { name: Stage::Close, window_s: 60 })), field("stages[4].name"));
    // Order is free: windows are looked up by name.
    assert_eq!(refused(|p| p.stages.reverse()), None);
}

#[test]
fn validate_bounds_windows_to_one_second_through_seven_days() {
    assert_eq!(refused(|p| p.stages[2].window_s = 0), field("stages[2].window_s"));
    assert_eq!(refused(|p| p.stages[0].window_s = -5), field("stages[0].window_s"));
    assert_eq!(refused(|p| p.stages[3].window_s = 7 * 86400 + 1), field("stages[3].window_s"));
    assert_eq!(refused(|p| p.stages[3].window_s = 7 * 86400), None);
    assert_eq!(refused(|p| p.stages[3].window_s = 1), None);
}

#[test]
fn validate_ratio_strictly_between_zero_and_one() {
    for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert_eq!(refused(|p| p.due_soon_ratio = bad), field("due_soon_ratio"), "{bad}");
    }
    assert_eq!(refused(|p| p.due_soon_ratio = 0.01), None);
    assert_eq!(refused(|p| p.due_soon_ratio = 0.99), None);
}

#[test]
fn validate_override_windows() {
    fn with(stages: &[(Stage, i64)]) -> impl FnOnce(&mut Policy) + '_ {
        move |p: &mut Policy| {
            p.overrides.push(Override::default());
            p.overrides.push(Override {
                severity: Some(Severity::Urgent),
                stages: stages.iter().copied().collect(),
                ..Override::default()
            });
        }
    }
    assert_eq!(refused(with(&[(Stage::OnSite, 0)])), field("overrides[1].stages.on_site"));
    assert_eq!(refused(with(&[(Stage::Classify, 60), (Stage::Close, 8 * 86400)])), field("overrides[1].stages.close"));
    assert_eq!(refused(with(&[(Stage::OnSite, 1800)])), None);
}

#[test]
fn validate_escalation_positive_and_strictly_increasing() {
    assert_eq!(refused(|p| p.escalation[0].after_overdue_s = 0), field("escalation[0].after_overdue_s"));
    assert_eq!(refused(|p| p.escalation[1].after_overdue_s = 3600), field("escalation[1].after_overdue_s"));
    assert_eq!(refused(|p| p.escalation[1].after_overdue_s = 60), field("escalation[1].after_overdue_s"));
    assert_eq!(refused(|p| p.escalation.clear()), None);
}

#[test]
fn validate_clock_tolerance_timezone_and_anchor() {
    assert_eq!(refused(|p| p.clock_tolerance_s = -1), field("clock_tolerance_s"));
    assert_eq!(refused(|p| p.clock_tolerance_s = 3601), field("clock_tolerance_s"));
    assert_eq!(refused(|p| p.clock_tolerance_s = 0), None);
    assert_eq!(refused(|p| p.clock_tolerance_s = 3600), None);
    assert_eq!(refused(|p| p.timezone = String::new()), field("timezone"));
    assert_eq!(refused(|p| p.timezone = "  ".to_owned()), field("timezone"));
    assert_eq!(refused(|p| p.anchor = "ticket_reported".to_owned()), field("anchor"));
}

#[test]
fn policy_error_displays_field_and_message() {
    let mut p = Policy::default();
    p.timezone.clear();
    let e = p.validate().expect_err("empty timezone");
    assert_eq!(e.to_string(), format!("timezone: {}", e.message));
}

fn only(stage: Stage, severity: Option<Severity>, category: Option<&str>, s: i64) -> Override {
    Override { severity, category: category.map(str::to_owned), stages: BTreeMap::from([(stage, s)]) }
}

#[test]
fn window_lookup_precedence() {
    use Severity::{Critical, Normal, Urgent};
    let p = Policy {
        overrides: vec![
            only(Stage::OnSite, Some(Urgent), Some("gas"), 100),
            only(Stage::OnSite, Some(Urgent), None, 200),
            only(Stage::OnSite, None, Some("gas"), 300),
            only(Stage::OnSite, None, Some("water"), 400),
            only(Stage::OnSite, Some(Critical), None, 500),
            only(Stage::Close, None, None, 600),
        ],
        ..Policy::default()
    };
    let cases = [
        (Stage::OnSite, Urgent, "gas", 100), // two keys beat one, though listed first
        (Stage::OnSite, Urgent, "heating", 200),
        (Stage::OnSite, Normal, "gas", 300),
        (Stage::OnSite, Critical, "water", 500), // tie: the later one
        (Stage::OnSite, Normal, "heating", 7200),
        (Stage::OnSite, Urgent, "Gas", 200),    // categories compare exactly
        (Stage::Close, Normal, "heating", 600), // an override with no keys matches every ticket
        (Stage::Classify, Urgent, "gas", 3600), // no override names classify
    ];
    for (stage, severity, category, want) in cases {
        assert_eq!(p.window_s(stage, severity, category), want, "{stage} {severity:?} {category}");
    }
}

#[test]
fn window_lookup_falls_back_to_builtin_for_a_missing_stage() {
    let p = Policy { stages: Vec::new(), ..Policy::default() };
    assert_eq!(p.window_s(Stage::OnSite, Severity::Normal, "x"), 7200);
}

#[test]
fn due_soon_rounds_down_to_the_millisecond() {
    let p = Policy { due_soon_ratio: 0.3333, ..Policy::default() };
    assert_eq!(p.due_soon_at(10_000, 11_000), 10_333);
    let p = Policy { due_soon_ratio: 0.9999, ..Policy::default() };
    assert_eq!(p.due_soon_at(0, 1_000), 999);
    assert_eq!(Policy::default().due_soon_at(0, 3_600_000), 2_700_000);
}
