//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/<target>/`) through the same bodies
//! the fuzz targets run, so CI checks every input the fuzzer kept without nightly flags.

use std::path::PathBuf;

use fieldvisit_sync_protocol::fuzzing::{deadline_fold, push_body};

fn replay(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(panic) = std::panic::catch_unwind(|| body(&data)) {
            panic!("{} failed on {}: {panic:?}", target, path.display());
        }
        count += 1;
    }
    assert!(count > 0, "the {target} corpus is empty");
}

#[test]
fn push_body_corpus_replays_cleanly() {
    replay("push_body", push_body);
}

#[test]
fn deadline_fold_corpus_replays_cleanly() {
    replay("deadline_fold", deadline_fold);
}
