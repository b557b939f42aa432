//! Pushed records, parsed one by one from raw JSON into types that cannot hold invalid data.
//!
//! *Parse, don't validate*: each `parse(v, path)` either returns a value whose every field is
//! within the contract's limits, or the first [`FieldError`] with the full path of the field at
//! fault (`visits[3].visited_at`). Strings are kept exactly as sent (never trimmed or escaped),
//! only their length in characters and the absence of control characters are checked; free
//! text (notes, descriptions) may also hold `\n` and `\t`. Unknown fields are ignored, and a
//! JSON `null` reads the same as an absent field. Times are the phone's raw clock readings in
//! epoch ms; [`ClockCheck`](super::clock::ClockCheck) corrects them.
//!
//! Each type's `canonical()` is a stable JSON rendering of exactly the parsed content (times in
//! UTC with milliseconds, keys sorted, ids lower-case), so the server can tell a re-sent record
//! (`duplicate`) from a different one under the same id (`conflict`) by comparing canonicals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error_code::{RecordErrorCode, RecordErrorCode as Code};
use super::limits::{
    MAX_CATEGORY_LEN, MAX_CHECKLIST_KEYS, MAX_CHECKLIST_KEY_LEN, MAX_PHONE_LEN, MAX_PHOTOS, MAX_SHORT, MAX_TAGS,
    MAX_TAG_LEN, MAX_TEXT,
};
use crate::deadline::{EventType, Severity};
use crate::time::{format_utc, parse_rfc3339, Millis};

/// The kind of a pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecordType {
    Household,
    Visit,
    Ticket,
    TicketEvent,
}

impl RecordType {
    /// The wire name (`ticket_event`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordType::Household => "household",
            RecordType::Visit => "visit",
            RecordType::Ticket => "ticket",
            RecordType::TicketEvent => "ticket_event",
        }
    }

    /// The push array that carries this type (`ticket_events`, ...).
    pub const fn array(self) -> &'static str {
        match self {
            RecordType::Household => "households",
            RecordType::Visit => "visits",
            RecordType::Ticket => "tickets",
            RecordType::TicketEvent => "ticket_events",
        }
    }

    /// The path of the record at `index` in its array, as error `field`s start: `visits[3]`.
    pub fn path(self, index: usize) -> String {
        format!("{}[{index}]", self.array())
    }
}

/// Why a record could not be parsed: the first field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `missing_field`, `invalid_field`, `too_long`, `too_many`, `invalid_time` or `invalid_id`
    /// from the parsers; the server adds `forbidden` for a record type the role may not push.
    pub code: RecordErrorCode,
    pub message: String,
    /// Full path from the push body's root: `visits[3].visited_at`, `households[0].tags[2]`.
    pub field: String,
}

impl FieldError {
    pub fn new(code: RecordErrorCode, message: impl Into<String>, field: impl Into<String>) -> Self {
        FieldError { code, message: message.into(), field: field.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

impl std::error::Error for FieldError {}

/// The record's `id` exactly as sent, for the result of a record that did not parse; `""` when
/// there is no string `id`.
pub fn record_id(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsed types

/// How a household is heated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Heating {
    Central,
    Coal,
    Gas,
    Electric,
    Other,
}

impl Heating {
    pub const fn as_str(self) -> &'static str {
        match self {
            Heating::Central => "central",
            Heating::Coal => "coal",
            Heating::Gas => "gas",
            Heating::Electric => "electric",
            Heating::Other => "other",
        }
    }
}

/// The resident's answer on a `feedback` or `callback` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Satisfaction {
    Satisfied,
    Neutral,
    Unsatisfied,
}

impl Satisfaction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::Neutral => "neutral",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }
}

/// The mutable part of a household: what [`merge_household`](super::merge::merge_household)
/// merges field by field, and what the server stores per version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdFields {
    pub address: String,
    pub head_name: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub heating: Heating,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A pushed household (create or edit).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HouseholdIn {
    pub id: Uuid,
    pub area_id: Uuid,
    pub fields: HouseholdFields,
    /// The version the phone last saw; 0 = new.
    pub base_version: i64,
    /// Raw device time of the phone's last edit.
    pub updated_at: Millis,
}

/// A GPS fix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// The optional tamper-evident pair taken when a record happened: the phone's boot session and
/// the milliseconds since that boot (which the phone's user cannot set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceStamp {
    #[serde(default)]
    pub boot_id: Option<String>,
    #[serde(default)]
    pub elapsed_ms: Option<i64>,
}

/// A pushed visit (immutable once stored).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VisitIn {
    pub id: Uuid,
    pub household_id: Uuid,
    /// Raw device time.
    pub visited_at: Millis,
    pub indoor_temp_c: Option<f64>,
    /// Short keys to booleans, numbers or short strings, kept as sent; `{}` when absent.
    pub checklist: Map<String, Value>,
    pub service_card_given: Option<bool>,
    pub notes: Option<String>,
    pub location: Option<Location>,
    /// SHA-256 hashes (64 lower-case hex digits) of uploaded photos.
    pub photos: Vec<String>,
    pub stamp: DeviceStamp,
    /// The checklist template version the answers were filled from (contract 1.1); `None`: kept as sent.
    pub checklist_template: Option<TemplateRef>,
}

/// A checklist template version a visit names: `{"id", "version"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateRef {
    pub id: String,
    pub version: i32,
}

/// A pushed ticket (immutable once stored; its history is its events).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TicketIn {
    pub id: Uuid,
    pub household_id: Uuid,
    pub visit_id: Option<Uuid>,
    pub category: String,
    pub severity: Severity,
    pub description: String,
    /// Raw device time.
    pub reported_at: Millis,
    pub resolved_on_the_spot: bool,
    pub photos: Vec<String>,
    pub stamp: DeviceStamp,
}

/// A pushed ticket event (immutable, append-only).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TicketEventIn {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// Wire key `type`.
    pub event_type: EventType,
    /// Raw device time.
    pub occurred_at: Millis,
    pub category: Option<String>,
    /// Always present on `dispatched`.
    pub team_id: Option<Uuid>,
    pub note: Option<String>,
    pub satisfaction: Option<Satisfaction>,
    pub stamp: DeviceStamp,
}

/// Any pushed record, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordIn {
    Household(HouseholdIn),
    Visit(VisitIn),
    Ticket(TicketIn),
    TicketEvent(TicketEventIn),
}

impl RecordIn {
    /// Parses the record at `index` of the array of `record_type` (paths like `visits[3].notes`).
    pub fn parse(record_type: RecordType, index: usize, v: &Value) -> Result<Self, FieldError> {
        let path = record_type.path(index);
        Ok(match record_type {
            RecordType::Household => RecordIn::Household(HouseholdIn::parse(v, &path)?),
            RecordType::Visit => RecordIn::Visit(VisitIn::parse(v, &path)?),
            RecordType::Ticket => RecordIn::Ticket(TicketIn::parse(v, &path)?),
            RecordType::TicketEvent => RecordIn::TicketEvent(TicketEventIn::parse(v, &path)?),
        })
    }

    pub fn record_type(&self) -> RecordType {
        match self {
            RecordIn::Household(_) => RecordType::Household,
            RecordIn::Visit(_) => RecordType::Visit,
            RecordIn::Ticket(_) => RecordType::Ticket,
            RecordIn::TicketEvent(_) => RecordType::TicketEvent,
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            RecordIn::Household(r) => r.id,
            RecordIn::Visit(r) => r.id,
            RecordIn::Ticket(r) => r.id,
            RecordIn::TicketEvent(r) => r.id,
        }
    }

    pub fn canonical(&self) -> Value {
        match self {
            RecordIn::Household(r) => r.canonical(),
            RecordIn::Visit(r) => r.canonical(),
            RecordIn::Ticket(r) => r.canonical(),
            RecordIn::TicketEvent(r) => r.canonical(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers

impl HouseholdIn {
    pub fn parse(v: &Value, path: &str) -> Result<Self, FieldError> {
        let o = Obj::new(v, path)?;
        let id = o.id("id")?;
        let area_id = o.id("area_id")?;
        let fields = HouseholdFields {
            address: o.text("address", SHORT)?,
            head_name: o.text("head_name", SHORT)?,
            phone: o.opt("phone").map(|p| phone(p, &o.path("phone"))).transpose()?,
            heating: o.enumeration("heating", "central, coal, gas, electric or other")?,
            tags: o.tags()?,
        };
        let base_version = o.base_version()?;
        let updated_at = o.time("updated_at")?;
        Ok(HouseholdIn { id, area_id, fields, base_version, updated_at })
    }

    pub fn canonical(&self) -> Value {
        let f = &self.fields;
        json!({
            "address": f.address,
            "area_id": self.area_id,
            "base_version": self.base_version,
            "head_name": f.head_name,
            "heating": f.heating,
            "id": self.id,
            "phone": f.phone,
            "tags": f.tags,
            "updated_at": format_utc(self.updated_at),
        })
    }
}

impl VisitIn {
    pub fn parse(v: &Value, path: &str) -> Result<Self, FieldError> {
        let o = Obj::new(v, path)?;
        Ok(VisitIn {
            id: o.id("id")?,
            household_id: o.id("household_id")?,
            visited_at: o.time("visited_at")?,
            indoor_temp_c: o.opt_number("indoor_temp_c", -40.0, 45.0)?,
            checklist: o.checklist()?,
            service_card_given: o.opt_bool("service_card_given")?,
            notes: o.opt_text("notes", FREE)?,
            location: o.location()?,
            photos: o.photos()?,
            stamp: o.stamp()?,
            checklist_template: o.template_ref()?,
        })
    }

    pub fn canonical(&self) -> Value {
        let checklist: BTreeMap<&String, &Value> = self.checklist.iter().collect();
        let mut canonical = json!({
            "boot_id": self.stamp.boot_id,
            "checklist": checklist,
            "elapsed_ms": self.stamp.elapsed_ms,
            "household_id": self.household_id,
            "id": self.id,
            // `+ 0.0` turns -0.0 into 0.0, so `-0` and `0` are the same content.
            "indoor_temp_c": self.indoor_temp_c.map(|t| t + 0.0),
            "location": self.location.map(|l| json!({"lat": l.lat + 0.0, "lon": l.lon + 0.0})),
            "notes": self.notes,
            "photos": self.photos,
            "service_card_given": self.service_card_given,
            "visited_at": format_utc(self.visited_at),
        });
        // Only when named, so visits without a template keep the hash they had before 1.1.
        if let (Some(t), Some(fields)) = (&self.checklist_template, canonical.as_object_mut()) {
            fields.insert("checklist_template".into(), json!({"id": t.id, "version": t.version}));
        }
        canonical
    }
}

impl TicketIn {
    pub fn parse(v: &Value, path: &str) -> Result<Self, FieldError> {
        let o = Obj::new(v, path)?;
        Ok(TicketIn {
            id: o.id("id")?,
            household_id: o.id("household_id")?,
            visit_id: o.opt_id("visit_id")?,
            category: o.text("category", CATEGORY)?,
            severity: o.enumeration("severity", "normal, urgent or critical")?,
            description: o.text("description", Rule { min: 1, ..FREE })?,
            reported_at: o.time("reported_at")?,
            resolved_on_the_spot: o.opt_bool("resolved_on_the_spot")?.unwrap_or(false),
            photos: o.photos()?,
            stamp: o.stamp()?,
        })
    }

    pub fn canonical(&self) -> Value {
        json!({
            "boot_id": self.stamp.boot_id,
            "category": self.category,
            "description": self.description,
            "elapsed_ms": self.stamp.elapsed_ms,
            "household_id": self.household_id,
            "id": self.id,
            "photos": self.photos,
            "reported_at": format_utc(self.reported_at),
            "resolved_on_the_spot": self.resolved_on_the_spot,
            "severity": self.severity,
            "visit_id": self.visit_id,
        })
    }
}

impl TicketEventIn {
    pub fn parse(v: &Value, path: &str) -> Result<Self, FieldError> {
        let o = Obj::new(v, path)?;
        let id = o.id("id")?;
        let ticket_id = o.id("ticket_id")?;
        let event_type: EventType = o.enumeration(
            "type",
            "classified, dispatched, on_site, resolved, feedback, reopened, comment or callback",
        )?;
        let occurred_at = o.time("occurred_at")?;
        let category = o.opt_text("category", CATEGORY)?;
        let team_id = o.opt_id("team_id")?;
        if event_type == EventType::Dispatched && team_id.is_none() {
            return Err(o.err(Code::MissingField, "team_id", "a dispatched event names the team it dispatches to"));
        }
        let note = o.opt_text("note", FREE)?;
        let satisfaction = o.opt_enumeration("satisfaction", "satisfied, neutral or unsatisfied")?;
        if event_type == EventType::Callback && satisfaction.is_none() {
            return Err(o.err(Code::MissingField, "satisfaction", "a callback records the resident's satisfaction"));
        }
        Ok(TicketEventIn {
            id,
            ticket_id,
            event_type,
            occurred_at,
            category,
            team_id,
            note,
            satisfaction,
            stamp: o.stamp()?,
        })
    }

    pub fn canonical(&self) -> Value {
        json!({
            "boot_id": self.stamp.boot_id,
            "category": self.category,
            "elapsed_ms": self.stamp.elapsed_ms,
            "id": self.id,
            "note": self.note,
            "occurred_at": format_utc(self.occurred_at),
            "satisfaction": self.satisfaction,
            "team_id": self.team_id,
            "ticket_id": self.ticket_id,
            "type": self.event_type,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Field readers

/// Length (in characters) and character rules of a string field.
#[derive(Clone, Copy)]
struct Rule {
    min: usize,
    max: usize,
    /// Free text: `\n` and `\t` are allowed (other control characters never are).
    multiline: bool,
}

const SHORT: Rule = Rule { min: 1, max: MAX_SHORT, multiline: false };
const CATEGORY: Rule = Rule { min: 1, max: MAX_CATEGORY_LEN, multiline: false };
const FREE: Rule = Rule { min: 0, max: MAX_TEXT, multiline: true };

fn text(v: &Value, field: &str, rule: Rule) -> Result<String, FieldError> {
    let Value::String(s) = v else {
        return Err(FieldError::new(Code::InvalidField, "must be a string", field));
    };
    let len = s.chars().count();
    if len > rule.max {
        return Err(FieldError::new(Code::TooLong, format!("at most {} characters ({len} sent)", rule.max), field));
    }
    if len < rule.min {
        return Err(FieldError::new(Code::InvalidField, "must not be empty", field));
    }
    if s.chars().any(|c| c.is_control() && !(rule.multiline && (c == '\n' || c == '\t'))) {
        let allowed = if rule.multiline { " other than line feed and tab" } else { "" };
        return Err(FieldError::new(
            Code::InvalidField,
            format!("must not contain control characters{allowed}"),
            field,
        ));
    }
    Ok(s.clone())
}

fn phone(v: &Value, field: &str) -> Result<String, FieldError> {
    let s = text(v, field, Rule { min: 1, max: MAX_PHONE_LEN, multiline: false })?;
    let allowed = |c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == ' ';
    if !s.chars().all(allowed) || !s.chars().any(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(Code::InvalidField, "a phone number holds digits, '+', '-' and spaces", field));
    }
    Ok(s)
}

fn uuid(v: &Value, field: &str) -> Result<Uuid, FieldError> {
    let parsed = match v {
        // Only the hyphenated form: one spelling per id (case aside) keeps ids comparable.
        Value::String(s) if s.len() == 36 => Uuid::try_parse(s).ok(),
        _ => None,
    };
    match parsed {
        Some(id) if !id.is_nil() => Ok(id),
        _ => Err(FieldError::new(
            Code::InvalidId,
            "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), not nil",
            field,
        )),
    }
}

fn photo(v: &Value, field: &str) -> Result<String, FieldError> {
    match v {
        Value::String(s) if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => Ok(s.clone()),
        _ => Err(FieldError::new(Code::InvalidField, "must be a SHA-256 hash: 64 lower-case hex digits", field)),
    }
}

/// One record object and its path, with readers for each kind of field.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &'a str) -> Result<Self, FieldError> {
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(FieldError::new(Code::InvalidField, "a record must be a JSON object", path)),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    fn err(&self, code: RecordErrorCode, name: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(code, message, self.path(name))
    }

    /// The field's value, treating `null` as absent.
    fn opt(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, FieldError> {
        self.opt(name).ok_or_else(|| self.err(Code::MissingField, name, "is required"))
    }

    fn id(&self, name: &str) -> Result<Uuid, FieldError> {
        uuid(self.required(name)?, &self.path(name))
    }

    fn opt_id(&self, name: &str) -> Result<Option<Uuid>, FieldError> {
        self.opt(name).map(|v| uuid(v, &self.path(name))).transpose()
    }

    fn time(&self, name: &str) -> Result<Millis, FieldError> {
        match self.required(name)? {
            Value::String(s) => parse_rfc3339(s),
            _ => None,
        }
        .ok_or_else(|| {
            self.err(Code::InvalidTime, name, "must be RFC 3339 with an offset, like 2026-11-27T10:00:00+08:00")
        })
    }

    fn text(&self, name: &str, rule: Rule) -> Result<String, FieldError> {
        text(self.required(name)?, &self.path(name), rule)
    }

    fn opt_text(&self, name: &str, rule: Rule) -> Result<Option<String>, FieldError> {
        self.opt(name).map(|v| text(v, &self.path(name), rule)).transpose()
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.opt(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(Code::InvalidField, name, "must be true or false")),
        }
    }

    fn opt_number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, FieldError> {
        match self.opt(name).map(Value::as_f64) {
            None => Ok(None),
            Some(Some(x)) if (min..=max).contains(&x) => Ok(Some(x)),
            Some(_) => Err(self.err(Code::InvalidField, name, format!("must be a number from {min} to {max}"))),
        }
    }

    fn enumeration<T: Deserialize<'a>>(&self, name: &str, allowed: &str) -> Result<T, FieldError> {
        let v = self.required(name)?;
        match v {
            Value::String(_) => T::deserialize(v).ok(),
            _ => None,
        }
        .ok_or_else(|| self.err(Code::InvalidField, name, format!("must be one of {allowed}")))
    }

    fn opt_enumeration<T: Deserialize<'a>>(&self, name: &str, allowed: &str) -> Result<Option<T>, FieldError> {
        if self.opt(name).is_none() {
            return Ok(None);
        }
        self.enumeration(name, allowed).map(Some)
    }

    /// An optional array (absent = empty) of at most `max` items, each read by `item`.
    fn list<T>(
        &self,
        name: &str,
        max: usize,
        item: impl Fn(&Value, &str) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        let items = match self.opt(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.err(Code::InvalidField, name, "must be an array")),
        };
        if items.len() > max {
            return Err(self.err(Code::TooMany, name, format!("at most {max} items ({} sent)", items.len())));
        }
        let base = self.path(name);
        items.iter().enumerate().map(|(i, v)| item(v, &format!("{base}[{i}]"))).collect()
    }

    fn tags(&self) -> Result<Vec<String>, FieldError> {
        self.list("tags", MAX_TAGS, |v, field| text(v, field, Rule { min: 1, max: MAX_TAG_LEN, multiline: false }))
    }

    fn photos(&self) -> Result<Vec<String>, FieldError> {
        self.list("photos", MAX_PHOTOS, photo)
    }

    fn base_version(&self) -> Result<i64, FieldError> {
        match self.required("base_version")?.as_i64() {
            Some(n) if n >= 0 => Ok(n),
            _ => Err(self.err(Code::InvalidField, "base_version", "must be a whole number, 0 or more")),
        }
    }

    fn checklist(&self) -> Result<Map<String, Value>, FieldError> {
        let map = match self.opt("checklist") {
            None => return Ok(Map::new()),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(self.err(Code::InvalidField, "checklist", "must be an object")),
        };
        if map.len() > MAX_CHECKLIST_KEYS {
            let message = format!("at most {MAX_CHECKLIST_KEYS} keys ({} sent)", map.len());
            return Err(self.err(Code::TooMany, "checklist", message));
        }
        let key_rule = Rule { min: 1, max: MAX_CHECKLIST_KEY_LEN, multiline: false };
        for (key, value) in map {
            text(&Value::String(key.clone()), &self.path("checklist"), key_rule)
                .map_err(|e| FieldError { message: format!("checklist keys: {}", e.message), ..e })?;
            let field = format!("{}.checklist.{key}", self.path);
            match value {
                Value::Bool(_) | Value::Number(_) => {}
                Value::String(_) => {
                    text(value, &field, Rule { min: 0, max: MAX_SHORT, multiline: true })?;
                }
                _ => return Err(FieldError::new(Code::InvalidField, "must be a boolean, a number or a string", field)),
            }
        }
        Ok(map.clone())
    }

    fn template_ref(&self) -> Result<Option<TemplateRef>, FieldError> {
        let Some(v) = self.opt("checklist_template") else { return Ok(None) };
        let path = self.path("checklist_template");
        let o =
            Obj::new(v, &path).map_err(|e| FieldError { message: "must be an object {id, version}".into(), ..e })?;
        let id = o.text("id", Rule { min: 1, max: MAX_CHECKLIST_KEY_LEN, multiline: false })?;
        let version = match o.required("version")?.as_i64().map(i32::try_from) {
            Some(Ok(n)) if n >= 1 => n,
            _ => return Err(o.err(Code::InvalidField, "version", "must be a whole number, 1 or more")),
        };
        Ok(Some(TemplateRef { id, version }))
    }

    fn location(&self) -> Result<Option<Location>, FieldError> {
        let Some(v) = self.opt("location") else { return Ok(None) };
        let path = self.path("location");
        let o = Obj::new(v, &path).map_err(|e| FieldError { message: "must be an object {lat, lon}".into(), ..e })?;
        let coordinate = |name: &str, limit: f64| match o.required(name)?.as_f64() {
            Some(x) if (-limit..=limit).contains(&x) => Ok(x),
            _ => Err(o.err(Code::InvalidField, name, format!("must be a number from -{limit} to {limit}"))),
        };
        Ok(Some(Location { lat: coordinate("lat", 90.0)?, lon: coordinate("lon", 180.0)? }))
    }

    fn stamp(&self) -> Result<DeviceStamp, FieldError> {
        let boot_id = self.opt_text("boot_id", SHORT)?;
        let elapsed_ms = match self.opt("elapsed_ms").map(Value::as_i64) {
            None => None,
            Some(Some(n)) if n >= 0 => Some(n),
            Some(_) => return Err(self.err(Code::InvalidField, "elapsed_ms", "must be a whole number, 0 or more")),
        };
        Ok(DeviceStamp { boot_id, elapsed_ms })
    }
}
