//! Applying a [`Roster`] inside the caller's transaction, through the same checks as the API
//! (`accounts::create_*`, the sync household parser), so an import cannot store what a push or an
//! admin call would refuse.

use std::collections::{HashMap, HashSet};

use fieldvisit_sync_protocol::org::{AreaKind, Role};
use fieldvisit_sync_protocol::sync::records::HouseholdIn as HouseholdRecord;
use fieldvisit_sync_protocol::time::format_utc;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;

use super::{area_id, household_id, team_id, AreaIn, HouseholdIn, Line, Outcome, Report, Roster, RowReport};
use super::{TeamIn, UserIn};
use crate::auth::accounts::{self, NewUser};
use crate::auth::password;
use crate::db::areas::{self, AreaRow};
use crate::db::policies::{self, PolicyBook};
use crate::db::records::{self, HouseholdRow};
use crate::db::seq::SeqAlloc;
use crate::db::{users, DbConn};
use crate::error::{ApiError, Kind};

/// Who imported households, in their `created_by`.
pub const IMPORTER: &str = "import";

/// Applies every row; a row that fails is reported, not raised. Only a database failure is an `Err`.
pub fn apply(conn: &mut DbConn, roster: &Roster, now: i64) -> Result<Report, ApiError> {
    let root =
        areas::root(conn)?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("the database has no root area")))?;
    let mut run = Run { conn, root, now, report: Report::default(), book: None };
    run.areas(&roster.areas)?;
    run.teams(&roster.teams)?;
    run.users(&roster.users)?;
    run.households(&roster.households)?;
    for (i, outcome) in super::checklist::apply(run.conn, &roster.checklist, now)? {
        let at = &roster.checklist[i];
        run.note(at, &format!("{}.{}", at.row.template_id, at.row.key), outcome);
    }
    Ok(run.report)
}

struct Run<'c> {
    conn: &'c mut DbConn,
    root: AreaRow,
    now: i64,
    report: Report,
    /// The counties, loaded once the roster's areas are in (households name theirs).
    book: Option<PolicyBook>,
}

fn error(field: &str, message: impl Into<String>) -> Outcome {
    Outcome::Error { field: field.to_owned(), message: message.into() }
}

/// A refused row becomes its report line; anything else (the database failing) aborts the import.
fn refused(e: ApiError) -> Result<Outcome, ApiError> {
    match e.kind {
        Kind::BadRequest | Kind::Conflict | Kind::Forbidden | Kind::Unprocessable => {
            let field = match e.field.as_deref().unwrap_or("") {
                "id" => "code",
                "parent_id" => "parent_code",
                "area_id" => "area_code",
                "team_id" => "team_code",
                f => f,
            };
            Ok(error(field, e.message))
        }
        _ => Err(e),
    }
}

impl Run<'_> {
    fn note<T>(&mut self, at: &Line<T>, key: &str, outcome: Outcome) {
        let (file, line) = (at.file.clone(), at.line);
        self.report.rows.push(RowReport { file, line, key: key.to_owned(), outcome });
    }

    /// An area by its code; no code is the root area.
    fn area(&mut self, code: Option<&str>) -> Result<Option<AreaRow>, ApiError> {
        match code {
            None => Ok(Some(self.root.clone())),
            Some(code) => Ok(areas::find(self.conn, &area_id(code).to_string())?),
        }
    }

    /// Codes already seen in this file: a repeat is an error naming the first line.
    fn repeated<T>(seen: &mut HashMap<String, u64>, at: &Line<T>, code: &str) -> Option<Outcome> {
        if code.is_empty() {
            return Some(error("code", "must not be empty"));
        }
        seen.insert(code.to_owned(), at.line).map(|first| error("code", format!("repeats line {first}")))
    }

    /// Areas in any order: a row waits until its parent exists (from this file or the server).
    fn areas(&mut self, rows: &[Line<AreaIn>]) -> Result<(), ApiError> {
        let mut seen = HashMap::new();
        let mut pending: Vec<&Line<AreaIn>> = Vec::new();
        for at in rows {
            match Self::repeated(&mut seen, at, &at.row.code) {
                Some(outcome) => self.note(at, &at.row.code, outcome),
                None => pending.push(at),
            }
        }
        let codes: HashSet<&str> = pending.iter().map(|a| a.row.code.as_str()).collect();
        loop {
            let mut waiting = Vec::new();
            let before = pending.len();
            for at in pending {
                let parent = self.area(at.row.parent_code.as_deref())?;
                match parent {
                    Some(parent) => {
                        let outcome = self.area_row(&at.row, &parent)?;
                        self.note(at, &at.row.code, outcome);
                    }
                    None => waiting.push(at),
                }
            }
            pending = waiting;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for at in pending {
            let message = match at.row.parent_code.as_deref() {
                Some(p) if codes.contains(p) => "its parent could not be imported (see that row, or a cycle)",
                _ => "no such area in this file or on the server",
            };
            self.note(at, &at.row.code, error("parent_code", message));
        }
        Ok(())
    }

    fn area_row(&mut self, row: &AreaIn, parent: &AreaRow) -> Result<Outcome, ApiError> {
        let id = area_id(&row.code);
        if let Some(e) = areas::find(self.conn, &id.to_string())? {
            let same = e.parent_id.as_deref() == Some(&parent.id) && e.kind == row.kind && e.name == row.name;
            return Ok(if same {
                Outcome::Unchanged
            } else {
                Outcome::Kept { reason: format!("the server has this code as {} {:?}; not changed", e.kind, e.name) }
            });
        }
        let Some(kind) = AreaKind::parse(&row.kind) else {
            return Ok(error(
                "kind",
                "one of province, city, county, town, community, grid (or 县, 乡镇, 社区, 网格…)",
            ));
        };
        match accounts::create_area(self.conn, Some(id), &parent.id, kind, &row.name, &self.root.path, self.now) {
            Ok(_) => Ok(Outcome::Created),
            Err(e) => refused(e),
        }
    }

    fn teams(&mut self, rows: &[Line<TeamIn>]) -> Result<(), ApiError> {
        let mut seen = HashMap::new();
        for at in rows {
            let row = &at.row;
            let outcome = match Self::repeated(&mut seen, at, &row.code) {
                Some(outcome) => outcome,
                None => match self.area(row.area_code.as_deref())? {
                    None => error("area_code", "no such area"),
                    Some(area) => self.team_row(row, &area)?,
                },
            };
            self.note(at, &row.code, outcome);
        }
        Ok(())
    }

    fn team_row(&mut self, row: &TeamIn, area: &AreaRow) -> Result<Outcome, ApiError> {
        let id = team_id(&row.code);
        if let Some(e) = areas::find_team(self.conn, &id.to_string())? {
            let same = e.area_id == area.id && e.name == row.name && e.categories.0 == row.categories;
            return Ok(if same {
                Outcome::Unchanged
            } else {
                Outcome::Kept { reason: format!("the server has this code as team {:?}; not changed", e.name) }
            });
        }
        match accounts::create_team(
            self.conn,
            Some(id),
            &row.name,
            &area.id,
            &row.categories,
            &self.root.path,
            self.now,
        ) {
            Ok(_) => Ok(Outcome::Created),
            Err(e) => refused(e),
        }
    }

    fn users(&mut self, rows: &[Line<UserIn>]) -> Result<(), ApiError> {
        let mut seen = HashMap::new();
        for at in rows {
            let outcome = match Self::repeated(&mut seen, at, &at.row.username) {
                Some(Outcome::Error { message, .. }) => error("username", message),
                Some(other) => other,
                None => self.user_row(&at.row)?,
            };
            self.note(at, &at.row.username, outcome);
        }
        Ok(())
    }

    fn user_row(&mut self, row: &UserIn) -> Result<Outcome, ApiError> {
        let Some(role) = Role::parse(&row.role) else {
            return Ok(error("role", "one of volunteer, handler, dispatcher, supervisor, admin (or 志愿者, 调度员…)"));
        };
        let Some(area) = self.area(row.area_code.as_deref())? else {
            return Ok(error("area_code", "no such area"));
        };
        let team = row.team_code.as_deref().map(|code| team_id(code).to_string());
        if let Some(t) = &team {
            if areas::find_team(self.conn, t)?.is_none() {
                return Ok(error("team_code", "no such team"));
            }
        }
        if let Some(e) = users::find_by_username(self.conn, row.username.trim())? {
            let same = e.role.0 == role && e.area_id == area.id && e.team_id == team;
            return Ok(if same {
                Outcome::Unchanged
            } else {
                Outcome::Kept { reason: "a user with this username exists with another role, area or team".into() }
            });
        }
        let generated = row.password.is_none();
        let password = row.password.clone().unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 16));
        let hashed = match password::Hashed::new(&password) {
            Ok(hashed) => hashed,
            Err(e) => return refused(e),
        };
        let new = NewUser {
            id: None,
            username: row.username.clone(),
            password: hashed,
            display_name: row.display_name.clone(),
            role,
            area_id: area.id,
            team_id: team,
        };
        match accounts::create_user(self.conn, new, None, self.now) {
            Ok(user) => {
                if generated {
                    self.report.credentials.push((user.username, password));
                }
                Ok(Outcome::Created)
            }
            Err(e) => refused(e),
        }
    }

    /// Households go through the push parser, so the same limits and formats hold; new ones get
    /// change numbers and so reach the phones of their grid on the next pull.
    fn households(&mut self, rows: &[Line<HouseholdIn>]) -> Result<(), ApiError> {
        let ids: Vec<String> =
            rows.iter().map(|at| household_id(&at.row.area_code, &at.row.code).to_string()).collect();
        let existing = records::households_by_id(self.conn, &ids)?;
        self.book = Some(policies::load(self.conn)?);
        let mut seen = HashMap::new();
        let mut seq = SeqAlloc::new();
        for (at, id) in rows.iter().zip(ids) {
            let row = &at.row;
            let key = format!("{}/{}", row.area_code, row.code);
            let outcome = match Self::repeated(&mut seen, at, &key) {
                Some(outcome) => outcome,
                None => match self.area(Some(&row.area_code))? {
                    None => error("area_code", "no such area"),
                    Some(area) => self.household_row(row, &id, &area, existing.get(&id), &mut seq)?,
                },
            };
            self.note(at, &key, outcome);
        }
        Ok(())
    }

    fn household_row(
        &mut self,
        row: &HouseholdIn,
        id: &str,
        area: &AreaRow,
        existing: Option<&HouseholdRow>,
        seq: &mut SeqAlloc,
    ) -> Result<Outcome, ApiError> {
        let record = json!({
            "id": id, "area_id": area.id, "address": row.address, "head_name": row.head_name,
            "phone": row.phone, "heating": row.heating, "tags": row.tags,
            "base_version": 0, "updated_at": format_utc(self.now),
        });
        let parsed = match HouseholdRecord::parse(&record, "") {
            Ok(p) => p,
            Err(e) => return Ok(error(e.field.trim_start_matches('.'), e.message)),
        };
        if let Some(e) = existing {
            return Ok(if e.fields() == parsed.fields && e.area_id == area.id {
                Outcome::Unchanged
            } else {
                Outcome::Kept {
                    reason: format!("the server's version {} differs (edited since); not overwritten", e.version),
                }
            });
        }
        let seq = seq.next(self.conn)?;
        let county = self.book.as_ref().map(|b| b.county_id_of(&area.path)).unwrap_or_default();
        let (area, times) = ((area.id.as_str(), area.path.as_str(), county.as_str()), (self.now, self.now));
        let household = HouseholdRow::first(id.to_owned(), area, &parsed.fields, times, IMPORTER.into(), seq);
        records::insert_household(self.conn, &household)?;
        Ok(Outcome::Created)
    }
}
