//! The offline-sync write and read paths: applying pushes (`apply`), committing them in groups
//! (`writer`), and serving gap-free pulls (`pull`).

pub mod apply;
pub mod pull;
pub mod writer;

pub use writer::Writer;
