//! The user lifecycle: changing a user, setting a password, deactivating one user or a season's
//! volunteers by area. Shared by the HTTP routes (an admin, within their area) and `fieldvisit user`
//! (the operator, anywhere). Deactivating and setting a password end the user's sessions at once.

use fieldvisit_sync_protocol::org::Role;
use serde_json::{json, Value};

use super::{audit_by, check_team};
use crate::auth::{password, Principal};
use crate::db::audit::{self, NewAudit};
use crate::db::scope::is_within;
use crate::db::users::{self, UserChange, UserRow};
use crate::db::{areas, devices, DbConn};
use crate::error::ApiError;

/// Who acts: an admin over HTTP (scope and role bound what they may do) or the command line.
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    Admin(&'a Principal),
    CommandLine,
}

impl Actor<'_> {
    fn scope(&self) -> Option<&str> {
        match self {
            Actor::Admin(p) => Some(&p.area_path),
            Actor::CommandLine => None,
        }
    }

    fn is(&self, user_id: &str) -> bool {
        matches!(self, Actor::Admin(p) if p.user_id == user_id)
    }

    /// No one grants a role above their own.
    fn may_grant(&self, role: Role) -> bool {
        let rank = |r: Role| Role::ALL.iter().position(|x| *x == r);
        match self {
            Actor::Admin(p) => rank(role) <= rank(p.role),
            Actor::CommandLine => true,
        }
    }
}

/// A `PATCH /users/{id}`: absent fields stay as they are; `team_id: Some(None)` clears the team.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub area_id: Option<String>,
    pub team_id: Option<Option<String>>,
    pub active: Option<bool>,
}

/// The user `id`, if `actor` may manage them: 404 if there is none, 403 outside the actor's area.
fn managed_user(conn: &mut DbConn, actor: Actor, id: &str) -> Result<UserRow, ApiError> {
    let user = users::find(conn, id)?.ok_or_else(|| ApiError::not_found("user"))?;
    if actor.scope().is_some_and(|scope| !is_within(&user.area_path, scope)) {
        return Err(ApiError::out_of_scope("user"));
    }
    Ok(user)
}

pub fn update_user(conn: &mut DbConn, actor: Actor, id: &str, patch: UserPatch, now: i64) -> Result<UserRow, ApiError> {
    let user = managed_user(conn, actor, id)?;
    let mut change = UserChange { updated_at: now, ..Default::default() };
    let mut detail = serde_json::Map::new();
    if let Some(name) = patch.display_name {
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(ApiError::invalid("display_name", "1 to 100 characters"));
        }
        detail.insert("display_name".into(), json!(name));
        change.display_name = Some(name);
    }
    if let Some(role) = patch.role {
        if !actor.may_grant(role) {
            return Err(ApiError::forbidden("no one grants a role above their own").with_field("role"));
        }
        detail.insert("role".into(), json!({"from": user.role.0.as_str(), "to": role.as_str()}));
        change.role = Some(role.as_str().into());
    }
    let mut area_path = user.area_path.clone();
    if let Some(area_id) = patch.area_id.filter(|a| *a != user.area_id) {
        let area = areas::find(conn, &area_id)?.ok_or_else(|| ApiError::invalid("area_id", "no such area"))?;
        if actor.scope().is_some_and(|scope| !is_within(&area.path, scope)) {
            return Err(ApiError::out_of_scope("area_id"));
        }
        detail.insert("area_id".into(), json!({"from": user.area_id, "to": area.id}));
        area_path = area.path.clone();
        change.area_id = Some(area.id);
        change.area_path = Some(area.path);
    }
    let team_changed = patch.team_id.as_ref().is_some_and(|t| *t != user.team_id);
    let team = patch.team_id.clone().unwrap_or_else(|| user.team_id.clone());
    if let Some(team_id) = team.as_deref().filter(|_| team_changed || change.area_path.is_some()) {
        check_team(conn, team_id, &area_path, actor.scope())?;
    }
    if team_changed {
        detail.insert("team_id".into(), json!({"from": user.team_id, "to": team}));
        change.team_id = Some(team);
    }
    let activity = patch.active.filter(|a| *a != user.active);
    if activity == Some(false) && actor.is(&user.id) {
        return Err(ApiError::invalid("active", "you cannot deactivate yourself"));
    }
    change.active = activity;
    users::update(conn, &user.id, &change)?;
    if change.area_path.is_some() {
        devices::move_users_devices(conn, &user.id, &area_path)?;
    }
    let action = match activity {
        Some(false) => {
            devices::end_user_sessions(conn, &user.id, now, "user_disabled")?;
            "user_deactivated"
        }
        Some(true) => "user_activated",
        None => "user_updated",
    };
    let user = users::find(conn, &user.id)?.ok_or_else(|| ApiError::not_found("user"))?;
    record(conn, actor, action, &user, Value::Object(detail), now)?;
    Ok(user)
}

/// Sets a new password and ends every session of the user.
pub fn set_password(
    conn: &mut DbConn,
    actor: Actor,
    id: &str,
    new: password::Hashed,
    now: i64,
) -> Result<(), ApiError> {
    let user = managed_user(conn, actor, id)?;
    let change = UserChange { password_hash: Some(new.into_string()), updated_at: now, ..Default::default() };
    users::update(conn, &user.id, &change)?;
    let ended = devices::end_user_sessions(conn, &user.id, now, "password_set")?;
    record(conn, actor, "password_set", &user, json!({"sessions_ended": ended}), now)
}

/// Deactivates every active user of `role` at or below `area_id` (never the actor); returns them.
pub fn deactivate_within(
    conn: &mut DbConn,
    actor: Actor,
    area_id: &str,
    role: Role,
    now: i64,
) -> Result<Vec<UserRow>, ApiError> {
    let area = areas::find(conn, area_id)?.ok_or_else(|| ApiError::invalid("area_id", "no such area"))?;
    if actor.scope().is_some_and(|scope| !is_within(&area.path, scope)) {
        return Err(ApiError::out_of_scope("area_id"));
    }
    let mut done = users::active_with_role_within(conn, &area.path, role)?;
    done.retain(|u| !actor.is(&u.id));
    let change = UserChange { active: Some(false), updated_at: now, ..Default::default() };
    for user in &done {
        users::update(conn, &user.id, &change)?;
        devices::end_user_sessions(conn, &user.id, now, "user_disabled")?;
        let detail = json!({"bulk": {"area_id": area.id, "role": role.as_str()}});
        record(conn, actor, "user_deactivated", user, detail, now)?;
    }
    Ok(done)
}

/// The audit entry, in the user's area so that its admins see it.
fn record(
    conn: &mut DbConn,
    actor: Actor,
    action: &str,
    user: &UserRow,
    detail: Value,
    now: i64,
) -> Result<(), ApiError> {
    match actor {
        Actor::Admin(p) => audit_by(conn, p, action, ("user", &user.id), &user.area_path, detail, now),
        Actor::CommandLine => {
            let mut detail = detail;
            if let Some(map) = detail.as_object_mut() {
                map.insert("via".into(), json!("command_line"));
            }
            audit::insert(
                conn,
                &NewAudit {
                    at: now,
                    action: action.into(),
                    target_type: Some("user".into()),
                    target_id: Some(user.id.clone()),
                    area_path: user.area_path.clone(),
                    detail: detail.to_string(),
                    ..Default::default()
                },
            )?;
            Ok(())
        }
    }
}
