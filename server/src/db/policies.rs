//! Deadline policies, versioned, one line of versions per county (contract 1.1): the root area
//! when it is a county, else each county below it (the root again for areas under no county).
//! Version numbers are unique across counties, so a ticket's `policy_version` alone names its
//! policy; a ticket follows its county's version in force at its report time.

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::Policy;

use super::schema::{areas, policies};
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = policies)]
pub struct PolicyRow {
    pub version: i32,
    pub body: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    /// The county the version belongs to; `None`: the default of every county without its own.
    pub county_id: Option<String>,
}

/// The area a policy belongs to: its id and materialized path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct County {
    pub id: String,
    pub path: String,
}

/// Every version, oldest first, parsed, and the counties they may belong to.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    versions: Vec<(i64, Option<String>, Policy)>,
    /// Counties, shallowest first, then the root (the holder for areas under no county).
    counties: Vec<County>,
}

impl PolicyBook {
    /// The county whose policy governs `area_path`: the shallowest county above or at it, else
    /// the root. `None` only before the root exists.
    pub fn county_of(&self, area_path: &str) -> Option<&County> {
        self.counties.iter().find(|c| scope::is_within(area_path, &c.path))
    }

    /// The id of the county holding `area_path`, stored as `county_id` on every busy table
    /// (the Citus distribution column); empty only before the root exists.
    pub fn county_id_of(&self, area_path: &str) -> String {
        self.county_of(area_path).map(|c| c.id.clone()).unwrap_or_default()
    }

    /// Every policy holder: counties, shallowest first, then the root.
    pub fn counties(&self) -> &[County] {
        &self.counties
    }

    /// Versions that apply to `county`: its own and the defaults.
    fn of<'a>(
        &'a self,
        county: Option<&'a County>,
    ) -> impl DoubleEndedIterator<Item = &'a (i64, Option<String>, Policy)> + 'a {
        let id = county.map(|c| c.id.as_str());
        self.versions.iter().filter(move |(_, c, _)| c.is_none() || c.as_deref() == id)
    }

    /// The newest version that applies to the county of `area_path`.
    pub fn latest_for(&self, area_path: &str) -> Policy {
        self.of(self.county_of(area_path)).next_back().map(|(_, _, p)| p.clone()).unwrap_or_default()
    }

    /// The version in force at `at` in the county of `area_path`: the newest created at or before
    /// it (the first one for older times).
    pub fn in_force_at(&self, area_path: &str, at: i64) -> &Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        let county = self.county_of(area_path);
        self.of(county)
            .rev()
            .find(|(created, _, _)| *created <= at)
            .or_else(|| self.of(county).next())
            .map_or_else(|| DEFAULT.get_or_init(Policy::default), |(_, _, p)| p)
    }

    pub fn version(&self, version: i32) -> &Policy {
        self.versions
            .iter()
            .map(|(_, _, p)| p)
            .find(|p| p.version == version)
            .unwrap_or_else(|| self.in_force_at("/", i64::MAX))
    }
}

pub fn load(conn: &mut DbConn) -> QueryResult<PolicyBook> {
    let rows: Vec<PolicyRow> = policies::table.order(policies::version).select(PolicyRow::as_select()).load(conn)?;
    let versions = rows
        .into_iter()
        .filter_map(|r| {
            let mut p: Policy = serde_json::from_str(&r.body).ok()?;
            p.version = r.version;
            Some((r.created_at, r.county_id, p))
        })
        .collect();
    let holders: Vec<(String, String, String)> = areas::table
        .filter(areas::kind.eq(COUNTY).or(areas::parent_id.is_null()))
        .order((areas::depth, areas::created_at))
        .select((areas::id, areas::path, areas::kind))
        .load(conn)?;
    // Counties first, shallowest first; a root that is no county last: it governs only what no
    // county holds.
    let (mut counties, others): (Vec<_>, Vec<_>) = holders.into_iter().partition(|(_, _, kind)| kind == COUNTY);
    counties.extend(others);
    let counties = counties.into_iter().map(|(id, path, _)| County { id, path }).collect();
    Ok(PolicyBook { versions, counties })
}

/// The area kind a policy belongs to.
pub const COUNTY: &str = "county";

/// Stores version 1 (the 1-1-2-4 default, for every county) if there is none. Dated at the epoch
/// so that tickets reported before the server first started still fall under it.
pub fn ensure_default(conn: &mut DbConn, _now: i64) -> QueryResult<()> {
    let exists = policies::table.count().get_result::<i64>(conn)? > 0;
    if !exists {
        let body = serde_json::to_string(&Policy::default()).unwrap_or_default();
        let row = PolicyRow { version: 1, body, created_at: 0, created_by: None, county_id: None };
        diesel::insert_into(policies::table).values(&row).execute(conn)?;
    }
    Ok(())
}

pub fn insert(conn: &mut DbConn, row: &PolicyRow) -> QueryResult<()> {
    diesel::insert_into(policies::table).values(row).execute(conn).map(drop)
}
