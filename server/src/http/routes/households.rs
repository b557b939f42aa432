//! One household with its visits and tickets, for the desk and for a handler sent there.

use actix_web::{get, web};
use fieldvisit_sync_protocol::sync::pull::{HouseholdDetail, HouseholdOut, VisitOut};

use crate::auth::{Action, Principal};
use crate::db::{self, policies, tickets as queries};
use crate::error::ApiError;
use crate::http::routes::tickets::access;
use crate::state::AppState;

/// The household plus its `visits` and `tickets`. Within the caller's area everything; a handler
/// outside it sees the household only through their team's tickets, and only those.
#[utoipa::path(tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = HouseholdDetail), (status = 404, body = crate::error::ErrorBody)))]
#[get("/api/v1/households/{id}")]
pub async fn get_household(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
) -> Result<web::Json<HouseholdDetail>, ApiError> {
    who.authorize(Action::ReadTickets)?;
    let id = id.into_inner();
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        let home = queries::household(conn, &id)?.ok_or_else(|| ApiError::not_found("household"))?;
        let in_area = who.sees(&home.area_path);
        let tickets: Vec<_> =
            queries::of_household(conn, &id)?.into_iter().filter(|t| in_area || who.sees_ticket(&access(t))).collect();
        if !in_area && tickets.is_empty() {
            return Err(ApiError::not_found("household"));
        }
        let visits: Vec<VisitOut> =
            if in_area { queries::visits_of(conn, &id)?.iter().map(VisitOut::from).collect() } else { Vec::new() };
        let book = policies::load(conn)?;
        let tickets: Vec<_> = tickets.iter().map(|t| t.to_out(book.version(t.policy_version), now)).collect();
        Ok(web::Json(HouseholdDetail { household: HouseholdOut::from(&home), visits, tickets }))
    })
    .await
}
