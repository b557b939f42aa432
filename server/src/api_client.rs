//! A small JSON client of the server's own API, for the commands that play phones and dispatchers
//! against it (`demo`, `simulate`).

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, timeout: Duration, max_idle: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(max_idle).build()?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// One request; the body is `null` when the answer is not JSON. Errors only on transport.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        let (status, body) = self.call(reqwest::Method::GET, path, Some(token), None).await?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Logs in bound to `device`; returns the access token.
    pub async fn login(&self, user: &str, password: &str, device: &str) -> anyhow::Result<String> {
        let body =
            json!({"username": user, "password": password, "device_id": device, "app_version": "fieldvisit-cli"});
        let (status, res) = self.call(reqwest::Method::POST, "/api/v1/auth/login", None, Some(&body)).await?;
        if status != 200 {
            bail!("login of {user} answered {status}: {res}");
        }
        res["access_token"].as_str().map(str::to_owned).context("no access_token")
    }
}
