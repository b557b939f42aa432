//! `county_id` on every busy table (issue 26), the column a Citus cluster distributes on: filled
//! by the push writer and by the migration's SQL from each row's area path alike, compared and
//! repaired by `fieldvisit check`, and the Citus layout (`docs/citus.sql`) run on plain
//! PostgreSQL with the server still working on it.

use crate::harness;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fieldvisit_server::db::schema::{alerts, households, ticket_events, tickets, visits};
use fieldvisit_server::db::{self, DbConn};
use fieldvisit_server::error::ApiError;
use fieldvisit_server::ops::check;
use harness::*;
use serde_json::json;

/// A county under `root` with a grid and a volunteer; pushes a household, a visit, an overdue
/// ticket (so alerts fire) and an event. Returns (county id, volunteer token).
async fn county_with_records(app: &TestApp, admin: &str, root: &str, name: &str) -> (String, String) {
    let area = |parent: &str, kind: &str| json!({"parent_id": parent, "kind": kind, "name": format!("{name}{kind}")});
    let county = app.create(admin, "/api/v1/areas", area(root, "county")).await;
    let grid = app.create(admin, "/api/v1/areas", area(&county, "grid")).await;
    let username = format!("volunteer_{name}");
    let body = json!({"username": username, "password": PASSWORD, "display_name": username,
        "role": "volunteer", "area_id": county});
    app.create(admin, "/api/v1/users", body).await;
    let token = app.token(&username, PASSWORD, &new_id()).await;
    let (h, t) = (new_id(), new_id());
    app.push_ok(
        &token,
        json!({"households": [household(&h, &grid, "1号楼")], "visits": [visit(&new_id(), &h, -80)],
            "tickets": [ticket(&t, &h, -75)], "ticket_events": [event(&new_id(), &t, "comment", -70)]}),
    )
    .await;
    (county, token)
}

/// Each busy table's `county_id` values, sorted, table by table.
fn counties_stored(c: &mut DbConn) -> Result<Vec<(&'static str, Vec<String>)>, ApiError> {
    Ok(vec![
        ("households", households::table.select(households::county_id).order(households::county_id).load(c)?),
        ("visits", visits::table.select(visits::county_id).order(visits::county_id).load(c)?),
        ("tickets", tickets::table.select(tickets::county_id).order(tickets::county_id).load(c)?),
        (
            "ticket_events",
            ticket_events::table.select(ticket_events::county_id).order(ticket_events::county_id).load(c)?,
        ),
        ("alerts", alerts::table.select(alerts::county_id).order(alerts::county_id).load(c)?),
    ])
}

async fn run_check(app: &TestApp) -> check::Report {
    db::run(&app.state.pool, |c| check::run(c, chrono::Utc::now().timestamp_millis())).await.expect("check runs")
}

/// The `UPDATE` statements of the migration that filled `county_id` for rows stored before it.
fn migration_fill() -> String {
    let sql = include_str!("../../migrations/sqlite/2026-12-05-000016_county_id/up.sql");
    let at = sql.find("UPDATE").expect("the migration fills existing rows");
    sql[at..].to_owned()
}

async fn every_busy_row_names_its_county_and_check_repairs_it(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.root_area_kind = "city".into()).await;
    let admin = app.admin_token().await;
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    let root = areas["areas"][0]["id"].as_str().expect("root").to_owned();
    let (east, _) = county_with_records(&app, &admin, &root, "east").await;
    let (west, _) = county_with_records(&app, &admin, &root, "west").await;

    // As the push writer stored them: each table holds one row set per county (alerts: the
    // overdue ones), and nothing else.
    let stored = db::run(&app.state.pool, counties_stored).await.expect("read");
    for (table, ids) in &stored {
        assert!(ids.iter().all(|c| *c == east || *c == west), "{table}: {ids:?}");
        for county in [&east, &west] {
            assert!(ids.contains(county), "{table} has no row of county {county}: {ids:?}");
        }
    }
    assert!(run_check(&app).await.is_clean());

    // The migration's SQL derives the same county as the writer: blanked and filled again, every
    // row is as it was.
    let refill = format!(
        "UPDATE households SET county_id = ''; UPDATE visits SET county_id = ''; UPDATE tickets SET county_id = ''; \
         UPDATE ticket_events SET county_id = ''; UPDATE alerts SET county_id = ''; {}",
        migration_fill()
    );
    let refilled = db::run(&app.state.pool, move |c| {
        c.batch_execute(&refill)?;
        counties_stored(c)
    })
    .await
    .expect("refill");
    assert_eq!(refilled, stored);

    // A visit moved to the other county by hand: the check names the table, the area path and
    // both counties; a repair writes the derived one back, and nothing else.
    app.skip_final_check();
    let damage = format!("UPDATE visits SET county_id = '{west}' WHERE county_id = '{east}'");
    db::run(&app.state.pool, move |c| Ok(c.batch_execute(&damage)?)).await.expect("damage");
    let report = run_check(&app).await;
    assert_eq!(report.problems, 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert!(finding.starts_with("visits: 1 row(s)") && finding.contains(&east) && finding.contains(&west), "{finding}");
    let repaired =
        db::run(&app.state.pool, |c| check::repair(c, chrono::Utc::now().timestamp_millis())).await.expect("repair");
    assert_eq!(repaired, check::Repaired { county_ids: 1, ..Default::default() });
    assert_eq!(db::run(&app.state.pool, counties_stored).await.expect("read"), stored);
    assert!(run_check(&app).await.is_clean());
}

/// `docs/citus.sql` on plain PostgreSQL: its keys change (the Citus calls skipped, with a notice),
/// and the server keeps working on the result: pushes, alerts, the check.
async fn the_citus_layout_runs_on_plain_postgresql(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let (h, t) = (new_id(), new_id());
    app.push_ok(&token, json!({"households": [household(&h, &org.grid_a, "1号楼")], "tickets": [ticket(&t, &h, -75)]}))
        .await;

    let layout = include_str!("../../docs/citus.sql");
    let keys = db::run(&app.state.pool, move |c| {
        c.batch_execute(layout)?;
        let DbConn::Pg(pg) = c else { panic!("PostgreSQL only") };
        #[derive(QueryableByName)]
        struct Key {
            #[diesel(sql_type = diesel::sql_types::Text)]
            def: String,
        }
        let keys: Vec<Key> = diesel::sql_query(
            "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) AS def FROM pg_constraint \
             WHERE contype IN ('p', 'u', 'f') AND conrelid::regclass::text IN \
             ('households', 'visits', 'tickets', 'ticket_events', 'alerts') ORDER BY 1",
        )
        .load(pg)?;
        Ok(keys.into_iter().map(|k| k.def).collect::<Vec<_>>())
    })
    .await
    .expect("the layout runs");
    for key in [
        "households PRIMARY KEY (id, county_id)",
        "visits PRIMARY KEY (id, county_id)",
        "tickets PRIMARY KEY (id, county_id)",
        "ticket_events PRIMARY KEY (id, county_id)",
        "alerts PRIMARY KEY (id, county_id)",
        "alerts UNIQUE (ticket_id, kind, stage, cycle, level, county_id)",
        "visits FOREIGN KEY (household_id, county_id) REFERENCES households(id, county_id)",
        "ticket_events FOREIGN KEY (ticket_id, county_id) REFERENCES tickets(id, county_id)",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }

    // The same pushes as before, on the new keys: a visit to the household, an event on the
    // ticket, a second overdue ticket (its alerts insert under the wider unique key).
    let t2 = new_id();
    app.push_ok(
        &token,
        json!({"visits": [visit(&new_id(), &h, -10)], "ticket_events": [event(&new_id(), &t, "comment", -5)],
            "tickets": [ticket(&t2, &h, -75)]}),
    )
    .await;
    let alerts = app.all_alerts(&org.admin).await;
    assert!(alerts.iter().any(|a| a["ticket_id"] == json!(t2)), "{alerts:?}");
    let report = run_check(&app).await;
    assert!(report.is_clean(), "{:?}", report.findings);
}

backend_tests!(db: every_busy_row_names_its_county_and_check_repairs_it);

mod postgres_only {
    #[tokio::test]
    async fn the_citus_layout_runs_on_plain_postgresql() {
        super::the_citus_layout_runs_on_plain_postgresql(
            crate::harness::TestApp::spawn(crate::harness::Db::Postgres).await,
        )
        .await
    }
}
