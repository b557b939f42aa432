//! `POST /api/v1/sync/push`: the batch envelope and the per-record answer.
//!
//! The envelope is deserialized strictly (a wrong shape at the top level is a 400 for the whole
//! batch), but the records stay raw [`Value`]s: each is parsed on its own by
//! [`records`](super::records), so one bad record is `rejected` alone and never blocks the rest.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error_code::RecordErrorCode;
use super::limits::PROTOCOL_VERSIONS;
use super::records::FieldError;
/// Results name their record's type; it is defined beside the records.
pub use super::records::RecordType;
use crate::time::{format_utc, parse_rfc3339, Millis};

/// The push body. Unknown top-level fields are ignored; every record array is optional, and an
/// explicit `null` array reads as empty. A record may be any JSON value here: each is parsed on
/// its own and a bad one is answered `rejected` inside the 200, never refusing the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    /// One of `GET /api/v1/sync/info`'s `protocol_versions` (else 426).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub protocol_version: u32,
    /// Idempotency key of the whole batch: the same id again gets the stored answer.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
    )]
    pub batch_id: Uuid,
    /// The phone's wall clock when it sent the batch (RFC 3339 with offset).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub device_time: String,
    /// Optional tamper-evident pair: the phone's boot session and the time since boot at send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_boot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_elapsed_ms: Option<i64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Value>>, max_items = 1000))]
    pub households: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Value>>, max_items = 1000))]
    pub visits: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Value>>, max_items = 1000))]
    pub tickets: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Value>>, max_items = 1000))]
    pub ticket_events: Vec<Value>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default())
}

/// Why a whole batch is refused before any record is looked at.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvelopeError {
    /// 426 `unsupported_protocol_version`.
    UnsupportedVersion(u32),
    /// 413 `batch_too_large`.
    TooManyRecords { count: usize, max: usize },
    /// 400: `device_time` is not RFC 3339 with an offset.
    DeviceTime(FieldError),
}

impl EnvelopeError {
    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::UnsupportedVersion(_) => "unsupported_protocol_version",
            EnvelopeError::TooManyRecords { .. } => "batch_too_large",
            EnvelopeError::DeviceTime(e) => e.code.as_str(),
        }
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            EnvelopeError::DeviceTime(e) => Some(&e.field),
            _ => None,
        }
    }
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeError::UnsupportedVersion(v) => {
                write!(f, "protocol_version {v} is not supported; supported: {PROTOCOL_VERSIONS:?}")
            }
            EnvelopeError::TooManyRecords { count, max } => {
                write!(f, "the batch has {count} records; at most {max} are accepted")
            }
            EnvelopeError::DeviceTime(e) => e.message.fmt(f),
        }
    }
}

impl std::error::Error for EnvelopeError {}

impl PushRequest {
    /// Records in all four arrays together.
    pub fn record_count(&self) -> usize {
        self.households.len() + self.visits.len() + self.tickets.len() + self.ticket_events.len()
    }

    /// Checks what applies to the batch as a whole, in the order the contract's status codes
    /// rank them (version, size, clock), and returns the device time in epoch ms.
    pub fn check_envelope(&self, max_batch_records: usize) -> Result<Millis, EnvelopeError> {
        if !PROTOCOL_VERSIONS.contains(&self.protocol_version) {
            return Err(EnvelopeError::UnsupportedVersion(self.protocol_version));
        }
        let count = self.record_count();
        if count > max_batch_records {
            return Err(EnvelopeError::TooManyRecords { count, max: max_batch_records });
        }
        parse_rfc3339(&self.device_time).ok_or_else(|| {
            EnvelopeError::DeviceTime(FieldError::new(
                RecordErrorCode::InvalidTime,
                "device_time must be RFC 3339 with an offset, like 2026-11-27T10:00:00+08:00",
                "device_time".to_owned(),
            ))
        })
    }

    /// The batch's boot session and elapsed time, when the phone sent both (and the elapsed time
    /// is not negative): the input of [`ClockCheck::measure`](super::clock::ClockCheck::measure).
    pub fn batch_boot(&self) -> Option<(&str, i64)> {
        match (&self.device_boot_id, self.device_elapsed_ms) {
            (Some(boot), Some(elapsed)) if elapsed >= 0 => Some((boot.as_str(), elapsed)),
            _ => None,
        }
    }

    /// Every record with its type and index, in the order the server applies them: households,
    /// visits, tickets, ticket events (so records may refer to others in the same batch).
    pub fn records(&self) -> impl Iterator<Item = (RecordType, usize, &Value)> + '_ {
        let arrays = [
            (RecordType::Household, &self.households),
            (RecordType::Visit, &self.visits),
            (RecordType::Ticket, &self.tickets),
            (RecordType::TicketEvent, &self.ticket_events),
        ];
        arrays.into_iter().flat_map(|(t, records)| records.iter().enumerate().map(move |(i, v)| (t, i, v)))
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecordStatus {
    /// Stored now.
    Applied,
    /// Already stored with identical content; nothing changed.
    Duplicate,
    /// A household merged onto a newer server version; `current` is the result.
    Merged,
    /// An immutable record id already stored with different content; `current` is what is stored.
    Conflict,
    /// Invalid or not allowed; `error` says why. Sending it again unchanged will not help.
    Rejected,
    /// Temporary server trouble on this record; send it again later.
    Retry,
}

/// Why a record was rejected (or must be retried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordError {
    pub code: RecordErrorCode,
    pub message: String,
    /// The field at fault (`visits[3].visited_at`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl RecordError {
    /// An error not tied to one field.
    pub fn new(code: RecordErrorCode, message: impl Into<String>) -> Self {
        RecordError { code, message: message.into(), field: None }
    }

    /// An error tied to one field.
    pub fn at(code: RecordErrorCode, message: impl Into<String>, field: impl Into<String>) -> Self {
        RecordError { code, message: message.into(), field: Some(field.into()) }
    }
}

impl From<FieldError> for RecordError {
    fn from(e: FieldError) -> Self {
        RecordError { code: e.code, message: e.message, field: Some(e.field) }
    }
}

/// One entry of `results`: one per pushed record, in the order applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordResult {
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The id as sent, or `""` when the record had none readable.
    pub id: String,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordError>,
    /// The stored record, on `merged` and `conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub current: Option<Value>,
    /// On `merged`: the fields both the phone and the server had changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicting_fields: Option<Vec<String>>,
    /// **[1.1]** Advice beside an `applied` record, e.g. a new household that may be a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

/// **[1.1]** `{"code": "possible_duplicate", "of": "<id>"}`: the household just applied matches
/// one already in the same grid by normalised address and head's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hint {
    pub code: String,
    pub of: String,
}

impl RecordResult {
    fn bare(record_type: RecordType, id: impl Into<String>, status: RecordStatus) -> Self {
        let id = id.into();
        RecordResult { record_type, id, status, error: None, current: None, conflicting_fields: None, hint: None }
    }

    /// An applied household that may duplicate `of`.
    pub fn possible_duplicate(record_type: RecordType, id: impl Into<String>, of: impl Into<String>) -> Self {
        let hint = Hint { code: "possible_duplicate".into(), of: of.into() };
        RecordResult { hint: Some(hint), ..Self::bare(record_type, id, RecordStatus::Applied) }
    }

    pub fn applied(record_type: RecordType, id: impl Into<String>) -> Self {
        Self::bare(record_type, id, RecordStatus::Applied)
    }

    pub fn duplicate(record_type: RecordType, id: impl Into<String>) -> Self {
        Self::bare(record_type, id, RecordStatus::Duplicate)
    }

    /// A merged household; `conflicting_fields` is omitted on the wire when empty.
    pub fn merged(record_type: RecordType, id: impl Into<String>, current: Value, conflicting: Vec<String>) -> Self {
        RecordResult {
            current: Some(current),
            conflicting_fields: (!conflicting.is_empty()).then_some(conflicting),
            ..Self::bare(record_type, id, RecordStatus::Merged)
        }
    }

    pub fn conflict(record_type: RecordType, id: impl Into<String>, current: Value) -> Self {
        RecordResult { current: Some(current), ..Self::bare(record_type, id, RecordStatus::Conflict) }
    }

    pub fn rejected(record_type: RecordType, id: impl Into<String>, error: impl Into<RecordError>) -> Self {
        RecordResult { error: Some(error.into()), ..Self::bare(record_type, id, RecordStatus::Rejected) }
    }

    pub fn retry(record_type: RecordType, id: impl Into<String>, error: impl Into<RecordError>) -> Self {
        RecordResult { error: Some(error.into()), ..Self::bare(record_type, id, RecordStatus::Retry) }
    }
}

/// Counts of `results` by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub applied: u32,
    pub duplicate: u32,
    pub merged: u32,
    pub conflict: u32,
    pub rejected: u32,
    pub retry: u32,
}

impl Summary {
    pub fn of(results: &[RecordResult]) -> Self {
        let mut s = Summary::default();
        for r in results {
            let n = match r.status {
                RecordStatus::Applied => &mut s.applied,
                RecordStatus::Duplicate => &mut s.duplicate,
                RecordStatus::Merged => &mut s.merged,
                RecordStatus::Conflict => &mut s.conflict,
                RecordStatus::Rejected => &mut s.rejected,
                RecordStatus::Retry => &mut s.retry,
            };
            *n = n.saturating_add(1);
        }
        s
    }
}

/// The push answer (200).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub batch_id: Uuid,
    pub server_time: String,
    /// Server receive time − `device_time`, whether or not it exceeded the tolerance.
    pub clock_offset_ms: i64,
    pub results: Vec<RecordResult>,
    pub summary: Summary,
}

impl PushResponse {
    /// The answer with its summary computed from `results`.
    pub fn new(batch_id: Uuid, server_now: Millis, clock_offset_ms: i64, results: Vec<RecordResult>) -> Self {
        let summary = Summary::of(&results);
        PushResponse { batch_id, server_time: format_utc(server_now), clock_offset_ms, results, summary }
    }
}
