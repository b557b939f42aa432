//! The 1-1-2-4 rule at work: the tracker that sweeps due tickets and broadcasts alerts, day-end
//! clearance, the PostgreSQL alert bus that wakes other instances, and delivery to group chats.
//! The rule itself (the fold, the schedule) is pure and lives in `sync-protocol::deadline`.

pub mod alert_bus;
pub mod channels;
pub mod day_end;
pub mod tracker;
