//! Phone clocks lie: the server measures each batch's clock offset and corrects record times.
//!
//! A volunteer's phone may run hours off (wrong time zone set by hand, a dead battery that reset
//! the clock, a user who moved the clock to "fix" a deadline). Every push carries the phone's
//! clock at send time (`device_time`); the server compares it with its own receive time. The raw
//! device time of each record is always kept next to the corrected one, so a correction can be
//! audited and, if ever wrong, redone.
//!
//! Optionally the phone also sends the time since it booted (`elapsed_ms`, monotonic, which its
//! user cannot set) with the id of that boot, once per batch and once per record. When a
//! record was made in the same boot session as the batch was sent, the difference of the two
//! elapsed readings is the true age of the record, whatever the wall clock said: its time is then
//! *verified*.
//!
//! The phone must stamp `device_time` and `device_elapsed_ms` when it sends (on every attempt),
//! not when it builds the batch: the server pairs them with its receive time.

use super::records::DeviceStamp;
use crate::time::Millis;

/// One batch's clock measurement: the rules to correct its records' times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockCheck {
    server_now: Millis,
    offset_ms: i64,
    tolerance_ms: i64,
    batch_boot: Option<(String, i64)>,
}

/// A record time after correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrected {
    /// The best estimate of when it happened, on the server's clock (the contract's `visited_at`,
    /// `reported_at`, `occurred_at`).
    pub at: Millis,
    /// The phone's wall clock reading as sent (`device_visited_at`, ...).
    pub raw: Millis,
    /// `at` was derived from the monotonic elapsed time of the same boot session, not from the
    /// wall clock (`clock_verified`).
    pub verified: bool,
}

impl ClockCheck {
    /// Measures a batch received at `server_now` whose phone said it was `device_time`.
    ///
    /// `tolerance_ms` is how far a clock may be off before it is corrected (the policy's clock
    /// tolerance, 2 minutes by default): within it, network delay and ordinary drift are not worth
    /// moving a time the volunteer saw on their screen. A negative tolerance counts as 0.
    /// `batch_boot` is the batch's `(device_boot_id, device_elapsed_ms)`, when both were sent.
    pub fn measure(
        server_now: Millis,
        device_time: Millis,
        tolerance_ms: i64,
        batch_boot: Option<(&str, i64)>,
    ) -> ClockCheck {
        ClockCheck {
            server_now,
            offset_ms: server_now.saturating_sub(device_time),
            tolerance_ms: tolerance_ms.max(0),
            batch_boot: batch_boot.map(|(boot, elapsed)| (boot.to_owned(), elapsed)),
        }
    }

    /// Server receive time − device time: the answer's `clock_offset_ms`, reported even when it
    /// is within the tolerance (so the phone can warn its user).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    pub fn server_now(&self) -> Millis {
        self.server_now
    }

    pub fn tolerance_ms(&self) -> i64 {
        self.tolerance_ms
    }

    /// The phone's clock is off by more than the tolerance, so wall-clock times get corrected.
    pub fn skewed(&self) -> bool {
        self.offset_ms.unsigned_abs() > self.tolerance_ms.unsigned_abs()
    }

    /// Corrects one record time `raw` taken on the phone's wall clock, with the record's stamp.
    ///
    /// * Same boot session as the batch, both elapsed readings present, and the record's not
    ///   after the batch's: `at = server_now − (batch_elapsed − record_elapsed)`, verified. The
    ///   monotonic clock cannot be set by the user, so this holds even if the wall clock was
    ///   changed between the record and the send.
    /// * Otherwise (no stamp, another boot, or a record elapsed reading after the batch's, which
    ///   one boot session cannot produce): the offset rule, not verified. Past the tolerance every
    ///   time moves by the batch's offset (the phone's clock is assumed to have been as wrong when
    ///   the record was made as when it was sent); within it the raw time stands.
    pub fn correct(&self, raw: Millis, stamp: &DeviceStamp) -> Corrected {
        if let (Some((batch_boot, batch_elapsed)), Some(boot), Some(elapsed)) =
            (&self.batch_boot, &stamp.boot_id, stamp.elapsed_ms)
        {
            if boot == batch_boot && (0..=*batch_elapsed).contains(&elapsed) {
                let at = self.server_now.saturating_sub(batch_elapsed - elapsed);
                return Corrected { at, raw, verified: true };
            }
        }
        let at = if self.skewed() { raw.saturating_add(self.offset_ms) } else { raw };
        Corrected { at, raw, verified: false }
    }

    /// `at` (a corrected time) is still in the future by more than the tolerance: the record is
    /// `rejected` `timestamp_in_future`. Nothing can have happened after the server received it;
    /// within the tolerance, drift and rounding are forgiven.
    pub fn in_future(&self, at: Millis) -> bool {
        at > self.server_now.saturating_add(self.tolerance_ms)
    }
}
