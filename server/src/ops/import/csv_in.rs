//! Reading the four CSV files of an import folder into a [`Roster`].

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::checklist::ItemRow;
use super::vocabulary::{self, list};
use super::{AreaIn, HouseholdIn, Line, Roster, TeamIn, UserIn};

/// One CSV file as rows of `column → cell`, with the line each row starts on.
struct Table {
    name: String,
    rows: Vec<(u64, HashMap<String, String>)>,
}

impl Table {
    fn read(path: &Path, known: &[&str], required: &[&str]) -> anyhow::Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        let headers: Vec<String> = reader
            .headers()
            .with_context(|| format!("{name}: cannot read the header line"))?
            .iter()
            .map(vocabulary::column)
            .collect();
        if let Some(unknown) = headers.iter().find(|h| !known.contains(&h.as_str())) {
            bail!("{name}: line 1: unknown column {unknown:?} (known: {})", known.join(", "));
        }
        if let Some(missing) = required.iter().find(|r| !headers.iter().any(|h| h == *r)) {
            bail!("{name}: line 1: the column {missing:?} is missing");
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.with_context(|| format!("{name}: not valid CSV"))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            let cells = headers.iter().cloned().zip(record.iter().map(str::to_owned)).collect();
            rows.push((line, cells));
        }
        Ok(Some(Table { name, rows }))
    }

    fn lines<T>(&self, mut build: impl FnMut(&Cells) -> T) -> Vec<Line<T>> {
        self.rows
            .iter()
            .map(|(line, cells)| Line { file: self.name.clone(), line: *line, row: build(&Cells(cells)) })
            .collect()
    }
}

struct Cells<'a>(&'a HashMap<String, String>);

impl Cells<'_> {
    fn text(&self, column: &str) -> String {
        self.0.get(column).cloned().unwrap_or_default()
    }

    fn opt(&self, column: &str) -> Option<String> {
        self.0.get(column).filter(|v| !v.is_empty()).cloned()
    }
}

/// Reads `areas.csv`, `teams.csv`, `users.csv`, `households.csv` and `checklist.csv` from `dir`;
/// each is optional.
pub fn read_dir(dir: &Path) -> anyhow::Result<Roster> {
    if !dir.is_dir() {
        bail!("{}: not a folder", dir.display());
    }
    let mut roster = Roster::default();
    let areas = ["code", "parent_code", "kind", "name"];
    if let Some(t) = Table::read(&dir.join("areas.csv"), &areas, &["code", "kind", "name"])? {
        roster.areas = t.lines(|c| AreaIn {
            code: c.text("code"),
            parent_code: c.opt("parent_code"),
            kind: vocabulary::kind(&c.text("kind")).to_owned(),
            name: c.text("name"),
        });
    }
    let teams = ["code", "name", "area_code", "categories"];
    if let Some(t) = Table::read(&dir.join("teams.csv"), &teams, &["code", "name"])? {
        roster.teams = t.lines(|c| TeamIn {
            code: c.text("code"),
            name: c.text("name"),
            area_code: c.opt("area_code"),
            categories: list(&c.text("categories")),
        });
    }
    let users = ["username", "display_name", "role", "area_code", "team_code", "password"];
    if let Some(t) = Table::read(&dir.join("users.csv"), &users, &["username", "role"])? {
        roster.users = t.lines(|c| UserIn {
            username: c.text("username"),
            display_name: c.opt("display_name").unwrap_or_else(|| c.text("username")),
            role: vocabulary::role(&c.text("role")).to_owned(),
            area_code: c.opt("area_code"),
            team_code: c.opt("team_code"),
            password: c.opt("password"),
        });
    }
    let households = ["code", "area_code", "address", "head_name", "phone", "heating", "tags"];
    let required = ["code", "area_code", "address", "head_name", "heating"];
    if let Some(t) = Table::read(&dir.join("households.csv"), &households, &required)? {
        roster.households = t.lines(|c| HouseholdIn {
            code: c.text("code"),
            area_code: c.text("area_code"),
            address: c.text("address"),
            head_name: c.text("head_name"),
            phone: c.opt("phone"),
            heating: vocabulary::heating(&c.text("heating")).to_owned(),
            tags: list(&c.text("tags")).iter().map(|t| vocabulary::tag(t).to_owned()).collect(),
        });
    }
    let items =
        ["template_id", "template_name", "key", "label", "type", "kind", "required", "choices", "unit", "min", "max"];
    if let Some(t) = Table::read(&dir.join("checklist.csv"), &items, &["template_id", "key", "label"])? {
        roster.checklist = t.lines(|c| ItemRow {
            template_id: c.text("template_id"),
            template_name: c.text("template_name"),
            key: c.text("key"),
            label: c.text("label"),
            // `类型` reads as `kind` in every file; here it is the item's type.
            kind: vocabulary::item_type(&c.opt("type").or_else(|| c.opt("kind")).unwrap_or_default()).to_owned(),
            required: c.text("required"),
            choices: list(&c.text("choices")),
            unit: c.opt("unit"),
            min: c.opt("min"),
            max: c.opt("max"),
        });
    }
    let empty =
        [roster.areas.is_empty(), roster.teams.is_empty(), roster.users.is_empty(), roster.households.is_empty()];
    if empty.iter().all(|e| *e) && roster.checklist.is_empty() {
        bail!("{}: no rows in areas.csv, teams.csv, users.csv, households.csv or checklist.csv", dir.display());
    }
    Ok(roster)
}
