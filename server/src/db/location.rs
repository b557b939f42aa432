//! `DATABASE_URL` parsing: which backend, and where. Errors name the problem in one line.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A libpq connection URL.
    Postgres(String),
}

impl DbLocation {
    /// Accepts `sqlite://relative/or/absolute/path`, `sqlite:path` and `postgres://` / `postgresql://` URLs.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let no_tls = std::env::var_os("PGSSLMODE").is_none() && on_this_machine(url) && !names_sslmode(url);
            return Ok(DbLocation::Postgres(if no_tls { with_param(url, "sslmode=disable") } else { url.to_owned() }));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("DATABASE_URL: sqlite URL has no file path (expected sqlite://path/to/file.db)".into());
            }
            return Ok(DbLocation::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
        Err(format!("DATABASE_URL: unsupported scheme {scheme:?} (expected sqlite://PATH or postgres://USER@HOST/DB)"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbLocation::Sqlite(_) => Backend::Sqlite,
            DbLocation::Postgres(_) => Backend::Postgres,
        }
    }

    /// The folder that holds the SQLite file, if any.
    pub fn sqlite_dir(&self) -> Option<&Path> {
        match self {
            DbLocation::Sqlite(p) => Some(p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))),
            DbLocation::Postgres(_) => None,
        }
    }

    /// The URL with any password replaced, for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            DbLocation::Sqlite(p) => format!("sqlite://{}", p.display()),
            DbLocation::Postgres(url) => redact_password(url),
        }
    }
}

/// Whether every host a libpq URL names is this machine (a loopback address, `localhost`, or a
/// Unix socket: no host, or a `host=/dir` parameter). libpq's default `sslmode=prefer` negotiates
/// TLS even on 127.0.0.1 when the server has it on: every statement then costs an encryption on
/// both sides for nothing (a push runs about twenty), so such URLs get `sslmode=disable` unless
/// they (or `PGSSLMODE`) say otherwise.
fn on_this_machine(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else { return false };
    let (authority, query) = match rest.split_once('?') {
        Some((before, query)) => (before.split('/').next().unwrap_or(""), query),
        None => (rest.split('/').next().unwrap_or(""), ""),
    };
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
    let param_hosts: Vec<&str> =
        query.split('&').filter_map(|kv| kv.strip_prefix("host=").or_else(|| kv.strip_prefix("hostaddr="))).collect();
    let local = |host: &str| {
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        matches!(host, "" | "localhost" | "::1")
            || host.starts_with("127.")
            || host.starts_with('/')
            || host.starts_with("%2F")
            || host.starts_with("%2f")
    };
    hosts.split(',').all(local) && param_hosts.iter().flat_map(|h| h.split(',')).all(local)
}

fn names_sslmode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| query.split('&').any(|kv| kv.starts_with("sslmode=")))
}

fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes() {
        assert_eq!(DbLocation::parse("sqlite://./data/x.db"), Ok(DbLocation::Sqlite("./data/x.db".into())));
        assert_eq!(DbLocation::parse("sqlite:///abs/x.db"), Ok(DbLocation::Sqlite("/abs/x.db".into())));
        assert_eq!(DbLocation::parse("sqlite:x.db"), Ok(DbLocation::Sqlite("x.db".into())));
        assert_eq!(DbLocation::parse("postgresql://u@h/db").map(|l| l.backend()), Ok(Backend::Postgres));
    }

    #[test]
    fn refuses_unknown_scheme_naming_it() {
        let err = DbLocation::parse("mysql://root@localhost/x").expect_err("refused");
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(DbLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn connects_to_this_machine_without_tls_unless_told() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return;
        }
        let url = |u: &str| match DbLocation::parse(u) {
            Ok(DbLocation::Postgres(url)) => url,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432/fv"),
            "postgres://postgres@127.0.0.1:5432/fv?sslmode=disable"
        );
        assert_eq!(
            url("postgres://u:p@localhost/fv?application_name=x"),
            "postgres://u:p@localhost/fv?application_name=x&sslmode=disable"
        );
        assert_eq!(url("postgresql://[::1]:5433/fv"), "postgresql://[::1]:5433/fv?sslmode=disable");
        assert_eq!(
            url("postgres:///fv?host=/var/run/postgresql"),
            "postgres:///fv?host=/var/run/postgresql&sslmode=disable"
        );
        // Another machine, or a URL that chose: as written.
        assert_eq!(url("postgres://u@db.example:5432/fv"), "postgres://u@db.example:5432/fv");
        assert_eq!(url("postgres://u@127.0.0.1,10.0.0.2/fv"), "postgres://u@127.0.0.1,10.0.0.2/fv");
        assert_eq!(url("postgres://u@127.0.0.1/fv?sslmode=require"), "postgres://u@127.0.0.1/fv?sslmode=require");
        assert_eq!(url("postgres://u@127.0.0.1/fv?host=db.example"), "postgres://u@127.0.0.1/fv?host=db.example");
    }

    #[test]
    fn redacts_passwords() {
        let loc = DbLocation::parse("postgres://fv:hunter2@db:5432/fv").expect("valid");
        assert_eq!(loc.redacted(), "postgres://fv:***@db:5432/fv");
    }
}
