//! The deadline policy: data, not code, so an admin can change windows without a release, and a
//! ticket keeps the version it was reported under.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Severity, Stage};
use crate::time::Millis;

/// Longest window a stage may have: longer ones would hide neglect rather than measure it.
pub const MAX_WINDOW_S: i64 = 7 * 24 * 3600;
/// Largest phone clock error the server tolerates, in seconds.
pub const MAX_CLOCK_TOLERANCE_S: i64 = 3600;
/// The only anchor the fold implements: a stage starts when the previous one completes.
pub const ANCHOR_PREVIOUS_STAGE: &str = "previous_stage";

/// The body of `GET /api/v1/policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    /// Numbered by the server; a `PUT` body's is ignored.
    #[cfg_attr(feature = "openapi", schema(read_only))]
    #[serde(default)]
    pub version: i32,
    /// One window per stage, each stage once.
    #[cfg_attr(feature = "openapi", schema(min_items = 4, max_items = 4))]
    pub stages: Vec<StageWindow>,
    #[cfg_attr(feature = "openapi", schema(pattern = "^previous_stage$"))]
    pub anchor: String,
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0))]
    pub due_soon_ratio: f64,
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub overrides: Vec<Override>,
    /// In increasing `after_overdue_s`.
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub escalation: Vec<Escalation>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3600))]
    pub clock_tolerance_s: i64,
    /// An IANA zone name (`Asia/Shanghai`).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub timezone: String,
    /// **[1.1]** Days of visits a first pull (no cursor) carries; older ones stay on the server.
    /// Versions stored before the field existed read as the default.
    #[serde(default = "default_pull_visit_days")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 366))]
    pub pull_visit_days: i64,
    /// **[1.1]** Local time ("HH:MM", in `timezone`) at which the day's work must be cleared
    /// (事不过夜): tickets still open then are listed in a `day_end` alert and count as carried over.
    #[serde(default = "default_day_end")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub day_end: String,
    /// **[1.1]** Hours after closing within which the resident should be called back (回访);
    /// closed tickets without a callback after that are on the callback list.
    #[serde(default = "default_callback_within_h")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 168))]
    pub callback_within_h: i64,
    /// **[1.1]** Whether a callback recording an unsatisfied resident reopens the ticket.
    #[serde(default = "default_reopen_on_unsatisfied_callback")]
    pub reopen_on_unsatisfied_callback: bool,
}

pub const DEFAULT_DAY_END: &str = "20:00";
pub const DEFAULT_CALLBACK_WITHIN_H: i64 = 24;
/// A week: a later callback is no longer about this repair.
pub const MAX_CALLBACK_WITHIN_H: i64 = 7 * 24;

fn default_day_end() -> String {
    DEFAULT_DAY_END.to_owned()
}

fn default_callback_within_h() -> i64 {
    DEFAULT_CALLBACK_WITHIN_H
}

fn default_reopen_on_unsatisfied_callback() -> bool {
    true
}

/// Minutes after local midnight of an "HH:MM" time (00:00 to 23:59); None when malformed.
pub fn minutes_of_day(hh_mm: &str) -> Option<u32> {
    let (h, m) = hh_mm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

pub const DEFAULT_PULL_VISIT_DAYS: i64 = 30;
/// A season and a half: a longer window would bring back the unbounded first pull.
pub const MAX_PULL_VISIT_DAYS: i64 = 366;

fn default_pull_visit_days() -> i64 {
    DEFAULT_PULL_VISIT_DAYS
}

/// The default window of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageWindow {
    pub name: Stage,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    pub window_s: i64,
}

/// Windows that replace the defaults for tickets of a severity and/or category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Override {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Window in seconds per stage; stages not named keep the lower-precedence window.
    #[cfg_attr(feature = "openapi", schema(value_type = StageWindows))]
    pub stages: BTreeMap<Stage, i64>,
}

/// The schema of [`Override::stages`]: a window per stage named, only stages as keys.
#[cfg(feature = "openapi")]
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StageWindows {
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    classify: i64,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    dispatch: i64,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    on_site: i64,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    close: i64,
}

/// Who is told once a stage has been overdue for `after_overdue_s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Escalation {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub after_overdue_s: i64,
    pub notify: Notify,
}

/// The audience of an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    Area,
    ParentArea,
}

/// Why a policy was refused; `field` is the JSON path of the offending value (`stages[2].window_s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The 1-1-2-4 rule: 1 h classify, 1 h dispatch, 2 h on site, 4 h close.
const fn builtin_window_s(stage: Stage) -> i64 {
    match stage {
        Stage::Classify | Stage::Dispatch => 3600,
        Stage::OnSite => 7200,
        Stage::Close => 14400,
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 1,
            stages: Stage::ALL.iter().map(|&name| StageWindow { name, window_s: builtin_window_s(name) }).collect(),
            anchor: ANCHOR_PREVIOUS_STAGE.to_owned(),
            due_soon_ratio: 0.75,
            overrides: Vec::new(),
            escalation: vec![
                Escalation { after_overdue_s: 3600, notify: Notify::Area },
                Escalation { after_overdue_s: 14400, notify: Notify::ParentArea },
            ],
            clock_tolerance_s: 120,
            timezone: "Asia/Shanghai".to_owned(),
            pull_visit_days: DEFAULT_PULL_VISIT_DAYS,
            day_end: default_day_end(),
            callback_within_h: DEFAULT_CALLBACK_WITHIN_H,
            reopen_on_unsatisfied_callback: true,
        }
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { field: field.into(), message: message.into() }
}

fn check_window(field: impl Into<String>, window_s: i64) -> Result<(), PolicyError> {
    if (1..=MAX_WINDOW_S).contains(&window_s) {
        Ok(())
    } else {
        Err(err(field, format!("must be between 1 and {MAX_WINDOW_S} seconds (7 days)")))
    }
}

impl Policy {
    /// Checks what the fold relies on; the first problem found is returned. `version` is not
    /// checked: the server assigns it.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut seen: Vec<Stage> = Vec::new();
        for (i, w) in self.stages.iter().enumerate() {
            if seen.contains(&w.name) {
                return Err(err(format!("stages[{i}].name"), format!("duplicate stage {}", w.name)));
            }
            seen.push(w.name);
            check_window(format!("stages[{i}].window_s"), w.window_s)?;
        }
        if let Some(missing) = Stage::ALL.iter().find(|s| !seen.contains(s)) {
            return Err(err("stages", format!("missing stage {missing}")));
        }
        if self.anchor != ANCHOR_PREVIOUS_STAGE {
            return Err(err("anchor", format!("only \"{ANCHOR_PREVIOUS_STAGE}\" is supported")));
        }
        // Negated so NaN is refused too.
        if !(self.due_soon_ratio > 0.0 && self.due_soon_ratio < 1.0) {
            return Err(err("due_soon_ratio", "must be greater than 0 and less than 1"));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            for (stage, &window_s) in &o.stages {
                check_window(format!("overrides[{i}].stages.{stage}"), window_s)?;
            }
        }
        let mut previous = 0;
        for (i, e) in self.escalation.iter().enumerate() {
            if e.after_overdue_s <= previous {
                let message = if i == 0 {
                    "must be greater than 0".to_owned()
                } else {
                    format!("must be greater than escalation[{}].after_overdue_s", i - 1)
                };
                return Err(err(format!("escalation[{i}].after_overdue_s"), message));
            }
            previous = e.after_overdue_s;
        }
        if !(0..=MAX_CLOCK_TOLERANCE_S).contains(&self.clock_tolerance_s) {
            return Err(err("clock_tolerance_s", format!("must be between 0 and {MAX_CLOCK_TOLERANCE_S}")));
        }
        if !(1..=MAX_PULL_VISIT_DAYS).contains(&self.pull_visit_days) {
            return Err(err("pull_visit_days", format!("must be between 1 and {MAX_PULL_VISIT_DAYS}")));
        }
        if minutes_of_day(&self.day_end).is_none() {
            return Err(err("day_end", "must be a local time \"HH:MM\" between 00:00 and 23:59"));
        }
        if !(1..=MAX_CALLBACK_WITHIN_H).contains(&self.callback_within_h) {
            return Err(err("callback_within_h", format!("must be between 1 and {MAX_CALLBACK_WITHIN_H}")));
        }
        if self.timezone.trim().is_empty() {
            return Err(err("timezone", "must not be empty"));
        }
        Ok(())
    }

    /// Minutes after local midnight of `day_end` (a validated policy always has one).
    pub fn day_end_minutes(&self) -> u32 {
        minutes_of_day(&self.day_end).or_else(|| minutes_of_day(DEFAULT_DAY_END)).unwrap_or(20 * 60)
    }

    /// The window in seconds of `stage` for a ticket of this severity and (effective) category.
    ///
    /// Precedence, decided per stage so overrides compose: start from the default window of
    /// `stages`; an override *applies* if it names this stage and every key it sets (`severity`,
    /// `category`; categories compare exactly) equals the ticket's. Among applicable overrides the
    /// one setting more keys wins (severity+category beats either alone, which beats neither);
    /// on a tie the later one in the list wins, so an admin appends to refine.
    pub fn window_s(&self, stage: Stage, severity: Severity, category: &str) -> i64 {
        let default = self.stages.iter().find(|w| w.name == stage).map_or(builtin_window_s(stage), |w| w.window_s);
        let mut best: Option<(usize, i64)> = None;
        for o in &self.overrides {
            let Some(&window_s) = o.stages.get(&stage) else {
                continue;
            };
            if o.severity.is_some_and(|s| s != severity) || o.category.as_deref().is_some_and(|c| c != category) {
                continue;
            }
            let keys = usize::from(o.severity.is_some()) + usize::from(o.category.is_some());
            if best.is_none_or(|(best_keys, _)| keys >= best_keys) {
                best = Some((keys, window_s));
            }
        }
        best.map_or(default, |(_, window_s)| window_s)
    }

    /// When a stage started at `started_at` and due at `due_at` becomes due soon: the ratio of
    /// its window, rounded down to the millisecond. Shared by the fold and the alert schedule.
    pub fn due_soon_at(&self, started_at: Millis, due_at: Millis) -> Millis {
        let window = due_at.saturating_sub(started_at).max(0);
        let offset = (self.due_soon_ratio * window as f64).floor();
        // `as` saturates and maps NaN to 0; the clamp keeps an unvalidated ratio inside the window.
        started_at.saturating_add((offset as i64).clamp(0, window))
    }
}
