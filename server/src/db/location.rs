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
            return Ok(DbLocation::Postgres(url.to_owned()));
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
    fn redacts_passwords() {
        let loc = DbLocation::parse("postgres://fv:hunter2@db:5432/fv").expect("valid");
        assert_eq!(loc.redacted(), "postgres://fv:***@db:5432/fv");
    }
}
