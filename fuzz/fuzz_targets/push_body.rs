//! `POST /api/v1/sync/push` bodies: envelope, records, clock correction, canonical form, answer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fieldvisit_sync_protocol::fuzzing::push_body(data));
