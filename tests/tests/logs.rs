//! Logs never carry passwords, hashes or tokens (this binary owns the process-wide log subscriber).

mod harness;

use std::io::Write;
use std::sync::{Arc, Mutex};

use harness::{Db, TestApp, ADMIN_PASSWORD, PASSWORD};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let logs = Captured::default();
    fieldvisit_server::telemetry::init("debug", logs.clone(), true);
    let mut secrets: Vec<String> =
        vec![ADMIN_PASSWORD.into(), PASSWORD.into(), "wrong-password-xyz".into(), "13712345678".into()];
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(db).await;
        let org = app.org().await;
        let (_, login) = app.login("volunteer_a", PASSWORD, "phone").await;
        app.login("volunteer_a", "wrong-password-xyz", "phone").await;
        let refresh = login["refresh_token"].as_str().expect("refresh").to_owned();
        let access = login["access_token"].as_str().expect("access").to_owned();
        app.send(reqwest::Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": refresh}))).await;
        app.send(reqwest::Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": refresh}))).await;
        app.get_as(&access, "/api/v1/me").await;
        app.get_as(&org.admin, "/api/v1/users").await;
        // A resident's phone number travels in a household; it must not reach a log line.
        let mut home = harness::household(&harness::new_id(), &org.grid_a, "日志测试楼");
        home["phone"] = serde_json::json!("13712345678");
        app.push(&access, &harness::batch(&harness::at_minutes(0), json!({"households": [home]}))).await;
        secrets.extend([refresh, access, org.admin.clone()]);
    }
    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8 logs");
    assert!(text.contains("/api/v1/auth/login"), "request lines are logged: {text}");
    assert!(text.contains("request_id"), "each request line names its request id");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret reached the logs: {s}");
    }
    assert!(!text.contains("$argon2"), "a password hash reached the logs");
}
