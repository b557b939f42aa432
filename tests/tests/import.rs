//! `fieldvisit import`: the documented example folder imports, a second run changes nothing,
//! imported households reach the phones of their grid through pull, and a refused row stores
//! nothing at all.

use crate::harness;

use std::path::{Path, PathBuf};

use fieldvisit_server::ops::import::{self, ImportArgs};
use harness::{at_minutes, batch, ids_in, TestApp};
use serde_json::json;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/import-example")
}

fn args(app: &TestApp, dir: &Path, out: &Path, dry_run: bool) -> ImportArgs {
    ImportArgs {
        dir: dir.to_path_buf(),
        dry_run,
        credentials_out: Some(out.join("credentials.csv")),
        report: Some(out.join("report.csv")),
        settings: app.settings.clone(),
    }
}

/// `username → password` from the credentials file the import wrote.
fn credentials(out: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(out.join("credentials.csv")).expect("credentials file");
    text.lines().skip(1).filter_map(|l| l.split_once(',')).map(|(u, p)| (u.to_owned(), p.to_owned())).collect()
}

fn outcomes(out: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(out.join("report.csv")).expect("report file");
    text.lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[2].to_owned(), cells[3].to_owned())
        })
        .collect()
}

async fn the_example_imports_once_and_reaches_phones_through_pull(app: TestApp) {
    let out = tempfile::tempdir().expect("temp dir");
    assert!(import::run(args(&app, &example(), out.path(), false)).await.expect("import runs"));
    let first = outcomes(out.path());
    assert_eq!(first.len(), 7 + 2 + 5 + 4, "one report row per CSV row: {first:?}");
    assert!(first.iter().all(|(_, o)| o == "created"), "{first:?}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.path().join("credentials.csv")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "credentials are readable by the owner only");
    }
    let creds = credentials(out.path());
    assert_eq!(creds.len(), 5, "every user without a password got one");
    let password = |u: &str| creds.iter().find(|c| c.0 == u).expect("user in credentials").1.clone();

    // The volunteer of grid 01 pulls exactly the two households of that grid, phone included.
    let volunteer = app.token("wang.li", &password("wang.li"), "phone-wang").await;
    let (pages, _) = app.pull_all(&volunteer, None, 100).await;
    let households: Vec<_> =
        pages.iter().flat_map(|p| p["households"].as_array().cloned().unwrap_or_default()).collect();
    let mut addresses: Vec<&str> = households.iter().filter_map(|h| h["address"].as_str()).collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["东城社区1号楼1单元101", "东城社区1号楼1单元102"]);
    let zhang = households.iter().find(|h| h["head_name"] == "张桂兰").expect("张桂兰");
    assert_eq!(zhang["heating"], "central");
    assert_eq!(zhang["tags"], json!(["elderly_alone"]));
    assert_eq!(zhang["phone"], "13800000001");

    // The handler belongs to the imported team; the supervisor (no area code) sits at the root.
    let (_, me) = app.get_as(&app.token("li.qiang", &password("li.qiang"), "phone-li").await, "/api/v1/me").await;
    assert_eq!(me["role"], "handler");
    assert_eq!(me["team_id"], import::team_id("HEAT-01-CG").to_string());
    let admin = app.admin_token().await;
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    let root = areas["areas"].as_array().expect("areas").iter().find(|a| a["parent_id"].is_null()).expect("root");
    let (_, me) = app.get_as(&app.token("liu.yang", &password("liu.yang"), "laptop-liu").await, "/api/v1/me").await;
    assert_eq!(me["area_id"], root["id"]);

    // A phone edits a household; importing the same files again changes nothing and keeps the edit.
    let mut edited = zhang.clone();
    edited["head_name"] = json!("张桂兰（女儿代接）");
    edited["base_version"] = zhang["version"].clone();
    edited["updated_at"] = json!(at_minutes(0));
    let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), json!({"households": [edited]}))).await;
    assert_eq!((status, res["results"][0]["status"].as_str()), (200, Some("applied")), "{res}");
    let again = tempfile::tempdir().expect("temp dir");
    assert!(import::run(args(&app, &example(), again.path(), false)).await.expect("import runs"));
    let second = outcomes(again.path());
    let kept: Vec<_> = second.iter().filter(|(_, o)| o != "unchanged").collect();
    assert_eq!(kept, [&("620121100001-01/1-101".to_owned(), "kept".to_owned())], "{second:?}");
    assert!(!again.path().join("credentials.csv").exists(), "no new users, no new passwords");
    let (_, page) = app.get_as(&volunteer, "/api/v1/sync/pull?limit=100").await;
    let heads: Vec<_> =
        page["households"].as_array().expect("households").iter().map(|h| h["head_name"].clone()).collect();
    assert!(heads.contains(&json!("张桂兰（女儿代接）")), "the phone's edit survives: {heads:?}");
}

async fn a_refused_row_or_a_dry_run_stores_nothing(app: TestApp) {
    let out = tempfile::tempdir().expect("temp dir");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("areas.csv"),
        "code,parent_code,kind,name\nT1,,town,新城镇\nG1,T1,grid,新城网格\nG2,NOPE,grid,孤儿网格\nG1,T1,grid,重复\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("households.csv"),
        "code,area_code,address,head_name,phone,heating,tags\n1,G1,新城1号,甲,,steam,\n2,G1,新城2号,乙,,coal,\n",
    )
    .expect("write");
    let ok = import::run(args(&app, dir.path(), out.path(), false)).await.expect("import runs");
    assert!(!ok, "refused rows fail the import");
    let report = std::fs::read_to_string(out.path().join("report.csv")).expect("report");
    assert!(report.contains("areas.csv,4,G2,error,parent_code,"), "{report}");
    assert!(report.contains("areas.csv,5,G1,error,code,repeats line 3"), "{report}");
    assert!(report.contains("households.csv,2,G1/1,error,heating,"), "{report}");

    let admin = app.admin_token().await;
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    assert_eq!(areas["areas"].as_array().map(Vec::len), Some(1), "only the root: the good rows were not stored either");

    // The same folder without the bad rows, as a dry run: the report says created, nothing is stored.
    std::fs::write(dir.path().join("areas.csv"), "code,parent_code,kind,name\nT1,,town,新城镇\nG1,T1,grid,新城网格\n")
        .expect("write");
    std::fs::write(
        dir.path().join("households.csv"),
        "code,area_code,address,head_name,phone,heating,tags\n1,G1,新城1号,甲,,gas,\n",
    )
    .expect("write");
    assert!(import::run(args(&app, dir.path(), out.path(), true)).await.expect("dry run"));
    assert!(outcomes(out.path()).iter().all(|(_, o)| o == "created"));
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    assert_eq!(areas["areas"].as_array().map(Vec::len), Some(1), "a dry run stores nothing");
    let (_, page) = app.get_as(&admin, "/api/v1/sync/pull?limit=100").await;
    assert_eq!(ids_in(&[page], "households").len(), 0);
}

backend_tests!(the_example_imports_once_and_reaches_phones_through_pull, a_refused_row_or_a_dry_run_stores_nothing);
