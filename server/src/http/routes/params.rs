//! Schemas of query values that handlers read as plain strings (so their own 400 can name the
//! field and list the choices): they exist only to put those choices into `/openapi.json`.

#![allow(dead_code)]

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

/// The list's `status` and `stage` filters take what a ticket's answer shows.
pub use fieldvisit_sync_protocol::sync::pull::{CurrentStage, TicketStatus};

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ComplianceGroupBy {
    Area,
    Team,
    Category,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ByArea {
    Area,
}

/// A UUID in its hyphenated text form. The pattern, unlike `format`, is asserted by validators:
/// an empty or malformed id is outside the spec, not a request it allows.
pub struct UuidText;

pub const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

impl utoipa::PartialSchema for UuidText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .pattern(Some(UUID_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for UuidText {}

/// A list's `limit`: `default` when absent, else 1 to `max`, or 400 `invalid_query` naming it.
/// Every paged list reads its limit through here, so the rule and its answer are one.
pub fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, crate::error::ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(crate::error::ApiError::bad_request("invalid_query", format!("limit must be 1..={max}"))
            .with_field("limit"))
    }
}
