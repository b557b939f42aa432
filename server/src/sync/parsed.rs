//! A push parsed and hashed before it reaches the writer. This work needs no database, so it runs
//! on the request's own thread, beside other requests; the single writer thread is left with the
//! lookups, checks and writes that must be serialized.

use fieldvisit_sync_protocol::sync::push::{PushRequest, RecordResult, RecordType};
use fieldvisit_sync_protocol::sync::records::{record_id, FieldError, HouseholdIn, TicketEventIn, TicketIn, VisitIn};
use fieldvisit_sync_protocol::sync::RecordErrorCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::{Action, Principal};

/// A parsed record with its canonical form and the hash that tells a repeat from a conflict.
pub struct Hashed<T> {
    /// The record's index in its array.
    pub at: usize,
    pub record: T,
    pub canonical: Value,
    pub hash: String,
}

/// Every record of a push, parsed; refusals that need no lookup are already answered.
#[derive(Default)]
pub struct Parsed {
    pub households: Vec<(usize, HouseholdIn)>,
    pub visits: Vec<Hashed<VisitIn>>,
    pub tickets: Vec<Hashed<TicketIn>>,
    pub events: Vec<Hashed<TicketEventIn>>,
    /// Unparsable records and records of a type the pusher may not write, with their index.
    pub refused: Vec<(usize, RecordResult)>,
}

/// SHA-256 of the canonical JSON: equal content, equal hash, whatever the key order sent.
pub fn content_hash(canonical: &Value) -> String {
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

impl Parsed {
    /// Parses the record arrays of `request`, leaving them empty (their memory goes back at once).
    pub fn take(request: &mut PushRequest, who: &Principal) -> Self {
        let mut out = Parsed::default();
        let households = std::mem::take(&mut request.households);
        out.households = out.parse_all(who, RecordType::Household, &households, HouseholdIn::parse);
        let visits = std::mem::take(&mut request.visits);
        out.visits = out.hashed(who, RecordType::Visit, &visits, VisitIn::parse, VisitIn::canonical);
        let tickets = std::mem::take(&mut request.tickets);
        out.tickets = out.hashed(who, RecordType::Ticket, &tickets, TicketIn::parse, TicketIn::canonical);
        let events = std::mem::take(&mut request.ticket_events);
        out.events = out.hashed(who, RecordType::TicketEvent, &events, TicketEventIn::parse, TicketEventIn::canonical);
        out
    }

    pub fn record_count(&self) -> usize {
        self.households.len() + self.visits.len() + self.tickets.len() + self.events.len() + self.refused.len()
    }

    fn hashed<T>(
        &mut self,
        who: &Principal,
        t: RecordType,
        raw: &[Value],
        parse: fn(&Value, &str) -> Result<T, FieldError>,
        canonical: fn(&T) -> Value,
    ) -> Vec<Hashed<T>> {
        self.parse_all(who, t, raw, parse)
            .into_iter()
            .map(|(at, record)| {
                let canonical = canonical(&record);
                Hashed { at, hash: content_hash(&canonical), record, canonical }
            })
            .collect()
    }

    /// Parses every record of one type; unparsable ones are refused here with their field.
    fn parse_all<T>(
        &mut self,
        who: &Principal,
        t: RecordType,
        raw: &[Value],
        parse: fn(&Value, &str) -> Result<T, FieldError>,
    ) -> Vec<(usize, T)> {
        // Anyone may add events (their own checks come later); other records need the right.
        let may_write = t == RecordType::TicketEvent || who.authorize(Action::WriteRecords).is_ok();
        let mut out = Vec::with_capacity(raw.len());
        for (i, v) in raw.iter().enumerate() {
            if !may_write {
                let message = format!("a {} may not push {}s", who.role.as_str(), t.as_str());
                let error = FieldError::new(RecordErrorCode::Forbidden, message, t.path(i));
                self.refused.push((i, RecordResult::rejected(t, record_id(v), error)));
                continue;
            }
            match parse(v, &t.path(i)) {
                Ok(r) => out.push((i, r)),
                Err(e) => self.refused.push((i, RecordResult::rejected(t, record_id(v), e))),
            }
        }
        out
    }
}
