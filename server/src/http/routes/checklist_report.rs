//! `GET /api/v1/reports/checklist` (contract 1.1): per area of the caller's scope and per item of
//! a template, from the tallies the push writer keeps (`db::checklist_tallies`); JSON or CSV.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, Principal};
use crate::db::{self, checklist_tallies, checklists, policies};
use crate::error::ApiError;
use crate::http::routes::reports::{area_names, parse_time, safe_cell, timezone, wants_csv};
use crate::reports::checklist::{self as report, AreaFigures};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ChecklistReportQuery {
    /// The template; default `winter_visit`.
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    template_id: Option<String>,
    /// Visits from the local day this falls on (`YYYY-MM-DD` or RFC 3339); default the last 30 days.
    #[param(format = Date)]
    since: Option<String>,
    /// Only `area` for now.
    #[param(inline, value_type = Option<super::params::ByArea>)]
    group_by: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline, value_type = Option<super::params::ReportFormat>)]
    format: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChecklistReport {
    template_id: String,
    /// The newest version's name.
    name: String,
    /// The newest version the caller's county reads (labels are its).
    version: i32,
    /// The first day counted, in `timezone`.
    since: String,
    timezone: String,
    areas: Vec<AreaFigures>,
}

/// Per area and item of a checklist template: visits that answered it; for `bool` items the share
/// `true`, for `number` p10/p50, for `choice` the count of each choice.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(ChecklistReportQuery),
    responses((status = 200, content((ChecklistReport = "application/json"), (String = "text/csv"))), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, description = "no such template", body = crate::error::ErrorBody)))]
#[get("/api/v1/reports/checklist")]
pub async fn checklist(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<ChecklistReportQuery>,
) -> Result<HttpResponse, ApiError> {
    who.authorize(Action::ReadReports)?;
    if q.group_by.as_deref().is_some_and(|g| g != "area") {
        return Err(ApiError::bad_request("invalid_query", "group_by: area").with_field("group_by"));
    }
    let csv = wants_csv(q.format.as_deref())?;
    let now = state.clock.now();
    let q = q.into_inner();
    let report = db::run(&state.pool, move |conn| {
        let book = policies::load(conn)?;
        let tz_name = book.latest_for(&who.area_path).timezone.clone();
        let tz = timezone(&tz_name);
        let since = q.since.as_deref().map(|v| parse_time("since", v, tz)).transpose()?.unwrap_or(now - 30 * DAY_MS);
        let template_id = q.template_id.unwrap_or_else(|| checklists::DEFAULT_ID.to_owned());
        let versions: Vec<_> = checklists::versions_for(conn, book.county_of(&who.area_path))?
            .iter()
            .filter(|r| r.id == template_id)
            .filter_map(checklists::TemplateRow::template)
            .collect();
        let Some(newest) = versions.last() else {
            return Err(ApiError::not_found("checklist template").with_field("template_id"));
        };
        let since_day = crate::clock::local_day(since, &tz_name);
        let rows = checklist_tallies::since(conn, &template_id, &who.area_path, since_day)?;
        let items = report::items_of(&versions);
        let names = area_names(conn, &who.area_path)?;
        let areas = report::figures(&items, rows, &who.area_path, &names);
        let since = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(u64::try_from(since_day).unwrap_or(0))))
            .map(|d| d.to_string())
            .unwrap_or_default();
        let (name, version) = (newest.name.clone(), newest.version);
        Ok(ChecklistReport { template_id, name, version, since, timezone: tz_name, areas })
    })
    .await?;
    if csv {
        return report_csv(&report);
    }
    Ok(HttpResponse::Ok().json(report))
}

/// One row per area and item, and for a choice item one per choice.
fn report_csv(report: &ChecklistReport) -> Result<HttpResponse, ApiError> {
    let fail = |e: csv::Error| ApiError::internal(e.into());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "area_id",
        "name",
        "visits",
        "item",
        "label",
        "type",
        "answered",
        "share_true",
        "p10",
        "p50",
        "choice",
        "count",
    ])
    .map_err(fail)?;
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for a in &report.areas {
        for i in &a.items {
            let row = |choice: &str, count: String| {
                vec![
                    safe_cell(&a.area_id),
                    safe_cell(&a.name),
                    a.visits.to_string(),
                    safe_cell(&i.key),
                    safe_cell(&i.label),
                    i.kind.to_owned(),
                    i.answered.to_string(),
                    i.share_true.map(|s| format!("{s:.4}")).unwrap_or_default(),
                    num(i.p10),
                    num(i.p50),
                    safe_cell(choice),
                    count,
                ]
            };
            match &i.choices {
                Some(choices) => {
                    for (c, n) in choices {
                        w.write_record(row(c, n.to_string())).map_err(fail)?;
                    }
                }
                None => w.write_record(row("", String::new())).map_err(fail)?,
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| ApiError::internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("content-disposition", "attachment; filename=\"checklist.csv\""))
        .body(bytes))
}
