//! Access tokens (HS256 JWT, algorithm pinned) and refresh tokens (random, stored only as SHA-256).

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: String,
    /// The user's area id.
    pub area: String,
    /// The device the session is bound to.
    pub dev: String,
    /// The session; ending it ends every access token naming it.
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The stored hash of the refresh token issued with this access token: a retry after a lost
    /// answer voids the pair, and the pair's first use is recorded (absent in older tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
}

#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("signing a token failed: {e}")))
    }

    /// Checks signature, algorithm and expiry. Only HS256 is accepted (no `none`, no key confusion).
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the access token has expired; refresh it")
                }
                _ => ApiError::unauthorized("invalid_token", "the access token is not valid"),
            }
        })
    }
}

/// A new refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a refresh token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u".into(),
            role: "admin".into(),
            area: "a".into(),
            dev: "d".into(),
            sid: "s".into(),
            jti: "j".into(),
            iat: 0,
            exp,
            pair: None,
        }
    }

    fn keys(s: &str) -> Keys {
        Keys::new(&Secret::new(s))
    }

    #[test]
    fn round_trip_and_expiry() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let far = chrono::Utc::now().timestamp() + 600;
        let token = k.sign(&claims(far)).expect("signed");
        assert_eq!(k.verify(&token).expect("valid"), claims(far));
        let old = k.sign(&claims(1)).expect("signed");
        assert_eq!(k.verify(&old).expect_err("expired").code, "token_expired");
    }

    #[test]
    fn other_key_and_alg_none_are_invalid() {
        let far = chrono::Utc::now().timestamp() + 600;
        let token = keys("another-key-another-key-another-key").sign(&claims(far)).expect("signed");
        let k = keys("0123456789abcdef0123456789abcdef");
        assert_eq!(k.verify(&token).expect_err("wrong key").code, "invalid_token");
        let body = token.split('.').nth(1).expect("payload");
        let none = format!(
            "{}.{body}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(k.verify(&none).expect_err("alg none").code, "invalid_token");
        assert_eq!(k.verify("garbage").expect_err("garbage").code, "invalid_token");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
