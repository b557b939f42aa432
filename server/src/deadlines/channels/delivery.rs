//! The delivery task: matches new alerts to channels, queues one outbox row per (channel, alert),
//! and sends the due rows with retries.
//!
//! **Who enqueues.** This task does, not the write paths that store alerts: each round it queues
//! the alerts stored after each channel's cursor (`channels.enqueued_to`; for the implicit webhook
//! of `FIELDVISIT_WEBHOOK_URL`, after the newest alert in its outbox) that the channel's filter
//! matches (`route`). Alert ids commit in id order (see `tracker::broadcast`), so that never skips
//! one, and a crash between an alert's commit and its enqueue loses nothing: the next start picks
//! it up. The write paths stay as they are and channels can be switched on or off freely. While
//! the implicit webhook's outbox is empty it begins after the alerts that existed at start-up, and a
//! new channel after those that existed when it was created, so nobody is flooded with history.
//!
//! **Delivery.** Due rows are claimed (`next_attempt_at` moved past the attempt, PostgreSQL `SKIP
//! LOCKED`), so two instances never send the same row at once. Each channel's rows go one after
//! the other, in alert order, at most [`PER_CHANNEL`] a round, within the robot's rate limit
//! (`rate`): a row over the limit is postponed to when a slot frees, never dropped and not counted
//! as an attempt. Channels are served side by side. 2xx (and, from a robot, `errcode`/`code` 0):
//! delivered. Anything else: `attempts + 1`, retried after the base delay
//! (`FIELDVISIT_WEBHOOK_RETRY_BASE_MS`, 5 s) doubled per failed attempt, capped at 10 min, with
//! the status or error text in `last_error`. Delivery is at least once per (channel, alert): a
//! receiver that answered success is never sent that alert again, but one whose success was lost
//! on the way (timeout after it acted) is. Neither URL nor secret is logged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{AlertKind, AlertOut, Notify};

use super::message::Notice;
use super::route::{self, Addressed, Filter};
use super::{Delivery, Kind, Target};
use crate::db::alerts::AlertRow;
use crate::db::outbox::{self, Outcome, IMPLICIT};
use crate::db::policies::PolicyBook;
use crate::db::schema::alerts;
use crate::db::{self, channels, policies, DbConn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest sleep without a due row or a wake-up: a safety net (alerts of other instances).
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Upper bound of the retry delay.
pub const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// Rows claimed per round.
const BATCH: i64 = 100;
/// Sends per channel per round: bounds a round's length, and so the claim's lease.
pub const PER_CHANNEL: usize = 10;
/// Rows of a disabled channel (or one whose host `FIELDVISIT_CHANNEL_HOSTS` no longer allows) wait
/// this long before they are looked at again.
const DISABLED_WAIT_MS: i64 = 10 * 60 * 1000;

/// `base × 2^(attempts − 1)`, capped at [`MAX_BACKOFF_MS`].
pub fn backoff_ms(base_ms: i64, attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(32);
    base_ms.saturating_mul(1_i64 << doublings).min(MAX_BACKOFF_MS)
}

/// The last alert id at start-up: where the implicit webhook begins while its outbox is empty.
pub fn start_after(conn: &mut DbConn) -> anyhow::Result<i64> {
    Ok(db::alerts::last_id(conn)?)
}

/// Runs forever; database trouble is logged and retried, so only a panic ends it.
pub async fn run(state: AppState, start_after: i64) -> anyhow::Result<()> {
    loop {
        let more = match round(&state, start_after).await {
            Ok(more) => more,
            Err(e) => {
                tracing::warn!(error = %e, "channels: database trouble, retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if more {
            continue;
        }
        let wait = match db::run(&state.pool, |c| Ok(outbox::next_due(c)?)).await {
            // At least 20 ms: a row still due is held by another instance's claim; look again soon.
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - state.clock.now()).unwrap_or(0).max(20)),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "channels: reading the next attempt failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            () = state.webhook_wake.notified() => {}
        }
    }
}

/// Whether an enabled channel has alerts to match.
fn channels_behind(conn: &mut DbConn) -> QueryResult<bool> {
    let last = db::alerts::last_id(conn)?;
    Ok(channels::enabled(conn)?.iter().any(|ch| ch.enqueued_to < last))
}

/// The audience of an escalation under the ticket's policy.
fn notify_of(book: &PolicyBook, a: &AlertRow, policy_version: Option<i32>) -> Option<Notify> {
    if a.kind.0 != AlertKind::Escalated || a.level < 1 {
        return None;
    }
    let policy = match policy_version {
        Some(v) => book.version(v),
        None => book.in_force_at(&a.area_path, a.at),
    };
    policy.escalation.get(usize::try_from(a.level - 1).ok()?).map(|e| e.notify)
}

/// Matches up to [`outbox::ENQUEUE_BATCH`] new alerts to every enabled channel and queues them.
/// Call it inside `db::transaction` (see `outbox::enqueue_implicit` for why that suffices).
/// Returns whether a full batch was read (more may follow).
fn enqueue_channels(conn: &mut DbConn, now: i64) -> QueryResult<bool> {
    let chans = channels::enabled(conn)?;
    let last = db::alerts::last_id(conn)?;
    let Some(from) = chans.iter().map(|ch| ch.enqueued_to).filter(|&t| t < last).min() else { return Ok(false) };
    let rows: Vec<AlertRow> = alerts::table
        .filter(alerts::id.gt(from))
        .order(alerts::id)
        .limit(outbox::ENQUEUE_BATCH)
        .select(AlertRow::as_select())
        .load(conn)?;
    let Some(upto) = rows.last().map(|r| r.id) else { return Ok(false) };
    let ticket_ids: Vec<String> =
        rows.iter().map(|r| r.ticket_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let tickets = channels::ticket_context(conn, &ticket_ids)?;
    let book = policies::load(conn)?;
    let notify: Vec<Option<Notify>> =
        rows.iter().map(|a| notify_of(&book, a, tickets.get(&a.ticket_id).map(|t| t.1))).collect();
    for ch in chans.iter().filter(|ch| ch.enqueued_to < upto) {
        let filter =
            Filter { area_path: &ch.area_path, teams: ch.team_ids(), types: ch.types(), min_level: ch.min_level };
        let ids: Vec<i64> = rows
            .iter()
            .zip(&notify)
            .filter(|(a, _)| a.id > ch.enqueued_to)
            .filter(|(a, n)| {
                let addressed = Addressed {
                    kind: a.kind.0.as_str(),
                    level: a.level,
                    area_path: &a.area_path,
                    team_id: a.team_id.as_deref(),
                    notify: **n,
                };
                route::matches(&filter, &addressed)
            })
            .map(|(a, _)| a.id)
            .collect();
        outbox::enqueue(conn, &ch.id, &ids, now)?;
        channels::advance(conn, &ch.id, upto)?;
    }
    Ok(rows.len() == outbox::ENQUEUE_BATCH as usize)
}

/// Queues new alerts, claims the due rows, delivers them and records the outcomes. Returns
/// whether a full batch was claimed (more may be due).
async fn round(state: &AppState, start_after: i64) -> Result<bool, ApiError> {
    let delivery = state.channels.clone();
    let implicit = delivery.has_implicit();
    // Reads first: a wake-up with nothing to do takes no write lock.
    let (new_implicit, new_channels, due) = db::run(&state.pool, move |c| {
        Ok((implicit && outbox::has_new(c, start_after)?, channels_behind(c)?, outbox::next_due(c)?))
    })
    .await?;
    let mut more = new_implicit;
    while more {
        let now = state.clock.now();
        let added =
            db::run(&state.pool, move |c| db::transaction(c, |c| Ok(outbox::enqueue_implicit(c, start_after, now)?)))
                .await?;
        more = added == outbox::ENQUEUE_BATCH as usize;
    }
    let mut more = new_channels;
    while more {
        let now = state.clock.now();
        more = db::run(&state.pool, move |c| db::transaction(c, |c| Ok(enqueue_channels(c, now)?))).await?;
    }
    let now = state.clock.now();
    if !new_implicit && !new_channels && due.is_none_or(|at| at > now) {
        return Ok(false);
    }
    // Long enough for every channel's sends of this round before another instance may take them.
    let lease = now + PER_CHANNEL as i64 * super::TIMEOUT.as_millis() as i64 + 30_000;
    let claimed =
        db::run(&state.pool, move |c| db::transaction(c, |c| Ok(outbox::claim_due(c, now, BATCH, lease)?))).await?;
    if claimed.is_empty() {
        return Ok(false);
    }
    let full = claimed.len() == BATCH as usize;
    let (targets, notices) = prepare(state, &delivery, &claimed).await?;
    let mut by_channel: HashMap<String, Vec<(AlertRow, i32)>> = HashMap::new();
    for (channel_id, alert, attempts) in claimed {
        by_channel.entry(channel_id).or_default().push((alert, attempts));
    }
    let notices = Arc::new(notices);
    let tasks: Vec<_> = by_channel
        .into_iter()
        .map(|(channel_id, rows)| {
            let target = targets.get(&channel_id).cloned();
            let (state, delivery, notices) = (state.clone(), delivery.clone(), notices.clone());
            tokio::spawn(async move { serve_channel(&state, &delivery, &channel_id, target, rows, &notices).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        match task.await {
            Ok(o) => outcomes.extend(o),
            // The rows stay claimed until their lease passes, then are tried again.
            Err(e) => tracing::error!(error = %e, "channels: a delivery task failed"),
        }
    }
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        db::transaction(c, |c| {
            for (channel_id, alert_id, outcome) in &outcomes {
                outbox::record(c, channel_id, *alert_id, outcome, now)?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(full)
}

/// The targets of the claimed rows' channels (a disabled one is `None`: its rows wait; a deleted
/// one is absent) and each alert's message.
async fn prepare(
    state: &AppState,
    delivery: &Delivery,
    claimed: &[(String, AlertRow, i32)],
) -> Result<(HashMap<String, Option<Target>>, HashMap<i64, Notice>), ApiError> {
    let channel_ids: Vec<String> = claimed.iter().map(|c| c.0.clone()).collect::<HashSet<_>>().into_iter().collect();
    let ticket_ids: Vec<String> =
        claimed.iter().map(|c| c.1.ticket_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let paths: Vec<String> =
        claimed.iter().map(|c| c.1.area_path.clone()).collect::<HashSet<_>>().into_iter().collect();
    let (rows, tickets, names, book) = db::run(&state.pool, move |c| {
        let mut rows = Vec::new();
        for id in channel_ids.iter().filter(|id| id.as_str() != IMPLICIT) {
            rows.extend(channels::find(c, id)?);
        }
        Ok((rows, channels::ticket_context(c, &ticket_ids)?, channels::area_names(c, &paths)?, policies::load(c)?))
    })
    .await?;
    // Without FIELDVISIT_WEBHOOK_URL (any more), the implicit channel's rows wait as a disabled one's.
    let mut targets = HashMap::from([(IMPLICIT.to_owned(), delivery.implicit.clone())]);
    for row in rows {
        let target = match (row.enabled, Kind::parse(&row.kind), super::parse_url(&row.url)) {
            (true, Some(kind), Ok(url)) if super::host_allowed(&state.settings, &url) => {
                Some(Target { id: row.id.clone(), kind, url, secret: row.secret.clone() })
            }
            _ => None,
        };
        targets.insert(row.id, target);
    }
    let notices = claimed
        .iter()
        .map(|(_, a, _)| {
            let ticket = tickets.get(&a.ticket_id);
            let timezone = match ticket {
                Some((_, v)) => book.version(*v).timezone.clone(),
                None => book.in_force_at(&a.area_path, a.at).timezone.clone(),
            };
            let notice = Notice {
                kind: a.kind.0.as_str().to_owned(),
                stage: a.stage.0.as_str().to_owned(),
                level: a.level,
                due_at: a.due_at,
                fired_at: a.fired_at,
                ticket_id: if ticket.is_some() {
                    crate::db::records::uuid_of(&a.ticket_id).to_string()
                } else {
                    String::new()
                },
                address: ticket.map(|t| t.0.clone()).unwrap_or_default(),
                area_name: names.get(&a.area_path).cloned().unwrap_or_default(),
                timezone,
                public_url: delivery.public_url.clone(),
            };
            (a.id, notice)
        })
        .collect();
    Ok((targets, notices))
}

/// Sends one channel's claimed rows in alert order, within its rate limit; returns each row's outcome.
async fn serve_channel(
    state: &AppState,
    delivery: &Delivery,
    channel_id: &str,
    target: Option<Option<Target>>,
    rows: Vec<(AlertRow, i32)>,
    notices: &HashMap<i64, Notice>,
) -> Vec<(String, i64, Outcome)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut postpone_to: Option<i64> = None;
    let mut sent = 0;
    for (alert, attempts) in rows {
        let now = state.clock.now();
        let outcome = match &target {
            // Deleted meanwhile: its rows went with it; recording finds nothing to update.
            None => continue,
            Some(None) => Outcome::Postponed { next_attempt_at: now + DISABLED_WAIT_MS },
            Some(Some(_)) if sent >= PER_CHANNEL => Outcome::Postponed { next_attempt_at: now },
            Some(Some(_)) if postpone_to.is_some() => {
                Outcome::Postponed { next_attempt_at: postpone_to.unwrap_or(now) }
            }
            Some(Some(t)) => match super::rate::take(channel_id, t.kind.limits()) {
                Err(wait) => {
                    let at = now + i64::try_from(wait.as_millis()).unwrap_or(MAX_BACKOFF_MS).max(1);
                    postpone_to = Some(at);
                    tracing::debug!(
                        channel = channel_id,
                        wait_ms = at - now,
                        "channels: rate limit reached, postponed"
                    );
                    Outcome::Postponed { next_attempt_at: at }
                }
                Ok(()) => {
                    sent += 1;
                    let notice = notices.get(&alert.id).cloned().unwrap_or_default();
                    let json = serde_json::to_vec(&AlertOut::from(&alert)).unwrap_or_default();
                    let (url, body) = super::request(t, &notice, &json, now);
                    match super::send(&delivery.client, t, url, body).await {
                        Ok(()) => {
                            tracing::debug!(channel = channel_id, alert.id = alert.id, "channels: delivered");
                            Outcome::Delivered
                        }
                        Err(error) => {
                            let attempts = attempts.saturating_add(1);
                            let delay = backoff_ms(delivery.retry_base_ms, attempts);
                            tracing::warn!(channel = channel_id, kind = t.kind.as_str(), alert.id = alert.id, attempts,
                                retry_in_ms = delay, error = %error, "channels: delivery failed");
                            let now = state.clock.now();
                            Outcome::Failed { attempts, next_attempt_at: now + delay, error: truncate(error, 500) }
                        }
                    }
                }
            },
        };
        out.push((channel_id.to_owned(), alert.id, outcome));
    }
    out
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_ten_minutes() {
        assert_eq!(backoff_ms(5000, 1), 5000);
        assert_eq!(backoff_ms(5000, 2), 10_000);
        assert_eq!(backoff_ms(5000, 4), 40_000);
        assert_eq!(backoff_ms(5000, 8), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(5000, i32::MAX), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(100, 0), 100);
    }

    #[test]
    fn a_bad_webhook_url_stops_the_start() {
        let mut s = Settings::defaults();
        s.webhook_url = Some("ftp://example.org/hook".into());
        assert!(Delivery::from_settings(&s).is_err());
        s.webhook_url = Some("https://example.org/hook".into());
        assert!(Delivery::from_settings(&s).expect("https is fine now").has_implicit());
        s.webhook_url = None;
        assert!(!Delivery::from_settings(&s).expect("ok").has_implicit());
    }
}
