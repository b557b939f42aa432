//! The binary's behaviour on a broken DATABASE_URL: one clear line, non-zero exit, no panic.

use std::process::Command;

fn run_serve(database_url: &str) -> (bool, String) {
    let data = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_fieldvisit"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("FIELDVISIT_DATA_DIR", data.path())
        .env("FIELDVISIT_CONFIG", "/dev/null")
        .env("RUST_LOG", "error")
        .output()
        .expect("binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn assert_one_clear_line(stderr: &str, needle: &str) {
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "expected {needle:?} in {stderr}");
}

#[test]
fn bad_scheme_names_the_scheme() {
    let (ok, err) = run_serve("mysql://root@localhost/fieldvisit");
    assert!(!ok);
    assert_one_clear_line(&err, "unsupported scheme \"mysql\"");
}

#[test]
fn unreachable_host_names_the_database() {
    // Port 1 on loopback refuses at once.
    let (ok, err) = run_serve("postgres://fv:secretpw@127.0.0.1:1/fieldvisit");
    assert!(!ok);
    assert_one_clear_line(&err, "cannot open database postgres://fv:***@127.0.0.1:1/fieldvisit");
    assert!(!err.contains("secretpw"), "password leaked: {err}");
}

#[test]
fn unwritable_path_names_the_folder() {
    let (ok, err) = run_serve("sqlite:///proc/fieldvisit/x.db");
    assert!(!ok);
    assert_one_clear_line(&err, "/proc/fieldvisit");
}

fn fieldvisit(args: &[&str], data: &std::path::Path, extra_env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvisit"));
    cmd.args(args)
        .env("DATABASE_URL", format!("sqlite://{}", data.join("fv.db").display()))
        .env("FIELDVISIT_DATA_DIR", data)
        .env("FIELDVISIT_CONFIG", "/dev/null")
        .env("FIELDVISIT_ADMIN_PASSWORD", "cli-admin-password")
        .env("RUST_LOG", "error");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("binary runs")
}

#[test]
fn migrate_applies_once_and_user_add_creates_a_user() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = fieldvisit(&["migrate"], data.path(), &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let first = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(!first.starts_with("0 "), "{first}");
    let again = fieldvisit(&["migrate"], data.path(), &[]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "0 migration(s) applied");

    let added = fieldvisit(
        &["user", "add", "--username", "li", "--role", "volunteer"],
        data.path(),
        &[("FIELDVISIT_NEW_PASSWORD", "a-long-password")],
    );
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    assert!(String::from_utf8_lossy(&added.stdout).contains("created user li (volunteer)"));
    let dup = fieldvisit(
        &["user", "add", "--username", "li", "--role", "volunteer"],
        data.path(),
        &[("FIELDVISIT_NEW_PASSWORD", "a-long-password")],
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("username: that username is taken"));
}

#[test]
fn import_dry_run_prints_the_tally_and_a_bad_folder_fails_with_the_row() {
    let data = tempfile::tempdir().expect("temp dir");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/import-example");
    let out = fieldvisit(&["import", example, "--dry-run"], data.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("households.csv") && stdout.contains("dry run: nothing was stored"), "{stdout}");
    assert!(!stdout.contains("13800000001"), "no resident phone numbers in the output: {stdout}");

    let bad = tempfile::tempdir().expect("temp dir");
    std::fs::write(bad.path().join("areas.csv"), "code,kind,name\nT1,village,某村\n").expect("write");
    let out = fieldvisit(&["import", &bad.path().display().to_string()], data.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("areas.csv:2: kind (T1):"), "{stdout}");

    let out = fieldvisit(&["import", example], data.path(), &[]);
    assert!(!out.status.success(), "users without passwords need --credentials-out");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--credentials-out"));
}
