//! `fieldvisit demo`: the county seeds once (a restart changes nothing) and its actors, playing
//! over HTTP, leave visits, tickets at every stage and overdue alerts, losing nothing.

use crate::harness;

use std::sync::atomic::Ordering;
use std::time::Duration;

use fieldvisit_server::ops::demo::{county, seed};
use fieldvisit_server::ops::import::Outcome;
use fieldvisit_simulate::http::Api;
use fieldvisit_simulate::story;
use harness::TestApp;

const PASSWORD: &str = "demo-test-pass";

async fn the_demo_county_comes_alive_with_overdue_tickets(app: TestApp) {
    let county = county::county(PASSWORD);
    let first = seed(&app.state, county.roster.clone()).await.expect("seeds");
    assert!(first.rows.iter().all(|r| r.outcome == Outcome::Created));
    assert_eq!(county.cast.handlers.len(), 13, "13 heating stations, a handler each");
    let again = seed(&app.state, county.roster.clone()).await.expect("seeds again");
    assert!(again.rows.iter().all(|r| r.outcome == Outcome::Unchanged), "a restarted demo changes nothing");

    let api = Api::new(&app.address, 16, Duration::from_secs(30)).expect("client");
    let pace = story::Pace {
        phones: 6,
        push_every: Duration::from_millis(300),
        desk_every: Duration::from_millis(300),
        seed: 7,
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(8);
    let tally = story::play(api, &county.cast, PASSWORD, pace, Some(until)).await.expect("actors play");
    assert_eq!(tally.failures.load(Ordering::Relaxed), 0);
    assert!(tally.visits.load(Ordering::Relaxed) >= 6, "every phone pushed");
    assert!(tally.events.load(Ordering::Relaxed) > 0, "the desk and the stations acted");
    assert_eq!(tally.refused.load(Ordering::Relaxed), 0, "the server refused none of the actors' events");

    let supervisor = app.token("supervisor", PASSWORD, "sup-laptop").await;
    // The visits fill the default template, so the checklist report counts every one of them.
    let (_, report) = app.get_as(&supervisor, "/api/v1/reports/checklist").await;
    let counted: u64 = report["areas"].as_array().expect("areas").iter().filter_map(|a| a["visits"].as_u64()).sum();
    assert_eq!(counted, tally.visits.load(Ordering::Relaxed), "{report}");
    let (_, page) = app.get_as(&supervisor, "/api/v1/tickets?limit=200").await;
    let tickets = page["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len() as u64, tally.tickets.load(Ordering::Relaxed), "every acknowledged ticket is there once");
    assert!(tickets.iter().any(|t| !t["team_id"].is_null()), "some were dispatched to a station");
    // Each phone's first batch comes back from a spell offline past the classify window: that stage
    // is overdue now, or was met late if the desk has classified it since.
    let late_or_overdue = |t: &&serde_json::Value| {
        t["stages"].as_array().is_some_and(|s| s.iter().any(|st| st["state"] == "overdue" || st["state"] == "late"))
    };
    assert!(
        tickets.iter().filter(late_or_overdue).count() >= 6,
        "phones back from an offline spell bring late tickets"
    );

    // The tracker raises the alerts on its own.
    for _ in 0..150 {
        let (_, alerts) = app.get_as(&supervisor, "/api/v1/alerts?limit=500").await;
        if alerts["alerts"].as_array().is_some_and(|a| a.iter().any(|x| x["type"] == "overdue")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no overdue alert fired");
}

backend_tests!(the_demo_county_comes_alive_with_overdue_tickets);
