//! `fieldvisit backup --to FILE`: the copy of a SQLite database opens on its own and holds the
//! data; an existing file is refused; PostgreSQL is sent to pg_dump.

use std::path::Path;
use std::process::{Command, Output};

use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

fn fieldvisit(args: &[&str], database_url: &str, data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldvisit"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("FIELDVISIT_DATA_DIR", data)
        .env("FIELDVISIT_CONFIG", "/dev/null")
        .env("FIELDVISIT_ADMIN_PASSWORD", "backup-admin-password")
        .env("FIELDVISIT_NEW_PASSWORD", "a-long-password")
        .env("RUST_LOG", "error")
        .output()
        .expect("binary runs")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_copy_opens_and_holds_the_users() {
    let data = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", data.path().join("fv.db").display());
    ok(&fieldvisit(&["user", "add", "--username", "li", "--role", "volunteer"], &url, data.path()));
    let copy = data.path().join("copy.db");
    let copy_arg = copy.to_str().expect("utf-8 path");
    let said = ok(&fieldvisit(&["backup", "--to", copy_arg], &url, data.path()));
    assert!(said.contains("copy checked"), "{said}");

    let mut conn = SqliteConnection::establish(copy_arg).expect("the copy opens");
    diesel::table! { users (id) { id -> Text, username -> Text, } }
    let mut names: Vec<String> = users::table.select(users::username).load(&mut conn).expect("users");
    names.sort();
    assert_eq!(names, ["admin", "li"]);
    // The copy is a database fieldvisit can use: its check passes there.
    ok(&fieldvisit(&["check"], &format!("sqlite://{copy_arg}"), data.path()));

    let again = fieldvisit(&["backup", "--to", copy_arg], &url, data.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn postgres_is_sent_to_pg_dump() {
    let data = tempfile::tempdir().expect("temp dir");
    let out = fieldvisit(&["backup", "--to", "x.db"], "postgres://fv@127.0.0.1:1/fv", data.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}
