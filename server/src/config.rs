//! Settings: defaults, then an optional `KEY=value` file, then the environment, then flags.
//! Every variable is documented here (clap prints it in `--help`) and in README.md.

use std::path::PathBuf;

use clap::Args;

use crate::db::DbLocation;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/fieldvisit.db";

/// A value that must never reach a log line or a `Debug` print.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "FIELDVISIT_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,

    /// `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST/DB` (`sslmode=disable`
    /// when every host is this machine and neither the URL nor `PGSSLMODE` names one).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// Folder for the generated JWT key and other local state; defaults to the SQLite file's folder, else ./data.
    #[arg(long, env = "FIELDVISIT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Key that signs access tokens (HS256). Unset: generated once and kept in the data folder (mode 0600).
    #[arg(long, env = "FIELDVISIT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Password of `admin`, created on the first start. Unset: a random one is printed once.
    #[arg(long, env = "FIELDVISIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// Name of the root area created on the first start.
    #[arg(long, env = "FIELDVISIT_ROOT_AREA_NAME", default_value = "County")]
    pub root_area_name: String,

    /// Kind of the root area created on the first start.
    #[arg(long, env = "FIELDVISIT_ROOT_AREA_KIND", default_value = "county")]
    pub root_area_kind: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "FIELDVISIT_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "FIELDVISIT_ACCESS_TOKEN_TTL_S", default_value_t = 900)]
    pub access_token_ttl_s: i64,

    /// Lifetime of a refresh token, in days (phones stay offline for days).
    #[arg(long, env = "FIELDVISIT_REFRESH_TOKEN_TTL_DAYS", default_value_t = 30)]
    pub refresh_token_ttl_days: i64,

    /// Failed logins allowed per username and per client address per minute before 429.
    #[arg(long, env = "FIELDVISIT_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,

    /// If set, `/metrics` requires `Authorization: Bearer <this token>`.
    #[arg(long, env = "FIELDVISIT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// If set, `/metrics` is served only on this address and port (e.g. `127.0.0.1:9464`), and this
    /// address serves nothing else.
    #[arg(long, env = "FIELDVISIT_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// If set, every stored alert is also POSTed here as JSON (`http://` or `https://`; retried with
    /// backoff until it answers 2xx): an implicit channel beside those of `/api/v1/channels`. The
    /// URL may carry a token: it is never logged.
    #[arg(long, env = "FIELDVISIT_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,

    /// If set, each webhook delivery carries `X-Fieldvisit-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[arg(long, env = "FIELDVISIT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// First webhook retry delay in milliseconds; it doubles per failed attempt, up to 10 minutes.
    #[arg(long, env = "FIELDVISIT_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000)]
    pub webhook_retry_base_ms: u64,

    /// PEM file of extra CA certificates that channel deliveries (webhooks, group robots) trust
    /// besides the system's roots: for a receiver behind a private CA.
    #[arg(long, env = "FIELDVISIT_CHANNEL_EXTRA_CA")]
    pub channel_extra_ca: Option<std::path::PathBuf>,

    /// The dashboard's address as the desk opens it (`https://desk.example.gov.cn`): group-chat
    /// messages link to `<this>/ui/#/ticket/<id>`. Without it they carry no link.
    #[arg(long, env = "FIELDVISIT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Comma-separated hosts that channels may send to (`oapi.dingtalk.com,qyapi.weixin.qq.com`);
    /// unset: any. Keeps an admin from pointing a channel at an internal service.
    #[arg(long, env = "FIELDVISIT_CHANNEL_HOSTS")]
    pub channel_hosts: Option<String>,

    /// SQLite: size in MiB at which the push writer starts the write-ahead log over from its start
    /// (after copying it into the database file). Smaller rewinds more often, and every rewind
    /// stops the writer for 30-150 ms; the WAL may take up to twice this on disk. At least 1.
    #[arg(long, env = "FIELDVISIT_WAL_REWIND_MIB", default_value_t = 1024)]
    pub wal_rewind_mib: u32,

    /// Seconds a request body may stall (no byte arriving) before the request answers 408.
    #[arg(long, env = "FIELDVISIT_BODY_TIMEOUT_S", default_value_t = 15)]
    pub body_timeout_s: u64,

    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: comma-separated
    /// IPs or CIDRs (`127.0.0.1,10.0.0.0/8`). Unset: the client is the connection's peer address.
    #[arg(long, env = "FIELDVISIT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Pushes one device may send per minute (its bucket holds five minutes' worth), then 429 with
    /// Retry-After. 0 turns the limit off (load tests such as `scripts/bench`).
    #[arg(long, env = "FIELDVISIT_DEVICE_PUSHES_PER_MINUTE", default_value_t = 120)]
    pub device_pushes_per_minute: u32,

    /// Photo uploads one device may send per minute (its bucket holds five minutes' worth), then
    /// 429 with Retry-After. 0 turns the limit off.
    #[arg(long, env = "FIELDVISIT_DEVICE_UPLOADS_PER_MINUTE", default_value_t = 60)]
    pub device_uploads_per_minute: u32,
}

/// An IP network, or a single address as its /32 or /128.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
}

#[derive(clap::Parser)]
struct OnlySettings {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// Defaults only, ignoring the environment: the base for tests and tools.
    pub fn defaults() -> Self {
        let cmd = <OnlySettings as clap::CommandFactory>::command().mut_args(|a| a.env(None::<&str>));
        Self::from_matches(cmd.get_matches_from(["fieldvisit"]))
    }

    /// Defaults overlaid with the environment, as `fieldvisit` with no command uses them.
    pub fn from_env() -> Self {
        Self::from_matches(<OnlySettings as clap::CommandFactory>::command().get_matches_from(["fieldvisit"]))
    }

    fn from_matches(matches: clap::ArgMatches) -> Self {
        match <OnlySettings as clap::FromArgMatches>::from_arg_matches(&matches) {
            Ok(o) => o.settings,
            Err(e) => e.exit(),
        }
    }

    pub fn location(&self) -> Result<DbLocation, String> {
        DbLocation::parse(&self.database_url)
    }

    /// Where local state lives: the explicit data dir, else the SQLite file's folder, else `./data`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        match self.location().ok().as_ref().and_then(|l| l.sqlite_dir()) {
            Some(d) => d.to_path_buf(),
            None => PathBuf::from("./data"),
        }
    }
}

/// Loads `KEY=value` lines from `--config FILE` / `FIELDVISIT_CONFIG` (or `./fieldvisit.env` if present)
/// into the environment without overriding variables already set.
pub fn load_config_file(args: &[String]) -> anyhow::Result<Option<PathBuf>> {
    let flag = args.windows(2).find(|w| w[0] == "--config").map(|w| PathBuf::from(&w[1]));
    let explicit = flag.or_else(|| std::env::var_os("FIELDVISIT_CONFIG").map(PathBuf::from));
    let path = match explicit {
        Some(p) => p,
        None if std::path::Path::new("fieldvisit.env").is_file() => PathBuf::from("fieldvisit.env"),
        None => return Ok(None),
    };
    dotenvy::from_path(&path).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ignore_environment_and_match_constants() {
        let s = Settings::defaults();
        assert_eq!(s.bind, DEFAULT_BIND);
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.data_dir(), PathBuf::from("./data"));
        assert!(s.jwt_secret.is_none());
        assert!(s.webhook_url.is_none() && s.webhook_secret.is_none());
        assert_eq!(s.webhook_retry_base_ms, 5000);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
