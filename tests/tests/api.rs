//! The end-to-end suite as one test binary: each module is one area of the API, every test runs
//! on SQLite and PostgreSQL (`backend_tests!`). One binary links the server once instead of once
//! per file. `logs.rs` stays a binary of its own: it installs the global log subscriber.

#[macro_use]
mod harness;

mod accounts;
mod api_fuzz_regressions;
mod bad_input;
mod batched_writes;
mod channels;
mod check;
mod checklist_report;
mod checklists;
mod counties;
mod county_policy;
mod county_shard;
mod dashboard;
mod deadlines;
mod demo;
mod duplicates;
mod import;
mod import_checklist;
mod instances;
mod lifecycle;
mod media;
mod outage;
mod pull_cost;
mod reports;
mod resident_loop;
mod scope;
mod security_http;
mod service;
mod simulate;
mod sync;
mod sync_props;
mod webhook;

/// Cargo no longer discovers test files by itself (`autotests = false`): a file left out of the
/// list above would silently never run.
#[test]
fn every_test_file_is_part_of_the_suite() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let listed = include_str!("api.rs");
    for entry in std::fs::read_dir(&dir).expect("tests dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        let Some(module) = name.strip_suffix(".rs") else { continue };
        if module == "api" || module == "logs" {
            continue;
        }
        assert!(listed.contains(&format!("\nmod {module};")), "tests/{name} is not declared in tests/api.rs");
    }
}
