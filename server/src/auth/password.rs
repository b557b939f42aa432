//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), PHC strings in the database.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Verifies in constant time; a malformed stored hash counts as a mismatch.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Waits for one of as many password checks at once as there are cores. Each argon2 check holds
/// 19 MiB and a core for tens of milliseconds, so more at once only adds memory (16 phones
/// logging in together held 300 MiB) and holds more database connections while they wait for
/// a core; a morning's burst of logins queues here instead.
pub async fn check_slot() -> tokio::sync::SemaphorePermit<'static> {
    static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> =
        std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(cores()));
    // Never closed, so acquiring cannot fail.
    SLOTS.acquire().await.expect("the password-check semaphore is never closed")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// A hash to verify against when the user does not exist, so that a missing user costs as much
/// time as a wrong password and usernames cannot be probed by timing.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy-password-never-matches").unwrap_or_default())
}

/// A new password, checked and hashed, ready to store. Made before the write transaction that
/// stores it: an argon2 hash takes tens of milliseconds, which on SQLite would hold the one write
/// lock (and the push writer behind it) for that long.
pub struct Hashed(String);

impl Hashed {
    /// Checks `password`'s strength (a 422 naming `password`) and hashes it, on this thread.
    pub fn new(password: &str) -> Result<Self, ApiError> {
        check_strength(password).map_err(|m| ApiError::invalid("password", m))?;
        hash(password).map(Self).map_err(ApiError::internal)
    }

    /// [`Hashed::new`] on the blocking pool, in one of the password-check slots.
    pub async fn off_thread(password: String) -> Result<Self, ApiError> {
        let _slot = check_slot().await;
        tokio::task::spawn_blocking(move || Self::new(&password))
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("password hashing failed: {e}")))?
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Length rules for new passwords; returns what is wrong.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    match password.chars().count() {
        0..=7 => Err("must be at least 8 characters"),
        8..=256 => Ok(()),
        _ => Err("must be at most 256 characters"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not-a-hash"));
    }

    #[tokio::test]
    async fn as_many_checks_at_once_as_cores_and_the_next_waits() {
        let mut held = Vec::new();
        for _ in 0..cores() {
            held.push(check_slot().await);
        }
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), check_slot()).await;
        assert!(waiting.is_err(), "a check beyond the cores started at once");
        held.pop();
        let freed = tokio::time::timeout(std::time::Duration::from_secs(1), check_slot()).await;
        assert!(freed.is_ok(), "a freed slot was not handed on");
    }
}
