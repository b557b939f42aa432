//! The sync protocol: what phones push, what the server answers, and the pure rules between.
//!
//! * [`limits`]: the protocol's limits and `GET /api/v1/sync/info`.
//! * [`push`]: the push envelope (records kept raw) and the per-record results.
//! * [`records`]: each pushed record parsed on its own into a type that holds only valid data.
//! * [`clock`]: the phone's clock offset and the correction of record times.
//! * [`merge`]: the field-level merge of a household edited on both sides.
//! * [`pull`]: what the server sends back (pull and the ticket and household endpoints).

pub mod clock;
pub mod limits;
pub mod merge;
pub mod pull;
pub mod push;
pub mod records;

pub use clock::{ClockCheck, Corrected};
pub use merge::{merge_household, MergeOutcome};
pub use push::{
    EnvelopeError, PushRequest, PushResponse, RecordError, RecordResult, RecordStatus, RecordType, Summary,
};
pub use records::{
    record_id, DeviceStamp, FieldError, Heating, HouseholdFields, HouseholdIn, Location, RecordIn, Satisfaction,
    TicketEventIn, TicketIn, VisitIn,
};
