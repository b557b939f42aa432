//! The checklist report's tallies: per template, grid, local day, item and answer, how many
//! visits gave that answer. The push writer adds a group's visits in one upsert per tally, so the
//! report reads a few rows per grid and day instead of the season's visits.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::upsert::excluded;
use fieldvisit_sync_protocol::checklist::{Kind, Template};
use serde_json::{Map, Value};

use super::policies::PolicyBook;
use super::records::VisitRow;
use super::schema::checklist_tallies as ct;
use super::{checklists, scope, DbConn};

/// What a tally counts: (template, grid path, day, item, answer).
pub type TallyKey = (String, String, i32, String, String);

/// The tallies of a batch of visits, summed before they are written.
#[derive(Debug, Default)]
pub struct Tallies(BTreeMap<TallyKey, i64>);

impl Tallies {
    /// Counts one visit filled from `template` in the grid `area_path` on local day `day`. The
    /// visit has passed `checklist::check`, so each answer is of its item's type.
    pub fn add(&mut self, template: &Template, area_path: &str, day: i32, checklist: &Map<String, Value>) {
        let mut count = |item: &str, answer: String| {
            let key = (template.id.clone(), area_path.to_owned(), day, item.to_owned(), answer);
            *self.0.entry(key).or_default() += 1;
        };
        count("", String::new());
        for item in &template.items {
            let Some(value) = checklist.get(&item.key) else { continue };
            let answer = match (&item.kind, value) {
                (Kind::Text, Value::String(s)) if s.trim().is_empty() => continue,
                (Kind::Text, _) => String::new(),
                (Kind::Choice { .. }, Value::String(s)) => s.clone(),
                // Numbers as JSON, `+ 0.0` folding -0 into 0 (one tally per value).
                (Kind::Number { .. }, Value::Number(n)) => match n.as_f64() {
                    Some(x) => Value::from(x + 0.0).to_string(),
                    None => continue,
                },
                (_, other) => other.to_string(),
            };
            count(&item.key, answer);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the tallies to the stored ones, inside the caller's transaction.
    pub fn store(&self, conn: &mut DbConn) -> QueryResult<()> {
        self.store_times(conn, 1)
    }

    /// Takes the tallies off the stored ones (visits leaving a grid in a merge).
    pub fn unstore(&self, conn: &mut DbConn) -> QueryResult<()> {
        self.store_times(conn, -1)
    }

    /// Every non-zero tally.
    pub fn into_counts(self) -> BTreeMap<TallyKey, i64> {
        self.0.into_iter().filter(|(_, n)| *n != 0).collect()
    }

    /// One multi-row upsert per 500 tallies (a push's visits share a few grids and days), not a
    /// statement per tally.
    fn store_times(&self, conn: &mut DbConn, sign: i64) -> QueryResult<()> {
        let rows: Vec<_> = self
            .0
            .iter()
            .map(|((template_id, area_path, day, item, answer), n)| {
                (
                    ct::template_id.eq(template_id),
                    ct::area_path.eq(area_path),
                    ct::day.eq(day),
                    ct::item.eq(item),
                    ct::answer.eq(answer),
                    ct::visits.eq(n * sign),
                )
            })
            .collect();
        let target = (ct::template_id, ct::day, ct::area_path, ct::item, ct::answer);
        for chunk in rows.chunks(500) {
            crate::with_conn!(&mut *conn, c => diesel::insert_into(ct::table)
                .values(chunk)
                .on_conflict(target)
                .do_update()
                .set(ct::visits.eq(ct::visits + excluded(ct::visits)))
                .execute(c))?;
        }
        Ok(())
    }
}

/// Re-derives the tallies of stored `visits` (those naming a template), each counted in `grid` if
/// given, else in its own; the day in the timezone of the visit's own county, as the writer did.
pub fn of_visits(
    conn: &mut DbConn,
    visits: &[VisitRow],
    book: &PolicyBook,
    grid: Option<&str>,
) -> QueryResult<Tallies> {
    let mut refs: Vec<(String, i32)> =
        visits.iter().filter_map(|v| v.checklist_template_id.clone().zip(v.checklist_template_version)).collect();
    refs.sort_unstable();
    refs.dedup();
    let templates = checklists::by_refs(conn, &refs)?;
    let mut tallies = Tallies::default();
    for v in visits {
        let Some(key) = v.checklist_template_id.clone().zip(v.checklist_template_version) else { continue };
        let Some(template) = templates.get(&key) else { continue };
        let day = crate::clock::local_day(v.visited_at, &book.latest_for(&v.area_path).timezone);
        tallies.add(template, grid.unwrap_or(&v.area_path), day, &v.checklist.0);
    }
    Ok(tallies)
}

/// Every stored non-zero tally (for `fieldvisit check`).
pub fn all(conn: &mut DbConn) -> QueryResult<BTreeMap<TallyKey, i64>> {
    let rows: Vec<(String, String, i32, String, String, i64)> = ct::table
        .filter(ct::visits.ne(0))
        .select((ct::template_id, ct::area_path, ct::day, ct::item, ct::answer, ct::visits))
        .load(conn)?;
    Ok(rows.into_iter().map(|(t, a, d, i, ans, n)| ((t, a, d, i, ans), n)).collect())
}

/// One stored tally the report reads: (grid path, item, answer, visits).
pub type TallyRow = (String, String, String, i64);

/// A template's tallies within `scope_path` from local day `since_day` on, summed over days.
pub fn since(conn: &mut DbConn, template_id: &str, scope_path: &str, since_day: i32) -> QueryResult<Vec<TallyRow>> {
    ct::table
        .filter(ct::template_id.eq(template_id))
        .filter(scope::within(ct::area_path, scope_path))
        .filter(ct::day.ge(since_day))
        .group_by((ct::area_path, ct::item, ct::answer))
        // SUM of a BIGINT is NUMERIC on PostgreSQL; the cast keeps one type on both backends.
        .select((
            ct::area_path,
            ct::item,
            ct::answer,
            diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(SUM(visits) AS BIGINT)"),
        ))
        .load(conn)
}
