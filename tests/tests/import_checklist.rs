//! `fieldvisit import` with a `checklist.csv` (one template item a row, Chinese or English
//! headers), on both backends: the template becomes a version phones read, a second run is
//! `unchanged`, and a bad row is refused with its line and column while nothing is stored.

use crate::harness;

use std::path::Path;

use fieldvisit_server::ops::import::{self, ImportArgs};
use harness::TestApp;
use serde_json::json;

fn args(app: &TestApp, dir: &Path, out: &Path) -> ImportArgs {
    ImportArgs {
        dir: dir.to_path_buf(),
        dry_run: false,
        credentials_out: None,
        report: Some(out.join("report.csv")),
        settings: app.settings.clone(),
    }
}

const CHINESE: &str = "\u{feff}模板编码,模板名称,项目编码,问题,题型,必填,选项,单位,最小值,最大值
coal_home,燃煤户安全检查,stove_ok,炉具完好,是否,是,,,,
coal_home,,co_alarms,报警器数量,数字,否,,个,0,5
coal_home,,fuel,燃料,单选,否,煤；型煤、兰炭,,,
coal_home,,concerns,居民诉求,文本,,,,,
";

async fn a_template_imports_from_chinese_headers_once(app: TestApp) {
    let (dir, out) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    std::fs::write(dir.path().join("checklist.csv"), CHINESE).expect("write");
    assert!(import::run(args(&app, dir.path(), out.path())).await.expect("import runs"));
    let report = std::fs::read_to_string(out.path().join("report.csv")).expect("report");
    assert_eq!(report.matches(",created,").count(), 4, "{report}");
    assert!(report.contains("checklist.csv,2,coal_home.stove_ok,created"), "{report}");

    let admin = app.admin_token().await;
    let (status, list) = app.get_as(&admin, "/api/v1/checklists?id=coal_home").await;
    assert_eq!(status, 200, "{list}");
    let t = &list["templates"][0];
    assert_eq!((&t["name"], &t["version"]), (&json!("燃煤户安全检查"), &json!(1)), "{t}");
    assert_eq!(
        t["items"],
        json!([
            {"key": "stove_ok", "label": "炉具完好", "type": "bool", "required": true},
            {"key": "co_alarms", "label": "报警器数量", "type": "number", "unit": "个", "min": 0.0, "max": 5.0, "required": false},
            {"key": "fuel", "label": "燃料", "type": "choice", "choices": ["煤", "型煤", "兰炭"], "required": false},
            {"key": "concerns", "label": "居民诉求", "type": "text", "required": false}
        ])
    );

    assert!(import::run(args(&app, dir.path(), out.path())).await.expect("runs again"));
    let again = std::fs::read_to_string(out.path().join("report.csv")).expect("report");
    assert_eq!(again.matches(",unchanged,").count(), 4, "{again}");
    let (_, list) = app.get_as(&admin, "/api/v1/checklists?id=coal_home").await;
    assert_eq!(list["templates"][0]["version"], 1, "no new version for the same items");

    // An English file with one item changed is the next version.
    let english = "template_id,template_name,key,label,type,required\ncoal_home,燃煤户安全检查,stove_ok,炉具与烟道完好,bool,yes\n";
    std::fs::write(dir.path().join("checklist.csv"), english).expect("write");
    assert!(import::run(args(&app, dir.path(), out.path())).await.expect("runs"));
    let (_, list) = app.get_as(&admin, "/api/v1/checklists?id=coal_home").await;
    let t = &list["templates"][0];
    assert_eq!((&t["version"], &t["items"][0]["label"]), (&json!(2), &json!("炉具与烟道完好")), "{t}");
}

async fn bad_rows_are_refused_with_line_and_column(app: TestApp) {
    let (dir, out) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let csv = "template_id,template_name,key,label,type,required,choices,unit,min,max
t1,检查,ok,完好,bool,maybe,,,,
t1,,temp,温度,number,,,,hot,
t2,检查二,a,甲,rating,,,,,
t3,检查三,Bad Key,乙,text,,,,,
t4,检查四,x,丙,choice,,,,,
t5,检查五,y,丁,number,,,,9,1
t6,检查六,z,戊,text,,,,,
t6,,z,己,text,,,,,
,检查七,w,庚,text,,,,,
";
    std::fs::write(dir.path().join("checklist.csv"), csv).expect("write");
    let ok = import::run(args(&app, dir.path(), out.path())).await.expect("import runs");
    assert!(!ok, "refused rows fail the import");
    let report = std::fs::read_to_string(out.path().join("report.csv")).expect("report");
    for want in [
        "checklist.csv,2,t1.ok,error,required,",
        "checklist.csv,3,t1.temp,error,min,",
        "checklist.csv,4,t2.a,error,type,",
        "checklist.csv,5,t3.Bad Key,error,key,",
        "checklist.csv,6,t4.x,error,choices,",
        "checklist.csv,7,t5.y,error,min,",
        "checklist.csv,9,t6.z,error,key,",
        "checklist.csv,10,.w,error,template_id,",
    ] {
        assert!(report.contains(want), "{want}: {report}");
    }
    let admin = app.admin_token().await;
    let (_, list) = app.get_as(&admin, "/api/v1/checklists").await;
    let ids: Vec<&serde_json::Value> =
        list["templates"].as_array().expect("templates").iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&json!("winter_visit")], "nothing stored: {list}");
}

backend_tests!(a_template_imports_from_chinese_headers_once, bad_rows_are_refused_with_line_and_column);
