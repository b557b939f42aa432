//! The fieldvisit server as a library: the binary (`main.rs`) and the end-to-end suite both build
//! the app through [`startup::Application`].

pub mod accounts;
pub mod alert_bus;
pub mod auth;
pub mod backup;
pub mod channels;
pub mod check;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod extract;
pub mod import;
pub mod keyset;
pub mod methods;
pub mod metrics;
pub mod reports;
pub mod routes;
pub mod simulate;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod tracker;
