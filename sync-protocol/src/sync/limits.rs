//! Protocol limits, announced to phones by `GET /api/v1/sync/info` and enforced by the parsers.
//!
//! Phones read [`SyncInfo`] before pushing so they split work into batches the server accepts;
//! the per-field limits keep one record small enough that a full batch stays under
//! [`MAX_BODY_BYTES`].

use serde::{Deserialize, Serialize};

use crate::time::{format_utc, Millis};

/// Protocol versions this crate speaks; a push with another `protocol_version` gets 426.
pub const PROTOCOL_VERSIONS: &[u32] = &[1];
/// Changes in one pull page when the phone names no `limit`.
pub const PULL_DEFAULT_LIMIT: i64 = 500;
/// Most changes in one pull page.
pub const PULL_MAX_LIMIT: i64 = 1000;
/// Most records (all four arrays together) in one push; more → 413 `batch_too_large`.
pub const MAX_BATCH_RECORDS: usize = 1000;
/// Largest push body after decompression.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest photo accepted by `PUT /api/v1/blobs/{sha256}`.
pub const MAX_BLOB_BYTES: usize = 10 * 1024 * 1024;
/// Most tags on one household.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_LEN: usize = 32;
/// Longest free text (notes, descriptions, event notes), in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest short text (address, head of household, checklist values), in characters.
pub const MAX_SHORT: usize = 200;
/// Most keys in one visit checklist.
pub const MAX_CHECKLIST_KEYS: usize = 100;
/// Longest checklist key, in characters.
pub const MAX_CHECKLIST_KEY_LEN: usize = 64;
/// Most photos on one visit or ticket.
pub const MAX_PHOTOS: usize = 20;
/// Longest phone number, in characters.
pub const MAX_PHONE_LEN: usize = 32;
/// Longest ticket or event category, in characters.
pub const MAX_CATEGORY_LEN: usize = 64;

/// Body of `GET /api/v1/sync/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncInfo {
    pub protocol_versions: Vec<u32>,
    pub max_batch_records: usize,
    pub max_body_bytes: usize,
    pub max_blob_bytes: usize,
    /// The server's clock, so a phone can show its own skew before it pushes.
    pub server_time: String,
}

impl SyncInfo {
    /// The crate's default limits, stamped with `server_now`.
    pub fn new(server_now: Millis) -> Self {
        SyncInfo {
            protocol_versions: PROTOCOL_VERSIONS.to_vec(),
            max_batch_records: MAX_BATCH_RECORDS,
            max_body_bytes: MAX_BODY_BYTES,
            max_blob_bytes: MAX_BLOB_BYTES,
            server_time: format_utc(server_now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_has_the_contract_names() {
        let v = serde_json::to_value(SyncInfo::new(0)).expect("serializes");
        assert_eq!(
            v,
            serde_json::json!({
                "protocol_versions": [1],
                "max_batch_records": 1000,
                "max_body_bytes": 8_388_608,
                "max_blob_bytes": 10_485_760,
                "server_time": "1970-01-01T00:00:00.000Z",
            })
        );
    }
}
