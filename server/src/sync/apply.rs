//! Applying one push inside the writer's transaction: receipts, clock correction, per-record
//! checks and writes, in the contract's order (households → visits → tickets → events), and the
//! re-folded projection of every ticket that got events.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use fieldvisit_sync_protocol::checklist::{self, Template};
use fieldvisit_sync_protocol::deadline::{
    self, AlertKind, EventType, FoldEvent, Projection, ScheduledAlert, Stage, TicketFacts,
};
use fieldvisit_sync_protocol::sync::clock::ClockCheck;
use fieldvisit_sync_protocol::sync::merge::merge_household;
use fieldvisit_sync_protocol::sync::pull::{HouseholdOut, TicketEventOut, TicketStatus, VisitOut};
use fieldvisit_sync_protocol::sync::push::{PushRequest, PushResponse, RecordError, RecordResult, RecordType};
use fieldvisit_sync_protocol::sync::records::{DeviceStamp, HouseholdIn, TicketEventIn, TicketIn, VisitIn};
use fieldvisit_sync_protocol::sync::RecordErrorCode as Code;
use fieldvisit_sync_protocol::time::Millis;
use serde_json::Value;

use crate::auth::authz::EventRefusal;
use crate::auth::Principal;
use crate::db::alerts::{self, AlertKey, NewAlert};
use crate::db::areas::{AreaRow, TeamRow};
use crate::db::checklist_tallies::Tallies;
use crate::db::checklists;
use crate::db::duplicates;
use crate::db::policies::PolicyBook;
use crate::db::records::{self, EventRow, HouseholdRow, TicketRow, VisitRow};
use crate::db::schema::{record_photos, removals, sync_batches};
use crate::db::seq::SeqAlloc;
use crate::db::typed::{Enum, Json};
use crate::db::{areas, batch, scope, DbConn};
use crate::error::ApiError;
use crate::sync::parsed::{Hashed, Parsed};

/// One authenticated push: its envelope, and its records parsed and hashed (`parsed`).
pub struct Job {
    /// The envelope; its record arrays have been taken into `parsed`.
    pub request: PushRequest,
    pub parsed: Parsed,
    pub device_time: Millis,
    pub received_at: Millis,
    pub who: Principal,
}

impl Job {
    /// Parses `request`'s records; runs on the caller's thread, before the writer's queue.
    pub fn new(mut request: PushRequest, device_time: Millis, received_at: Millis, who: Principal) -> Self {
        let parsed = Parsed::take(&mut request, &who);
        Job { request, parsed, device_time, received_at, who }
    }

    pub fn record_count(&self) -> usize {
        self.parsed.record_count()
    }
}

/// Applies `job`; the caller owns the transaction (and the savepoint around this call).
pub fn apply(
    conn: &mut DbConn,
    job: &Job,
    policies: &PolicyBook,
    seq: &mut SeqAlloc,
) -> Result<PushResponse, ApiError> {
    let batch_id = job.request.batch_id.to_string();
    let stored: Option<(String, String)> = sync_batches::table
        .find(&batch_id)
        .select((sync_batches::user_id, sync_batches::response))
        .first(conn)
        .optional()?;
    if let Some((user_id, response)) = stored {
        if user_id != job.who.user_id {
            return Err(
                ApiError::conflict("batch_id_reused", "this batch_id was used by another user").with_field("batch_id")
            );
        }
        return serde_json::from_str(&response).map_err(|e| ApiError::internal(e.into()));
    }
    let tolerance_ms = policies.latest_for(&job.who.area_path).clock_tolerance_s.saturating_mul(1000);
    let clock = ClockCheck::measure(job.received_at, job.device_time, tolerance_ms, job.request.batch_boot());
    let offset_ms = clock.offset_ms();
    // Every household the batch names (its own, and the homes of its visits and tickets), read
    // once: the push keeps this map as the households are stored.
    let parsed = &job.parsed;
    let mut home_ids: Vec<String> = parsed.households.iter().map(|(_, h)| h.id.to_string()).collect();
    home_ids.extend(ids_of(&parsed.visits, |v| v.household_id));
    home_ids.extend(ids_of(&parsed.tickets, |t| t.household_id));
    home_ids.sort_unstable();
    home_ids.dedup();
    let homes = records::households_by_id(conn, &home_ids)?;
    let mut run = Run {
        conn,
        job,
        policies,
        seq,
        clock,
        results: Vec::with_capacity(job.record_count()),
        at: 0,
        homes,
        tickets: HashMap::new(),
    };
    for (at, refused) in &job.parsed.refused {
        run.at = *at;
        run.record(refused.clone());
    }
    run.households()?;
    run.visits()?;
    run.tickets()?;
    run.events()?;
    run.results.sort_by_key(|(pos, _)| *pos);
    let results = run.results.into_iter().map(|(_, r)| r).collect();
    let response = PushResponse::new(job.request.batch_id, job.received_at, offset_ms, results);
    diesel::insert_into(sync_batches::table)
        .values((
            sync_batches::batch_id.eq(&batch_id),
            sync_batches::user_id.eq(&job.who.user_id),
            sync_batches::device_id.eq(&job.who.device_id),
            sync_batches::received_at.eq(job.received_at),
            sync_batches::response.eq(serde_json::to_string(&response).map_err(|e| ApiError::internal(e.into()))?),
        ))
        .execute(conn)?;
    Ok(response)
}

/// The ids (as stored) a batch's records of one type name through `id`.
fn ids_of<R>(parsed: &[Hashed<R>], id: impl Fn(&R) -> uuid::Uuid) -> Vec<String> {
    parsed.iter().map(|p| id(&p.record).to_string()).collect()
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// One `record_photos` row: a record naming a photo.
struct PhotoRow {
    sha256: String,
    record_type: String,
    record_id: String,
    area_path: String,
    author_id: String,
}

struct Run<'a, 'c> {
    conn: &'c mut DbConn,
    job: &'a Job,
    policies: &'a PolicyBook,
    seq: &'a mut SeqAlloc,
    clock: ClockCheck,
    /// Each result with the position of its record (type, index), so answers keep the input order.
    results: Vec<((u8, usize), RecordResult)>,
    /// The index of the record being applied.
    at: usize,
    /// The households the batch names, as stored so far (see `apply`).
    homes: HashMap<String, HouseholdRow>,
    /// The tickets the batch's tickets and events name, as stored so far (see `tickets`).
    tickets: HashMap<String, TicketRow>,
}

impl Run<'_, '_> {
    fn who(&self) -> &Principal {
        &self.job.who
    }

    fn record(&mut self, r: RecordResult) {
        let order = match r.record_type {
            RecordType::Household => 0,
            RecordType::Visit => 1,
            RecordType::Ticket => 2,
            RecordType::TicketEvent => 3,
        };
        self.results.push(((order, self.at), r));
    }

    fn reject(&mut self, t: RecordType, id: impl Into<String>, code: Code, message: &str, field: String) {
        self.record(RecordResult::rejected(t, id, RecordError::at(code, message, field)));
    }

    fn households(&mut self) -> Result<(), ApiError> {
        const T: RecordType = RecordType::Household;
        let job = self.job;
        let parsed = &job.parsed.households;
        let mut existing = std::mem::take(&mut self.homes);
        let area_ids: Vec<String> = parsed.iter().map(|(_, h)| h.area_id.to_string()).collect();
        let areas = areas::by_ids(self.conn, &area_ids)?;
        for &(i, ref h) in parsed {
            self.at = i;
            let (id, path) = (h.id.to_string(), T.path(i));
            let never = DeviceStamp::default();
            let Some((updated_at, _)) = self.corrected_or_reject(T, &id, &path, "updated_at", h.updated_at, &never)
            else {
                continue;
            };
            let Some(area) = areas.get(&h.area_id.to_string()) else {
                self.reject(T, id, Code::UnknownArea, "no such area", format!("{path}.area_id"));
                continue;
            };
            if !self.who().sees(&area.path) || existing.get(&id).is_some_and(|c| !self.who().sees(&c.area_path)) {
                self.reject(T, id, Code::OutOfScope, "the household is outside your area", format!("{path}.area_id"));
                continue;
            }
            let field = format!("{path}.base_version");
            let row = match existing.get(&id) {
                None if h.base_version != 0 => {
                    let msg = "base_version names a household the server does not have";
                    self.reject(T, id, Code::UnknownHousehold, msg, field);
                    continue;
                }
                Some(cur) if h.base_version > cur.version => {
                    let msg = format!("base_version is ahead of the server's version {}", cur.version);
                    self.reject(T, id, Code::InvalidField, &msg, field);
                    continue;
                }
                None => Some(self.new_household(id.clone(), h, area, updated_at)?),
                Some(cur) => self.edit_household(cur.clone(), h, area, updated_at)?,
            };
            if let Some(row) = row {
                existing.insert(id, row);
            }
        }
        self.homes = existing;
        Ok(())
    }

    /// Stores a household the server does not have yet, answering `applied`, with a hint when
    /// its grid has one of the same address and head (applied either way, contract 1.1).
    fn new_household(
        &mut self,
        id: String,
        h: &HouseholdIn,
        area: &AreaRow,
        updated_at: Millis,
    ) -> Result<HouseholdRow, ApiError> {
        const T: RecordType = RecordType::Household;
        let seq = self.seq.next(self.conn)?;
        let (times, by) = ((updated_at, self.job.received_at), self.who().user_id.clone());
        let row = HouseholdRow::first(
            id.clone(),
            (&area.id, &area.path, &self.policies.county_id_of(&area.path)),
            &h.fields,
            times,
            by,
            seq,
        );
        let twin = match &row.dedup_key {
            Some(key) => duplicates::match_in_grid(self.conn, &area.id, key, &id)?,
            None => None,
        };
        records::insert_household(self.conn, &row)?;
        self.record(match twin {
            Some(of) => RecordResult::possible_duplicate(T, id, of),
            None => RecordResult::applied(T, id),
        });
        Ok(row)
    }

    /// Applies an edit of stored household `cur`: as is when made on its current version, else
    /// merged field by field against the version the phone saw. Returns the new version's row,
    /// if one was stored.
    fn edit_household(
        &mut self,
        cur: HouseholdRow,
        h: &HouseholdIn,
        area: &AreaRow,
        updated_at: Millis,
    ) -> Result<Option<HouseholdRow>, ApiError> {
        const T: RecordType = RecordType::Household;
        let id = cur.id.clone();
        let current_fields = cur.fields();
        let moved = cur.area_id != area.id;
        let (fields, conflicting, merged) = if h.base_version == cur.version {
            (h.fields.clone(), Vec::new(), false)
        } else {
            let base = match records::household_version(self.conn, &id, h.base_version.max(1))? {
                Some(v) => v.fields.0,
                None => current_fields.clone(),
            };
            let m = merge_household(&base, &current_fields, cur.updated_at, &h.fields, updated_at);
            (m.fields, m.conflicting_fields.iter().map(|f| (*f).to_owned()).collect(), true)
        };
        if fields == current_fields && !moved {
            self.record(if h.fields == current_fields {
                RecordResult::duplicate(T, id)
            } else {
                RecordResult::merged(T, id, to_json(&HouseholdOut::from(&cur)), conflicting)
            });
            return Ok(None);
        }
        let mut row = cur;
        row.set_fields(&fields);
        row.area_id.clone_from(&area.id);
        row.area_path.clone_from(&area.path);
        row.county_id = self.policies.county_id_of(&area.path);
        row.version += 1;
        row.updated_at = row.updated_at.max(updated_at);
        row.received_at = self.job.received_at;
        row.seq = self.seq.next(self.conn)?;
        records::update_household(self.conn, &row)?;
        self.record(if merged {
            RecordResult::merged(T, id, to_json(&HouseholdOut::from(&row)), conflicting)
        } else {
            RecordResult::applied(T, id)
        });
        Ok(Some(row))
    }

    /// Corrects a device time; a time still in the future rejects the record, naming `field`.
    fn corrected_or_reject(
        &mut self,
        t: RecordType,
        id: &str,
        path: &str,
        field: &str,
        raw: Millis,
        stamp: &DeviceStamp,
    ) -> Option<(Millis, bool)> {
        let c = self.clock.correct(raw, stamp);
        if self.clock.in_future(c.at) {
            let (message, field) = (format!("{field} is in the future"), format!("{path}.{field}"));
            self.reject(t, id, Code::TimestampInFuture, &message, field);
            return None;
        }
        Some((c.at, c.verified))
    }

    /// The skeleton of every record type with a content hash: a repeat of a stored record or of
    /// one earlier in this batch is `duplicate` or `conflict`; any other goes to `row`, which
    /// checks it (rejecting it with its field) and builds its row. Returns the rows to store.
    fn each_new<R, Row>(
        &mut self,
        t: RecordType,
        parsed: &[Hashed<R>],
        stored: &HashMap<String, String>,
        id_of: impl Fn(&R) -> uuid::Uuid,
        mut row: impl FnMut(&mut Self, &Hashed<R>, &str, &str) -> Result<Option<Row>, ApiError>,
    ) -> Result<Vec<Row>, ApiError> {
        let mut seen: HashMap<String, (&str, &Value)> = HashMap::new();
        let mut rows = Vec::with_capacity(parsed.len());
        for p in parsed {
            self.at = p.at;
            let (id, path) = (id_of(&p.record).to_string(), t.path(p.at));
            if self.repeat(t, &id, &p.hash, stored.get(&id), &seen)? {
                continue;
            }
            let Some(r) = row(self, p, &id, &path)? else { continue };
            rows.push(r);
            seen.insert(id.clone(), (p.hash.as_str(), &p.canonical));
            self.record(RecordResult::applied(t, id));
        }
        Ok(rows)
    }

    /// `duplicate` or `conflict` for an id already stored or already seen in this batch.
    fn repeat(
        &mut self,
        t: RecordType,
        id: &str,
        hash: &str,
        stored: Option<&String>,
        seen: &HashMap<String, (&str, &Value)>,
    ) -> Result<bool, ApiError> {
        let Some(prior) = stored.map(String::as_str).or_else(|| seen.get(id).map(|(h, _)| *h)) else {
            return Ok(false);
        };
        let result = if prior == hash {
            RecordResult::duplicate(t, id)
        } else {
            let current = match seen.get(id) {
                Some((_, canonical)) if stored.is_none() => Some((*canonical).clone()),
                _ => self.readable_current(t, id)?,
            };
            let mut r = RecordResult::conflict(t, id, Value::Null);
            r.current = current;
            r
        };
        self.record(result);
        Ok(true)
    }

    /// The stored record as its wire form, when the caller may read it; `None` otherwise, so a
    /// reused id never shows a record outside the caller's scope.
    fn readable_current(&mut self, t: RecordType, id: &str) -> Result<Option<Value>, ApiError> {
        let ids = [id.to_owned()];
        let who = &self.job.who;
        Ok(match t {
            RecordType::Visit => records::visits_by_id(self.conn, &ids)?
                .first()
                .filter(|r| who.sees(&r.area_path))
                .map(|r| to_json(&VisitOut::from(r))),
            RecordType::TicketEvent => {
                let Some(event) = records::events_by_id(self.conn, &ids)?.into_iter().next() else {
                    return Ok(None);
                };
                let ticket = records::tickets_by_id(self.conn, std::slice::from_ref(&event.ticket_id))?;
                ticket
                    .get(&event.ticket_id)
                    .filter(|r| who.sees_ticket(&r.access()))
                    .map(|_| to_json(&TicketEventOut::from(&event)))
            }
            RecordType::Ticket => records::tickets_by_id(self.conn, &ids)?
                .get(id)
                .filter(|r| who.sees_ticket(&r.access()))
                .map(|r| to_json(&r.to_out(self.policies.version(r.policy_version), self.job.received_at))),
            RecordType::Household => None,
        })
    }

    /// The household a visit or ticket names, if it exists and is in scope; otherwise the record
    /// is rejected here with its field.
    fn home_of<'h>(
        &mut self,
        t: RecordType,
        id: &str,
        path: &str,
        household_id: &str,
        homes: &'h HashMap<String, HouseholdRow>,
    ) -> Option<&'h HouseholdRow> {
        let field = format!("{path}.household_id");
        match homes.get(household_id) {
            None => self.reject(t, id, Code::UnknownHousehold, "no such household", field),
            Some(home) if !self.who().sees(&home.area_path) => {
                self.reject(t, id, Code::OutOfScope, "the household is outside your area", field)
            }
            Some(home) => return Some(home),
        }
        None
    }

    /// The photos a record names, with its author: access to each photo is granted through the
    /// record only if that author uploaded the bytes.
    fn photo_rows(&self, t: RecordType, id: &str, area_path: &str, photos: &[String]) -> Vec<PhotoRow> {
        let row = |p: &String| PhotoRow {
            sha256: p.clone(),
            record_type: t.as_str().to_owned(),
            record_id: id.to_owned(),
            area_path: area_path.to_owned(),
            author_id: self.who().user_id.clone(),
        };
        photos.iter().map(row).collect()
    }

    fn insert_photos(&mut self, rows: Vec<PhotoRow>) -> Result<(), ApiError> {
        for chunk in rows.chunks(400) {
            let values: Vec<_> = chunk
                .iter()
                .map(|p| {
                    (
                        record_photos::sha256.eq(&p.sha256),
                        record_photos::record_type.eq(&p.record_type),
                        record_photos::record_id.eq(&p.record_id),
                        record_photos::area_path.eq(&p.area_path),
                        record_photos::author_id.eq(&p.author_id),
                    )
                })
                .collect();
            crate::with_conn!(&mut *self.conn, c => diesel::insert_into(record_photos::table).values(&values).on_conflict_do_nothing().execute(c))?;
        }
        Ok(())
    }

    fn visits(&mut self) -> Result<(), ApiError> {
        const T: RecordType = RecordType::Visit;
        let job = self.job;
        let parsed = &job.parsed.visits;
        let stored = records::visit_hashes(self.conn, &ids_of(parsed, |v| v.id))?;
        let homes = std::mem::take(&mut self.homes);
        // The template versions the batch names, loaded once for all its visits.
        let mut refs: Vec<(String, i32)> = parsed
            .iter()
            .filter_map(|p| p.record.checklist_template.as_ref())
            .map(|t| (t.id.clone(), t.version))
            .collect();
        refs.sort_unstable();
        refs.dedup();
        let templates = checklists::by_refs(self.conn, &refs)?;
        let (mut photos, mut tallies) = (Vec::new(), Tallies::default());
        let rows = self.each_new(
            T,
            parsed,
            &stored,
            |v| v.id,
            |run, p, id, path| {
                let v = &p.record;
                let Some(home) = run.home_of(T, id, path, &v.household_id.to_string(), &homes) else { return Ok(None) };
                let Ok(filled_from) = run.filled_from(v, id, path, &templates) else { return Ok(None) };
                let Some((visited_at, verified)) =
                    run.corrected_or_reject(T, id, path, "visited_at", v.visited_at, &v.stamp)
                else {
                    return Ok(None);
                };
                if let Some(template) = filled_from {
                    let tz = &run.policies.latest_for(&home.area_path).timezone;
                    tallies.add(template, &home.area_path, crate::clock::local_day(visited_at, tz), &v.checklist);
                }
                photos.extend(run.photo_rows(T, id, &home.area_path, &v.photos));
                let seq = run.seq.next(run.conn)?;
                Ok(Some(run.visit_row(p, id, home, (visited_at, verified), seq)))
            },
        )?;
        self.homes = homes;
        batch::store_visits(self.conn, &rows)?;
        tallies.store(self.conn)?;
        self.insert_photos(photos)
    }

    /// The template visit `v` was filled from, with its answers checked against it: `Ok(None)`
    /// when it names none, `Err(())` when it was rejected here (no such template, or answers the
    /// template does not allow).
    fn filled_from<'t>(
        &mut self,
        v: &VisitIn,
        id: &str,
        path: &str,
        templates: &'t HashMap<(String, i32), Template>,
    ) -> Result<Option<&'t Template>, ()> {
        const T: RecordType = RecordType::Visit;
        let Some(t) = &v.checklist_template else { return Ok(None) };
        let Some(template) = templates.get(&(t.id.clone(), t.version)) else {
            let message = format!("no checklist template {} version {}", t.id, t.version);
            self.reject(T, id, Code::UnknownChecklistTemplate, &message, format!("{path}.checklist_template"));
            return Err(());
        };
        if let Err(e) = checklist::check(template, &v.checklist) {
            self.reject(T, id, Code::InvalidChecklist, &e.message, format!("{path}.checklist.{}", e.key));
            return Err(());
        }
        Ok(Some(template))
    }

    /// The row of an accepted visit to `home`, at its corrected time.
    fn visit_row(
        &self,
        p: &Hashed<VisitIn>,
        id: &str,
        home: &HouseholdRow,
        (visited_at, verified): (Millis, bool),
        seq: i64,
    ) -> VisitRow {
        let v = &p.record;
        VisitRow {
            id: id.to_owned(),
            household_id: home.id.clone(),
            area_id: home.area_id.clone(),
            area_path: home.area_path.clone(),
            county_id: home.county_id.clone(),
            visited_at,
            device_visited_at: v.visited_at,
            received_at: self.job.received_at,
            clock_verified: verified,
            indoor_temp_c: v.indoor_temp_c,
            checklist: Json(v.checklist.clone()),
            service_card_given: v.service_card_given,
            notes: v.notes.clone(),
            lat: v.location.map(|l| l.lat),
            lon: v.location.map(|l| l.lon),
            photos: Json(v.photos.clone()),
            user_id: self.who().user_id.clone(),
            device_id: self.who().device_id.clone(),
            content_hash: p.hash.clone(),
            seq,
            checklist_template_id: v.checklist_template.as_ref().map(|t| t.id.clone()),
            checklist_template_version: v.checklist_template.as_ref().map(|t| t.version),
        }
    }

    fn tickets(&mut self) -> Result<(), ApiError> {
        const T: RecordType = RecordType::Ticket;
        let job = self.job;
        let parsed = &job.parsed.tickets;
        // The batch's tickets and the tickets its events name, read once; the events see this
        // batch's new tickets through the same map.
        let mut ticket_ids = ids_of(parsed, |t| t.id);
        ticket_ids.extend(ids_of(&job.parsed.events, |e| e.ticket_id));
        ticket_ids.sort_unstable();
        ticket_ids.dedup();
        let mut tickets = records::tickets_by_id(self.conn, &ticket_ids)?;
        let stored: HashMap<String, String> =
            tickets.iter().map(|(id, t)| (id.clone(), t.content_hash.clone())).collect();
        let homes = std::mem::take(&mut self.homes);
        let visit_ids: Vec<String> = parsed.iter().filter_map(|p| p.record.visit_id.map(|v| v.to_string())).collect();
        let known_visits: HashSet<String> = records::visit_hashes(self.conn, &visit_ids)?.into_keys().collect();
        let (mut photos, mut alerts_due) = (Vec::new(), Vec::new());
        let rows = self.each_new(
            T,
            parsed,
            &stored,
            |t| t.id,
            |run, p, id, path| {
                let t = &p.record;
                let Some(home) = run.home_of(T, id, path, &t.household_id.to_string(), &homes) else { return Ok(None) };
                if let Some(v) = t.visit_id.filter(|v| !known_visits.contains(&v.to_string())) {
                    run.reject(T, id, Code::UnknownVisit, &format!("no such visit {v}"), format!("{path}.visit_id"));
                    return Ok(None);
                }
                let Some((reported_at, verified)) =
                    run.corrected_or_reject(T, id, path, "reported_at", t.reported_at, &t.stamp)
                else {
                    return Ok(None);
                };
                let policy = run.policies.in_force_at(&home.area_path, reported_at);
                let seq = run.seq.next(run.conn)?;
                let fresh = NewTicket { id, record: t, hash: &p.hash, home, reported_at, verified, seq };
                let (row, due) = fresh.row(run.who(), policy, run.job.received_at);
                alerts_due.extend(due);
                photos.extend(run.photo_rows(T, id, &home.area_path, &t.photos));
                Ok(Some(row))
            },
        )?;
        self.homes = homes;
        batch::insert_tickets(self.conn, &rows)?;
        tickets.extend(rows.into_iter().map(|r| (r.id.clone(), r)));
        self.tickets = tickets;
        alerts::insert_new(self.conn, &alerts_due)?;
        self.insert_photos(photos)
    }

    fn events(&mut self) -> Result<(), ApiError> {
        const T: RecordType = RecordType::TicketEvent;
        let job = self.job;
        let parsed = &job.parsed.events;
        let stored = records::event_hashes(self.conn, &ids_of(parsed, |e| e.id))?;
        let tickets_by_id = std::mem::take(&mut self.tickets);
        let team_ids: Vec<String> = parsed.iter().filter_map(|p| p.record.team_id.map(|t| t.to_string())).collect();
        let teams = areas::teams_by_ids(self.conn, &team_ids)?;
        let mut touched: Vec<String> = Vec::new();
        let rows = self.each_new(
            T,
            parsed,
            &stored,
            |e| e.id,
            |run, p, id, path| {
                let e = &p.record;
                let Some(ticket) = tickets_by_id.get(&e.ticket_id.to_string()) else {
                    run.reject(T, id, Code::UnknownTicket, "no such ticket", format!("{path}.ticket_id"));
                    return Ok(None);
                };
                if !run.may_add(e, id, path, ticket, &teams) {
                    return Ok(None);
                }
                let Some((occurred_at, verified)) =
                    run.corrected_or_reject(T, id, path, "occurred_at", e.occurred_at, &e.stamp)
                else {
                    return Ok(None);
                };
                if occurred_at < ticket.reported_at {
                    let msg = "the event happened before its ticket was reported";
                    run.reject(T, id, Code::EventBeforeReport, msg, format!("{path}.occurred_at"));
                    return Ok(None);
                }
                if !touched.contains(&ticket.id) {
                    touched.push(ticket.id.clone());
                }
                let seq = run.seq.next(run.conn)?;
                Ok(Some(run.event_row(p, id, ticket, (occurred_at, verified), seq)))
            },
        )?;
        batch::insert_events(self.conn, &rows)?;
        self.refold(&touched, tickets_by_id)
    }

    /// The row of an accepted event on `ticket`, at its corrected time.
    fn event_row(
        &self,
        p: &Hashed<TicketEventIn>,
        id: &str,
        ticket: &TicketRow,
        (occurred_at, verified): (Millis, bool),
        seq: i64,
    ) -> EventRow {
        let e = &p.record;
        EventRow {
            id: id.to_owned(),
            ticket_id: ticket.id.clone(),
            area_path: ticket.area_path.clone(),
            county_id: ticket.county_id.clone(),
            event_type: Enum(e.event_type),
            occurred_at,
            device_occurred_at: e.occurred_at,
            received_at: self.job.received_at,
            clock_verified: verified,
            category: e.category.clone(),
            team_id: e.team_id.map(|t| t.to_string()),
            note: e.note.clone(),
            satisfaction: e.satisfaction.map(Enum),
            user_id: self.who().user_id.clone(),
            device_id: self.who().device_id.clone(),
            content_hash: p.hash.clone(),
            seq,
            author_role: self.who().role.as_str().to_owned(),
        }
    }

    /// Whether the pusher may add event `e` to `ticket` (its role, its scope, the team it names);
    /// otherwise the event is rejected here with its field.
    fn may_add(
        &mut self,
        e: &TicketEventIn,
        id: &str,
        path: &str,
        ticket: &TicketRow,
        teams: &HashMap<String, TeamRow>,
    ) -> bool {
        const T: RecordType = RecordType::TicketEvent;
        match self.who().may_write_event(e.event_type, &ticket.access()) {
            Ok(()) => {}
            Err(EventRefusal::OutOfScope) => {
                self.reject(T, id, Code::OutOfScope, "the ticket is outside your area", format!("{path}.ticket_id"));
                return false;
            }
            Err(EventRefusal::Forbidden) => {
                let (role, kind) = (self.who().role.as_str(), e.event_type.as_str());
                let msg = format!("a {role} may not add {kind} events to this ticket");
                self.reject(T, id, Code::Forbidden, &msg, format!("{path}.type"));
                return false;
            }
        }
        let Some(t) = e.team_id else { return true };
        let Some(team) = teams.get(&t.to_string()) else {
            self.reject(T, id, Code::UnknownTeam, &format!("no such team {t}"), format!("{path}.team_id"));
            return false;
        };
        if e.event_type == EventType::Dispatched && !self.serves(team, ticket) {
            let msg = "the team neither serves the ticket's area nor lies within your area";
            self.reject(T, id, Code::TeamOutOfScope, msg, format!("{path}.team_id"));
            return false;
        }
        true
    }

    /// Whether `team` may be sent to `ticket`: its area holds the ticket's area (a county's
    /// company serves every grid of the county), or it lies within the dispatcher's own area.
    fn serves(&self, team: &TeamRow, ticket: &TicketRow) -> bool {
        scope::is_within(&ticket.area_path, &team.area_path) || self.who().sees(&team.area_path)
    }

    /// Re-folds every touched ticket from all its events and stores the new projection.
    fn refold(&mut self, touched: &[String], mut tickets_by_id: HashMap<String, TicketRow>) -> Result<(), ApiError> {
        if touched.is_empty() {
            return Ok(());
        }
        // Every event of the touched tickets, this push's included: folded, and re-sent (by id)
        // when a ticket changes team.
        let mut events: HashMap<String, Vec<FoldEvent>> = HashMap::new();
        let mut event_ids: HashMap<String, Vec<String>> = HashMap::new();
        for e in records::events_of(self.conn, touched)? {
            events.entry(e.ticket_id.clone()).or_default().push(e.fold_event());
            event_ids.entry(e.ticket_id).or_default().push(e.id);
        }
        let mut fired = alerts::fired_keys(self.conn, touched)?;
        // Collected and written after the loop: one statement per table on PostgreSQL
        // (`db::batch`). Seqs are still taken in the same order: a ticket's events, its removal,
        // then the ticket itself; alert ids follow the same order as well.
        let (mut stored, mut new_alerts, mut renumbered) = (Vec::new(), Vec::new(), Vec::new());
        for id in touched {
            let Some(mut row) = tickets_by_id.remove(id) else { continue };
            let old_team = row.team_id.clone();
            let policy = self.policies.version(row.policy_version);
            let fired = fired.remove(id).unwrap_or_default();
            let events = events.get(id).map_or(&[][..], Vec::as_slice);
            let due = set_projection(&mut row, policy, events, self.job.received_at, &fired);
            new_alerts.extend(self.retractions(&row, &fired));
            new_alerts.extend(due);
            row.version += 1;
            row.last_event_received_at = Some(self.job.received_at);
            if row.team_id.is_some() && row.team_id != old_team {
                // The new team has never pulled this ticket's history: send its events again.
                for event_id in event_ids.remove(id).unwrap_or_default() {
                    renumbered.push(batch::Renumbered { id: event_id, seq: self.seq.next(self.conn)? });
                }
            }
            if let Some(old) = old_team.filter(|old| row.team_id.as_ref() != Some(old)) {
                let seq = self.seq.next(self.conn)?;
                diesel::insert_into(removals::table)
                    .values((
                        removals::seq.eq(seq),
                        removals::record_type.eq("ticket"),
                        removals::record_id.eq(&row.id),
                        removals::team_id.eq(old),
                        removals::area_path.eq(&row.area_path),
                        removals::at.eq(self.job.received_at),
                    ))
                    .execute(self.conn)?;
            }
            // The ticket's own number comes last, after its events' and removal's.
            row.seq = self.seq.next(self.conn)?;
            stored.push(row);
        }
        alerts::insert_new(self.conn, &new_alerts)?;
        batch::renumber_events(self.conn, &renumbered)?;
        batch::store_projections(self.conn, &stored)?;
        Ok(())
    }
}

impl Run<'_, '_> {
    /// Late-synced events may prove a fired `overdue` wrong (the stage was met in time): a
    /// `retracted` alert for each, stored in this transaction. The unique key makes it once; the
    /// tracker broadcasts it after the commit.
    fn retractions(&self, row: &TicketRow, fired: &HashSet<AlertKey>) -> Vec<NewAlert> {
        let p = &row.projection.0;
        let overdue: Vec<(Stage, u32)> =
            fired.iter().filter(|k| k.0 == AlertKind::Overdue).map(|k| (k.1, k.2)).collect();
        let now = self.job.received_at;
        deadline::retractions(p, &overdue)
            .into_iter()
            .filter(|&(stage, cycle)| !fired.contains(&(AlertKind::Retracted, stage, cycle, 0)))
            .filter_map(|(stage, cycle)| {
                let due_at = p.stages.iter().find(|v| v.name == stage && v.cycle == cycle)?.due_at?;
                let a = ScheduledAlert { kind: AlertKind::Retracted, level: 0, stage, cycle, due_at, at: now };
                Some(NewAlert::of(row, &a, now))
            })
            .collect()
    }
}

/// Folds `events` under `policy` and writes the projection and its indexed columns onto `row`.
/// Returns the alerts already due at `now` that are not among those `fired`:
/// a ticket synced after a deadline passed gets its alert in the same commit that stores it, and
/// `next_deadline_at` points past them, at the first alert still to come.
pub fn set_projection(
    row: &mut TicketRow,
    policy: &deadline::Policy,
    events: &[FoldEvent],
    now: Millis,
    fired: &HashSet<AlertKey>,
) -> Vec<NewAlert> {
    let facts = row.facts();
    let p = deadline::project(policy, &facts, events, now);
    row.latest_satisfaction = crate::reports::latest_satisfaction(events).map(|s| s.as_str().to_owned());
    store_projection(row, &facts, p, policy, now, fired)
}

/// Writes `p`, the fold of `row`'s `facts`, and its indexed columns onto `row` (see above).
fn store_projection(
    row: &mut TicketRow,
    facts: &TicketFacts,
    p: Projection,
    policy: &deadline::Policy,
    now: Millis,
    fired: &HashSet<AlertKey>,
) -> Vec<NewAlert> {
    let schedule = deadline::schedule(policy, facts, &p);
    let due = deadline::due(&schedule, now, |a| fired.contains(&alerts::key_of(a)));
    row.status = Enum(if p.closed { TicketStatus::Closed } else { TicketStatus::Open });
    row.stage = p.stage_label().to_owned();
    row.team_id = p.team_id.map(|t| t.to_string());
    row.effective_category.clone_from(&p.category);
    row.current_due_at = p.current().and_then(|s| s.due_at);
    row.next_deadline_at = due.next_at;
    row.closed_at = if p.closed { p.stages.iter().filter_map(|s| s.completed_at).max() } else { None };
    row.stage_times = crate::reports::StageTimes::encode(&p);
    row.projection = Json(p);
    due.fire.iter().map(|a| NewAlert::of(row, a, now)).collect()
}

/// A ticket accepted from a push, before it has a row.
struct NewTicket<'r> {
    id: &'r str,
    record: &'r TicketIn,
    hash: &'r str,
    home: &'r HouseholdRow,
    /// The corrected report time, and whether the phone's clock was verified.
    reported_at: Millis,
    verified: bool,
    seq: i64,
}

impl NewTicket<'_> {
    /// The ticket's row, folded with no events yet, and the alerts already due at `now`.
    fn row(self, who: &Principal, policy: &deadline::Policy, now: Millis) -> (TicketRow, Vec<NewAlert>) {
        let (t, home) = (self.record, self.home);
        let facts = TicketFacts {
            reported_at: self.reported_at,
            severity: t.severity,
            category: t.category.clone(),
            resolved_on_the_spot: t.resolved_on_the_spot,
        };
        let p = deadline::project(policy, &facts, &[], now);
        let mut row = TicketRow {
            id: self.id.to_owned(),
            household_id: home.id.clone(),
            visit_id: t.visit_id.map(|v| v.to_string()),
            area_id: home.area_id.clone(),
            area_path: home.area_path.clone(),
            county_id: home.county_id.clone(),
            category: t.category.clone(),
            severity: Enum(t.severity),
            description: t.description.clone(),
            reported_at: self.reported_at,
            device_reported_at: t.reported_at,
            received_at: now,
            clock_verified: self.verified,
            resolved_on_the_spot: t.resolved_on_the_spot,
            photos: Json(t.photos.clone()),
            reporter_id: who.user_id.clone(),
            device_id: who.device_id.clone(),
            content_hash: self.hash.to_owned(),
            policy_version: policy.version,
            // The fold's columns, set from `p` below.
            status: Enum(TicketStatus::Open),
            stage: String::new(),
            team_id: None,
            effective_category: String::new(),
            projection: Json(p.clone()),
            current_due_at: None,
            next_deadline_at: None,
            closed_at: None,
            last_event_received_at: None,
            version: 1,
            seq: self.seq,
            stage_times: String::new(),
            latest_satisfaction: None,
        };
        let due = store_projection(&mut row, &facts, p, policy, now, &HashSet::new());
        (row, due)
    }
}
