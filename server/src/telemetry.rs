//! Logging: `tracing` with an env filter (`RUST_LOG`), one span per request carrying its request id.

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str = "info,actix_server=warn";

/// Installs the global subscriber. `writer` is stdout in the binary and a buffer in log-capture tests.
pub fn init<W>(default_filter: &str, writer: W, capture: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // A second init (tests in one process) keeps the first subscriber.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && !capture;
    // Closing a request span writes one line per request with its id, route, status and latency.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(ansi)
        .with_span_events(FmtSpan::CLOSE)
        .try_init();
}
