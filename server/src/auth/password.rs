//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), PHC strings in the database.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

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

/// A hash to verify against when the user does not exist, so that a missing user costs as much
/// time as a wrong password and usernames cannot be probed by timing.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy-password-never-matches").unwrap_or_default())
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
}
