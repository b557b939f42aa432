//! Day-end clearance (事不过夜、日清日结): when a county's policy `day_end` comes in its timezone,
//! one `day_end` alert per area that still has open tickets, listing them. Run by the tracker
//! through the push writer (`Writer::day_end`), like a sweep, so its alert ids commit in order.
//!
//! A day's alert fires from its `day_end` until local midnight (a tracker that was down all
//! evening does not send yesterday's list in the morning: the daily report has it), in one pass
//! per county and day (the tracker remembers which it did; a restart repeats nothing). The table's
//! unique key makes each (area, day) fire once, whichever instance gets there first; on
//! PostgreSQL the county rows are claimed with `FOR UPDATE SKIP LOCKED` so two instances do not
//! both compute the same county.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveTime, TimeZone};
use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{DayEnd, Policy, DAY_END_MAX_TICKETS};
use fieldvisit_sync_protocol::time::Millis;

use crate::db::alerts::{self, NewAlert};
use crate::db::policies::{County, PolicyBook};
use crate::db::records::uuid_of;
use crate::db::schema::{areas, tickets};
use crate::db::DbConn;
use crate::error::ApiError;

/// The tracker looks again at least this often, so a policy change is seen within it.
pub const RECHECK_MS: Millis = 5 * 60_000;

/// One county's day end: the local day and the instant it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayEndAt {
    pub date: NaiveDate,
    pub at: Millis,
}

impl DayEndAt {
    /// The local day as a number (days since 1970-01-01), the alert row's `cycle`.
    pub fn day_number(&self) -> i32 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        i32::try_from(self.date.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX)
    }
}

fn timezone(policy: &Policy) -> chrono_tz::Tz {
    policy.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// The instant of `day_end` on local `date`; `None` only in a DST gap that swallows it.
fn day_end_on(policy: &Policy, date: NaiveDate) -> Option<Millis> {
    let tz = timezone(policy);
    let time = NaiveTime::from_num_seconds_from_midnight_opt(policy.day_end_minutes() * 60, 0)?;
    tz.from_local_datetime(&date.and_time(time)).earliest().map(|t| t.timestamp_millis())
}

fn local_date(policy: &Policy, now: Millis) -> Option<NaiveDate> {
    let utc = chrono::DateTime::from_timestamp_millis(now)?;
    Some(utc.with_timezone(&timezone(policy)).date_naive())
}

/// Today's day end if it has come (and the local day is not over), else `None`.
pub fn current(policy: &Policy, now: Millis) -> Option<DayEndAt> {
    let date = local_date(policy, now)?;
    let at = day_end_on(policy, date)?;
    (at <= now).then_some(DayEndAt { date, at })
}

/// The next day end after `now`.
pub fn next(policy: &Policy, now: Millis) -> Option<Millis> {
    let date = local_date(policy, now)?;
    [Some(date), date.checked_add_days(Days::new(1)), date.checked_add_days(Days::new(2))]
        .into_iter()
        .flatten()
        .filter_map(|d| day_end_on(policy, d))
        .find(|&at| at > now)
}

/// A county's day that has had its day-end pass: (county id, local day number).
pub type Done = (String, i32);

/// What a day-end pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Alerts stored (areas already alerted that day are not counted).
    pub fired: usize,
    /// The counties' days this pass handled: the caller skips them from now on.
    pub done: Vec<Done>,
    /// The earliest day end still to come in any county.
    pub next_at: Option<Millis>,
}

/// Inside a transaction: the `day_end` alerts due at `now` in every county whose day has ended,
/// but not those in `done` (handled by an earlier pass).
pub fn fire(conn: &mut DbConn, now: Millis, done: &[Done], book: &PolicyBook) -> Result<Outcome, ApiError> {
    let mut due: Vec<(&County, DayEndAt)> = Vec::new();
    let mut next_at: Option<Millis> = None;
    for county in book.counties() {
        let policy = book.latest_for(&county.path);
        if let Some(d) = current(&policy, now) {
            if !done.iter().any(|(id, day)| *id == county.id && *day == d.day_number()) {
                due.push((county, d));
            }
        }
        if let Some(at) = next(&policy, now) {
            next_at = Some(next_at.map_or(at, |n: Millis| n.min(at)));
        }
    }
    let due = claim(conn, due)?;
    let done: Vec<Done> = due.iter().map(|(c, d)| (c.id.clone(), d.day_number())).collect();
    let Some(latest) = due.iter().map(|(_, d)| d.at).max() else {
        return Ok(Outcome { fired: 0, done, next_at });
    };
    let open: Vec<(String, String, String, Millis)> = tickets::table
        .filter(tickets::status.eq("open"))
        .filter(tickets::reported_at.le(latest))
        .order((tickets::reported_at, tickets::id))
        .select((tickets::id, tickets::area_id, tickets::area_path, tickets::reported_at))
        .load(conn)?;
    // Per area: its path, the county's day end, and the tickets open then.
    let mut per_area: BTreeMap<String, (String, DayEndAt, Vec<String>)> = BTreeMap::new();
    for (id, area_id, area_path, reported_at) in open {
        let Some(county) = book.county_of(&area_path) else { continue };
        let Some((_, d)) = due.iter().find(|(c, _)| c.id == county.id) else { continue };
        if reported_at <= d.at {
            per_area.entry(area_id).or_insert_with(|| (area_path, *d, Vec::new())).2.push(id);
        }
    }
    if per_area.is_empty() {
        return Ok(Outcome { fired: 0, done, next_at });
    }
    let area_ids: Vec<String> = per_area.keys().cloned().collect();
    let names: BTreeMap<String, String> =
        crate::load_any_of!(conn, areas::table.select((areas::id, areas::name)), areas::id, &area_ids)?
            .into_iter()
            .collect();
    let rows: Vec<NewAlert> = per_area
        .into_iter()
        .map(|(area_id, (area_path, d, ids))| {
            let payload = DayEnd {
                area_id: uuid_of(&area_id),
                area_name: names.get(&area_id).cloned().unwrap_or_default(),
                date: d.date.format("%Y-%m-%d").to_string(),
                open: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                ticket_ids: ids.iter().take(DAY_END_MAX_TICKETS).map(|t| uuid_of(t)).collect(),
            };
            NewAlert::day_end(&payload, (&area_path, &book.county_id_of(&area_path)), d.day_number(), d.at, now)
        })
        .collect();
    let fired = alerts::insert_new(conn, &rows)?;
    tracing::debug!(areas = rows.len(), fired, "day end");
    Ok(Outcome { fired, done, next_at })
}

/// The counties of `due` this instance may work on: on PostgreSQL those whose area row it can
/// lock now (another instance holds the rest and does them).
fn claim<'a>(conn: &mut DbConn, due: Vec<(&'a County, DayEndAt)>) -> QueryResult<Vec<(&'a County, DayEndAt)>> {
    if due.is_empty() {
        return Ok(due);
    }
    match conn {
        DbConn::Pg(c) => {
            let ids: Vec<&str> = due.iter().map(|(county, _)| county.id.as_str()).collect();
            let locked: Vec<String> =
                areas::table.filter(areas::id.eq_any(&ids)).select(areas::id).for_update().skip_locked().load(c)?;
            Ok(due.into_iter().filter(|(county, _)| locked.contains(&county.id)).collect())
        }
        DbConn::Sqlite(_) => Ok(due),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(day_end: &str) -> Policy {
        Policy { day_end: day_end.to_owned(), ..Policy::default() }
    }

    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> Millis {
        chrono_tz::Asia::Shanghai.with_ymd_and_hms(y, m, d, h, min, 0).single().map_or(0, |t| t.timestamp_millis())
    }

    #[test]
    fn the_day_end_fires_from_its_time_until_local_midnight() {
        let p = policy("20:00");
        assert_eq!(current(&p, shanghai(2026, 12, 5, 19, 59)), None);
        let d = current(&p, shanghai(2026, 12, 5, 20, 0)).expect("due at 20:00");
        assert_eq!((d.date.to_string(), d.at), ("2026-12-05".to_owned(), shanghai(2026, 12, 5, 20, 0)));
        assert_eq!(current(&p, shanghai(2026, 12, 5, 23, 59)).map(|d| d.at), Some(d.at));
        // After midnight yesterday's list is the morning report's business.
        assert_eq!(current(&p, shanghai(2026, 12, 6, 0, 1)), None);
        assert_eq!(next(&p, shanghai(2026, 12, 5, 20, 0)), Some(shanghai(2026, 12, 6, 20, 0)));
        assert_eq!(next(&p, shanghai(2026, 12, 5, 8, 0)), Some(shanghai(2026, 12, 5, 20, 0)));
    }

    #[test]
    fn the_day_is_the_policy_timezone_day() {
        // 20:00 in Shanghai is 12:00 UTC; a UTC policy's 20:00 is 8 hours later.
        let utc = Policy { timezone: "UTC".into(), ..policy("20:00") };
        assert_eq!(current(&utc, shanghai(2026, 12, 5, 20, 30)), None);
        let d = current(&utc, shanghai(2026, 12, 6, 4, 0)).expect("20:00 UTC has come");
        assert_eq!(d.date.to_string(), "2026-12-05");
        assert_eq!(d.day_number() + 1, current(&utc, shanghai(2026, 12, 7, 4, 0)).map_or(0, |d| d.day_number()));
    }
}
