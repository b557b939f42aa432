//! `fieldvisit`: one binary for serving, migrating and administering.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldvisit_server::auth::accounts::lifecycle::{self, Actor, UserPatch};
use fieldvisit_server::auth::accounts::{self, NewUser};
use fieldvisit_server::auth::password;
use fieldvisit_server::config::{self, Settings};
use fieldvisit_server::error::ApiError;
use fieldvisit_server::startup::Application;
use fieldvisit_server::{db, telemetry};
use fieldvisit_sync_protocol::org::Role;

/// mimalloc: the push path allocates and frees many small strings and JSON values per record,
/// where it is markedly faster than glibc malloc and keeps less memory in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "fieldvisit", version, about = "Offline sync and 1-1-2-4 deadline tracking for door-to-door visits")]
struct Cli {
    /// A file of KEY=value lines read before the environment (also FIELDVISIT_CONFIG; ./fieldvisit.env if present).
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default when no command is given).
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(Settings),
    /// Drive simulated phones against a running server and report throughput and latency.
    Simulate(fieldvisit_simulate::SimArgs),
    /// Run a demo county on the embedded database with simulated phones and desks (open the dashboard).
    Demo(fieldvisit_server::ops::demo::DemoArgs),
    /// Import areas, teams, users and households from a folder of CSV files (docs/import.md).
    Import(fieldvisit_server::ops::import::ImportArgs),
    /// Manage users from the command line.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the database's consistency: projections against events, alerts once, the change
    /// sequence, the tallies reports read against the visits.
    Check {
        /// Rebuild first what the server derives (projections, tallies) where it differs, then check.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Copy a SQLite database online into a new file (PostgreSQL: use pg_dump).
    Backup {
        /// The new file to write; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (the password is read from FIELDVISIT_NEW_PASSWORD or stdin, never from a flag).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// volunteer, handler, dispatcher, supervisor or admin.
        #[arg(long)]
        role: String,
        /// Area id; defaults to the root area.
        #[arg(long)]
        area_id: Option<String>,
        #[arg(long)]
        team_id: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Set a user's password (read from FIELDVISIT_NEW_PASSWORD or stdin, never from a flag); every
    /// session of the user ends.
    Password {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Deactivate one user (--username), or every active user of a role at or below an area
    /// (--area-id with --role, e.g. a season's volunteers); their sessions end at once.
    Deactivate {
        #[arg(long, required_unless_present = "area_id", conflicts_with = "area_id")]
        username: Option<String>,
        #[arg(long, requires = "role")]
        area_id: Option<String>,
        /// volunteer, handler, dispatcher, supervisor or admin.
        #[arg(long, requires = "area_id")]
        role: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Let a deactivated user log in again.
    Activate {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        settings: Settings,
    },
}

fn main() -> ExitCode {
    fieldvisit_server::memory::return_freed_memory_sooner();
    let args: Vec<String> = std::env::args().collect();
    if let Err(e) = config::load_config_file(&args) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // The demo prints its own banner; request logs would bury it (RUST_LOG still overrides).
    let filter = match cli.command {
        Some(Command::Demo(_)) => "warn",
        _ => telemetry::DEFAULT_FILTER,
    };
    telemetry::init(filter, std::io::stdout, false);
    let result = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(dispatch(cli.command)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Option<Command>) -> anyhow::Result<()> {
    match command.unwrap_or_else(|| Command::Serve(Settings::from_env())) {
        Command::Serve(settings) => serve(settings).await,
        Command::Migrate(settings) => migrate(settings).await,
        Command::Check { repair, settings } => check(settings, repair).await,
        Command::Backup { to, settings } => {
            let location = settings.location().map_err(anyhow::Error::msg)?;
            let shown = to.display().to_string();
            let bytes =
                tokio::task::spawn_blocking(move || fieldvisit_server::ops::backup::sqlite_backup(&location, &to))
                    .await??;
            println!("backed up to {shown} ({bytes} bytes), copy checked");
            Ok(())
        }
        Command::Simulate(args) => {
            println!("{}", fieldvisit_simulate::run(args).await?);
            Ok(())
        }
        Command::Demo(args) => fieldvisit_server::ops::demo::run(args).await,
        Command::Import(args) => match fieldvisit_server::ops::import::run(args).await? {
            true => Ok(()),
            false => Err(anyhow::anyhow!("the import was refused")),
        },
        Command::User(command) => user_command(command).await,
    }
}

/// The password for `user add` and `user password`: FIELDVISIT_NEW_PASSWORD, else a line of stdin.
fn new_password() -> anyhow::Result<String> {
    match std::env::var("FIELDVISIT_NEW_PASSWORD") {
        Ok(p) => Ok(p),
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

/// Runs `f` in one transaction on the migrated, bootstrapped database of `settings`.
async fn in_database<T: Send + 'static>(
    settings: Settings,
    f: impl FnOnce(&mut db::DbConn, i64) -> Result<T, ApiError> + Send + 'static,
) -> anyhow::Result<T> {
    let location = settings.location().map_err(anyhow::Error::msg)?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<T> {
        let pool = db::pool::connect(&location, 1)?;
        let mut conn = pool.get()?;
        db::migrate::run_pending(&mut conn)?;
        let now = chrono::Utc::now().timestamp_millis();
        accounts::bootstrap(&mut conn, &settings, now)?;
        db::transaction(&mut conn, |conn| f(conn, now)).map_err(|e| anyhow::anyhow!("{}", e.detail_line()))
    })
    .await?
}

fn user_id(conn: &mut db::DbConn, username: &str) -> Result<String, ApiError> {
    let user = db::users::find_by_username(conn, username)?;
    user.map(|u| u.id).ok_or_else(|| ApiError::invalid("username", format!("no user named {username:?}")))
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).ok_or_else(|| anyhow::anyhow!("--role: unknown role {role:?}"))
}

async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { username, display_name, role, area_id, team_id, settings } => {
            let role = parse_role(&role)?;
            let password = new_password()?;
            let user = in_database(settings, move |conn, now| {
                let area_id = match area_id {
                    Some(a) => a,
                    None => db::areas::root(conn)?
                        .map(|a| a.id)
                        .ok_or_else(|| ApiError::invalid("area_id", "no root area"))?,
                };
                let new = NewUser {
                    id: None,
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    password: password::Hashed::new(&password)?,
                    role,
                    area_id,
                    team_id,
                };
                accounts::create_user(conn, new, None, now)
            })
            .await?;
            println!("created user {} ({}) with id {}", user.username, user.role.0.as_str(), user.id);
        }
        UserCommand::Password { username, settings } => {
            let password = new_password()?;
            let shown = username.clone();
            in_database(settings, move |conn, now| {
                let id = user_id(conn, &username)?;
                lifecycle::set_password(conn, Actor::CommandLine, &id, password::Hashed::new(&password)?, now)
            })
            .await?;
            println!("password of {shown} set; their sessions have ended");
        }
        UserCommand::Deactivate { username: Some(username), settings, .. } => {
            change_activity(username, false, settings).await?;
        }
        UserCommand::Deactivate { area_id: Some(area_id), role: Some(role), settings, .. } => {
            let role = parse_role(&role)?;
            let done = in_database(settings, move |conn, now| {
                lifecycle::deactivate_within(conn, Actor::CommandLine, &area_id, role, now)
            })
            .await?;
            let names: Vec<&str> = done.iter().map(|u| u.username.as_str()).collect();
            println!("deactivated {} user(s): {}", done.len(), names.join(", "));
        }
        UserCommand::Deactivate { .. } => anyhow::bail!("give --username, or --area-id with --role"),
        UserCommand::Activate { username, settings } => change_activity(username, true, settings).await?,
    }
    Ok(())
}

async fn change_activity(username: String, active: bool, settings: Settings) -> anyhow::Result<()> {
    let user = in_database(settings, move |conn, now| {
        let id = user_id(conn, &username)?;
        let patch = UserPatch { active: Some(active), ..Default::default() };
        lifecycle::update_user(conn, Actor::CommandLine, &id, patch, now)
    })
    .await?;
    let state = if user.active { "active" } else { "deactivated; their sessions have ended" };
    println!("{} is {state}", user.username);
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("fieldvisit stopped");
    Ok(())
}

async fn check(settings: Settings, repair: bool) -> anyhow::Result<()> {
    let location = settings.location().map_err(anyhow::Error::msg)?;
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<fieldvisit_server::ops::check::Report> {
        let pool = db::pool::connect(&location, 1)?;
        let mut conn = pool.get()?;
        let now = chrono::Utc::now().timestamp_millis();
        let failed = |e: fieldvisit_server::error::ApiError| anyhow::anyhow!("{}", e.detail_line());
        if repair {
            let r = fieldvisit_server::ops::check::repair(&mut conn, now).map_err(failed)?;
            println!(
                "repaired {} ticket(s), {} household(s), {} county id(s); temperature tally {}; checklist tallies {}",
                r.tickets,
                r.households,
                r.county_ids,
                if r.temperature_tally { "rebuilt" } else { "as it should be" },
                if r.checklist_tallies { "rebuilt" } else { "as they should be" }
            );
        }
        fieldvisit_server::ops::check::run(&mut conn, now).map_err(failed)
    })
    .await??;
    println!(
        "checked {} tickets, {} events, {} alerts, {} sequence numbers",
        report.tickets, report.events, report.alerts, report.sequence_numbers
    );
    for line in &report.findings {
        println!("FINDING {line}");
    }
    if !report.is_clean() {
        anyhow::bail!("{} finding(s)", report.problems);
    }
    println!("no findings");
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let location = settings.location().map_err(anyhow::Error::msg)?;
    let applied = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let pool = db::pool::connect(&location, 1)?;
        let mut conn = pool.get()?;
        db::migrate::run_pending(&mut conn)
    })
    .await??;
    println!("{applied} migration(s) applied");
    Ok(())
}
