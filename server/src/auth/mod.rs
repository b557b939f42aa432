//! Authentication (passwords, tokens, sessions) and authorization (roles and area scope).

pub mod accounts;
pub mod authz;
pub mod cookie;
pub mod forwarded;
pub mod keys;
pub mod password;
pub mod principal;
pub mod ratelimit;
pub mod tokens;

pub use authz::Action;
pub use principal::Principal;
