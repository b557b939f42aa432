//! The organisation on the wire: roles, the area tree, teams and users.

use serde::{Deserialize, Serialize};

/// What a user may do; scope (their area and below) is checked separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Volunteer,
    Handler,
    Dispatcher,
    Supervisor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Volunteer, Role::Handler, Role::Dispatcher, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Handler => "handler",
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Levels of the area tree, from the widest down. A child is always of a narrower kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    Province,
    City,
    County,
    Town,
    Community,
    Grid,
}

impl AreaKind {
    pub const ALL: [AreaKind; 6] =
        [AreaKind::Province, AreaKind::City, AreaKind::County, AreaKind::Town, AreaKind::Community, AreaKind::Grid];

    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Province => "province",
            AreaKind::City => "city",
            AreaKind::County => "county",
            AreaKind::Town => "town",
            AreaKind::Community => "community",
            AreaKind::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<AreaKind> {
        AreaKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether an area of kind `self` may sit directly under one of kind `parent`.
    pub fn may_be_child_of(self, parent: AreaKind) -> bool {
        self > parent
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Area {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: String,
    pub name: String,
    pub area_id: String,
    pub categories: Vec<String>,
}

/// A user as every response shows one: never a password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub area_id: String,
    pub team_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_kinds_round_trip_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
        for k in AreaKind::ALL {
            assert_eq!(AreaKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn children_are_narrower() {
        assert!(AreaKind::Town.may_be_child_of(AreaKind::County));
        assert!(AreaKind::Grid.may_be_child_of(AreaKind::County));
        assert!(!AreaKind::County.may_be_child_of(AreaKind::County));
        assert!(!AreaKind::City.may_be_child_of(AreaKind::Town));
    }
}
