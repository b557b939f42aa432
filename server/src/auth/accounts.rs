//! Account rules that more than one entry point needs: first-start bootstrap, sessions and token
//! pairs, audit entries, and creating areas, teams and users (HTTP and the `user add` command).

pub mod lifecycle;

use fieldvisit_sync_protocol::org::{AreaKind, Role, User};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::tokens::{self, Claims, Keys};
use crate::auth::{password, Principal};
use crate::config::Settings;
use crate::db::areas::{self, AreaRow, TeamRow};
use crate::db::audit::{self, NewAudit};
use crate::db::devices::{self, RefreshRow, SessionRow};
use crate::db::scope::is_within;
use crate::db::typed::Enum;
use crate::db::users::{self, UserRow};
use crate::db::{policies, seq, DbConn};
use crate::error::ApiError;

/// What login and refresh answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: User,
}

/// On an empty database: the root area and `admin`. Returns the password if one was generated.
pub fn bootstrap(conn: &mut DbConn, settings: &Settings, now: i64) -> anyhow::Result<Option<String>> {
    // Also on a database from before templates existed.
    crate::db::checklists::ensure_default(conn, now)?;
    // Households stored before duplicate keys existed get theirs.
    crate::db::duplicates::fill_keys(conn)?;
    if users::count(conn)? > 0 {
        return Ok(None);
    }
    let kind = AreaKind::parse(&settings.root_area_kind)
        .ok_or_else(|| anyhow::anyhow!("FIELDVISIT_ROOT_AREA_KIND: unknown kind {:?}", settings.root_area_kind))?;
    let root = match areas::root(conn)? {
        Some(r) => r,
        None => {
            let id = Uuid::new_v4().to_string();
            let row = AreaRow {
                path: format!("/{id}/"),
                id,
                parent_id: None,
                kind: kind.as_str().into(),
                name: settings.root_area_name.clone(),
                depth: 0,
                created_at: now,
                seq: seq::allocate(conn, 1)?,
            };
            areas::insert(conn, &row)?;
            row
        }
    };
    let (password, generated) = match &settings.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => (tokens::new_refresh_token(), true),
    };
    let row = UserRow {
        id: Uuid::new_v4().to_string(),
        username: "admin".into(),
        password_hash: password::hash(&password)?,
        display_name: "Administrator".into(),
        role: Enum(Role::Admin),
        area_id: root.id.clone(),
        area_path: root.path.clone(),
        team_id: None,
        created_at: now,
        updated_at: now,
        active: true,
    };
    users::insert(conn, &row)?;
    policies::ensure_default(conn, now)?;
    audit::insert(
        conn,
        &NewAudit {
            at: now,
            action: "bootstrap".into(),
            target_type: Some("user".into()),
            target_id: Some(row.id),
            area_path: root.path,
            detail: "{}".into(),
            ..Default::default()
        },
    )?;
    Ok(generated.then_some(password))
}

/// Opens a session on `device_id` and issues its first token pair.
pub fn open_session(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    user: UserRow,
    device_id: &str,
    now: i64,
) -> Result<TokenPair, ApiError> {
    let session = SessionRow {
        id: Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        device_id: device_id.to_owned(),
        created_at: now,
        revoked_at: None,
        revoke_reason: None,
    };
    devices::insert_session(conn, &session)?;
    issue(conn, keys, settings, user, (&session.id, device_id), None, now)
}

/// A fresh access token and a fresh refresh token for an existing `(session, device)`;
/// `parent` is the hash of the refresh token spent for them.
pub fn issue(
    conn: &mut DbConn,
    keys: &Keys,
    settings: &Settings,
    user: UserRow,
    (session_id, device_id): (&str, &str),
    parent: Option<&str>,
    now: i64,
) -> Result<TokenPair, ApiError> {
    let refresh = tokens::new_refresh_token();
    let token_hash = tokens::hash_token(&refresh);
    devices::insert_refresh(
        conn,
        &RefreshRow {
            token_hash: token_hash.clone(),
            session_id: session_id.to_owned(),
            issued_at: now,
            expires_at: now + settings.refresh_token_ttl_days * 86_400_000,
            used_at: None,
            parent_hash: parent.map(str::to_owned),
            voided_at: None,
            access_used_at: None,
        },
    )?;
    let now_s = now / 1000;
    let claims = Claims {
        sub: user.id.clone(),
        role: user.role.0.as_str().into(),
        area: user.area_id.clone(),
        dev: device_id.to_owned(),
        sid: session_id.to_owned(),
        jti: Uuid::new_v4().to_string(),
        iat: now_s,
        exp: now_s + settings.access_token_ttl_s,
        pair: Some(token_hash),
    };
    Ok(TokenPair {
        access_token: keys.sign(&claims)?,
        token_type: "Bearer",
        expires_in: settings.access_token_ttl_s,
        refresh_token: refresh,
        user: user.into(),
    })
}

/// Who an audit entry names as having acted.
pub struct AuditActor {
    pub user_id: String,
    pub username: String,
    pub device_id: String,
    pub client_addr: Option<String>,
}

impl From<&Principal> for AuditActor {
    fn from(p: &Principal) -> Self {
        AuditActor {
            user_id: p.user_id.clone(),
            username: p.username.clone(),
            device_id: p.device_id.clone(),
            client_addr: p.client_addr.clone(),
        }
    }
}

/// An audit entry for something `actor` did.
pub fn audit_by(
    conn: &mut DbConn,
    actor: &Principal,
    action: &str,
    target: (&str, &str),
    area_path: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), ApiError> {
    audit_as(conn, AuditActor::from(actor), action, target, area_path, detail, now)
}

/// An audit entry for something `actor` did outside a request's [`Principal`] (a refresh).
pub fn audit_as(
    conn: &mut DbConn,
    actor: AuditActor,
    action: &str,
    target: (&str, &str),
    area_path: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), ApiError> {
    audit::insert(
        conn,
        &NewAudit {
            at: now,
            action: action.into(),
            actor_user_id: Some(actor.user_id),
            actor_username: Some(actor.username),
            device_id: Some(actor.device_id),
            client_addr: actor.client_addr,
            target_type: Some(target.0.into()),
            target_id: Some(target.1.into()),
            area_path: area_path.into(),
            detail: detail.to_string(),
        },
    )?;
    Ok(())
}

pub struct NewUser {
    pub id: Option<Uuid>,
    pub username: String,
    pub password: password::Hashed,
    pub display_name: String,
    pub role: Role,
    pub area_id: String,
    pub team_id: Option<String>,
}

/// Checks and stores a new user; `scope` limits where it may be placed (None: anywhere, for the CLI).
pub fn create_user(conn: &mut DbConn, new: NewUser, scope: Option<&str>, now: i64) -> Result<UserRow, ApiError> {
    let username = new.username.trim();
    if username.is_empty() || username.chars().count() > 64 || username.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid("username", "1 to 64 characters without spaces"));
    }
    if new.display_name.trim().is_empty() || new.display_name.chars().count() > 100 {
        return Err(ApiError::invalid("display_name", "1 to 100 characters"));
    }
    let area = areas::find(conn, &new.area_id)?.ok_or_else(|| ApiError::invalid("area_id", "no such area"))?;
    if let Some(scope) = scope {
        if !is_within(&area.path, scope) {
            return Err(ApiError::out_of_scope("area_id"));
        }
    }
    if let Some(team_id) = &new.team_id {
        check_team(conn, team_id, &area.path, scope)?;
    }
    if users::find_by_username(conn, username)?.is_some() {
        return Err(ApiError::conflict("username_taken", "that username is taken").with_field("username"));
    }
    let id = new.id.unwrap_or_else(Uuid::new_v4).to_string();
    // A client-chosen id that is taken is the client's mistake (409), not a failed insert (500).
    if users::find(conn, &id)?.is_some() {
        return Err(ApiError::conflict("already_exists", "a user with this id exists").with_field("id"));
    }
    let row = UserRow {
        id,
        username: username.to_owned(),
        password_hash: new.password.into_string(),
        display_name: new.display_name,
        role: Enum(new.role),
        area_id: area.id,
        area_path: area.path,
        team_id: new.team_id,
        created_at: now,
        updated_at: now,
        active: true,
    };
    users::insert(conn, &row)?;
    Ok(row)
}

/// A user's team serves an area that contains the user's area or lies within it, and never one
/// outside `scope` (the acting admin's area): a town's handler on a county team would read the
/// tickets of every town that team serves.
fn check_team(conn: &mut DbConn, team_id: &str, user_area_path: &str, scope: Option<&str>) -> Result<(), ApiError> {
    let team = areas::find_team(conn, team_id)?.ok_or_else(|| ApiError::invalid("team_id", "no such team"))?;
    if scope.is_some_and(|scope| !is_within(&team.area_path, scope)) {
        return Err(ApiError::out_of_scope("team_id"));
    }
    if !(is_within(user_area_path, &team.area_path) || is_within(&team.area_path, user_area_path)) {
        return Err(ApiError::invalid("team_id", "the team does not serve this area"));
    }
    Ok(())
}

/// Checks and stores a new area under `parent_id`.
pub fn create_area(
    conn: &mut DbConn,
    id: Option<Uuid>,
    parent_id: &str,
    kind: AreaKind,
    name: &str,
    scope: &str,
    now: i64,
) -> Result<AreaRow, ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "1 to 200 characters"));
    }
    let parent = areas::find(conn, parent_id)?.ok_or_else(|| ApiError::invalid("parent_id", "no such area"))?;
    if !is_within(&parent.path, scope) {
        return Err(ApiError::out_of_scope("parent_id"));
    }
    let parent_kind = AreaKind::parse(&parent.kind).unwrap_or(AreaKind::Province);
    if !kind.may_be_child_of(parent_kind) {
        return Err(ApiError::invalid("kind", format!("a {} cannot sit under a {}", kind.as_str(), parent.kind)));
    }
    let id = id.unwrap_or_else(Uuid::new_v4).to_string();
    if areas::find(conn, &id)?.is_some() {
        return Err(ApiError::conflict("already_exists", "an area with this id exists").with_field("id"));
    }
    let row = AreaRow {
        path: format!("{}{id}/", parent.path),
        id,
        parent_id: Some(parent.id),
        kind: kind.as_str().into(),
        name: name.to_owned(),
        depth: parent.depth + 1,
        created_at: now,
        seq: seq::allocate(conn, 1)?,
    };
    areas::insert(conn, &row)?;
    Ok(row)
}

pub fn create_team(
    conn: &mut DbConn,
    id: Option<Uuid>,
    name: &str,
    area_id: &str,
    categories: &[String],
    scope: &str,
    now: i64,
) -> Result<TeamRow, ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "1 to 200 characters"));
    }
    if categories.len() > 50 || categories.iter().any(|c| c.is_empty() || c.chars().count() > 64) {
        return Err(ApiError::invalid("categories", "at most 50 categories of 1 to 64 characters"));
    }
    let area = areas::find(conn, area_id)?.ok_or_else(|| ApiError::invalid("area_id", "no such area"))?;
    if !is_within(&area.path, scope) {
        return Err(ApiError::out_of_scope("area_id"));
    }
    let id = id.unwrap_or_else(Uuid::new_v4).to_string();
    if areas::find_team(conn, &id)?.is_some() {
        return Err(ApiError::conflict("already_exists", "a team with this id exists").with_field("id"));
    }
    let row = TeamRow {
        id,
        name: name.to_owned(),
        area_id: area.id,
        area_path: area.path,
        categories: crate::db::typed::Json(categories.to_vec()),
        created_at: now,
        seq: seq::allocate(conn, 1)?,
    };
    areas::insert_team(conn, &row)?;
    Ok(row)
}
