//! The sync protocol: what phones push, what the server answers, and the pure rules between.
//!
//! * [`limits`]: the protocol's limits and `GET /api/v1/sync/info`.
//! * [`push`]: the push envelope (records kept raw) and the per-record results.
//! * [`records`]: each pushed record parsed on its own into a type that holds only valid data.
//! * [`clock`]: the phone's clock offset and the correction of record times.
//! * [`merge`]: the field-level merge of a household edited on both sides.
//! * [`pull`]: what the server sends back (pull and the ticket and household endpoints).
//!
//! A push, as the server handles it (storage left out):
//!
//! ```
//! use fieldvisit_sync_protocol::sync::*;
//! use fieldvisit_sync_protocol::time::parse_rfc3339;
//!
//! let body = r#"{"protocol_version": 1, "batch_id": "6a1f0c2e-1111-4c1e-9a53-0e7f5b1e2a07",
//!   "device_time": "2026-11-27T07:05:00+08:00",
//!   "visits": [{"id": "1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a03", "visited_at": "2026-11-27T07:00:00+08:00",
//!               "household_id": "0b5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a01", "extra": "ignored"},
//!              {"id": "oops", "visited_at": "07:00"}]}"#;
//! let push: PushRequest = serde_json::from_str(body).expect("the envelope's shape");
//! // The phone's clock is 3 hours behind the server's.
//! let server_now = parse_rfc3339("2026-11-27T10:05:00+08:00").expect("time");
//! let device_time = push.check_envelope(limits::MAX_BATCH_RECORDS).expect("version, size, clock");
//! let clock = ClockCheck::measure(server_now, device_time, 120_000, push.batch_boot());
//!
//! let mut results = Vec::new();
//! for (record_type, index, raw) in push.records() {
//!     match RecordIn::parse(record_type, index, raw) {
//!         Ok(RecordIn::Visit(visit)) => {
//!             let t = clock.correct(visit.visited_at, &visit.stamp);
//!             assert_eq!(t.at, server_now - 5 * 60_000); // five minutes ago, on the server's clock
//!             assert!(!clock.in_future(t.at));
//!             results.push(RecordResult::applied(record_type, visit.id.to_string()));
//!         }
//!         Ok(_) => unreachable!("only visits in this batch"),
//!         Err(e) => results.push(RecordResult::rejected(record_type, record_id(raw), e)),
//!     }
//! }
//! let response = PushResponse::new(push.batch_id, server_now, clock.offset_ms(), results);
//! assert_eq!((response.summary.applied, response.summary.rejected), (1, 1));
//! let error = response.results[1].error.as_ref().expect("rejected");
//! assert_eq!((error.code.as_str(), error.field.as_deref()), ("invalid_id", Some("visits[1].id")));
//! assert_eq!(response.results[1].id, "oops");
//! ```

pub mod clock;
pub mod error_code;
pub mod limits;
pub mod merge;
pub mod pull;
pub mod push;
pub mod records;

pub use clock::{ClockCheck, Corrected};
pub use error_code::RecordErrorCode;
pub use merge::{merge_household, MergeOutcome};
pub use push::{
    EnvelopeError, PushRequest, PushResponse, RecordError, RecordResult, RecordStatus, RecordType, Summary,
};
pub use records::{
    record_id, DeviceStamp, FieldError, Heating, HouseholdFields, HouseholdIn, Location, RecordIn, Satisfaction,
    TemplateRef, TicketEventIn, TicketIn, VisitIn,
};
