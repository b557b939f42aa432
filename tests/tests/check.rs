//! `fieldvisit check` (`server/src/check.rs`) on both backends: clean after real pushes, and each
//! kind of damage (a projection column, the projection itself, a doubled sequence number) found,
//! and the derived data reports read repaired.

use crate::harness;

use diesel::connection::SimpleConnection;
use fieldvisit_server::db;
use fieldvisit_server::ops::check::{self, Report};
use harness::*;
use serde_json::json;

/// A ticket with two events, pushed by a volunteer; returns its id.
async fn a_ticket_with_events(app: &TestApp) -> String {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let (h, t) = (new_id(), new_id());
    let body = batch(
        &at_minutes(0),
        json!({
            "households": [household(&h, &org.grid_a, "西城区3号楼2单元501")],
            "visits": [visit(&new_id(), &h, -90)],
            "tickets": [ticket(&t, &h, -89)],
            "ticket_events": [event(&new_id(), &t, "comment", -80), event(&new_id(), &t, "feedback", -70)],
        }),
    );
    let (status, res) = app.push(&token, &body).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["summary"]["applied"], 5, "{res}");
    t
}

/// Runs `damage` (SQL), then the check.
async fn check_after(app: &TestApp, damage: String) -> Report {
    if !damage.is_empty() {
        app.skip_final_check();
    }
    db::run(&app.state.pool, move |c| {
        if !damage.is_empty() {
            c.batch_execute(&damage)?;
        }
        check::run(c, chrono::Utc::now().timestamp_millis())
    })
    .await
    .expect("check runs")
}

async fn a_clean_database_has_no_findings(app: TestApp) {
    a_ticket_with_events(&app).await;
    let report = check_after(&app, String::new()).await;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!((report.tickets, report.events), (1, 2));
    assert!(report.sequence_numbers >= 5, "{report:?}");
}

async fn a_ticket_column_set_by_hand_is_found(app: TestApp) {
    let t = a_ticket_with_events(&app).await;
    let report = check_after(&app, format!("UPDATE tickets SET stage = 'no_such_stage' WHERE id = '{t}'")).await;
    assert_eq!(report.problems, 1, "{:?}", report.findings);
    assert!(report.findings[0].contains(&t) && report.findings[0].contains("stage"), "{:?}", report.findings);
}

async fn a_projection_that_disagrees_with_the_events_is_found(app: TestApp) {
    let t = a_ticket_with_events(&app).await;
    // The fold of the same events for a ticket reported an hour earlier: other due times.
    let wrong = db::run(&app.state.pool, {
        let t = t.clone();
        move |c| {
            use fieldvisit_server::db::{policies, records};
            let mut row = records::tickets_by_id(c, std::slice::from_ref(&t))?.remove(&t).expect("ticket");
            let events: Vec<_> =
                records::events_of(c, std::slice::from_ref(&t))?.iter().map(|e| e.fold_event()).collect();
            let book = policies::load(c)?;
            row.reported_at -= 3_600_000;
            let (now, policy) = (row.received_at, book.version(row.policy_version));
            fieldvisit_server::sync::apply::set_projection(&mut row, policy, &events, now, &Default::default());
            Ok(serde_json::to_string(&row.projection.0).expect("projection as JSON"))
        }
    })
    .await
    .expect("fold");
    let report = check_after(&app, format!("UPDATE tickets SET projection = '{wrong}' WHERE id = '{t}'")).await;
    assert_eq!(report.problems, 1, "{:?}", report.findings);
    assert!(report.findings[0].contains("stored projection differs"), "{:?}", report.findings);
}

async fn a_sequence_number_used_twice_is_found(app: TestApp) {
    let t = a_ticket_with_events(&app).await;
    let report = check_after(&app, format!("UPDATE visits SET seq = (SELECT seq FROM tickets WHERE id = '{t}')")).await;
    assert_eq!(report.problems, 1, "{:?}", report.findings);
    assert!(report.findings[0].contains("used twice"), "{:?}", report.findings);
}

/// What the reports read instead of history (tickets' stage times, the temperature tally, each
/// household's latest measurement), each damaged: the check names each, a repair rebuilds them
/// from the events and visits, and the check is clean again.
async fn damaged_report_data_is_found_and_repaired(app: TestApp) {
    let t = a_ticket_with_events(&app).await;
    let damage = format!(
        "UPDATE tickets SET stage_times = 'classify:1::' WHERE id = '{t}'; \
         UPDATE temperature_tally SET visits = visits + 2; UPDATE households SET last_temp_c = 30.5"
    );
    let report = check_after(&app, damage).await;
    assert_eq!(report.problems, 3, "{:?}", report.findings);
    let found = report.findings.join("\n");
    for what in ["stage_times", "temperature tally", "latest measurement"] {
        assert!(found.contains(what), "{what} not named in {found}");
    }
    let seq_before = ticket_seq(&app, &t).await;
    let repaired = repair(&app).await;
    assert_eq!(
        repaired,
        check::Repaired { tickets: 1, households: 1, temperature_tally: true, checklist_tallies: false, county_ids: 0 }
    );
    assert!(ticket_seq(&app, &t).await > seq_before, "the repaired ticket is pulled again");
    let report = check_after(&app, String::new()).await;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(repair(&app).await, check::Repaired::default(), "nothing left to repair");
}

/// A ticket's latest satisfaction, kept with its projection for compliance: the latest event
/// carrying one by time (not by arrival); set wrong by hand, the check names it and a repair
/// writes it back from the events.
async fn a_wrong_latest_satisfaction_is_found_and_repaired(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let (h, t) = (new_id(), new_id());
    let with = |kind: &str, minutes: i64, satisfaction: &str| {
        let mut e = event(&new_id(), &t, kind, minutes);
        e["satisfaction"] = json!(satisfaction);
        e
    };
    app.push_ok(
        &token,
        json!({"households": [household(&h, &org.grid_a, "1号楼")], "tickets": [ticket(&t, &h, -89)],
            "ticket_events": [with("comment", -60, "unsatisfied")]}),
    )
    .await;
    // Arrives later but happened earlier: the comment's answer stays the latest.
    app.push_ok(&token, json!({"ticket_events": [with("feedback", -70, "satisfied")]})).await;
    assert_eq!(latest_satisfaction(&app, &t).await.as_deref(), Some("unsatisfied"));

    let damage = format!("UPDATE tickets SET latest_satisfaction = 'satisfied' WHERE id = '{t}'");
    let report = check_after(&app, damage).await;
    assert_eq!(report.problems, 1, "{:?}", report.findings);
    assert!(
        report.findings[0].contains(&t) && report.findings[0].contains("latest_satisfaction"),
        "{:?}",
        report.findings
    );
    assert_eq!(repair(&app).await, check::Repaired { tickets: 1, ..Default::default() });
    assert_eq!(latest_satisfaction(&app, &t).await.as_deref(), Some("unsatisfied"));
    let report = check_after(&app, String::new()).await;
    assert!(report.is_clean(), "{:?}", report.findings);
}

async fn latest_satisfaction(app: &TestApp, id: &str) -> Option<String> {
    let id = id.to_owned();
    db::run(&app.state.pool, move |c| {
        use diesel::prelude::*;
        use fieldvisit_server::db::schema::tickets;
        Ok(tickets::table.find(id).select(tickets::latest_satisfaction).first::<Option<String>>(c)?)
    })
    .await
    .expect("latest satisfaction")
}

/// A stored value no type accepts (issue #25): the check names the row and the value, and the
/// requests that read the row answer 500 `internal_error` instead of showing a default (an
/// unknown event type used to read as `comment` and silently stop driving the deadlines).
async fn corrupted(app: &TestApp, damage: &str, table: &str, value: &str) {
    let t = a_ticket_with_events(app).await;
    let damage = damage.replace("{t}", &t);
    let report = check_after(app, damage.clone()).await;
    assert_eq!(report.problems, 1, "{damage}: {:?}", report.findings);
    let finding = &report.findings[0];
    assert!(finding.starts_with(&format!("{table} row ")) && finding.contains(value), "{damage}: {finding}");
    let repaired = db::run(&app.state.pool, |c| check::repair(c, chrono::Utc::now().timestamp_millis())).await;
    assert!(repaired.is_err(), "{damage}: a repair must not fold around an unreadable row");

    let desk = app.token("dispatcher_a", PASSWORD, "desk").await;
    let (status, res) = app.get_as(&desk, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!((status, res["error"]["code"].as_str()), (500, Some("internal_error")), "{damage}: {res}");
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let (status, res) = app.get_as(&volunteer, "/api/v1/sync/pull?limit=100").await;
    assert_eq!((status, res["error"]["code"].as_str()), (500, Some("internal_error")), "{damage}: {res}");
}

async fn an_unknown_event_type_fails_the_check_and_the_reads(app: TestApp) {
    let damage = "UPDATE ticket_events SET event_type = 'lost_in_transit' WHERE event_type = 'feedback'";
    corrupted(&app, damage, "ticket_events", "lost_in_transit").await;
}

async fn an_event_id_that_is_no_uuid_fails_the_check_and_the_reads(app: TestApp) {
    corrupted(&app, "UPDATE ticket_events SET id = 'evt-7' WHERE event_type = 'comment'", "ticket_events", "evt-7")
        .await;
}

async fn a_ticket_naming_no_uuid_fails_the_check_and_the_reads(app: TestApp) {
    corrupted(&app, "UPDATE tickets SET area_id = 'grid-7' WHERE id = '{t}'", "tickets", "grid-7").await;
}

async fn json_that_does_not_parse_fails_the_check_and_the_reads(app: TestApp) {
    let damage = "UPDATE tickets SET projection = '{\"stages\": [' WHERE id = '{t}'";
    corrupted(&app, damage, "tickets", "stages").await;
}

async fn an_unknown_severity_fails_the_check_and_the_reads(app: TestApp) {
    corrupted(&app, "UPDATE tickets SET severity = 'apocalyptic' WHERE id = '{t}'", "tickets", "apocalyptic").await;
}

/// A stored household version no type accepts: the check names the table, the row (household and
/// version) and the value, and a stale edit that would merge against that version fails rather
/// than merge against a default.
async fn household_version_corrupted(app: &TestApp, damage: &str, value: &str) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let h = new_id();
    app.push_ok(&token, json!({"households": [household(&h, &org.grid_a, "4号")]})).await;
    let mut edit = household(&h, &org.grid_a, "4号");
    edit["base_version"] = json!(1);
    edit["phone"] = json!("13911111111");
    edit["updated_at"] = json!(at_minutes(-20));
    app.push_ok(&token, json!({"households": [edit]})).await;

    let damage = damage.replace("{h}", &h);
    let report = check_after(app, damage.clone()).await;
    assert_eq!(report.problems, 1, "{damage}: {:?}", report.findings);
    let finding = &report.findings[0];
    assert!(
        finding.starts_with(&format!("household_versions row {h} version 1 ")) && finding.contains(value),
        "{damage}: {finding}"
    );

    // Another phone's edit, still based on version 1: a three-way merge needs that version.
    let mut stale = household(&h, &org.grid_a, "4号");
    stale["base_version"] = json!(1);
    stale["heating"] = json!("gas");
    stale["updated_at"] = json!(at_minutes(-10));
    let other = app.token("supervisor_a", PASSWORD, "tablet").await;
    let (status, res) = app.push(&other, &batch(&at_minutes(0), json!({"households": [stale]}))).await;
    assert_eq!((status, res["error"]["code"].as_str()), (500, Some("internal_error")), "{damage}: {res}");
}

async fn an_unknown_heating_in_a_household_version_fails_the_check(app: TestApp) {
    let damage = "UPDATE household_versions SET fields = REPLACE(fields, '\"coal\"', '\"nuclear\"') \
        WHERE household_id = '{h}' AND version = 1";
    household_version_corrupted(&app, damage, "nuclear").await;
}

async fn household_version_json_that_does_not_parse_fails_the_check(app: TestApp) {
    let damage = "UPDATE household_versions SET fields = '{\"address\": ' WHERE household_id = '{h}' AND version = 1";
    household_version_corrupted(&app, damage, "fields").await;
}

/// A team's categories or a channel's team filter that does not parse, or a user's unknown role:
/// read as an empty list or a default they would make a team serve nothing, widen a channel to
/// every team's alerts or list the user as a volunteer. The check names the row and the value,
/// and the lists that read the row answer 500.
async fn org_rows_that_do_not_load_fail_the_check_and_the_reads(app: TestApp) {
    let org = app.org().await;
    let admin = app.token("admin_a", PASSWORD, "laptop").await;
    let channel = new_id();
    let row = fieldvisit_server::db::channels::ChannelRow {
        id: channel.clone(),
        name: "城关镇群".into(),
        kind: "wecom".into(),
        area_id: org.town_a.clone(),
        area_path: String::new(),
        url: "http://127.0.0.1:9/wecom?key=abc".into(),
        secret: None,
        teams: db::typed::Json(vec![org.team_a.clone()]),
        alert_types: db::typed::Json(Vec::new()),
        min_level: 0,
        enabled: false,
        enqueued_to: 0,
        created_at: 0,
        updated_at: 0,
    };
    db::run(&app.state.pool, move |c| {
        use diesel::prelude::*;
        use fieldvisit_server::db::schema::areas;
        let path: String = areas::table.find(&row.area_id).select(areas::path).first(c)?;
        Ok(db::channels::insert(c, &fieldvisit_server::db::channels::ChannelRow { area_path: path, ..row })?)
    })
    .await
    .expect("a channel");
    let volunteer = org.user("volunteer_a").to_owned();
    for (damage, table, id, value, read, undo) in [
        (
            "UPDATE teams SET categories = '[\"heating\"' WHERE id = '{id}'",
            "teams",
            &org.team_a,
            "heating",
            "/api/v1/teams",
            "UPDATE teams SET categories = '[\"heating\"]' WHERE id = '{id}'",
        ),
        (
            "UPDATE channels SET teams = 'team-a' WHERE id = '{id}'",
            "channels",
            &channel,
            "team-a",
            "/api/v1/channels",
            "UPDATE channels SET teams = '[]' WHERE id = '{id}'",
        ),
        (
            "UPDATE users SET role = 'overlord' WHERE id = '{id}'",
            "users",
            &volunteer,
            "overlord",
            "/api/v1/users",
            "UPDATE users SET role = 'volunteer' WHERE id = '{id}'",
        ),
    ] {
        let (_, res) = app.get_as(&admin, read).await;
        assert!(res.get("error").is_none(), "{read} before the damage: {res}");
        let damage = damage.replace("{id}", id);
        let report = check_after(&app, damage.clone()).await;
        assert_eq!(report.problems, 1, "{damage}: {:?}", report.findings);
        let finding = &report.findings[0];
        assert!(finding.starts_with(&format!("{table} row {id} ")) && finding.contains(value), "{damage}: {finding}");
        let (status, res) = app.get_as(&admin, read).await;
        assert_eq!((status, res["error"]["code"].as_str()), (500, Some("internal_error")), "{damage}: {res}");
        // Put it right again, so the next damage is the only finding.
        assert!(check_after(&app, undo.replace("{id}", id)).await.is_clean());
    }
}

async fn repair(app: &TestApp) -> check::Repaired {
    db::run(&app.state.pool, |c| check::repair(c, chrono::Utc::now().timestamp_millis())).await.expect("repair runs")
}

async fn ticket_seq(app: &TestApp, id: &str) -> i64 {
    let id = id.to_owned();
    db::run(&app.state.pool, move |c| {
        use diesel::prelude::*;
        use fieldvisit_server::db::schema::tickets;
        Ok(tickets::table.find(id).select(tickets::seq).first::<i64>(c)?)
    })
    .await
    .expect("seq")
}

backend_tests!(
    damaged_report_data_is_found_and_repaired,
    a_wrong_latest_satisfaction_is_found_and_repaired,
    a_clean_database_has_no_findings,
    a_ticket_column_set_by_hand_is_found,
    a_projection_that_disagrees_with_the_events_is_found,
    a_sequence_number_used_twice_is_found,
    an_unknown_event_type_fails_the_check_and_the_reads,
    an_event_id_that_is_no_uuid_fails_the_check_and_the_reads,
    a_ticket_naming_no_uuid_fails_the_check_and_the_reads,
    json_that_does_not_parse_fails_the_check_and_the_reads,
    an_unknown_severity_fails_the_check_and_the_reads,
    an_unknown_heating_in_a_household_version_fails_the_check,
    household_version_json_that_does_not_parse_fails_the_check,
    org_rows_that_do_not_load_fail_the_check_and_the_reads,
);
