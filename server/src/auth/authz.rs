//! Who may do what: one table from action to roles. Routes ask here; none decides by itself.
//! Area scope is checked beside it with [`Principal::require_scope`] / [`Principal::sees`].

use fieldvisit_sync_protocol::org::Role;

use super::Principal;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create areas, teams and users.
    ManageOrganisation,
    /// List users.
    ListUsers,
    /// List devices, revoke one.
    ManageDevices,
    ReadAudit,
    /// Read areas and teams in scope (everyone signed in: phones need them).
    ReadOrganisation,
}

pub fn allowed_roles(action: Action) -> &'static [Role] {
    use Role::*;
    match action {
        Action::ManageOrganisation | Action::ReadAudit => &[Admin],
        Action::ListUsers | Action::ManageDevices => &[Supervisor, Admin],
        Action::ReadOrganisation => &[Volunteer, Handler, Dispatcher, Supervisor, Admin],
    }
}

impl Principal {
    /// 403 `forbidden` unless the caller's role may perform `action`.
    pub fn authorize(&self, action: Action) -> Result<(), ApiError> {
        if allowed_roles(action).contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("a {} may not do this", self.role.as_str())))
        }
    }

    /// Role check and scope check together, for an action on something in `area_path`.
    pub fn authorize_in(&self, action: Action, area_path: &str) -> Result<(), ApiError> {
        self.authorize(action)?;
        self.require_scope(area_path)
    }
}
