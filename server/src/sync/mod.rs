//! The offline-sync write and read paths: parsing pushes on the request's thread (`parsed`),
//! applying them (`apply`), committing them in groups (`writer`) and answering once the commit is
//! on disk (`wal_sync`), and serving gap-free pulls (`pull`).

pub mod apply;
pub mod duplicates;
pub mod parsed;
pub mod pull;
pub mod rate;
pub mod wal_sync;
pub mod writer;

pub use writer::Writer;
