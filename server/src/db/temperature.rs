//! What the temperature report reads instead of the season's visits: measured visits per area,
//! UTC day and tenth of a degree (`temperature_tally`), and each household's latest measurement
//! (`households.last_measured_at`, `last_temp_c`; the colder reading when two share the time).
//! The push writer adds to both in the transaction that stores the visits (the households'
//! columns in `records::count_visits`, with their visit tallies); `fieldvisit check`
//! compares them with the visits and `fieldvisit check --repair` rebuilds them.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::records::VisitRow;
use super::schema::{households, temperature_tally, visits};
use super::{scope, DbConn};

pub const DAY_MS: i64 = 86_400_000;

/// A reading in tenths of a degree, as the report's percentiles count it.
pub fn tenths(temp_c: f64) -> i32 {
    (temp_c * 10.0).round() as i32
}

/// The UTC day (days since 1970) of an instant.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY_MS)
}

/// (area_path, day, tenths) → measured visits.
pub type Tally = BTreeMap<(String, i64, i32), i64>;

/// Adds newly stored visits (each inserted once, so duplicates never count) to the tally, in one
/// statement per batch.
pub fn add(conn: &mut DbConn, new_visits: &[VisitRow]) -> QueryResult<()> {
    shift(conn, new_visits, 1)
}

/// Takes visits out of the tally (they move to another area: a household merged across grids).
pub fn remove(conn: &mut DbConn, visits: &[VisitRow]) -> QueryResult<()> {
    shift(conn, visits, -1)?;
    crate::with_conn!(&mut *conn, c => diesel::delete(temperature_tally::table.filter(temperature_tally::visits.le(0))).execute(c))?;
    Ok(())
}

fn shift(conn: &mut DbConn, visits: &[VisitRow], by: i64) -> QueryResult<()> {
    add_counts(conn, tally_of(visits, by))
}

fn tally_of(visits: &[VisitRow], by: i64) -> Tally {
    let mut tally = Tally::new();
    for v in visits {
        if let Some(t) = v.indoor_temp_c {
            *tally.entry((v.area_path.clone(), day_of(v.visited_at), tenths(t))).or_default() += by;
        }
    }
    tally
}

/// What `visits` add to the tally (`by` = 1) or take off it (-1), as [`TemperatureTallyAdd`]'s
/// rows: each key once.
pub fn tally_rows(visits: &[VisitRow], by: i64) -> Vec<TallyRow> {
    rows_of(tally_of(visits, by))
}

fn rows_of(tally: Tally) -> Vec<TallyRow> {
    tally.into_iter().map(|((area_path, day, tenths), visits)| TallyRow { area_path, day, tenths, visits }).collect()
}

/// One `temperature_tally` row's increment.
pub struct TallyRow {
    pub area_path: String,
    pub day: i64,
    pub tenths: i32,
    pub visits: i64,
}

crate::unnest_insert!(
    /// Adds to the temperature tallies on PostgreSQL (`db::unnest`); each key once per statement.
    TemperatureTallyAdd for TallyRow: "temperature_tally",
    "ON CONFLICT (area_path, day, tenths) DO UPDATE SET visits = temperature_tally.visits + excluded.visits",
    { area_path: text, day: int8, tenths: int4, visits: int8 }
);

/// Adds `tally`'s counts to the stored ones: one prepared statement on PostgreSQL
/// ([`TemperatureTallyAdd`]), upserts in chunks on SQLite.
fn add_counts(conn: &mut DbConn, tally: Tally) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        if tally.is_empty() {
            return Ok(());
        }
        return TemperatureTallyAdd::new(&rows_of(tally))?.execute(c).map(drop);
    }
    let rows: Vec<_> = tally.into_iter().map(|((area_path, day, tenths), n)| row(area_path, day, tenths, n)).collect();
    for chunk in rows.chunks(500) {
        use diesel::upsert::excluded;
        let more = temperature_tally::visits.eq(temperature_tally::visits + excluded(temperature_tally::visits));
        crate::with_conn!(&mut *conn, c => diesel::insert_into(temperature_tally::table)
            .values(chunk)
            .on_conflict((temperature_tally::area_path, temperature_tally::day, temperature_tally::tenths))
            .do_update()
            .set(more)
            .execute(c))?;
    }
    Ok(())
}

type Row = (
    diesel::dsl::Eq<temperature_tally::area_path, String>,
    diesel::dsl::Eq<temperature_tally::day, i64>,
    diesel::dsl::Eq<temperature_tally::tenths, i32>,
    diesel::dsl::Eq<temperature_tally::visits, i64>,
);

fn row(area_path: String, day: i64, tenths: i32, visits: i64) -> Row {
    (
        temperature_tally::area_path.eq(area_path),
        temperature_tally::day.eq(day),
        temperature_tally::tenths.eq(tenths),
        temperature_tally::visits.eq(visits),
    )
}

#[derive(QueryableByName)]
struct Group {
    #[diesel(sql_type = Text)]
    area_path: String,
    #[diesel(sql_type = BigInt)]
    day: i64,
    #[diesel(sql_type = Double)]
    temp: f64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The tally as the visits give it (grouped by exact reading in SQL, rounded here as the writer does).
pub fn derived(conn: &mut DbConn) -> QueryResult<Tally> {
    let groups: Vec<Group> = diesel::sql_query(
        "SELECT area_path, visited_at / 86400000 AS day, indoor_temp_c AS temp, COUNT(*) AS n FROM visits \
         WHERE indoor_temp_c IS NOT NULL GROUP BY area_path, visited_at / 86400000, indoor_temp_c",
    )
    .load(conn)?;
    let mut tally = Tally::new();
    for g in groups {
        *tally.entry((g.area_path, g.day, tenths(g.temp))).or_default() += g.n;
    }
    Ok(tally)
}

/// The tally as stored.
pub fn stored(conn: &mut DbConn) -> QueryResult<Tally> {
    let rows: Vec<(String, i64, i32, i64)> = temperature_tally::table.load(conn)?;
    Ok(rows.into_iter().map(|(a, d, t, n)| ((a, d, t), n)).collect())
}

/// Replaces the stored tally with `tally`.
pub fn replace(conn: &mut DbConn, tally: Tally) -> QueryResult<()> {
    diesel::delete(temperature_tally::table).execute(conn)?;
    // Into an empty table, the upsert is a plain insert.
    add_counts(conn, tally)
}

/// A household's latest measurement: (visited_at, indoor_temp_c).
pub type Measurement = (Option<i64>, Option<f64>);

#[derive(QueryableByName)]
struct Latest {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    stored_at: Option<i64>,
    #[diesel(sql_type = Nullable<Double>)]
    stored_c: Option<f64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    derived_at: Option<i64>,
    #[diesel(sql_type = Nullable<Double>)]
    derived_c: Option<f64>,
}

/// The latest measured visit of `h`'s visits, and the coldest reading at that time.
const LATEST_AT: &str =
    "(SELECT MAX(v.visited_at) FROM visits v WHERE v.household_id = h.id AND v.indoor_temp_c IS NOT NULL)";

fn latest_c() -> String {
    format!(
        "(SELECT MIN(v.indoor_temp_c) FROM visits v WHERE v.household_id = h.id AND v.indoor_temp_c IS NOT NULL \
         AND v.visited_at = {LATEST_AT})"
    )
}

/// Households whose stored latest measurement differs from their visits: (id, stored, derived).
pub fn measurement_disagreements(conn: &mut DbConn) -> QueryResult<Vec<(String, Measurement, Measurement)>> {
    let rows: Vec<Latest> = diesel::sql_query(format!(
        "SELECT h.id AS id, h.last_measured_at AS stored_at, h.last_temp_c AS stored_c, {LATEST_AT} AS derived_at, \
         {} AS derived_c FROM households h",
        latest_c()
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| (r.stored_at, r.stored_c) != (r.derived_at, r.derived_c))
        .map(|r| (r.id, (r.stored_at, r.stored_c), (r.derived_at, r.derived_c)))
        .collect())
}

/// Sets every household's latest measurement from its visits.
pub fn rebuild_measurements(conn: &mut DbConn) -> QueryResult<usize> {
    let sql = format!("UPDATE households AS h SET last_measured_at = {LATEST_AT}, last_temp_c = {}", latest_c());
    diesel::sql_query(sql).execute(conn)
}

/// (area_path, tenths, visits) of the tally in scope from UTC day `from_day` on.
pub fn tallied_since(conn: &mut DbConn, scope_path: &str, from_day: i64) -> QueryResult<Vec<(String, i32, i64)>> {
    temperature_tally::table
        .filter(scope::within(temperature_tally::area_path, scope_path))
        .filter(temperature_tally::day.ge(from_day))
        .select((temperature_tally::area_path, temperature_tally::tenths, temperature_tally::visits))
        .load(conn)
}

/// (area_path, reading) of measured visits in scope with a time in `[from, to)`, by the visits'
/// time index: meant for less than a day, the part of a period before its first whole day.
pub fn measured_between(conn: &mut DbConn, scope_path: &str, from: i64, to: i64) -> QueryResult<Vec<(String, f64)>> {
    if from >= to {
        return Ok(Vec::new());
    }
    // No scope condition in SQL: with one, SQLite may walk the scope's area index instead.
    let rows: Vec<(String, Option<f64>)> = visits::table
        .filter(visits::visited_at.ge(from).and(visits::visited_at.lt(to)))
        .filter(visits::indoor_temp_c.is_not_null())
        .select((visits::area_path, visits::indoor_temp_c))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(path, _)| scope::is_within(path, scope_path))
        .filter_map(|(path, t)| t.map(|t| (path, t)))
        .collect())
}

/// (area_path, households) in scope whose latest measurement is at or after `since` and below `standard_c`.
pub fn households_below(
    conn: &mut DbConn,
    scope_path: &str,
    since: i64,
    standard_c: f64,
) -> QueryResult<Vec<(String, i64)>> {
    households::table
        .filter(scope::within(households::area_path, scope_path))
        .filter(households::last_measured_at.ge(since))
        .filter(households::last_temp_c.lt(standard_c))
        .group_by(households::area_path)
        .select((households::area_path, diesel::dsl::count_star()))
        .load(conn)
}
