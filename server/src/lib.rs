//! The fieldvisit server as a library: the binary (`main.rs`) and the end-to-end suite both build
//! the app through [`startup::Application`].

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadlines;
pub mod error;
pub mod http;
pub mod memory;
pub mod ops;
pub mod reports;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
