//! Arbitrary policies and event histories through the deadline fold and its alert schedule.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fieldvisit_sync_protocol::fuzzing::deadline_fold(data));
