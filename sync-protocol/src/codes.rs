//! Ids derived from roster codes (UUID v5 in a fixed namespace): every import of a county's
//! roster gives an area, team or household the same id, and a client that knows the codes (the
//! demo's actors, a spreadsheet) can name the records without asking the server.

use uuid::Uuid;

/// Fixed so that every import agrees.
const NAMESPACE: Uuid = Uuid::from_u128(0x5f1e_1d71_5175_4a6e_9c3b_7a0d_2e44_1124);

pub fn area_id(code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("area:{code}").as_bytes())
}

pub fn team_id(code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("team:{code}").as_bytes())
}

/// Household codes are only unique within their grid.
pub fn household_id(area_code: &str, code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("household:{area_code}:{code}").as_bytes())
}
