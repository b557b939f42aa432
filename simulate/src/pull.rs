//! The initial pull: how long a fresh phone takes to pull a whole grid, from no cursor to the end.

use std::time::Instant;

use anyhow::bail;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::http::Api;
use super::{now_ms, rfc3339};
use fieldvisit_sync_protocol::sync::limits::PULL_MAX_LIMIT as MAX_LIMIT;

#[derive(Debug, Clone, Serialize)]
pub struct PullFigures {
    pub households: usize,
    /// Households, visits, tickets and events pulled.
    pub records: u64,
    pub pages: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Seeds a new grid under `town` with `households` households (two visits each, a ticket for one
/// in ten) through pushes, then times a new phone in that grid pulling everything.
pub async fn measure(api: &Api, admin: &str, town: &str, tag: &str, households: usize) -> anyhow::Result<PullFigures> {
    let grid = api
        .create(admin, "/api/v1/areas", json!({"parent_id": town, "kind": "grid", "name": format!("拉取网格 {tag}")}))
        .await?;
    let password = format!("sim-{tag}-pull-password");
    let mut tokens = Vec::new();
    for who in ["seeder", "fresh"] {
        let username = format!("sim_{tag}_{who}");
        let user = json!({"username": username, "password": password, "display_name": username, "role": "volunteer", "area_id": grid});
        api.create(admin, "/api/v1/users", user).await?;
        tokens.push(api.login(&username, &password, &format!("sim-{tag}-{who}")).await?);
    }
    let at = rfc3339(now_ms() - 3_600_000);
    for chunk in (0..households).collect::<Vec<_>>().chunks(100) {
        let (mut hh, mut visits, mut tickets) = (Vec::new(), Vec::new(), Vec::new());
        for i in chunk {
            let id = Uuid::new_v4();
            hh.push(json!({"id": id, "area_id": grid, "address": format!("拉取路{i}号"), "head_name": "住户",
                "heating": "central", "tags": [], "base_version": 0, "updated_at": at}));
            for _ in 0..2 {
                visits.push(json!({"id": Uuid::new_v4(), "household_id": id, "visited_at": at, "indoor_temp_c": 18.5, "checklist": {}}));
            }
            if i % 10 == 0 {
                tickets.push(
                    json!({"id": Uuid::new_v4(), "household_id": id, "category": "heating", "severity": "normal",
                    "description": "暖气不热", "reported_at": at}),
                );
            }
        }
        let body = json!({"protocol_version": 1, "batch_id": Uuid::new_v4(), "device_time": rfc3339(now_ms()),
            "households": hh, "visits": visits, "tickets": tickets, "ticket_events": []});
        let a = api.call(Method::POST, "/api/v1/sync/push", Some(&tokens[0]), Some(&body)).await?;
        if a.status != 200 || a.body["summary"]["rejected"].as_u64().unwrap_or(0) > 0 {
            bail!("seeding the pull grid: push answered {}: {}", a.status, a.body["summary"]);
        }
    }
    let (mut records, mut pages, mut bytes) = (0u64, 0u64, 0u64);
    let mut cursor: Option<String> = None;
    let started = Instant::now();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sync/pull?limit={MAX_LIMIT}&cursor={c}"),
            None => format!("/api/v1/sync/pull?limit={MAX_LIMIT}"),
        };
        let a = api.call(Method::GET, &path, Some(&tokens[1]), None).await?;
        if a.status != 200 {
            bail!("pull answered {}: {}", a.status, a.body);
        }
        pages += 1;
        bytes += a.body.to_string().len() as u64;
        records += ["households", "visits", "tickets", "ticket_events"]
            .iter()
            .map(|k| a.body[*k].as_array().map_or(0, Vec::len) as u64)
            .sum::<u64>();
        cursor = a.body["cursor"].as_str().map(str::to_owned);
        if a.body["has_more"] != Value::Bool(true) {
            break;
        }
    }
    Ok(PullFigures { households, records, pages, bytes, seconds: started.elapsed().as_secs_f64() })
}
