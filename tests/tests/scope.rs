//! Data scope (contract 1.1): nothing of a record outside the caller's scope leaves through push,
//! photos are readable only through their uploader's records, stages are completed only by roles
//! that may complete them, dispatch goes only to teams that serve the ticket.

mod harness;

use harness::*;
use serde_json::{json, Value};

fn result_of<'a>(res: &'a Value, id: &str) -> &'a Value {
    res["results"].as_array().and_then(|rs| rs.iter().find(|r| r["id"] == id)).unwrap_or(&Value::Null)
}

/// Town A's volunteer stores a household, a visit, a ticket and an event.
async fn town_a_records(app: &TestApp, org: &Org, volunteer: &str) -> (String, String, String, String) {
    let (h, v, t, e) = (new_id(), new_id(), new_id(), new_id());
    let records = json!({"households": [household(&h, &org.grid_a, "1号")], "visits": [visit(&v, &h, -30)],
        "tickets": [ticket(&t, &h, -20)], "ticket_events": [event(&e, &t, "comment", -10)]});
    let (status, res) = app.push(volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!((status, &res["summary"]["applied"]), (200, &json!(4)), "{res}");
    (h, v, t, e)
}

async fn conflicts_show_current_only_within_scope(app: TestApp) {
    let org = app.org().await;
    let vol_a = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let vol_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let (_, v, t, e) = town_a_records(&app, &org, &vol_a).await;

    // Town B's volunteer reuses the ids on records of their own town.
    let (hb, tb) = (new_id(), new_id());
    let records = json!({"households": [household(&hb, &org.grid_b, "2号")], "visits": [visit(&v, &hb, -15)],
        "tickets": [ticket(&t, &hb, -14), ticket(&tb, &hb, -14)], "ticket_events": [event(&e, &tb, "comment", -5)]});
    let (status, res) = app.push(&vol_b, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    for id in [&v, &t, &e] {
        let r = result_of(&res, id);
        assert_eq!(r["status"], "conflict", "{res}");
        assert!(r.get("current").is_none(), "a foreign record leaked through a conflict: {r}");
    }
    let text = res.to_string();
    assert!(!text.contains("暖气片不热") && !text.contains("室温16度"), "foreign content in {text}");

    // The author still gets the stored record back on a conflict of their own.
    let (_, own) = app.push(&vol_a, &batch(&at_minutes(0), json!({"visits": [visit(&v, &new_id(), -29)]}))).await;
    let r = result_of(&own, &v);
    assert_eq!(r["status"], "conflict", "{own}");
    assert_eq!(r["current"]["id"], json!(v), "{own}");
}

backend_tests!(conflicts_show_current_only_within_scope);
