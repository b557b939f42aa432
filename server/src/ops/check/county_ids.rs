//! Each busy table's `county_id` (the Citus distribution column) against its `area_path`: the
//! county is derived from the path (`PolicyBook::county_id_of`), so a row whose stored county
//! differs is a finding, and a repair writes the derived one back.
//!
//! Compared per distinct (area_path, county_id) pair, one grouped query per table: a season's
//! millions of rows come back as a few thousand pairs (grids × counties).

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::policies::PolicyBook;
use crate::db::schema::{alerts, households, ticket_events, tickets, visits};
use crate::db::DbConn;

/// Rows of `table` in `area_path` whose `county_id` is `stored`, where the path gives `derived`.
#[derive(Debug, PartialEq, Eq)]
pub struct WrongCounty {
    pub table: &'static str,
    pub area_path: String,
    pub stored: String,
    pub derived: String,
    pub rows: i64,
}

/// Every group of rows whose county disagrees with its area path, table by table.
pub fn disagreements(conn: &mut DbConn, book: &PolicyBook) -> QueryResult<Vec<WrongCounty>> {
    let mut out = Vec::new();
    macro_rules! scan {
        ($table:ident) => {{
            let pairs: Vec<(String, String, i64)> = $table::table
                .group_by(($table::area_path, $table::county_id))
                .select(($table::area_path, $table::county_id, count_star()))
                .load(conn)?;
            for (area_path, stored, rows) in pairs {
                let derived = book.county_id_of(&area_path);
                if stored != derived {
                    out.push(WrongCounty { table: stringify!($table), area_path, stored, derived, rows });
                }
            }
        }};
    }
    scan!(households);
    scan!(visits);
    scan!(tickets);
    scan!(ticket_events);
    scan!(alerts);
    Ok(out)
}

/// Writes the derived county into each row of `wrong`; returns how many rows changed. No `seq`
/// moves: phones are never sent the column.
pub fn repair(conn: &mut DbConn, wrong: &[WrongCounty]) -> QueryResult<u64> {
    let mut changed = 0;
    for w in wrong {
        macro_rules! set {
            ($table:ident) => {
                diesel::update($table::table.filter($table::area_path.eq(&w.area_path)))
                    .filter($table::county_id.ne(&w.derived))
                    .set($table::county_id.eq(&w.derived))
                    .execute(conn)?
            };
        }
        let n = match w.table {
            "households" => set!(households),
            "visits" => set!(visits),
            "tickets" => set!(tickets),
            "ticket_events" => set!(ticket_events),
            _ => set!(alerts),
        };
        changed += n as u64;
    }
    Ok(changed)
}

impl std::fmt::Display for WrongCounty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let WrongCounty { table, area_path, stored, derived, rows } = self;
        write!(f, "{table}: {rows} row(s) in {area_path} have county_id {stored:?}, their area's county is {derived:?}")
    }
}
