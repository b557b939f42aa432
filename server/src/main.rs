//! `fieldvisit`: one binary for serving, migrating and administering.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldvisit_server::config::{self, Settings};
use fieldvisit_server::startup::Application;
use fieldvisit_server::{db, telemetry};

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
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Err(e) = config::load_config_file(&args) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    telemetry::init(telemetry::DEFAULT_FILTER, std::io::stdout, false);
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
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("fieldvisit stopped");
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
