//! Reports for supervisors: compliance (also CSV), day-end clearance, visit coverage and indoor
//! temperatures. Days are days in the policy's timezone.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::{get, web, HttpResponse};
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, Principal};
use crate::db::{self, areas, policies, reports as rows, temperature as tally};
use crate::error::ApiError;
use crate::reports::ticket_index::ComplianceScope;
use crate::reports::{self, ComplianceGroup, DailyRow, GroupBy, Readings};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;
/// The heating standard: rooms below it count as cold.
const STANDARD_C: f64 = 18.0;

pub(crate) fn timezone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// RFC 3339, or `YYYY-MM-DD` meaning that day's midnight in `tz`.
pub(crate) fn parse_time(field: &str, value: &str, tz: chrono_tz::Tz) -> Result<i64, ApiError> {
    if let Some(ms) = fieldvisit_sync_protocol::time::parse_rfc3339(value) {
        return Ok(ms);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("{field}: RFC 3339 or YYYY-MM-DD")).with_field(field)
        })
}

/// The first instant at or after `at` that is `minutes` past a local midnight in `tz` (the
/// policy's day end); a local time a clock change skips counts at its first instant after.
fn day_end_after(at: i64, tz: chrono_tz::Tz, minutes: u32) -> i64 {
    let Some(local) = chrono::Utc.timestamp_millis_opt(at).single().map(|t| t.with_timezone(&tz).date_naive()) else {
        return at;
    };
    let at_day_end = |date: NaiveDate| {
        let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(minutes * 60, 0)?;
        let local = date.and_time(time);
        tz.from_local_datetime(&local)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
            .map(|t| t.timestamp_millis())
    };
    [Some(local), local.succ_opt()].into_iter().flatten().filter_map(at_day_end).find(|&t| t >= at).unwrap_or(at)
}

/// The policy's day ends around a period, found once per report: a season-wide compliance asks
/// for one per ticket, and each asks the timezone database twice.
struct DayEnds {
    tz: chrono_tz::Tz,
    minutes: u32,
    sorted: Vec<i64>,
}

impl DayEnds {
    fn new(tz: chrono_tz::Tz, minutes: u32, (from, to): (i64, i64)) -> Self {
        // One a day from the day before `from` to the day after `to` (at most a year's worth;
        // later instants are answered one by one).
        let (first, last) = (from.saturating_sub(DAY_MS), to.min(from.saturating_add(366 * DAY_MS)));
        let mut sorted = Vec::new();
        let mut at = first;
        while at <= last.saturating_add(DAY_MS) {
            let end = day_end_after(at, tz, minutes);
            if sorted.last() != Some(&end) {
                sorted.push(end);
            }
            at = end.max(at).saturating_add(1);
        }
        DayEnds { tz, minutes, sorted }
    }

    /// As [`day_end_after`]: the first day end at or after `at`.
    fn after(&self, at: i64) -> i64 {
        let i = self.sorted.partition_point(|&end| end < at);
        match self.sorted.get(i) {
            Some(&end) if i > 0 => end,
            _ => day_end_after(at, self.tz, self.minutes),
        }
    }
}

/// Area names in scope, for labelling groups.
pub(crate) fn area_names(conn: &mut db::DbConn, scope: &str) -> Result<HashMap<String, String>, ApiError> {
    Ok(areas::list_within(conn, scope)?.into_iter().map(|a| (a.id, a.name)).collect())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ComplianceQuery {
    /// `YYYY-MM-DD` (midnight in the policy's timezone) or RFC 3339; default 7 days before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Like `from`; default now.
    #[param(format = Date)]
    to: Option<String>,
    /// `area` (default), `team` or `category`.
    #[param(inline, value_type = Option<super::params::ComplianceGroupBy>)]
    group_by: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline, value_type = Option<super::params::ReportFormat>)]
    format: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    #[schema(value_type = Vec<Object>)]
    groups: Vec<ComplianceGroup>,
}

/// On-time rates per stage by area, team or category, with handling-time and sync-delay percentiles.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(ComplianceQuery),
    responses((status = 200, content((ComplianceReport = "application/json"), (String = "text/csv"))), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/reports/compliance")]
pub async fn compliance(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<ComplianceQuery>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ReadReports)?;
    let by = match q.group_by.as_deref().unwrap_or("area") {
        "area" => GroupBy::Area,
        "team" => GroupBy::Team,
        "category" => GroupBy::Category,
        _ => {
            return Err(
                ApiError::bad_request("invalid_query", "group_by: area, team or category").with_field("group_by")
            )
        }
    };
    let csv = wants_csv(q.format.as_deref())?;
    let now = state.clock.now();
    let q = q.into_inner();
    let (index, horizon) = (state.ticket_index.clone(), state.writer.horizon().clone());
    let groups = db::run(&state.pool, move |conn| {
        let policy = policies::load(conn)?.latest_for(&who.area_path);
        let tz = timezone(&policy.timezone);
        let to = q.to.as_deref().map(|v| parse_time("to", v, tz)).transpose()?.unwrap_or(now);
        let from = q.from.as_deref().map(|v| parse_time("from", v, tz)).transpose()?.unwrap_or(to - 7 * DAY_MS);
        let ends = DayEnds::new(tz, policy.day_end_minutes(), (from, to));
        let day_end_after = |at: i64| ends.after(at);
        let cx = reports::ComplianceContext { day_end_after: &day_end_after };
        let period = ComplianceScope { by, scope_path: &who.area_path, period: (from, to), now };
        let mut groups = index.compliance(conn, &horizon, &period, &cx)?;
        let names: HashMap<String, String> = match by {
            GroupBy::Area => area_names(conn, &who.area_path)?,
            GroupBy::Team => areas::teams_serving(conn, &who.area_path)?.into_iter().map(|t| (t.id, t.name)).collect(),
            GroupBy::Category => HashMap::new(),
        };
        for g in &mut groups {
            g.name = reports::name_of(&names, &g.key);
        }
        Ok(groups)
    })
    .await?;
    if csv {
        return compliance_csv(&groups);
    }
    Ok(HttpResponse::Ok().json(ComplianceReport { groups }))
}

/// `format`: `json` (default) → false, `csv` → true.
pub(crate) fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format.unwrap_or("json") {
        "json" => Ok(false),
        "csv" => Ok(true),
        _ => Err(ApiError::bad_request("invalid_query", "format: json or csv").with_field("format")),
    }
}

/// A text cell as a spreadsheet will not run it: one that would start with `=`, `+`, `-`, `@`,
/// tab or carriage return gets a leading `'` (categories and names come from users). Numeric
/// cells are formatted here from numbers, so a leading '-' there is a negative number, not a
/// formula, and they are left as numbers.
pub(crate) fn safe_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn compliance_csv(groups: &[ComplianceGroup]) -> Result<HttpResponse, ApiError> {
    let fail = |e: csv::Error| ApiError::internal(e.into());
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header =
        vec!["key", "name", "tickets", "closed", "on_time_rate"].into_iter().map(String::from).collect::<Vec<_>>();
    for stage in ["classify", "dispatch", "on_site", "close"] {
        for col in ["met", "late", "overdue", "p50_s", "p90_s"] {
            header.push(format!("{stage}_{col}"));
        }
    }
    header.extend(
        ["sync_delay_p50_s", "sync_delay_p90_s", "closed_on_the_spot", "carried_overnight", "satisfied_share"]
            .map(String::from),
    );
    w.write_record(&header).map_err(fail)?;
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for g in groups {
        let mut row = vec![safe_cell(&g.key), safe_cell(&g.name), g.tickets.to_string(), g.closed.to_string()];
        row.push(g.on_time_rate.map(|r| format!("{r:.4}")).unwrap_or_default());
        for stage in ["classify", "dispatch", "on_site", "close"] {
            let s = g.stages.get(stage).cloned().unwrap_or_default();
            row.extend([s.met.to_string(), s.late.to_string(), s.overdue.to_string(), opt(s.p50_s), opt(s.p90_s)]);
        }
        row.extend([opt(g.sync_delay_p50_s), opt(g.sync_delay_p90_s), g.closed_on_the_spot.to_string()]);
        row.extend([g.carried_overnight.to_string(), g.satisfied_share.map(|r| format!("{r:.4}")).unwrap_or_default()]);
        w.write_record(&row).map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| ApiError::internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("content-disposition", "attachment; filename=\"compliance.csv\""))
        .body(bytes))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DailyQuery {
    /// `YYYY-MM-DD` in the policy's timezone; default today.
    #[param(format = Date)]
    date: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DailyReport {
    date: String,
    timezone: String,
    #[schema(value_type = Vec<Object>)]
    areas: Vec<DailyRow>,
}

/// Day-end clearance: reported that day, closed that day, still open and overdue at the day's end, per area.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(DailyQuery),
    responses((status = 200, body = DailyReport), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/reports/daily")]
pub async fn daily(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<DailyQuery>,
) -> Result<web::Json<DailyReport>, ApiError> {
    who.authorize(Action::ReadReports)?;
    let now = state.clock.now();
    let date = q.into_inner().date;
    db::run(&state.pool, move |conn| {
        let policy = policies::load(conn)?.latest_for(&who.area_path);
        let tz_name = policy.timezone.clone();
        let tz = timezone(&tz_name);
        let day = match date {
            Some(d) => d,
            None => chrono::Utc
                .timestamp_millis_opt(now)
                .single()
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        };
        let start = parse_time("date", &day, tz)?;
        let end = start + DAY_MS;
        let tickets = rows::tickets_open_during(conn, &who.area_path, start, end)?;
        let day_end = day_end_after(start, tz, policy.day_end_minutes());
        let mut areas = reports::daily(&tickets, &who.area_path, (start, end), day_end, now);
        let names = area_names(conn, &who.area_path)?;
        for a in &mut areas {
            a.name = reports::name_of(&names, &a.area_id);
        }
        Ok(web::Json(DailyReport { date: day, timezone: tz_name, areas }))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// Visits at or after this time count (`YYYY-MM-DD` or RFC 3339); default the last 30 days.
    #[param(format = Date)]
    since: Option<String>,
    /// Report within this area (in your scope); default your area.
    #[param(inline, value_type = Option<super::params::UuidText>)]
    area_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Unvisited {
    id: String,
    address: String,
    head_name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GridCoverage {
    area_id: String,
    name: String,
    households: u32,
    visited: u32,
    share: f64,
    unvisited: Vec<Unvisited>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CoverageReport {
    grids: Vec<GridCoverage>,
}

/// Every household, every door: per grid, households visited since a time and the list of those not.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(CoverageQuery),
    responses((status = 200, body = CoverageReport), (status = 403, body = crate::error::ErrorBody),
        (status = 404, description = "`area_id` names no area", body = crate::error::ErrorBody)))]
#[get("/api/v1/reports/coverage")]
pub async fn coverage(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<CoverageQuery>,
) -> Result<web::Json<CoverageReport>, ApiError> {
    who.authorize(Action::ReadReports)?;
    let now = state.clock.now();
    let q = q.into_inner();
    db::run(&state.pool, move |conn| {
        let scope = scoped_area(conn, &who, q.area_id.as_deref())?;
        let tz = timezone(&policies::load(conn)?.latest_for(&who.area_path).timezone);
        let since = q.since.as_deref().map(|v| parse_time("since", v, tz)).transpose()?.unwrap_or(now - 30 * DAY_MS);
        let visited: HashSet<String> = rows::visited_since(conn, &scope, since)?.into_iter().collect();
        let names = area_names(conn, &scope)?;
        let mut grids: Vec<GridCoverage> = Vec::new();
        for rows::HouseholdBrief { id, area_id, address, head_name } in rows::households_in(conn, &scope)? {
            if grids.last().is_none_or(|g| g.area_id != area_id) {
                let name = reports::name_of(&names, &area_id);
                grids.push(GridCoverage {
                    area_id: area_id.clone(),
                    name,
                    households: 0,
                    visited: 0,
                    share: 0.0,
                    unvisited: Vec::new(),
                });
            }
            let Some(g) = grids.last_mut() else { continue };
            g.households += 1;
            if visited.contains(&id) {
                g.visited += 1;
            } else {
                g.unvisited.push(Unvisited { id, address, head_name });
            }
        }
        for g in &mut grids {
            g.share = f64::from(g.visited) / f64::from(g.households.max(1));
        }
        Ok(web::Json(CoverageReport { grids }))
    })
    .await
}

/// The area to report on: the one asked for, if within scope, else the caller's own.
fn scoped_area(conn: &mut db::DbConn, who: &Principal, area_id: Option<&str>) -> Result<String, ApiError> {
    match area_id {
        None => Ok(who.area_path.clone()),
        Some(id) => {
            let area = areas::find(conn, id)?.ok_or_else(|| ApiError::not_found("area").with_field("area_id"))?;
            who.require_scope(&area.path).map_err(|_| ApiError::out_of_scope("area_id"))?;
            Ok(area.path)
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TemperatureQuery {
    /// `YYYY-MM-DD` or RFC 3339; default the last 30 days.
    #[param(format = Date)]
    since: Option<String>,
    /// Only `area` for now.
    #[param(inline, value_type = Option<super::params::ByArea>)]
    group_by: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AreaTemperature {
    area_id: String,
    name: String,
    visits_measured: u32,
    p10_c: Option<f64>,
    p50_c: Option<f64>,
    /// Households whose latest measurement in the period is below 18 °C.
    households_below_standard: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TemperatureReport {
    standard_c: f64,
    areas: Vec<AreaTemperature>,
}

/// Indoor temperatures per area: measured visits, p10/p50, and households below the 18 °C standard.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(TemperatureQuery),
    responses((status = 200, body = TemperatureReport), (status = 403, body = crate::error::ErrorBody)))]
#[get("/api/v1/reports/temperature")]
pub async fn temperature(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<TemperatureQuery>,
) -> Result<web::Json<TemperatureReport>, ApiError> {
    who.authorize(Action::ReadReports)?;
    if q.group_by.as_deref().is_some_and(|g| g != "area") {
        return Err(ApiError::bad_request("invalid_query", "group_by: area").with_field("group_by"));
    }
    let now = state.clock.now();
    let since = q.into_inner().since;
    db::run(&state.pool, move |conn| {
        let tz = timezone(&policies::load(conn)?.latest_for(&who.area_path).timezone);
        let since = since.as_deref().map(|v| parse_time("since", v, tz)).transpose()?.unwrap_or(now - 30 * DAY_MS);
        let names = area_names(conn, &who.area_path)?;
        // Per area: readings in tenths of a degree → visits, from the tally for the whole UTC days
        // of the period and from the visits for the part of its first day before midnight.
        let first_whole_day = tally::day_of(since - 1) + 1;
        let mut by_area: BTreeMap<String, Readings> = BTreeMap::new();
        let scope = &who.area_path;
        for (path, tenths, n) in tally::tallied_since(conn, scope, first_whole_day)? {
            by_area.entry(reports::area_key(&path, scope)).or_default().add(tenths, n);
        }
        for (path, temp) in tally::measured_between(conn, scope, since, first_whole_day * tally::DAY_MS)? {
            by_area.entry(reports::area_key(&path, scope)).or_default().add(tally::tenths(temp), 1);
        }
        for (path, n) in tally::households_below(conn, scope, since, STANDARD_C)? {
            by_area.entry(reports::area_key(&path, scope)).or_default().below += n;
        }
        let areas = by_area
            .into_iter()
            .map(|(key, r)| AreaTemperature {
                name: reports::name_of(&names, &key),
                area_id: key,
                visits_measured: r.visits() as u32,
                p10_c: r.percentile(0.1).map(|v| f64::from(v) / 10.0),
                p50_c: r.percentile(0.5).map(|v| f64::from(v) / 10.0),
                households_below_standard: r.below as u32,
            })
            .collect();
        Ok(web::Json(TemperatureReport { standard_c: STANDARD_C, areas }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The day ends found once per report answer as asking the timezone database each time,
        /// also across daylight-saving changes and outside the period.
        #[test]
        fn day_ends_found_once_answer_as_each_lookup(
            tz in prop::sample::select(vec![chrono_tz::Asia::Shanghai, chrono_tz::America::New_York, chrono_tz::Europe::Berlin]),
            minutes in 0u32..1440,
            from in 1_600_000_000_000i64..1_900_000_000_000,
            days in 0i64..400,
            at in prop::collection::vec(-3 * DAY_MS..403 * DAY_MS, 1..50),
        ) {
            let to = from + days * DAY_MS;
            let ends = DayEnds::new(tz, minutes, (from, to));
            for offset in at {
                let at = from + offset;
                prop_assert_eq!(ends.after(at), day_end_after(at, tz, minutes), "at {}", at);
            }
        }
    }
}
