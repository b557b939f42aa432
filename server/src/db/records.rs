//! Households, visits, tickets and ticket events: rows, batch lookups and the conversion to the
//! wire types of `sync_protocol::sync::pull`.

use std::collections::HashMap;

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{EventType, Policy, Projection, Severity, TicketFacts};
use fieldvisit_sync_protocol::sync::pull::{HouseholdOut, TicketEventOut, TicketOut, TicketStatus, VisitOut};
use fieldvisit_sync_protocol::sync::records::{Heating, HouseholdFields, Location, Satisfaction, TemplateRef};
use fieldvisit_sync_protocol::time::format_utc;
use uuid::Uuid;

use super::schema::{household_versions, households, ticket_events, tickets, visits};
use super::typed::{Enum, Json, OptStoredUuid, StoredUuid};
use super::DbConn;

/// Ids are stored as the hyphenated lower-case UUIDs the parsers produced, and a loaded row's ids
/// were checked by [`StoredUuid`]: the nil UUID here is unreachable for them.
pub fn uuid_of(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

// The record rows bind `None` as NULL, not DEFAULT (no column of theirs has another default): each
// insert then has one shape, which diesel finds in its statement cache by type instead of building
// the SQL text to look it up, about 8 % of the push writer's CPU per record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = households, treat_none_as_default_value = false)]
pub struct HouseholdRow {
    #[diesel(deserialize_as = StoredUuid)]
    pub id: String,
    #[diesel(deserialize_as = StoredUuid)]
    pub area_id: String,
    pub area_path: String,
    /// The county holding `area_path` (`PolicyBook::county_id_of`): the Citus distribution column.
    pub county_id: String,
    pub address: String,
    pub head_name: String,
    pub phone: Option<String>,
    pub heating: Enum<Heating>,
    pub tags: Json<Vec<String>>,
    pub version: i64,
    pub updated_at: i64,
    pub received_at: i64,
    pub created_by: String,
    pub seq: i64,
    /// `crate::sync::duplicates::key` of the address and head's name, kept with them.
    pub dedup_key: Option<String>,
}

impl HouseholdRow {
    /// Version 1 of a household in `area` (its id, path and county id).
    pub fn first(
        id: String,
        area: (&str, &str, &str),
        fields: &HouseholdFields,
        times: (i64, i64),
        by: String,
        seq: i64,
    ) -> Self {
        let (updated_at, received_at) = times;
        let mut row = HouseholdRow {
            id,
            area_id: area.0.to_owned(),
            area_path: area.1.to_owned(),
            county_id: area.2.to_owned(),
            address: String::new(),
            head_name: String::new(),
            phone: None,
            heating: Enum(fields.heating),
            tags: Json(Vec::new()),
            version: 1,
            updated_at,
            received_at,
            created_by: by,
            seq,
            dedup_key: None,
        };
        row.set_fields(fields);
        row
    }

    pub fn fields(&self) -> HouseholdFields {
        HouseholdFields {
            address: self.address.clone(),
            head_name: self.head_name.clone(),
            phone: self.phone.clone(),
            heating: self.heating.0,
            tags: self.tags.0.clone(),
        }
    }

    pub fn set_fields(&mut self, f: &HouseholdFields) {
        self.address.clone_from(&f.address);
        self.head_name.clone_from(&f.head_name);
        self.phone.clone_from(&f.phone);
        self.heating = Enum(f.heating);
        self.tags.0.clone_from(&f.tags);
        self.dedup_key = crate::sync::duplicates::key(&f.address, &f.head_name);
    }
}

impl From<&HouseholdRow> for HouseholdOut {
    fn from(r: &HouseholdRow) -> Self {
        HouseholdOut::new(uuid_of(&r.id), uuid_of(&r.area_id), r.fields(), r.version, r.updated_at)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_versions, treat_none_as_default_value = false)]
pub struct HouseholdVersionRow {
    #[diesel(deserialize_as = StoredUuid)]
    pub household_id: String,
    pub version: i64,
    pub fields: Json<HouseholdFields>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = visits, treat_none_as_default_value = false)]
pub struct VisitRow {
    #[diesel(deserialize_as = StoredUuid)]
    pub id: String,
    #[diesel(deserialize_as = StoredUuid)]
    pub household_id: String,
    #[diesel(deserialize_as = StoredUuid)]
    pub area_id: String,
    pub area_path: String,
    /// The county holding `area_path` (`PolicyBook::county_id_of`): the Citus distribution column.
    pub county_id: String,
    pub visited_at: i64,
    pub device_visited_at: i64,
    pub received_at: i64,
    pub clock_verified: bool,
    pub indoor_temp_c: Option<f64>,
    pub checklist: Json<serde_json::Map<String, serde_json::Value>>,
    pub service_card_given: Option<bool>,
    pub notes: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub photos: Json<Vec<String>>,
    pub user_id: String,
    pub device_id: String,
    pub content_hash: String,
    pub seq: i64,
    /// The template version the answers were filled from, if the visit named one.
    pub checklist_template_id: Option<String>,
    pub checklist_template_version: Option<i32>,
}

impl From<&VisitRow> for VisitOut {
    fn from(r: &VisitRow) -> Self {
        VisitOut {
            id: uuid_of(&r.id),
            household_id: uuid_of(&r.household_id),
            area_id: uuid_of(&r.area_id),
            visited_at: format_utc(r.visited_at),
            device_visited_at: format_utc(r.device_visited_at),
            received_at: format_utc(r.received_at),
            clock_verified: r.clock_verified,
            indoor_temp_c: r.indoor_temp_c,
            checklist: r.checklist.0.clone(),
            service_card_given: r.service_card_given,
            notes: r.notes.clone(),
            location: r.lat.zip(r.lon).map(|(lat, lon)| Location { lat, lon }),
            photos: r.photos.0.clone(),
            volunteer_id: r.user_id.clone(),
            device_id: r.device_id.clone(),
            checklist_template: r
                .checklist_template_id
                .clone()
                .zip(r.checklist_template_version)
                .map(|(id, version)| TemplateRef { id, version }),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub struct TicketRow {
    #[diesel(deserialize_as = StoredUuid)]
    pub id: String,
    #[diesel(deserialize_as = StoredUuid)]
    pub household_id: String,
    #[diesel(deserialize_as = OptStoredUuid)]
    pub visit_id: Option<String>,
    #[diesel(deserialize_as = StoredUuid)]
    pub area_id: String,
    pub area_path: String,
    /// The county holding `area_path` (`PolicyBook::county_id_of`): the Citus distribution column.
    pub county_id: String,
    pub category: String,
    pub severity: Enum<Severity>,
    pub description: String,
    pub reported_at: i64,
    pub device_reported_at: i64,
    pub received_at: i64,
    pub clock_verified: bool,
    pub resolved_on_the_spot: bool,
    pub photos: Json<Vec<String>>,
    pub reporter_id: String,
    pub device_id: String,
    pub content_hash: String,
    pub policy_version: i32,
    pub status: Enum<TicketStatus>,
    pub stage: String,
    #[diesel(deserialize_as = OptStoredUuid)]
    pub team_id: Option<String>,
    pub effective_category: String,
    pub projection: Json<Projection>,
    pub current_due_at: Option<i64>,
    pub next_deadline_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub last_event_received_at: Option<i64>,
    pub version: i64,
    pub seq: i64,
    /// The projection's stage times for reports (`reports::StageTimes`).
    pub stage_times: String,
    /// The satisfaction of its latest event carrying one (by time, then id), for reports.
    pub latest_satisfaction: Option<String>,
}

impl TicketRow {
    pub fn severity(&self) -> Severity {
        self.severity.0
    }

    /// What the deadline fold needs to know about the ticket itself.
    pub fn facts(&self) -> TicketFacts {
        TicketFacts {
            reported_at: self.reported_at,
            severity: self.severity(),
            category: self.category.clone(),
            resolved_on_the_spot: self.resolved_on_the_spot,
        }
    }

    /// What decides who may see or add to this ticket.
    pub fn access(&self) -> crate::auth::authz::TicketAccess<'_> {
        crate::auth::authz::TicketAccess {
            area_path: &self.area_path,
            team_id: self.team_id.as_deref(),
            reporter_id: &self.reporter_id,
        }
    }

    pub fn stored_projection(&self) -> &Projection {
        &self.projection.0
    }

    /// The wire form, with stage states as of `now` under the ticket's own policy version.
    pub fn to_out(&self, policy: &Policy, now: i64) -> TicketOut {
        let mut out = TicketOut {
            id: uuid_of(&self.id),
            household_id: uuid_of(&self.household_id),
            visit_id: self.visit_id.as_deref().map(uuid_of),
            area_id: uuid_of(&self.area_id),
            category: self.effective_category.clone(),
            severity: self.severity(),
            description: self.description.clone(),
            reported_at: format_utc(self.reported_at),
            device_reported_at: format_utc(self.device_reported_at),
            received_at: format_utc(self.received_at),
            status: self.status.0,
            team_id: self.team_id.as_deref().map(uuid_of),
            stage: self.stage.clone(),
            policy_version: self.policy_version,
            stages: Vec::new(),
            overdue: false,
            overdue_by_s: 0,
            sync_delay_s: fieldvisit_sync_protocol::sync::pull::sync_delay_s(self.reported_at, self.received_at),
            version: self.version,
            photos: self.photos.0.clone(),
            resolved_on_the_spot: self.resolved_on_the_spot,
        };
        out.apply_projection(&self.projection.0.clone().at(policy, now));
        out
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_events, treat_none_as_default_value = false)]
pub struct EventRow {
    #[diesel(deserialize_as = StoredUuid)]
    pub id: String,
    #[diesel(deserialize_as = StoredUuid)]
    pub ticket_id: String,
    pub area_path: String,
    /// The county holding `area_path` (`PolicyBook::county_id_of`): the Citus distribution column.
    pub county_id: String,
    pub event_type: Enum<EventType>,
    pub occurred_at: i64,
    pub device_occurred_at: i64,
    pub received_at: i64,
    pub clock_verified: bool,
    pub category: Option<String>,
    #[diesel(deserialize_as = OptStoredUuid)]
    pub team_id: Option<String>,
    pub note: Option<String>,
    pub satisfaction: Option<Enum<Satisfaction>>,
    pub user_id: String,
    pub device_id: String,
    pub content_hash: String,
    pub seq: i64,
    /// The author's role when the event was written (`''` for events older than the rule).
    pub author_role: String,
}

impl EventRow {
    pub fn event_type(&self) -> EventType {
        self.event_type.0
    }

    pub fn fold_event(&self) -> fieldvisit_sync_protocol::deadline::FoldEvent {
        fieldvisit_sync_protocol::deadline::FoldEvent {
            id: uuid_of(&self.id),
            event_type: self.event_type(),
            occurred_at: self.occurred_at,
            category: self.category.clone(),
            team_id: self.team_id.as_deref().map(uuid_of),
            author: fieldvisit_sync_protocol::deadline::Author::of(fieldvisit_sync_protocol::org::Role::parse(
                &self.author_role,
            )),
            satisfaction: self.satisfaction.map(|s| s.0),
        }
    }
}

impl From<&EventRow> for TicketEventOut {
    fn from(r: &EventRow) -> Self {
        TicketEventOut {
            id: uuid_of(&r.id),
            ticket_id: uuid_of(&r.ticket_id),
            event_type: r.event_type(),
            occurred_at: format_utc(r.occurred_at),
            device_occurred_at: format_utc(r.device_occurred_at),
            received_at: format_utc(r.received_at),
            clock_verified: r.clock_verified,
            category: r.category.clone(),
            team_id: r.team_id.as_deref().map(uuid_of),
            note: r.note.clone(),
            satisfaction: r.satisfaction.map(|s| s.0),
            user_id: r.user_id.clone(),
            device_id: r.device_id.clone(),
        }
    }
}

fn by_id<T>(rows: Vec<T>, id: impl Fn(&T) -> &str) -> HashMap<String, T> {
    rows.into_iter().map(|r| (id(&r).to_owned(), r)).collect()
}

pub fn households_by_id(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, HouseholdRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<HouseholdRow> =
        crate::load_any_of!(conn, households::table.select(HouseholdRow::as_select()), households::id, ids)?;
    Ok(by_id(rows, |r| &r.id))
}

pub fn household_version(conn: &mut DbConn, id: &str, version: i64) -> QueryResult<Option<HouseholdVersionRow>> {
    household_versions::table.find((id, version)).select(HouseholdVersionRow::as_select()).first(conn).optional()
}

/// (id → content hash) of the visits that exist among `ids`.
pub fn visit_hashes(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> =
        crate::load_any_of!(conn, visits::table.select((visits::id, visits::content_hash)), visits::id, ids)?;
    Ok(rows.into_iter().collect())
}

pub fn visits_by_id(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<VisitRow>> {
    visits::table.filter(visits::id.eq_any(ids)).select(VisitRow::as_select()).load(conn)
}

pub fn tickets_by_id(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, TicketRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<TicketRow> =
        crate::load_any_of!(conn, tickets::table.select(TicketRow::as_select()), tickets::id, ids)?;
    Ok(by_id(rows, |r| &r.id))
}

pub fn event_hashes(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let query = ticket_events::table.select((ticket_events::id, ticket_events::content_hash));
    let rows: Vec<(String, String)> = crate::load_any_of!(conn, query, ticket_events::id, ids)?;
    Ok(rows.into_iter().collect())
}

pub fn events_by_id(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<EventRow>> {
    ticket_events::table.filter(ticket_events::id.eq_any(ids)).select(EventRow::as_select()).load(conn)
}

/// Every event of the given tickets, in time order.
pub fn events_of(conn: &mut DbConn, ticket_ids: &[String]) -> QueryResult<Vec<EventRow>> {
    crate::load_any_of!(
        conn,
        ticket_events::table.order((ticket_events::occurred_at, ticket_events::id)).select(EventRow::as_select()),
        ticket_events::ticket_id,
        ticket_ids
    )
}

/// Stores a new household with its first version.
pub fn insert_household(conn: &mut DbConn, row: &HouseholdRow) -> QueryResult<()> {
    diesel::insert_into(households::table).values(row).execute(conn)?;
    insert_version(conn, row)
}

/// Stores a household's next version (the row already carries the new version number).
pub fn update_household(conn: &mut DbConn, row: &HouseholdRow) -> QueryResult<()> {
    diesel::update(households::table.find(&row.id)).set(row).execute(conn)?;
    insert_version(conn, row)
}

/// Every version's fields are kept, so a stale edit can be merged against what its phone saw.
fn insert_version(conn: &mut DbConn, row: &HouseholdRow) -> QueryResult<()> {
    let v = HouseholdVersionRow {
        household_id: row.id.clone(),
        version: row.version,
        fields: Json(row.fields()),
        updated_at: row.updated_at,
    };
    diesel::insert_into(household_versions::table).values(&v).execute(conn)?;
    Ok(())
}

/// The latest measurement among `visits` of one household: (visited_at, reading), the colder
/// reading when two share the time.
pub fn latest_of<'a>(visits: impl IntoIterator<Item = &'a VisitRow>) -> Option<(i64, f64)> {
    let mut latest: Option<(i64, f64)> = None;
    for v in visits {
        let Some(t) = v.indoor_temp_c else { continue };
        if latest.is_none_or(|(at, c)| v.visited_at > at || (v.visited_at == at && t < c)) {
            latest = Some((v.visited_at, t));
        }
    }
    latest
}

/// Adds newly stored visits to their households' `visit_count` and `last_visited_at` (what a
/// first pull shows instead of the history) and latest measurement (`db::temperature`). Called once per visit row inserted, so duplicates,
/// which are never inserted, are never counted.
pub fn count_visits(conn: &mut DbConn, new_visits: &[VisitRow]) -> QueryResult<()> {
    let mut per_home: std::collections::BTreeMap<&str, Vec<&VisitRow>> = std::collections::BTreeMap::new();
    for v in new_visits {
        per_home.entry(&v.household_id).or_default().push(v);
    }
    for (home, visits) in per_home {
        use diesel::sql_types::{BigInt, Double, Nullable};
        let count = visits.len() as i64;
        let latest = visits.iter().map(|v| v.visited_at).max().unwrap_or(i64::MIN);
        let later = diesel::dsl::sql::<Nullable<BigInt>>("CASE WHEN last_visited_at IS NULL OR last_visited_at < ")
            .bind::<BigInt, _>(latest)
            .sql(" THEN ")
            .bind::<BigInt, _>(latest)
            .sql(" ELSE last_visited_at END");
        let tallies =
            (households::visit_count.eq(households::visit_count + count), households::last_visited_at.eq(later));
        // One statement per household: with the reports' latest measurement when there is one.
        let target = diesel::update(households::table.find(home));
        match latest_of(visits.iter().copied()) {
            Some((at, t)) => {
                // Later, or as late and colder, replaces the stored one (both read the old values).
                let newer = "last_measured_at IS NULL OR last_measured_at < ";
                let temp = diesel::dsl::sql::<Nullable<Double>>("CASE WHEN ")
                    .sql(newer)
                    .bind::<BigInt, _>(at)
                    .sql(" OR (last_measured_at = ")
                    .bind::<BigInt, _>(at)
                    .sql(" AND last_temp_c > ")
                    .bind::<Double, _>(t)
                    .sql(") THEN ")
                    .bind::<Double, _>(t)
                    .sql(" ELSE last_temp_c END");
                let time = diesel::dsl::sql::<Nullable<BigInt>>("CASE WHEN ")
                    .sql(newer)
                    .bind::<BigInt, _>(at)
                    .sql(" THEN ")
                    .bind::<BigInt, _>(at)
                    .sql(" ELSE last_measured_at END");
                target
                    .set((
                        tallies.0,
                        tallies.1,
                        households::last_temp_c.eq(temp),
                        households::last_measured_at.eq(time),
                    ))
                    .execute(conn)?
            }
            None => target.set(tallies).execute(conn)?,
        };
    }
    Ok(())
}

/// Sets every household's `visit_count` and `last_visited_at` from its visits (`check --repair`).
pub fn recount_visits(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE households SET \
         last_visited_at = (SELECT MAX(v.visited_at) FROM visits v WHERE v.household_id = households.id), \
         visit_count = (SELECT COUNT(*) FROM visits v WHERE v.household_id = households.id)",
    )
    .execute(conn)
}

/// Households whose stored `visit_count`/`last_visited_at` differ from their visits:
/// (id, stored, derived), each as (count, last visit).
pub type VisitTally = (i64, Option<i64>);

pub fn visit_tally_disagreements(conn: &mut DbConn) -> QueryResult<Vec<(String, VisitTally, VisitTally)>> {
    let derived: Vec<(String, i64, Option<i64>)> = visits::table
        .group_by(visits::household_id)
        .select((visits::household_id, diesel::dsl::count_star(), diesel::dsl::max(visits::visited_at)))
        .load(conn)?;
    let derived: HashMap<String, VisitTally> = derived.into_iter().map(|(h, n, last)| (h, (n, last))).collect();
    let stored: Vec<(String, i64, Option<i64>)> =
        households::table.select((households::id, households::visit_count, households::last_visited_at)).load(conn)?;
    Ok(stored
        .into_iter()
        .filter_map(|(id, n, last)| {
            let want = derived.get(&id).copied().unwrap_or((0, None));
            (want != (n, last)).then_some((id, (n, last), want))
        })
        .collect())
}
