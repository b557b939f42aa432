//! A push body through everything the server calls on it before storage.

use serde_json::Value;

use crate::deadline::Policy;
use crate::sync::limits::MAX_BATCH_RECORDS;
use crate::sync::{record_id, ClockCheck, DeviceStamp, PushRequest, PushResponse, RecordIn, RecordResult};
use crate::time::Millis;

/// The server's clock in the fuzzed pushes (2026-11-27T02:00:00Z).
const SERVER_NOW: Millis = 1_795_744_800_000;

/// Parses `data` as `POST /api/v1/sync/push` does, then each record; asserts that nothing
/// panics, that a rejected record's error names a field inside that record, that a parsed
/// record's canonical form parses back to the same canonical form (what duplicate detection
/// compares), and that the answer survives a JSON round trip.
pub fn push_body(data: &[u8]) {
    let Ok(push) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    let Ok(device_time) = push.check_envelope(MAX_BATCH_RECORDS) else {
        return;
    };
    let tolerance_ms = Policy::default().clock_tolerance_s * 1000;
    let clock = ClockCheck::measure(SERVER_NOW, device_time, tolerance_ms, push.batch_boot());
    let mut results = Vec::new();
    for (record_type, index, raw) in push.records() {
        match RecordIn::parse(record_type, index, raw) {
            Ok(record) => {
                check_canonical_is_stable(&record, index);
                let (raw_at, stamp) = raw_time(&record);
                let t = clock.correct(raw_at, &stamp);
                assert_eq!(t.raw, raw_at);
                let _ = clock.in_future(t.at);
                results.push(RecordResult::applied(record_type, record.id().to_string()));
            }
            Err(e) => {
                let path = record_type.path(index);
                assert!(e.field.starts_with(&path), "error field {:?} outside record {path}", e.field);
                results.push(RecordResult::rejected(record_type, record_id(raw), e));
            }
        }
    }
    let response = PushResponse::new(push.batch_id, SERVER_NOW, clock.offset_ms(), results);
    let text = serde_json::to_string(&response).expect("the answer serializes");
    let back: PushResponse = serde_json::from_str(&text).expect("the answer parses back");
    assert_eq!(back, response);
}

fn check_canonical_is_stable(record: &RecordIn, index: usize) {
    let canonical = record.canonical();
    // Through text, as the server hashes it and a phone would read it back.
    let reread: Value = serde_json::from_str(&canonical.to_string()).expect("canonical JSON parses");
    let again = RecordIn::parse(record.record_type(), index, &reread).expect("a canonical record parses");
    assert_eq!(again.canonical(), canonical);
}

/// The record's raw device time and stamp (households carry no stamp).
fn raw_time(record: &RecordIn) -> (Millis, DeviceStamp) {
    match record {
        RecordIn::Household(h) => (h.updated_at, DeviceStamp::default()),
        RecordIn::Visit(v) => (v.visited_at, v.stamp.clone()),
        RecordIn::Ticket(t) => (t.reported_at, t.stamp.clone()),
        RecordIn::TicketEvent(e) => (e.occurred_at, e.stamp.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_example_passes() {
        let body = br#"{"protocol_version": 1, "batch_id": "6a1f0c2e-1111-4c1e-9a53-0e7f5b1e2a07",
          "device_time": "2026-11-27T07:05:00+08:00",
          "visits": [{"id": "1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a03", "visited_at": "2026-11-27T07:00:00+08:00",
                      "household_id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01", "checklist": {"a": 1.5e300}},
                     {"id": "oops", "visited_at": "07:00"}]}"#;
        push_body(body);
    }
}
