//! Data-driven cases of the clock correction. Times are minutes relative to the server's receive
//! time (0); the tolerance is the default 2 minutes unless a case says otherwise.

use fieldvisit_sync_protocol::sync::{ClockCheck, DeviceStamp, PushRequest};
use fieldvisit_sync_protocol::time::Millis;
use serde_json::json;

const NOW: Millis = 1_795_744_800_000;
const MIN: Millis = 60_000;
const HOUR: Millis = 60 * MIN;
const TOLERANCE: Millis = 2 * MIN;

fn stamp(boot: Option<&str>, elapsed_ms: Option<i64>) -> DeviceStamp {
    DeviceStamp { boot_id: boot.map(str::to_owned), elapsed_ms }
}

/// A batch whose phone clock reads `NOW + device_ahead_ms` at send, with an optional boot pair.
fn batch(device_ahead_ms: i64, boot: Option<(&str, i64)>) -> ClockCheck {
    ClockCheck::measure(NOW, NOW + device_ahead_ms, TOLERANCE, boot)
}

/// Corrects the raw reading `NOW + raw_ms` and checks `(at − NOW, verified)`.
fn check(clock: &ClockCheck, raw_ms: i64, record: &DeviceStamp, expected_at_ms: i64, expected_verified: bool) {
    let c = clock.correct(NOW + raw_ms, record);
    assert_eq!(c.raw, NOW + raw_ms, "the raw reading is kept");
    assert_eq!((c.at - NOW, c.verified), (expected_at_ms, expected_verified), "{clock:?} raw {raw_ms} {record:?}");
}

#[test]
fn offset_is_server_minus_device() {
    assert_eq!(batch(-3 * HOUR, None).offset_ms(), 3 * HOUR);
    assert_eq!(batch(3 * HOUR, None).offset_ms(), -3 * HOUR);
    assert_eq!(batch(0, None).offset_ms(), 0);
    assert_eq!(batch(90_000, None).offset_ms(), -90_000); // reported even within the tolerance
}

#[test]
fn a_skew_of_three_hours_is_corrected_either_way() {
    let none = DeviceStamp::default();
    // Phone 3 h behind: a visit it says was at −3 h −10 min happened 10 min ago.
    check(&batch(-3 * HOUR, None), -3 * HOUR - 10 * MIN, &none, -10 * MIN, false);
    // Phone 3 h ahead.
    check(&batch(3 * HOUR, None), 3 * HOUR - 10 * MIN, &none, -10 * MIN, false);
    // Hours-old records of a late sync move by the same offset.
    check(&batch(3 * HOUR, None), 3 * HOUR - 7 * HOUR, &none, -7 * HOUR, false);
    assert!(batch(3 * HOUR, None).skewed());
}

#[test]
fn within_the_tolerance_times_are_untouched() {
    let none = DeviceStamp::default();
    for ahead in [-TOLERANCE, -90_000, -1, 0, 1, 90_000, TOLERANCE] {
        let clock = batch(ahead, None);
        assert!(!clock.skewed(), "{ahead}");
        check(&clock, -10 * MIN, &none, -10 * MIN, false);
    }
    check(&batch(TOLERANCE + 1, None), -10 * MIN, &none, -10 * MIN - TOLERANCE - 1, false);
    check(&batch(-TOLERANCE - 1, None), -10 * MIN, &none, -10 * MIN + TOLERANCE + 1, false);
}

#[test]
fn the_same_boot_session_gives_a_verified_time() {
    let clock = batch(5 * HOUR, Some(("boot-a", 10 * HOUR)));
    // Made 25 min before the batch was sent, whatever the wall clock said then.
    check(&clock, 123 * HOUR, &stamp(Some("boot-a"), Some(10 * HOUR - 25 * MIN)), -25 * MIN, true);
    // Even on a clock within the tolerance, the elapsed time rules.
    let clock = batch(0, Some(("boot-a", 10 * HOUR)));
    check(&clock, -30 * MIN, &stamp(Some("boot-a"), Some(10 * HOUR - 25 * MIN)), -25 * MIN, true);
    // Made at the instant of sending, and at boot.
    check(&clock, 0, &stamp(Some("boot-a"), Some(10 * HOUR)), 0, true);
    check(&clock, 0, &stamp(Some("boot-a"), Some(0)), -10 * HOUR, true);
}

#[test]
fn otherwise_the_offset_rule_applies_unverified() {
    let clock = batch(-3 * HOUR, Some(("boot-a", 10 * HOUR)));
    let raw = -3 * HOUR - 10 * MIN;
    // Another boot (the phone restarted since).
    check(&clock, raw, &stamp(Some("boot-b"), Some(10 * HOUR - 25 * MIN)), -10 * MIN, false);
    // A half stamp.
    check(&clock, raw, &stamp(Some("boot-a"), None), -10 * MIN, false);
    check(&clock, raw, &stamp(None, Some(10 * HOUR - 25 * MIN)), -10 * MIN, false);
    check(&clock, raw, &DeviceStamp::default(), -10 * MIN, false);
    // A record "after" the batch in the same boot is impossible: not trusted.
    check(&clock, raw, &stamp(Some("boot-a"), Some(10 * HOUR + 1)), -10 * MIN, false);
    // No boot pair on the batch.
    check(&batch(-3 * HOUR, None), raw, &stamp(Some("boot-a"), Some(5)), -10 * MIN, false);
    // Boot ids compare exactly.
    check(&clock, raw, &stamp(Some("BOOT-A"), Some(5)), -10 * MIN, false);
}

#[test]
fn future_times_beyond_the_tolerance_are_detected() {
    let clock = batch(0, None);
    assert!(!clock.in_future(NOW));
    assert!(!clock.in_future(NOW + TOLERANCE));
    assert!(clock.in_future(NOW + TOLERANCE + 1));
    assert!(!clock.in_future(NOW - 7 * HOUR));
    // A phone 3 h ahead says a ticket was reported at +4 h: corrected, that is still 1 h ahead.
    let clock = batch(3 * HOUR, None);
    let c = clock.correct(NOW + 4 * HOUR, &DeviceStamp::default());
    assert_eq!(c.at, NOW + HOUR);
    assert!(clock.in_future(c.at));
    // The same reading is fine once corrected when it is within the offset.
    assert!(!clock.in_future(clock.correct(NOW + 3 * HOUR, &DeviceStamp::default()).at));
}

#[test]
fn a_negative_tolerance_counts_as_zero() {
    let clock = ClockCheck::measure(NOW, NOW - 1, -5 * MIN, None);
    assert_eq!(clock.tolerance_ms(), 0);
    assert!(clock.skewed());
    assert!(clock.in_future(NOW + 1));
}

#[test]
fn the_batch_boot_pair_comes_from_the_push_envelope() {
    let push = |extra: serde_json::Value| -> PushRequest {
        let mut body = json!({
            "protocol_version": 1,
            "batch_id": "6a1f0c2e-1111-4c1e-9a53-0e7f5b1e2a07",
            "device_time": "2026-11-27T10:05:00+08:00",
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        serde_json::from_value(body).expect("valid push")
    };
    assert_eq!(push(json!({"device_boot_id": "b", "device_elapsed_ms": 9})).batch_boot(), Some(("b", 9)));
    assert_eq!(push(json!({"device_boot_id": "b"})).batch_boot(), None);
    assert_eq!(push(json!({"device_elapsed_ms": 9})).batch_boot(), None);
    assert_eq!(push(json!({"device_boot_id": "b", "device_elapsed_ms": -1})).batch_boot(), None);
}
