//! `fieldvisit serve --help` shows where each setting comes from, never the values of secrets in
//! the environment (a `DATABASE_URL` carries the database password).

use std::process::Command;

#[test]
fn help_never_prints_secret_values_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldvisit"))
        .args(["serve", "--help"])
        .env("DATABASE_URL", "postgres://fv:db-secret-pw@127.0.0.1/fieldvisit")
        .env("FIELDVISIT_JWT_SECRET", "jwt-secret-value")
        .env("FIELDVISIT_METRICS_TOKEN", "metrics-token-value")
        .env("FIELDVISIT_WEBHOOK_URL", "http://hook.local/?token=webhook-token-value")
        .env("FIELDVISIT_CONFIG", "/dev/null")
        .output()
        .expect("binary runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    for secret in ["db-secret-pw", "jwt-secret-value", "metrics-token-value", "webhook-token-value"] {
        assert!(!help.contains(secret), "--help printed {secret}");
    }
}
