//! The `fieldvisit import` command: read the folder, apply in one transaction (rolled back on
//! `--dry-run` or any row error), print the per-file tally and every refused row.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::{apply, read_dir, Outcome, Report};
use crate::config::Settings;
use crate::db;
use crate::error::ApiError;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Folder holding areas.csv, teams.csv, users.csv, households.csv and/or checklist.csv (docs/import.md).
    pub dir: PathBuf,
    /// Check every row against the database, report, and store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write `username,password` of new users whose row had no password (mode 0600).
    #[arg(long)]
    pub credentials_out: Option<PathBuf>,
    /// Also write the per-row report as CSV here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Runs the import; `Ok(false)` when rows were refused (nothing stored).
pub async fn run(args: ImportArgs) -> anyhow::Result<bool> {
    let roster = read_dir(&args.dir)?;
    let needs_passwords = roster.users.iter().any(|u| u.row.password.is_none());
    if needs_passwords && args.credentials_out.is_none() && !args.dry_run {
        bail!("users.csv has rows without a password: give --credentials-out FILE to receive the generated ones");
    }
    let location = args.settings.location().map_err(anyhow::Error::msg)?;
    let settings = args.settings.clone();
    let dry_run = args.dry_run;
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<Report> {
        let pool = db::pool::connect(&location, 1)?;
        let mut conn = pool.get()?;
        db::migrate::run_pending(&mut conn)?;
        let now = chrono::Utc::now().timestamp_millis();
        crate::auth::accounts::bootstrap(&mut conn, &settings, now)?;
        let mut out = None;
        let result = db::transaction(&mut conn, |c| {
            let report = apply(c, &roster, now)?;
            let keep = !dry_run && report.errors() == 0;
            out = Some(report);
            if keep {
                Ok(())
            } else {
                Err(ApiError::bad_request("rolled_back", "dry run or refused rows"))
            }
        });
        match (result, out) {
            (Ok(()), Some(report)) => Ok(report),
            (Err(e), Some(report)) if e.code == "rolled_back" => Ok(report),
            (Err(e), _) => Err(anyhow::anyhow!("{}", e.detail_line())),
            (Ok(()), None) => bail!("the import produced no report"),
        }
    })
    .await??;
    print(&report, dry_run);
    if let Some(path) = &args.report {
        write_report(path, &report)?;
    }
    let stored = !dry_run && report.errors() == 0;
    if stored && !report.credentials.is_empty() {
        if let Some(path) = &args.credentials_out {
            write_credentials(path, &report.credentials)?;
            println!("passwords of {} new users written to {}", report.credentials.len(), path.display());
        }
    }
    Ok(report.errors() == 0)
}

fn print(report: &Report, dry_run: bool) {
    println!("{:<16} {:>8} {:>10} {:>6} {:>7}", "file", "created", "unchanged", "kept", "errors");
    for (file, n) in report.tally() {
        println!("{file:<16} {:>8} {:>10} {:>6} {:>7}", n[0], n[1], n[2], n[3]);
    }
    for r in &report.rows {
        match &r.outcome {
            Outcome::Error { field, message } => println!("{}:{}: {} ({}): {message}", r.file, r.line, field, r.key),
            Outcome::Kept { reason } => println!("{}:{}: kept {}: {reason}", r.file, r.line, r.key),
            Outcome::Created | Outcome::Unchanged => {}
        }
    }
    let errors = report.errors();
    if errors > 0 {
        println!("{errors} row(s) refused: nothing was stored; fix them and run again");
    } else if dry_run {
        println!("dry run: nothing was stored");
    }
}

fn write_report(path: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("{}: cannot write", path.display()))?;
    w.write_record(["file", "line", "key", "outcome", "field", "message"])?;
    for r in &report.rows {
        let (outcome, field, message) = match &r.outcome {
            Outcome::Created => ("created", "", ""),
            Outcome::Unchanged => ("unchanged", "", ""),
            Outcome::Kept { reason } => ("kept", "", reason.as_str()),
            Outcome::Error { field, message } => ("error", field.as_str(), message.as_str()),
        };
        w.write_record([&r.file, &r.line.to_string(), &r.key, outcome, field, message])?;
    }
    w.flush()?;
    Ok(())
}

/// Created with mode 0600 before anything is written, so the passwords are never world-readable.
fn write_credentials(path: &std::path::Path, credentials: &[(String, String)]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).with_context(|| format!("{}: cannot write", path.display()))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["username", "password"])?;
    for (u, p) in credentials {
        w.write_record([u, p])?;
    }
    w.flush()?;
    Ok(())
}
