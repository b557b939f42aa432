//! The codes a pushed record may be rejected with: one enum, so the server, its routes and the
//! published spec cannot drift from each other. The wire names are the snake_case variant names.

use serde::{Deserialize, Serialize};

/// `error.code` of a `rejected` push result (and of `POST /api/v1/tickets/{id}/events`'s errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecordErrorCode {
    /// A required field is absent or `null`.
    MissingField,
    /// A field has the wrong type, range or form.
    InvalidField,
    /// A text longer than its limit.
    TooLong,
    /// An array or object with more items than its limit.
    TooMany,
    /// A time that is not RFC 3339 with an offset.
    InvalidTime,
    /// An id that is not a non-nil UUID.
    InvalidId,
    /// The area referred to does not exist.
    UnknownArea,
    /// The household referred to does not exist (nor earlier in the batch).
    UnknownHousehold,
    /// The visit referred to does not exist (nor earlier in the batch).
    UnknownVisit,
    /// The ticket referred to does not exist (nor earlier in the batch).
    UnknownTicket,
    /// The team a `dispatched` event names does not exist.
    UnknownTeam,
    /// The area, household or ticket is outside the caller's scope.
    OutOfScope,
    /// The caller's role may not write this record or event type.
    Forbidden,
    /// A `dispatched` team that serves neither the ticket's area nor lies within the caller's scope.
    TeamOutOfScope,
    /// A corrected time still more than the clock tolerance ahead of the server.
    TimestampInFuture,
    /// An event before its ticket's report time.
    EventBeforeReport,
    /// A visit's checklist does not satisfy its template.
    InvalidChecklist,
    /// A visit names a checklist template version the server does not have.
    UnknownChecklistTemplate,
}

impl RecordErrorCode {
    /// Every code.
    pub const ALL: [RecordErrorCode; 18] = [
        Self::MissingField,
        Self::InvalidField,
        Self::TooLong,
        Self::TooMany,
        Self::InvalidTime,
        Self::InvalidId,
        Self::UnknownArea,
        Self::UnknownHousehold,
        Self::UnknownVisit,
        Self::UnknownTicket,
        Self::UnknownTeam,
        Self::OutOfScope,
        Self::Forbidden,
        Self::TeamOutOfScope,
        Self::TimestampInFuture,
        Self::EventBeforeReport,
        Self::InvalidChecklist,
        Self::UnknownChecklistTemplate,
    ];

    /// The wire name, for answers that are not serialized through serde (the JSON `ApiError`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::TooLong => "too_long",
            Self::TooMany => "too_many",
            Self::InvalidTime => "invalid_time",
            Self::InvalidId => "invalid_id",
            Self::UnknownArea => "unknown_area",
            Self::UnknownHousehold => "unknown_household",
            Self::UnknownVisit => "unknown_visit",
            Self::UnknownTicket => "unknown_ticket",
            Self::UnknownTeam => "unknown_team",
            Self::OutOfScope => "out_of_scope",
            Self::Forbidden => "forbidden",
            Self::TeamOutOfScope => "team_out_of_scope",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::EventBeforeReport => "event_before_report",
            Self::InvalidChecklist => "invalid_checklist",
            Self::UnknownChecklistTemplate => "unknown_checklist_template",
        }
    }
}

impl std::fmt::Display for RecordErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RecordErrorCode;
    use serde_json::{json, Value};

    /// `as_str` and serde agree, and every wire name reads back as its variant.
    #[test]
    fn every_code_round_trips_as_its_wire_name() {
        for code in RecordErrorCode::ALL {
            let wire = serde_json::to_value(code).expect("a unit variant serializes");
            assert_eq!(wire, json!(code.as_str()), "{code:?}");
            let back: RecordErrorCode = serde_json::from_value(wire).expect("its own name parses");
            assert_eq!(back, code);
        }
        assert!(serde_json::from_value::<RecordErrorCode>(Value::from("invalid")).is_err());
    }

    /// `ALL` holds each variant once (the server's OpenAPI test checks it holds every variant).
    #[test]
    fn all_lists_each_code_once() {
        let names: std::collections::BTreeSet<&str> = RecordErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), RecordErrorCode::ALL.len());
    }

    fn wire_names() -> Vec<String> {
        let mut names: Vec<String> = RecordErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
        names.sort();
        names
    }

    /// The codes in the first column of the table after `heading`, sorted.
    fn tabled(doc: &str, heading: &str) -> Vec<String> {
        let table = doc.split(heading).nth(1).expect("the heading is in the doc");
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .filter_map(|row| row.split('|').nth(1))
            .flat_map(|cell| cell.split(',').map(|c| c.trim().trim_matches('`').to_owned()).collect::<Vec<_>>())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    #[test]
    fn api_doc_lists_exactly_the_codes() {
        let doc = include_str!("../../../docs/api.md");
        assert_eq!(tabled(doc, "Rejection codes"), wire_names());
    }

    #[test]
    fn protocol_doc_lists_exactly_the_codes() {
        let doc = include_str!("../../../docs/protocol.md");
        let list = doc.split("Rejection codes:").nth(1).expect("the list is in protocol.md");
        // The list runs up to its "(see Checklist templates)".
        let list = &list[..list.find('(').unwrap_or(list.len())];
        let mut listed: Vec<String> = list.split('`').skip(1).step_by(2).map(str::to_owned).collect();
        listed.sort();
        assert_eq!(listed, wire_names());
    }
}
