//! `fieldvisit import`: areas, teams, users and households from the CSV files a county's grid office
//! keeps (docs/import.md). Each row's id is derived from its code, so importing the same files
//! again changes nothing; rows already on the server that differ are reported and left as they are
//! (a phone may have edited them since). Everything is applied in one transaction: one bad row and
//! nothing is stored.

mod apply;
mod checklist;
mod command;
mod csv_in;
mod vocabulary;

pub use apply::apply;
pub use command::{run, ImportArgs};
pub use csv_in::read_dir;

use serde::Serialize;

/// The rows of one import, each with the file and line it came from.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    pub areas: Vec<Line<AreaIn>>,
    pub teams: Vec<Line<TeamIn>>,
    pub users: Vec<Line<UserIn>>,
    pub households: Vec<Line<HouseholdIn>>,
    /// `checklist.csv`: checklist template items, one a row.
    pub checklist: Vec<Line<checklist::ItemRow>>,
}

#[derive(Debug, Clone)]
pub struct Line<T> {
    pub file: String,
    pub line: u64,
    pub row: T,
}

#[derive(Debug, Clone)]
pub struct AreaIn {
    pub code: String,
    /// Empty: directly under the server's root area.
    pub parent_code: Option<String>,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct TeamIn {
    pub code: String,
    pub name: String,
    pub area_code: Option<String>,
    pub categories: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UserIn {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub area_code: Option<String>,
    pub team_code: Option<String>,
    /// Empty: a random one is generated and written to the credentials file.
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HouseholdIn {
    pub code: String,
    pub area_code: String,
    pub address: String,
    pub head_name: String,
    pub phone: Option<String>,
    pub heating: String,
    pub tags: Vec<String>,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Unchanged,
    /// On the server already with other values; left as it is.
    Kept {
        reason: String,
    },
    Error {
        field: String,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct RowReport {
    pub file: String,
    pub line: u64,
    /// The row's code (username for users).
    pub key: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<RowReport>,
    /// Generated passwords of new users, for the credentials file; never printed.
    pub credentials: Vec<(String, String)>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.outcome, Outcome::Error { .. })).count()
    }

    /// Counts per file: created, unchanged, kept, errors.
    pub fn tally(&self) -> Vec<(String, [usize; 4])> {
        let mut out: Vec<(String, [usize; 4])> = Vec::new();
        for r in &self.rows {
            let i = match r.outcome {
                Outcome::Created => 0,
                Outcome::Unchanged => 1,
                Outcome::Kept { .. } => 2,
                Outcome::Error { .. } => 3,
            };
            match out.iter_mut().find(|(f, _)| *f == r.file) {
                Some((_, n)) => n[i] += 1,
                None => {
                    let mut n = [0; 4];
                    n[i] = 1;
                    out.push((r.file.clone(), n));
                }
            }
        }
        out
    }
}

pub use fieldvisit_sync_protocol::codes::{area_id, household_id, team_id};
