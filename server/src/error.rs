//! The one API error type: a kind (which fixes the HTTP status), a snake_case code, a message and,
//! where one field is at fault, its path. Unexpected causes are logged once here and never sent.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    UpgradeRequired,
    TooManyRequests,
    Unavailable,
    Internal,
    RequestTimeout,
}

impl Kind {
    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The kind a bare status maps to, for errors raised by the framework itself.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Kind::Unauthorized,
            403 => Kind::Forbidden,
            404 => Kind::NotFound,
            405 => Kind::MethodNotAllowed,
            408 => Kind::RequestTimeout,
            409 => Kind::Conflict,
            413 => Kind::PayloadTooLarge,
            415 => Kind::UnsupportedMediaType,
            422 => Kind::Unprocessable,
            429 => Kind::TooManyRequests,
            503 => Kind::Unavailable,
            400..=499 => Kind::BadRequest,
            _ => Kind::Internal,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub kind: Kind,
    pub code: Cow<'static, str>,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
    cause: Option<anyhow::Error>,
}

/// The body every error answers with: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(kind: Kind, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { kind, code: code.into(), message: message.into(), field: None, retry_after_s: None, cause: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Kind::Unprocessable, "invalid_field", message).with_field(field)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, "forbidden", message)
    }

    /// 403 for a target outside the caller's area; `field` names where the target was given.
    pub fn out_of_scope(field: &str) -> Self {
        Self::new(Kind::Forbidden, "out_of_scope", format!("{field} is outside your area")).with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Kind::NotFound, "not_found", format!("{what} not found"))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    pub fn database_unavailable(cause: impl fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        Self::new(Kind::Unavailable, "database_unavailable", "the database is not answering; retry shortly")
            .retry_after(5)
    }

    pub fn internal(cause: anyhow::Error) -> Self {
        let mut e = Self::new(Kind::Internal, "internal_error", "internal server error");
        e.cause = Some(cause);
        e
    }

    /// One line for a terminal: `field: message` or just the message.
    pub fn detail_line(&self) -> String {
        match &self.field {
            Some(f) => format!("{f}: {}", self.message),
            None => self.message.clone(),
        }
    }

    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail { code: self.code.to_string(), message: self.message.clone(), field: self.field.clone() }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Some(s) = self.retry_after_s {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        res.json(ErrorBody { error: self.detail() })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::NotFound => ApiError::not_found("record"),
            E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, info) => {
                ApiError::database_unavailable(info.message())
            }
            E::DatabaseError(K::Unknown, ref info) if is_transient(info.message()) => {
                ApiError::database_unavailable(info.message())
            }
            // A lost link during ROLLBACK leaves diesel's transaction manager broken; the pool
            // drops such a connection (`has_broken`), so the next try gets a fresh one.
            E::BrokenTransactionManager => ApiError::database_unavailable("connection lost during a transaction"),
            E::RollbackErrorOnCommit { commit_error, .. } => ApiError::from(*commit_error),
            other => ApiError::internal(other.into()),
        }
    }
}

/// SQLite's lock timeouts and PostgreSQL's lost connections are worth a retry, not a 500.
fn is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked")
        || m.contains("server closed the connection")
        || m.contains("terminating connection")
        || m.contains("connection refused")
        || m.contains("no connection to the server")
        || m.contains("could not receive data from server")
        || m.contains("could not send data to server")
        || m.contains("connection reset")
        || m.contains("broken pipe")
        || m.contains("connection timed out")
        || m.contains("the database system is starting up")
        || m.contains("the database system is shutting down")
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        ApiError::database_unavailable(e)
    }
}
