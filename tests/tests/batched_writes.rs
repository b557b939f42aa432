//! One push touching several tickets and households, on both backends: on PostgreSQL the writer
//! stores their projections, event renumbering, visit counters and alerts as one statement per
//! table (`db/batch.rs`); each ticket and household must still end as if written one by one.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

fn of_ticket<'a>(alerts: &'a [Value], ticket: &str, kind: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["ticket_id"] == ticket && a["type"] == kind).collect()
}

/// Three tickets dispatched to one team in one push: the team's next pull brings each ticket
/// once, dispatched to it, with its whole history.
async fn one_push_dispatching_several_tickets_sends_each_history_to_the_team(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let homes: Vec<String> = (0..3).map(|_| new_id()).collect();
    let tickets: Vec<String> = (0..3).map(|_| new_id()).collect();
    let comments: Vec<String> = (0..3).map(|_| new_id()).collect();
    let records = json!({
        "households": homes.iter().enumerate().map(|(i, h)| household(h, &org.grid_a, &format!("{i}号"))).collect::<Vec<_>>(),
        "tickets": tickets.iter().zip(&homes).map(|(t, h)| ticket(t, h, -50)).collect::<Vec<_>>(),
        "ticket_events": tickets.iter().zip(&comments).map(|(t, c)| event(c, t, "comment", -49)).collect::<Vec<_>>(),
    });
    app.push_ok(&volunteer, records).await;
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let (_, cursor) = app.pull_all(&handler, None, 100).await;

    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk").await;
    let dispatches: Vec<String> = tickets.iter().map(|_| new_id()).collect();
    let events: Vec<Value> = tickets
        .iter()
        .zip(&dispatches)
        .map(|(t, d)| {
            let mut e = event(d, t, "dispatched", -40);
            e["team_id"] = json!(org.team_a);
            e
        })
        .collect();
    app.push_ok(&dispatcher, json!({ "ticket_events": events })).await;

    let (pages, _) = app.pull_all(&handler, cursor, 100).await;
    let mut got = ids_in(&pages, "tickets");
    got.sort();
    let mut want = tickets.clone();
    want.sort();
    assert_eq!(got, want, "each ticket once");
    for t in pages.iter().flat_map(|p| p["tickets"].as_array().cloned().unwrap_or_default()) {
        assert_eq!(t["team_id"], json!(org.team_a), "{t}");
        assert_eq!(t["version"], 3, "reported, commented, dispatched: {t}");
    }
    let mut got = ids_in(&pages, "ticket_events");
    got.sort();
    let mut want: Vec<String> = comments.iter().chain(&dispatches).cloned().collect();
    want.sort();
    assert_eq!(got, want, "every ticket's earlier history comes along with its dispatch");
}

/// Visits to several households in one push: each household's count and last visit are its own.
async fn one_push_of_visits_counts_each_household(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let homes: Vec<String> = (0..3).map(|_| new_id()).collect();
    let records = json!({
        "households": homes.iter().enumerate().map(|(i, h)| household(h, &org.grid_a, &format!("{i}号"))).collect::<Vec<_>>(),
    });
    app.push_ok(&volunteer, records).await;
    // Two visits to the first, one to the second, none to the third; then one more to the first.
    let visits =
        vec![visit(&new_id(), &homes[0], -30), visit(&new_id(), &homes[0], -20), visit(&new_id(), &homes[1], -25)];
    app.push_ok(&volunteer, json!({ "visits": visits })).await;
    app.push_ok(&volunteer, json!({ "visits": [visit(&new_id(), &homes[0], -40)] })).await;

    let phone = app.token("volunteer_a", PASSWORD, "phone-new").await;
    let (pages, _) = app.pull_all(&phone, None, 100).await;
    let households: Vec<Value> =
        pages.iter().flat_map(|p| p["households"].as_array().cloned().unwrap_or_default()).collect();
    let find = |id: &str| households.iter().find(|h| h["id"] == id).cloned().unwrap_or_else(|| panic!("{id}"));
    let visits = pages.iter().flat_map(|p| p["visits"].as_array().cloned().unwrap_or_default()).collect::<Vec<_>>();
    let latest_of = |id: &str| {
        visits
            .iter()
            .filter(|v| v["household_id"] == id)
            .filter_map(|v| v["visited_at"].as_str())
            .max()
            .map(str::to_owned)
    };
    assert_eq!(find(&homes[0])["visit_count"], 3);
    assert_eq!(
        find(&homes[0])["last_visited_at"].as_str().map(str::to_owned),
        latest_of(&homes[0]),
        "the later push's older visit moves nothing"
    );
    assert_eq!(find(&homes[1])["visit_count"], 1);
    assert_eq!(find(&homes[1])["last_visited_at"].as_str().map(str::to_owned), latest_of(&homes[1]));
    assert_eq!(find(&homes[2])["visit_count"], 0);
    assert!(find(&homes[2])["last_visited_at"].is_null(), "{:?}", find(&homes[2]));
}

/// Tickets synced already overdue fire their alerts in the push; late events for all of them,
/// in one push, retract each one's overdue alert once.
async fn one_push_retracts_the_overdue_alerts_of_several_tickets(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let supervisor = app.token("supervisor_a", PASSWORD, "desk-s").await;
    let home = new_id();
    let tickets: Vec<String> = (0..3).map(|_| new_id()).collect();
    app.push_ok(
        &volunteer,
        json!({"households": [household(&home, &org.grid_a, "1号")],
               "tickets": tickets.iter().map(|t| ticket(t, &home, -70)).collect::<Vec<_>>()}),
    )
    .await;
    let alerts = app.all_alerts(&supervisor).await;
    for t in &tickets {
        assert_eq!(of_ticket(&alerts, t, "overdue").len(), 1, "{t}: {alerts:?}");
    }
    let late: Vec<Value> = tickets.iter().map(|t| event(&new_id(), t, "classified", -20)).collect();
    app.push_ok(&dispatcher, json!({ "ticket_events": late })).await;
    let again: Vec<Value> = tickets.iter().map(|t| event(&new_id(), t, "comment", -5)).collect();
    app.push_ok(&dispatcher, json!({ "ticket_events": again })).await;
    let alerts = app.all_alerts(&supervisor).await;
    for t in &tickets {
        let retracted = of_ticket(&alerts, t, "retracted");
        assert_eq!(retracted.len(), 1, "{t}: {alerts:?}");
        assert_eq!(retracted[0]["stage"], "classify");
    }
    let ids: Vec<i64> = alerts.iter().filter_map(|a| a["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "listed in id order, each once: {ids:?}");
}

/// One push naming households and tickets both new in it and stored by an earlier push: its
/// visits and tickets find their homes, its events their tickets, whichever push stored them (the
/// writer reads each once per push and keeps what it stores); counters and tallies end as if
/// written one by one (the drop's `fieldvisit check` compares them with the visits).
async fn one_push_finds_what_it_stores_and_what_was_stored_before(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let (old_home, old_ticket) = (new_id(), new_id());
    let stored = ticket(&old_ticket, &old_home, -50);
    let earlier = json!({"households": [household(&old_home, &org.grid_a, "1号")], "tickets": [stored.clone()]});
    app.push_ok(&volunteer, earlier).await;

    let (home, t, repeat) = (new_id(), new_id(), new_id());
    let mut cold = visit(&new_id(), &home, -20);
    cold["indoor_temp_c"] = json!(14.0);
    let (status, res) = app
        .push(
            &volunteer,
            &batch(
                &at_minutes(0),
                json!({
                    "households": [household(&home, &org.grid_a, "2号")],
                    "visits": [visit(&new_id(), &old_home, -30), cold, visit(&repeat, &home, -25), visit(&repeat, &home, -25)],
                    "tickets": [ticket(&t, &home, -19), stored],
                    "ticket_events": [event(&new_id(), &t, "comment", -18), event(&new_id(), &old_ticket, "comment", -10)],
                }),
            ),
        )
        .await;
    assert_eq!((status, res["summary"]["applied"].as_i64()), (200, Some(7)), "{res}");
    assert_eq!(res["summary"]["duplicate"].as_i64(), Some(2), "the visit twice, the ticket again: {res}");

    let phone = app.token("volunteer_a", PASSWORD, "phone-new").await;
    let (pages, _) = app.pull_all(&phone, None, 100).await;
    let all = |key: &str| pages.iter().flat_map(|p| p[key].as_array().cloned().unwrap_or_default()).collect::<Vec<_>>();
    let (households, tickets) = (all("households"), all("tickets"));
    let find =
        |rows: &[Value], id: &str| rows.iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("{id}"));
    assert_eq!(find(&households, &home)["visit_count"], 2);
    assert_eq!(find(&households, &old_home)["visit_count"], 1);
    assert_eq!(find(&tickets, &t)["version"], 2, "reported, then commented in the same push");
    assert_eq!(find(&tickets, &old_ticket)["version"], 2, "reported earlier, commented now");
    assert_eq!(all("ticket_events").len(), 2);
}

backend_tests!(
    one_push_finds_what_it_stores_and_what_was_stored_before,
    one_push_dispatching_several_tickets_sends_each_history_to_the_team,
    one_push_of_visits_counts_each_household,
    one_push_retracts_the_overdue_alerts_of_several_tickets,
);
