//! The bodies of the cargo-fuzz targets in `fuzz/`, shared with the corpus replay test
//! (`tests/fuzz_corpus.rs`) so the fuzzer and CI check exactly the same thing.
//!
//! Each function takes the raw fuzzer input, runs it through the code the server runs, and
//! panics when an invariant breaks. Not part of the protocol: behind the `fuzzing` feature.

mod fold;
mod push;

pub use fold::deadline_fold;
pub use push::push_body;
