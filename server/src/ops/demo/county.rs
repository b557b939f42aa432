//! The demo county, shaped like the source report's (永登县): six towns, each with two communities
//! or villages of two grids; 8 heating companies running 13 stations as repair teams; a volunteer
//! per grid, a handler per station, a dispatcher and a supervisor for the county.

use fieldvisit_simulate::story::{Cast, Grid, CATEGORIES, HOUSEHOLDS_PER_GRID};

use crate::ops::import::{AreaIn, HouseholdIn, Line, Roster, TeamIn, UserIn};

const TOWNS: [(&str, &str, bool); 6] = [
    ("620121100", "城关镇", true),
    ("620121101", "红城镇", false),
    ("620121102", "中堡镇", false),
    ("620121103", "武胜驿镇", false),
    ("620121104", "河桥镇", true),
    ("620121105", "连城镇", false),
];

/// (company, station, town index).
const STATIONS: [(&str, &str, usize); 13] = [
    ("永登县热力有限公司", "城关一站", 0),
    ("永登县热力有限公司", "城关二站", 0),
    ("永登县热力有限公司", "城关三站", 0),
    ("永登县热力有限公司", "城关四站", 0),
    ("红城供热有限公司", "红城东站", 1),
    ("红城供热有限公司", "红城西站", 1),
    ("中堡热力公司", "中堡站", 2),
    ("武胜驿供热公司", "武胜驿一站", 3),
    ("武胜驿供热公司", "武胜驿二站", 3),
    ("河桥热力公司", "河桥站", 4),
    ("连城供热公司", "连城站", 5),
    ("永登昆仑燃气供热", "燃气锅炉站", 0),
    ("永登电采暖服务公司", "电采暖服务站", 2),
];

const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"];
const GIVEN: [&str; 16] = [
    "桂兰", "建国", "秀英", "志强", "玉梅", "德明", "淑珍", "福贵", "海燕", "永红", "春花", "文斌", "凤英", "国庆",
    "丽娟", "长林",
];

/// The county's roster to import, and who plays in it.
pub struct County {
    pub roster: Roster,
    pub cast: Cast,
}

fn line<T>(file: &str, n: usize, row: T) -> Line<T> {
    Line { file: file.into(), line: n as u64 + 2, row }
}

fn person(i: usize) -> String {
    format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len() + i * 7) % GIVEN.len()])
}

/// The whole county; every user gets `password`.
pub fn county(password: &str) -> County {
    let mut r = Roster::default();
    let mut grids = Vec::new();
    let user = |username: String, name: String, role: &str, area: Option<String>, team: Option<String>| UserIn {
        username,
        display_name: name,
        role: role.into(),
        area_code: area,
        team_code: team,
        password: Some(password.into()),
    };
    for (s, (company, station, town)) in STATIONS.iter().enumerate() {
        let code = format!("HEAT-{:02}", s + 1);
        let area_code = Some(TOWNS[*town].0.to_owned());
        let categories = CATEGORIES.iter().map(|c| (*c).to_owned()).collect();
        let name = format!("{company}·{station}");
        r.teams.push(line("teams", s, TeamIn { code: code.clone(), name, area_code, categories }));
        let handler = format!("handler{:02}", s + 1);
        let u = user(handler.clone(), person(s + 100), "handler", Some(TOWNS[*town].0.into()), Some(code.clone()));
        r.users.push(line("users", r.users.len(), u));
    }
    for (t, (town_code, town, urban)) in TOWNS.iter().enumerate() {
        let area = |code: String, parent: Option<&str>, kind: &str, name: String| AreaIn {
            code,
            parent_code: parent.map(str::to_owned),
            kind: kind.into(),
            name,
        };
        let town_row = area((*town_code).into(), None, "town", (*town).into());
        r.areas.push(line("areas", r.areas.len(), town_row));
        let teams: Vec<String> =
            STATIONS.iter().enumerate().filter(|(_, s)| s.2 == t).map(|(i, _)| format!("HEAT-{:02}", i + 1)).collect();
        for c in 0..2 {
            let community_code = format!("{town_code}{:03}", c + 1);
            let place = town.trim_end_matches('镇');
            let community = if *urban {
                format!("{place}{}社区", ["东", "西"][c])
            } else {
                format!("{place}{}村", ["一", "二"][c])
            };
            let row = area(community_code.clone(), Some(town_code), "community", community.clone());
            r.areas.push(line("areas", r.areas.len(), row));
            for g in 0..2 {
                let grid_code = format!("{community_code}-{:02}", g + 1);
                let row = area(
                    grid_code.clone(),
                    Some(&community_code),
                    "grid",
                    format!("{community}第{}网格", ["一", "二"][g]),
                );
                r.areas.push(line("areas", r.areas.len(), row));
                let n = grids.len();
                let volunteer = format!("volunteer{:02}", n + 1);
                let u = user(volunteer.clone(), person(n + 40), "volunteer", Some(grid_code.clone()), None);
                r.users.push(line("users", r.users.len(), u));
                for h in 0..HOUSEHOLDS_PER_GRID {
                    let i = n * HOUSEHOLDS_PER_GRID + h;
                    let address = if *urban {
                        format!("{community}{}号楼{}单元{}室", g * 5 + h / 4 + 1, h % 2 + 1, 101 + (h % 4) * 100)
                    } else {
                        format!("{community}{}组{}号", g * 3 + h / 7 + 1, h + 1)
                    };
                    let heating = match (urban, i % 10) {
                        (true, 0) => "gas",
                        (true, _) => "central",
                        (false, 0..=5) => "coal",
                        (false, 6 | 7) => "electric",
                        (false, _) => "gas",
                    };
                    let tags = match i % 9 {
                        0 => vec!["elderly_alone".to_owned()],
                        4 => vec!["low_income".to_owned()],
                        _ => vec![],
                    };
                    let household = HouseholdIn {
                        code: format!("{}", h + 1),
                        area_code: grid_code.clone(),
                        address,
                        head_name: person(i),
                        phone: (!i.is_multiple_of(3)).then(|| format!("1390931{:04}", i % 10_000)),
                        heating: heating.into(),
                        tags,
                    };
                    r.households.push(line("households", r.households.len(), household));
                }
                grids.push(Grid { code: grid_code, volunteer, team_codes: teams.clone() });
            }
        }
    }
    let handlers = r.users.iter().filter_map(|u| Some((u.row.username.clone(), u.row.team_code.clone()?))).collect();
    let county_user = |username: &str, name: &str, role: &str| user(username.into(), name.into(), role, None, None);
    r.users.push(line("users", r.users.len(), county_user("dispatcher", "县供热专班调度", "dispatcher")));
    r.users.push(line("users", r.users.len(), county_user("supervisor", "县督导组", "supervisor")));
    let cast = Cast { grids, dispatcher: "dispatcher".into(), supervisor: "supervisor".into(), handlers };
    County { roster: r, cast }
}
