//! Which channels an alert goes to. A channel belongs to an area and hears the alerts of tickets
//! at or below it, so a county's channel hears its whole county; its filter narrows that (teams,
//! alert types, lowest escalation level). An escalation whose policy entry says
//! `notify: parent_area` is addressed to the parent of the ticket's area instead: channels at or
//! above the parent hear it, the ticket's own area's channels (and its siblings') do not.

use fieldvisit_sync_protocol::deadline::Notify;

use crate::db::scope;

/// What routing needs of an alert.
#[derive(Debug, Clone, Copy)]
pub struct Addressed<'a> {
    pub kind: &'a str,
    pub level: i32,
    pub area_path: &'a str,
    pub team_id: Option<&'a str>,
    /// The audience of the escalation at `level` under the ticket's policy (`None`: not an escalation).
    pub notify: Option<Notify>,
}

/// What routing needs of a channel.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    pub area_path: &'a str,
    pub teams: &'a [String],
    pub types: &'a [String],
    pub min_level: i32,
}

/// The parent of a materialized path ("/a/b/" → "/a/"); the root is its own parent.
pub fn parent_path(path: &str) -> &str {
    let stem = path.strip_suffix('/').unwrap_or(path);
    match stem.rfind('/') {
        Some(i) if i > 0 || stem.len() > 1 => &path[..=i],
        _ => path,
    }
}

/// The area an alert is addressed to.
pub fn audience(a: &Addressed) -> String {
    match a.notify {
        Some(Notify::ParentArea) => parent_path(a.area_path).to_owned(),
        _ => a.area_path.to_owned(),
    }
}

pub fn matches(f: &Filter, a: &Addressed) -> bool {
    scope::is_within(&audience(a), f.area_path)
        && (f.teams.is_empty() || a.team_id.is_some_and(|t| f.teams.iter().any(|x| x == t)))
        && (f.types.is_empty() || f.types.iter().any(|x| x == a.kind))
        && a.level >= f.min_level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(level: i32, notify: Option<Notify>) -> Addressed<'static> {
        Addressed { kind: "escalated", level, area_path: "/c/t/g/", team_id: Some("team-1"), notify }
    }

    fn at(path: &str) -> Filter<'_> {
        Filter { area_path: path, teams: &[], types: &[], min_level: 0 }
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path("/c/t/g/"), "/c/t/");
        assert_eq!(parent_path("/c/"), "/");
        assert_eq!(parent_path("/"), "/");
    }

    #[test]
    fn area_escalations_reach_the_area_and_above() {
        let a = alert(1, Some(Notify::Area));
        assert!(matches(&at("/c/t/g/"), &a));
        assert!(matches(&at("/c/"), &a));
        assert!(!matches(&at("/c/t/h/"), &a), "a sibling grid");
    }

    #[test]
    fn parent_area_escalations_skip_the_ticket_s_own_area() {
        let a = alert(2, Some(Notify::ParentArea));
        assert!(!matches(&at("/c/t/g/"), &a));
        assert!(matches(&at("/c/t/"), &a));
        assert!(matches(&at("/c/"), &a));
    }

    #[test]
    fn filters_narrow() {
        let a = alert(1, Some(Notify::Area));
        let teams = ["team-2".to_owned()];
        assert!(!matches(&Filter { teams: &teams, ..at("/c/") }, &a));
        let types = ["overdue".to_owned()];
        assert!(!matches(&Filter { types: &types, ..at("/c/") }, &a));
        assert!(!matches(&Filter { min_level: 2, ..at("/c/") }, &a));
        let undispatched = Addressed { team_id: None, ..a };
        let teams = ["team-1".to_owned()];
        assert!(!matches(&Filter { teams: &teams, ..at("/c/") }, &undispatched));
    }
}
