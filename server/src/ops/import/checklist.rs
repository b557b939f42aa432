//! `checklist.csv`: checklist templates, one item a row (docs/import.md). Each row's cells become an
//! item; the rows of one template become its next version (the default every county reads), checked
//! by the same `Template::validate` as `PUT /api/v1/checklists/{id}`. A template whose newest version
//! already has these items is `unchanged`. Errors name the row and the column.

use std::collections::BTreeMap;

use fieldvisit_sync_protocol::checklist::{Item, Kind, Template};

use super::{Line, Outcome};
use crate::db::{checklists, DbConn};
use crate::error::ApiError;

/// One row as read: the cells, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct ItemRow {
    pub template_id: String,
    pub template_name: String,
    pub key: String,
    pub label: String,
    pub kind: String,
    pub required: String,
    pub choices: Vec<String>,
    pub unit: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
}

fn yes_no(cell: &str) -> Result<bool, (&'static str, String)> {
    match cell.trim().to_lowercase().as_str() {
        "" | "否" | "no" | "n" | "false" | "0" | "选填" => Ok(false),
        "是" | "yes" | "y" | "true" | "1" | "必填" => Ok(true),
        other => Err(("required", format!("{other:?}: 是/否 (yes/no)"))),
    }
}

fn number(column: &'static str, cell: &Option<String>) -> Result<Option<f64>, (&'static str, String)> {
    match cell {
        None => Ok(None),
        Some(c) => c.parse::<f64>().map(Some).map_err(|_| (column, format!("{c:?} is not a number"))),
    }
}

/// The item a row describes, or the column at fault.
fn item(row: &ItemRow) -> Result<Item, (&'static str, String)> {
    let kind = match row.kind.as_str() {
        "bool" => Kind::Bool,
        "text" => Kind::Text,
        "number" => {
            Kind::Number { unit: row.unit.clone(), min: number("min", &row.min)?, max: number("max", &row.max)? }
        }
        "choice" => Kind::Choice { choices: row.choices.clone() },
        other => return Err(("type", format!("{other:?}: bool, number, text or choice (是否, 数字, 文本, 单选)"))),
    };
    Ok(Item { key: row.key.clone(), label: row.label.clone(), kind, required: yes_no(&row.required)? })
}

/// The column a template field path (`items[2].key`, `name`, `id`) comes from.
fn column_of(path: &str) -> &str {
    match path.rsplit('.').next().unwrap_or(path) {
        "id" => "template_id",
        "name" => "template_name",
        "items" => "key",
        "choices" => "choices",
        field => field,
    }
}

/// Stores a new version of each template whose rows are all valid and differ from its newest
/// version; returns each row's outcome (in input order).
pub fn apply(conn: &mut DbConn, rows: &[Line<ItemRow>], now: i64) -> Result<Vec<(usize, Outcome)>, ApiError> {
    let error = |column: &str, message: String| Outcome::Error { field: column.to_owned(), message };
    let mut by_template: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut out: Vec<(usize, Outcome)> = Vec::new();
    for (i, at) in rows.iter().enumerate() {
        if at.row.template_id.is_empty() {
            out.push((i, error("template_id", "must not be empty".into())));
        } else {
            by_template.entry(&at.row.template_id).or_default().push(i);
        }
    }
    for (id, members) in by_template {
        let mut items = Vec::with_capacity(members.len());
        let mut failed = false;
        for &i in &members {
            match item(&rows[i].row) {
                Ok(it) => items.push(it),
                Err((column, message)) => {
                    out.push((i, error(column, message)));
                    failed = true;
                }
            }
        }
        if failed {
            continue;
        }
        let name = members.iter().map(|&i| rows[i].row.template_name.as_str()).find(|n| !n.is_empty()).unwrap_or("");
        let mut template = Template { id: id.to_owned(), version: 0, name: name.to_owned(), active: true, items };
        if let Err(e) = template.validate() {
            // `items[i].…` names one row; anything else the template's first row.
            let row = e
                .key
                .strip_prefix("items[")
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| members.get(n))
                .unwrap_or(&members[0]);
            out.push((*row, error(column_of(&e.key), e.message)));
            continue;
        }
        let newest = checklists::latest_for(conn, None)?.into_iter().find(|r| r.id == id).and_then(|r| r.template());
        let same = newest.is_some_and(|t| t.name == template.name && t.items == template.items && t.active);
        if !same {
            template.version = checklists::next_version(conn, id)?;
            checklists::insert(conn, &template, None, None, now)?;
        }
        let outcome = if same { Outcome::Unchanged } else { Outcome::Created };
        out.extend(members.iter().map(|&i| (i, outcome.clone())));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}
