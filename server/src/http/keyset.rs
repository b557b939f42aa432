//! Opaque keyset cursors for list endpoints: the sort key of the last row returned (a number and
//! an id), base64url-encoded, so a page never shifts when rows are added before it.

use base64::Engine;

use crate::error::{ApiError, Kind};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(n: i64, id: &str) -> String {
    B64.encode(format!("k1:{n}:{id}"))
}

/// 422 `invalid_cursor` (field `cursor`) for anything [`encode`] did not make: any string is a
/// well-formed cursor, so one the server never issued is unprocessable, not malformed.
pub fn decode(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = invalid_cursor;
    let raw = B64.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let rest = text.strip_prefix("k1:").ok_or_else(bad)?;
    let (n, id) = rest.split_once(':').ok_or_else(bad)?;
    Ok((n.parse().map_err(|_| bad())?, id.to_owned()))
}

/// The answer to a cursor this server did not issue.
pub fn invalid_cursor() -> ApiError {
    ApiError::new(Kind::Unprocessable, "invalid_cursor", "the cursor is not one this server issued; start without one")
        .with_field("cursor")
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_refuses_foreign_cursors() {
        let c = super::encode(-5, "ab:cd");
        assert_eq!(super::decode(&c).expect("ours"), (-5, "ab:cd".to_owned()));
        assert!(super::decode("bm9wZQ").is_err());
        assert!(super::decode("%%").is_err());
    }
}
