//! Who may do what: one table from action to roles. Routes ask here; none decides by itself.
//! Area scope is checked beside it with [`Principal::require_scope`] / [`Principal::sees`].

use fieldvisit_sync_protocol::deadline::EventType;
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
    /// Push households, visits and tickets (within scope).
    WriteRecords,
    /// Push or pull at all.
    Sync,
    /// Compliance, clearance, coverage and temperature reports.
    ReadReports,
    /// Read tickets and households (scope decides which).
    ReadTickets,
    /// Add an event to a ticket over HTTP (`may_write_event` decides which types).
    WriteTicketEvent,
    /// List fired alerts and follow the alert stream.
    WatchAlerts,
    /// Read the deadline policy.
    ReadPolicy,
    /// Publish a new deadline policy version.
    ManagePolicy,
    /// Follow the alert stream of the tickets dispatched to one's team.
    WatchTeamAlerts,
    /// The callback list (回访); the `callback` event itself goes through `may_write_event`.
    CallBack,
    /// List possible duplicate households and merge one into another.
    MergeHouseholds,
}

pub fn allowed_roles(action: Action) -> &'static [Role] {
    use Role::*;
    match action {
        Action::ManageOrganisation | Action::ReadAudit | Action::ManagePolicy => &[Admin],
        Action::ListUsers | Action::ManageDevices => &[Supervisor, Admin],
        Action::ReadOrganisation
        | Action::Sync
        | Action::ReadTickets
        | Action::WriteTicketEvent
        | Action::ReadPolicy => &[Volunteer, Handler, Dispatcher, Supervisor, Admin],
        // Watching deadlines is the desk's job; phones see their tickets' states in pulls.
        Action::WatchAlerts | Action::CallBack => &[Dispatcher, Supervisor, Admin],
        Action::WriteRecords => &[Volunteer, Dispatcher, Supervisor, Admin],
        Action::ReadReports | Action::MergeHouseholds => &[Dispatcher, Supervisor, Admin],
        Action::WatchTeamAlerts => &[Handler],
    }
}

/// What decides who may see or add to a ticket.
pub struct TicketAccess<'a> {
    pub area_path: &'a str,
    pub team_id: Option<&'a str>,
    pub reporter_id: &'a str,
}

/// Why an event may not be written: the ticket is invisible, or the role may not write this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRefusal {
    OutOfScope,
    Forbidden,
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

    /// A ticket is visible in the caller's area, and to a handler when dispatched to their team.
    pub fn sees_ticket(&self, t: &TicketAccess) -> bool {
        self.sees(t.area_path)
            || (self.role == Role::Handler && self.team_id.is_some() && self.team_id.as_deref() == t.team_id)
    }

    /// The contract's event permissions: volunteers comment in scope and resolve or give feedback
    /// on the tickets they reported; handlers record arrival, resolution, feedback and comments on their
    /// team's tickets; dispatchers, supervisors and admins write any event in scope (only they,
    /// the desk, record a `callback`).
    pub fn may_write_event(&self, event: EventType, t: &TicketAccess) -> Result<(), EventRefusal> {
        use EventType::*;
        if !self.sees_ticket(t) {
            return Err(EventRefusal::OutOfScope);
        }
        let ok = match self.role {
            // Feedback and resolution speak for the household: only its ticket's reporter gives them.
            Role::Volunteer => {
                event == Comment || (matches!(event, Feedback | Resolved) && t.reporter_id == self.user_id)
            }
            Role::Handler => {
                self.team_id.as_deref() == t.team_id && matches!(event, OnSite | Resolved | Feedback | Comment)
            }
            Role::Dispatcher | Role::Supervisor | Role::Admin => self.sees(t.area_path),
        };
        if ok {
            Ok(())
        } else {
            Err(EventRefusal::Forbidden)
        }
    }

    /// Role check and scope check together, for an action on something in `area_path`.
    pub fn authorize_in(&self, action: Action, area_path: &str) -> Result<(), ApiError> {
        self.authorize(action)?;
        self.require_scope(area_path)
    }
}
