//! Operator tools run from the command line beside `serve`: the consistency check and repair,
//! backups, roster import and the demo county.

pub mod backup;
pub mod check;
pub mod demo;
pub mod import;
