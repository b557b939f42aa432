//! Wire types and pure rules shared by the fieldvisit server and phone apps.
//!
//! This crate is an API boundary: it knows nothing of databases, HTTP servers or async
//! runtimes, so a phone app built on it computes the same due times as the server, offline.

pub mod checklist;
pub mod codes;
pub mod deadline;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod org;
pub mod sync;
pub mod time;
