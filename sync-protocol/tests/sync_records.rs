//! Data-driven cases of the record parsers. Each case patches one valid record, parses it as the
//! third of its array (index 2) and states the outcome: `ok`, or `<code> <field path>`.

use fieldvisit_sync_protocol::deadline::{EventType, Severity};
use fieldvisit_sync_protocol::sync::{
    record_id, FieldError, Heating, HouseholdIn, RecordIn, RecordType, Satisfaction, TicketEventIn, TicketIn, VisitIn,
};
use fieldvisit_sync_protocol::time::parse_rfc3339;
use serde_json::{json, Value};

use RecordType::{Household as H, Ticket as T, TicketEvent as E, Visit as V};

/// A patch value that removes the key instead of setting it.
const ABSENT: &str = "<absent>";
const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn valid(t: RecordType) -> Value {
    match t {
        H => json!({
            "id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01",
            "area_id": "5d0c1a1e-77aa-4f4e-8d2b-3a8f9e6c1b02",
            "address": "3-2-401 Yongdeng Road",
            "head_name": "Li Wei",
            "phone": "+86 138-0000-0000",
            "heating": "coal",
            "tags": ["elderly_alone", "disabled"],
            "base_version": 0,
            "updated_at": "2026-11-27T10:00:00+08:00",
        }),
        V => json!({
            "id": "1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a03",
            "household_id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01",
            "visited_at": "2026-11-27T10:05:00+08:00",
            "indoor_temp_c": 17.5,
            "checklist": {"radiator_ok": true, "co_alarm": "installed", "stove_checks": 3},
            "service_card_given": true,
            "notes": "Radiator cold in the north room.\n\tChimney fine.",
            "location": {"lat": 36.73, "lon": 103.26},
            "photos": [HEX],
            "boot_id": "boot-1",
            "elapsed_ms": 3_600_000,
        }),
        T => json!({
            "id": "2c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a04",
            "household_id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01",
            "visit_id": "1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a03",
            "category": "heating",
            "severity": "urgent",
            "description": "No heat in the north room",
            "reported_at": "2026-11-27T10:06:00+08:00",
            "resolved_on_the_spot": false,
            "photos": [],
        }),
        E => json!({
            "id": "3c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a05",
            "ticket_id": "2c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a04",
            "type": "feedback",
            "occurred_at": "2026-11-27T14:00:00+08:00",
            "note": "Warm again",
            "satisfaction": "satisfied",
        }),
    }
}

fn patched(t: RecordType, patch: &Value) -> Value {
    let mut v = valid(t);
    let (Some(obj), Some(patch)) = (v.as_object_mut(), patch.as_object()) else {
        return patch.clone(); // a non-object patch replaces the whole record
    };
    for (key, value) in patch {
        if value == ABSENT {
            obj.remove(key);
        } else {
            obj.insert(key.clone(), value.clone());
        }
    }
    v
}

fn parse(t: RecordType, patch: &Value) -> Result<RecordIn, FieldError> {
    RecordIn::parse(t, 2, &patched(t, patch))
}

/// Parses the patched record and checks the outcome: `ok` or `<code> <field>`.
fn check(t: RecordType, patch: Value, expected: &str) {
    let got = match parse(t, &patch) {
        Ok(r) => {
            assert_eq!(r.record_type(), t);
            "ok".to_owned()
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "{e:?}");
            format!("{} {}", e.code, e.field)
        }
    };
    assert_eq!(got, expected, "{} patched with {patch}", t.as_str());
}

fn chars(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[test]
fn the_valid_records_parse() {
    for t in [H, V, T, E] {
        check(t, json!({}), "ok");
    }
}

#[test]
fn ids() {
    check(H, json!({"id": ABSENT}), "missing_field households[2].id");
    check(H, json!({"id": null}), "missing_field households[2].id");
    check(H, json!({"id": "not-a-uuid"}), "invalid_id households[2].id");
    check(H, json!({"id": 42}), "invalid_id households[2].id");
    check(H, json!({"id": "0b5d3c3e3f6c4c1e9a530e7f5b1e2a01"}), "invalid_id households[2].id");
    check(H, json!({"id": "{0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01}"}), "invalid_id households[2].id");
    check(H, json!({"id": "00000000-0000-0000-0000-000000000000"}), "invalid_id households[2].id");
    check(H, json!({"id": "0B5D3C3E-3F6C-4C1E-9A53-0E7F5B1E2A01"}), "ok");
    check(H, json!({"area_id": "x"}), "invalid_id households[2].area_id");
    check(V, json!({"household_id": ABSENT}), "missing_field visits[2].household_id");
    check(V, json!({"household_id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a0g"}), "invalid_id visits[2].household_id");
    check(T, json!({"visit_id": ABSENT}), "ok");
    check(T, json!({"visit_id": null}), "ok");
    check(T, json!({"visit_id": ""}), "invalid_id tickets[2].visit_id");
    check(E, json!({"ticket_id": true}), "invalid_id ticket_events[2].ticket_id");
    check(E, json!({"team_id": "team-7"}), "invalid_id ticket_events[2].team_id");
}

#[test]
fn times_need_an_offset() {
    check(H, json!({"updated_at": "2026-11-27T10:00:00"}), "invalid_time households[2].updated_at");
    check(H, json!({"updated_at": ABSENT}), "missing_field households[2].updated_at");
    check(V, json!({"visited_at": "2026-11-27T10:05:00"}), "invalid_time visits[2].visited_at");
    check(V, json!({"visited_at": "2026-11-27"}), "invalid_time visits[2].visited_at");
    check(V, json!({"visited_at": "yesterday"}), "invalid_time visits[2].visited_at");
    check(V, json!({"visited_at": 1_795_744_800_000_i64}), "invalid_time visits[2].visited_at");
    check(V, json!({"visited_at": "2026-11-27T02:05:00Z"}), "ok");
    check(V, json!({"visited_at": "2026-11-27T02:05:00.123-05:30"}), "ok");
    check(T, json!({"reported_at": "2026-11-27T10:06:00+0800"}), "invalid_time tickets[2].reported_at");
    check(E, json!({"occurred_at": ""}), "invalid_time ticket_events[2].occurred_at");
}

#[test]
fn times_are_the_raw_device_reading() {
    let Ok(RecordIn::Visit(v)) = parse(V, &json!({})) else { panic!("valid visit") };
    assert_eq!(Some(v.visited_at), parse_rfc3339("2026-11-27T02:05:00Z"));
}

#[test]
fn household_fields() {
    check(H, json!({"address": ""}), "invalid_field households[2].address");
    check(H, json!({"address": chars('x', 201)}), "too_long households[2].address");
    check(H, json!({"address": chars('永', 200)}), "ok"); // characters, not bytes
    check(H, json!({"address": "line one\nline two"}), "invalid_field households[2].address");
    check(H, json!({"address": ["3-2-401"]}), "invalid_field households[2].address");
    check(H, json!({"head_name": ABSENT}), "missing_field households[2].head_name");
    check(H, json!({"head_name": "Li\u{0}Wei"}), "invalid_field households[2].head_name");
    check(H, json!({"phone": ABSENT}), "ok");
    check(H, json!({"phone": null}), "ok");
    check(H, json!({"phone": "0931 6234567"}), "ok");
    check(H, json!({"phone": "call me"}), "invalid_field households[2].phone");
    check(H, json!({"phone": "+- "}), "invalid_field households[2].phone");
    check(H, json!({"phone": ""}), "invalid_field households[2].phone");
    check(H, json!({"phone": chars('1', 33)}), "too_long households[2].phone");
    check(H, json!({"phone": 13800000000_i64}), "invalid_field households[2].phone");
    check(H, json!({"heating": "wood"}), "invalid_field households[2].heating");
    check(H, json!({"heating": "Coal"}), "invalid_field households[2].heating");
    check(H, json!({"heating": ABSENT}), "missing_field households[2].heating");
    for heating in ["central", "coal", "gas", "electric", "other"] {
        check(H, json!({"heating": heating}), "ok");
    }
    check(H, json!({"base_version": ABSENT}), "missing_field households[2].base_version");
    check(H, json!({"base_version": -1}), "invalid_field households[2].base_version");
    check(H, json!({"base_version": 1.5}), "invalid_field households[2].base_version");
    check(H, json!({"base_version": "3"}), "invalid_field households[2].base_version");
    check(H, json!({"base_version": 7}), "ok");
}

#[test]
fn household_tags() {
    let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    check(H, json!({"tags": twenty}), "ok");
    check(H, json!({"tags": twenty_one}), "too_many households[2].tags");
    check(H, json!({"tags": ABSENT}), "ok");
    check(H, json!({"tags": []}), "ok");
    check(H, json!({"tags": "elderly_alone"}), "invalid_field households[2].tags");
    check(H, json!({"tags": ["ok", ""]}), "invalid_field households[2].tags[1]");
    check(H, json!({"tags": [chars('t', 33)]}), "too_long households[2].tags[0]");
    check(H, json!({"tags": [chars('t', 32)]}), "ok");
    check(H, json!({"tags": ["a", 1]}), "invalid_field households[2].tags[1]");
}

#[test]
fn visit_fields() {
    check(V, json!({"indoor_temp_c": 45.1}), "invalid_field visits[2].indoor_temp_c");
    check(V, json!({"indoor_temp_c": -40.5}), "invalid_field visits[2].indoor_temp_c");
    check(V, json!({"indoor_temp_c": 45}), "ok");
    check(V, json!({"indoor_temp_c": -40}), "ok");
    check(V, json!({"indoor_temp_c": "18"}), "invalid_field visits[2].indoor_temp_c");
    check(V, json!({"indoor_temp_c": null}), "ok");
    check(V, json!({"service_card_given": "yes"}), "invalid_field visits[2].service_card_given");
    check(V, json!({"service_card_given": ABSENT}), "ok");
    check(V, json!({"notes": chars('n', 4000)}), "ok");
    check(V, json!({"notes": chars('n', 4001)}), "too_long visits[2].notes");
    check(V, json!({"notes": ""}), "ok");
    check(V, json!({"notes": "a\u{7}b"}), "invalid_field visits[2].notes");
    check(V, json!({"notes": "windows line\r\nend"}), "invalid_field visits[2].notes");
    check(V, json!({"location": {"lat": 90, "lon": -180}}), "ok");
    check(V, json!({"location": {"lat": 90.5, "lon": 0}}), "invalid_field visits[2].location.lat");
    check(V, json!({"location": {"lat": 0, "lon": 180.01}}), "invalid_field visits[2].location.lon");
    check(V, json!({"location": {"lat": 0}}), "missing_field visits[2].location.lon");
    check(V, json!({"location": {"lat": "36.7", "lon": 0}}), "invalid_field visits[2].location.lat");
    check(V, json!({"location": [36.7, 103.2]}), "invalid_field visits[2].location");
    check(V, json!({"boot_id": ""}), "invalid_field visits[2].boot_id");
    check(V, json!({"elapsed_ms": -1}), "invalid_field visits[2].elapsed_ms");
    check(V, json!({"elapsed_ms": "5"}), "invalid_field visits[2].elapsed_ms");
    check(V, json!({"boot_id": ABSENT, "elapsed_ms": ABSENT}), "ok");
}

#[test]
fn visit_checklist() {
    let hundred: serde_json::Map<String, Value> = (0..100).map(|i| (format!("k{i}"), json!(true))).collect();
    let mut hundred_one = hundred.clone();
    hundred_one.insert("k100".into(), json!(false));
    check(V, json!({"checklist": hundred}), "ok");
    check(V, json!({"checklist": hundred_one}), "too_many visits[2].checklist");
    check(V, json!({"checklist": ABSENT}), "ok");
    check(V, json!({"checklist": {}}), "ok");
    check(V, json!({"checklist": ["radiator_ok"]}), "invalid_field visits[2].checklist");
    check(V, json!({"checklist": {(chars('k', 65)): true}}), "too_long visits[2].checklist");
    check(V, json!({"checklist": {(chars('k', 64)): true}}), "ok");
    check(V, json!({"checklist": {"": true}}), "invalid_field visits[2].checklist");
    check(V, json!({"checklist": {"co_alarm": {"installed": true}}}), "invalid_field visits[2].checklist.co_alarm");
    check(V, json!({"checklist": {"co_alarm": [1]}}), "invalid_field visits[2].checklist.co_alarm");
    check(V, json!({"checklist": {"co_alarm": null}}), "invalid_field visits[2].checklist.co_alarm");
    check(V, json!({"checklist": {"remark": chars('r', 201)}}), "too_long visits[2].checklist.remark");
    check(V, json!({"checklist": {"remark": chars('r', 200)}}), "ok");
    check(V, json!({"checklist": {"temp": -3.5, "ok": false, "who": ""}}), "ok");
}

#[test]
fn visit_checklist_template() {
    check(V, json!({"checklist_template": ABSENT}), "ok");
    check(V, json!({"checklist_template": {"id": "winter_visit", "version": 2}}), "ok");
    check(V, json!({"checklist_template": "winter_visit"}), "invalid_field visits[2].checklist_template");
    check(V, json!({"checklist_template": {"version": 2}}), "missing_field visits[2].checklist_template.id");
    check(
        V,
        json!({"checklist_template": {"id": "w", "version": 0}}),
        "invalid_field visits[2].checklist_template.version",
    );
    check(
        V,
        json!({"checklist_template": {"id": "w", "version": 1.5}}),
        "invalid_field visits[2].checklist_template.version",
    );
    check(
        V,
        json!({"checklist_template": {"id": "w", "version": 3_000_000_000_i64}}),
        "invalid_field visits[2].checklist_template.version",
    );
}

#[test]
fn photos() {
    let twenty = vec![HEX; 20];
    let twenty_one = vec![HEX; 21];
    check(V, json!({"photos": twenty}), "ok");
    check(V, json!({"photos": twenty_one}), "too_many visits[2].photos");
    check(V, json!({"photos": [HEX, HEX.to_uppercase()]}), "invalid_field visits[2].photos[1]");
    check(V, json!({"photos": [&HEX[1..]]}), "invalid_field visits[2].photos[0]");
    check(V, json!({"photos": [format!("{}g", &HEX[1..])]}), "invalid_field visits[2].photos[0]");
    check(V, json!({"photos": HEX}), "invalid_field visits[2].photos");
    check(T, json!({"photos": [1]}), "invalid_field tickets[2].photos[0]");
    check(T, json!({"photos": ABSENT}), "ok");
}

#[test]
fn ticket_fields() {
    check(T, json!({"severity": "high"}), "invalid_field tickets[2].severity");
    check(T, json!({"severity": ABSENT}), "missing_field tickets[2].severity");
    for severity in ["normal", "urgent", "critical"] {
        check(T, json!({"severity": severity}), "ok");
    }
    check(T, json!({"category": ""}), "invalid_field tickets[2].category");
    check(T, json!({"category": chars('c', 64)}), "ok");
    check(T, json!({"category": chars('c', 65)}), "too_long tickets[2].category");
    check(T, json!({"description": ""}), "invalid_field tickets[2].description");
    check(T, json!({"description": ABSENT}), "missing_field tickets[2].description");
    check(T, json!({"description": chars('d', 4001)}), "too_long tickets[2].description");
    check(T, json!({"description": "two\nlines"}), "ok");
    check(T, json!({"resolved_on_the_spot": "no"}), "invalid_field tickets[2].resolved_on_the_spot");
    check(T, json!({"resolved_on_the_spot": true}), "ok");
    let Ok(RecordIn::Ticket(t)) = parse(T, &json!({"resolved_on_the_spot": ABSENT})) else { panic!("valid") };
    assert!(!t.resolved_on_the_spot);
    assert_eq!(t.severity, Severity::Urgent);
}

#[test]
fn ticket_event_fields() {
    check(E, json!({"type": "closed"}), "invalid_field ticket_events[2].type");
    check(E, json!({"type": ABSENT}), "missing_field ticket_events[2].type");
    check(E, json!({"type": "dispatched"}), "missing_field ticket_events[2].team_id");
    check(E, json!({"type": "dispatched", "team_id": null}), "missing_field ticket_events[2].team_id");
    check(E, json!({"type": "dispatched", "team_id": "7ea00000-0000-4000-8000-000000000007"}), "ok");
    for t in ["classified", "on_site", "resolved", "feedback", "reopened", "comment"] {
        check(E, json!({"type": t}), "ok");
    }
    check(E, json!({"satisfaction": "happy"}), "invalid_field ticket_events[2].satisfaction");
    check(E, json!({"satisfaction": ABSENT}), "ok");
    check(E, json!({"category": chars('c', 65)}), "too_long ticket_events[2].category");
    check(E, json!({"note": "bad\u{1b}[31m"}), "invalid_field ticket_events[2].note");
    let Ok(RecordIn::TicketEvent(e)) = parse(E, &json!({})) else { panic!("valid") };
    assert_eq!((e.event_type, e.satisfaction), (EventType::Feedback, Some(Satisfaction::Satisfied)));
}

#[test]
fn a_record_that_is_not_an_object() {
    for t in [H, V, T, E] {
        let field = t.path(2);
        check(t, json!("visit"), &format!("invalid_field {field}"));
        check(t, json!([1, 2]), &format!("invalid_field {field}"));
        check(t, json!(null), &format!("invalid_field {field}"));
    }
}

#[test]
fn each_type_parses_with_the_path_given() {
    let err = VisitIn::parse(&patched(V, &json!({"notes": 1})), "visits[41]").expect_err("bad notes");
    assert_eq!(err.field, "visits[41].notes");
    assert!(HouseholdIn::parse(&valid(H), "households[0]").is_ok());
    assert!(TicketIn::parse(&valid(T), "tickets[0]").is_ok());
    assert!(TicketEventIn::parse(&valid(E), "ticket_events[0]").is_ok());
}

#[test]
fn unknown_fields_are_ignored() {
    let extra = json!({"colour": "red", "__proto__": {"admin": true}, "version": 99, "area_id_2": "x"});
    for t in [H, V, T, E] {
        let with = parse(t, &extra).expect("unknown fields are ignored");
        let without = parse(t, &json!({})).expect("valid");
        assert_eq!(with, without, "{}", t.as_str());
        assert_eq!(with.canonical(), without.canonical());
    }
}

#[test]
fn sql_looking_and_odd_strings_are_kept_byte_for_byte() {
    let odd = [
        "Robert'); DROP TABLE households;--",
        "' OR '1'='1",
        "\"; DELETE FROM visits WHERE 1=1; --",
        "  leading and trailing spaces  ",
        "%s %d {} $1 \\x00 \\' \\\"",
        "李伟 🏠 <script>alert(1)</script>",
        "\u{202e}right-to-left override",
    ];
    for s in odd {
        let tag: String = s.chars().take(32).collect();
        let Ok(RecordIn::Household(h)) = parse(H, &json!({"address": s, "head_name": s, "tags": [tag]})) else {
            panic!("{s:?} is a valid address");
        };
        assert_eq!(h.fields.address.as_bytes(), s.as_bytes());
        assert_eq!(h.fields.head_name, s);
        assert_eq!(h.fields.tags, [tag]);
        assert_eq!(h.canonical()["address"], json!(s));
        let Ok(RecordIn::Visit(v)) = parse(V, &json!({"notes": s, "checklist": {s: s}})) else {
            panic!("{s:?} is a valid note");
        };
        assert_eq!(v.notes.as_deref(), Some(s));
        assert_eq!(v.checklist.get(s), Some(&json!(s)));
        let Ok(RecordIn::TicketEvent(e)) = parse(E, &json!({"note": s, "category": s})) else {
            panic!("{s:?} is a valid event note");
        };
        assert_eq!((e.note.as_deref(), e.category.as_deref()), (Some(s), Some(s)));
    }
}

#[test]
fn record_id_is_the_id_as_sent() {
    assert_eq!(record_id(&json!({"id": "NOT A UUID"})), "NOT A UUID");
    assert_eq!(
        record_id(&json!({"id": "0B5D3C3E-3F6C-4C1E-9A53-0E7F5B1E2A01"})),
        "0B5D3C3E-3F6C-4C1E-9A53-0E7F5B1E2A01"
    );
    assert_eq!(record_id(&json!({"id": 42})), "");
    assert_eq!(record_id(&json!({"visited_at": "x"})), "");
    assert_eq!(record_id(&json!(["id"])), "");
}

#[test]
fn the_parsed_household_holds_what_was_sent() {
    let Ok(RecordIn::Household(h)) = parse(H, &json!({})) else { panic!("valid") };
    assert_eq!(h.fields.heating, Heating::Coal);
    assert_eq!(h.fields.tags, ["elderly_alone", "disabled"]);
    assert_eq!(h.fields.phone.as_deref(), Some("+86 138-0000-0000"));
    assert_eq!(h.base_version, 0);
}

// ---------------------------------------------------------------------------------------------
// canonical(): same content → equal, any change → different

fn canonical(t: RecordType, patch: Value) -> Value {
    parse(t, &patch).unwrap_or_else(|e| panic!("{patch} should parse: {e}")).canonical()
}

#[test]
fn canonical_is_equal_for_the_same_content() {
    let same = [
        (H, json!({"updated_at": "2026-11-27T02:00:00Z"})), // same instant, other offset
        (H, json!({"updated_at": "2026-11-27T02:00:00.000+00:00"})),
        (H, json!({"id": "0B5D3C3E-3F6C-4C1E-9A53-0E7F5B1E2A01"})), // case of hex digits
        (V, json!({"checklist": {"stove_checks": 3, "co_alarm": "installed", "radiator_ok": true}})), // key order
        (V, json!({"visited_at": "2026-11-27T03:05:00+01:00"})),
        (V, json!({"indoor_temp_c": 17.50})),
        (T, json!({"visit_id": "1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a03", "resolved_on_the_spot": false})),
        (T, json!({"resolved_on_the_spot": ABSENT, "photos": ABSENT})), // defaults
        (E, json!({"team_id": null, "category": ABSENT})),              // null and absent
    ];
    for (t, patch) in same {
        assert_eq!(canonical(t, patch.clone()), canonical(t, json!({})), "{} {patch}", t.as_str());
    }
}

#[test]
fn canonical_differs_for_any_change() {
    let other = "9a5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a99";
    let changes = [
        (H, json!({"id": other})),
        (H, json!({"area_id": other})),
        (H, json!({"address": "3-2-402 Yongdeng Road"})),
        (H, json!({"address": "3-2-401 Yongdeng Road "})), // a trailing space is content
        (H, json!({"head_name": "Li Wei2"})),
        (H, json!({"phone": null})),
        (H, json!({"heating": "gas"})),
        (H, json!({"tags": ["disabled", "elderly_alone"]})),
        (H, json!({"base_version": 1})),
        (H, json!({"updated_at": "2026-11-27T10:00:00.001+08:00"})),
        (V, json!({"id": other})),
        (V, json!({"household_id": other})),
        (V, json!({"visited_at": "2026-11-27T10:05:01+08:00"})),
        (V, json!({"visited_at": "2026-11-27T10:05:00+09:00"})),
        (V, json!({"indoor_temp_c": 17.6})),
        (V, json!({"indoor_temp_c": null})),
        (V, json!({"checklist": {"radiator_ok": false, "co_alarm": "installed", "stove_checks": 3}})),
        (V, json!({"checklist": {"radiator_ok": true, "co_alarm": "installed"}})),
        (V, json!({"service_card_given": false})),
        (V, json!({"notes": "Radiator cold in the north room."})),
        (V, json!({"location": {"lat": 36.73, "lon": 103.27}})),
        (V, json!({"location": null})),
        (V, json!({"photos": []})),
        (V, json!({"boot_id": "boot-2"})),
        (V, json!({"elapsed_ms": 3_600_001})),
        (T, json!({"id": other})),
        (T, json!({"household_id": other})),
        (T, json!({"visit_id": null})),
        (T, json!({"category": "water"})),
        (T, json!({"severity": "critical"})),
        (T, json!({"description": "No heat"})),
        (T, json!({"reported_at": "2026-11-27T10:06:00.5+08:00"})),
        (T, json!({"resolved_on_the_spot": true})),
        (T, json!({"photos": [HEX]})),
        (E, json!({"id": other})),
        (E, json!({"ticket_id": other})),
        (E, json!({"type": "comment"})),
        (E, json!({"occurred_at": "2026-11-27T14:00:01+08:00"})),
        (E, json!({"category": "heating"})),
        (E, json!({"team_id": other})),
        (E, json!({"note": "Warm again!"})),
        (E, json!({"satisfaction": "neutral"})),
        (E, json!({"boot_id": "b", "elapsed_ms": 5})),
    ];
    for (t, patch) in changes {
        assert_ne!(canonical(t, patch.clone()), canonical(t, json!({})), "{} {patch}", t.as_str());
    }
}

#[test]
fn canonical_text_is_stable() {
    // The exact text, keys sorted, so a stored hash of it stays comparable.
    let text = canonical(E, json!({})).to_string();
    assert_eq!(
        text,
        concat!(
            r#"{"boot_id":null,"category":null,"elapsed_ms":null,"id":"3c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a05","#,
            r#""note":"Warm again","occurred_at":"2026-11-27T06:00:00.000Z","satisfaction":"satisfied","#,
            r#""team_id":null,"ticket_id":"2c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a04","type":"feedback"}"#
        )
    );
    let visit = canonical(V, json!({"checklist": {"b": 1, "a": 2}})).to_string();
    assert!(visit.contains(r#""checklist":{"a":2,"b":1}"#), "{visit}");
}
