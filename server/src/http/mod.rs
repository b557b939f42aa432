//! The HTTP surface: every route (`routes/`), and the plumbing they share — request extraction
//! with field-naming errors (`extract`), opaque list cursors (`keyset`), 405 answers (`methods`)
//! and Prometheus metrics (`metrics`).

pub mod extract;
pub mod keyset;
pub mod methods;
pub mod metrics;
pub mod routes;
