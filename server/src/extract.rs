//! Request body extraction: JSON only, size-limited (gzip undone first), with errors that name
//! the line/column or the field at fault.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Kind};

/// Like `web::Json`, with the contract's error model.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    Kind::UnsupportedMediaType,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            }
            let bytes = body.await.map_err(payload_error)?;
            parse_json(&bytes).map(Json)
        })
    }
}

pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

/// Maps a body read failure: too large → 413, anything else → 400.
pub fn payload_error(e: actix_web::Error) -> ApiError {
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => {
            ApiError::new(Kind::PayloadTooLarge, "body_too_large", "the request body is larger than allowed")
        }
        _ if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(Kind::PayloadTooLarge, "body_too_large", "the request body is larger than allowed")
        }
        _ => ApiError::bad_request("invalid_body", format!("could not read the request body: {e}")),
    }
}

/// Parses JSON, naming the line/column of a syntax error or the path of the field that did not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request("invalid_json", format!("body is not valid JSON: {inner}"))
        } else if path == "." || path.is_empty() {
            ApiError::bad_request("invalid_body", format!("body does not have the expected shape: {inner}"))
        } else {
            ApiError::bad_request("invalid_field", format!("{path}: {inner}")).with_field(path)
        }
    })
}

/// A body limit and the error code given when it is passed.
pub trait BodyLimit {
    const MAX: usize;
    const CODE: &'static str;
}

/// The raw body, gzip undone, refused with 413 once it passes `L::MAX` bytes after decompression
/// (so a small compressed bomb cannot inflate into memory).
pub struct Body<L: BodyLimit>(pub web::Bytes, std::marker::PhantomData<L>);

impl<L: BodyLimit + 'static> FromRequest for Body<L> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use futures_util::StreamExt;
        let mut stream = actix_web::dev::Decompress::from_headers(payload.take(), req.headers());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let identity = !req.headers().contains_key(header::CONTENT_ENCODING);
        Box::pin(async move {
            let too_large =
                || ApiError::new(Kind::PayloadTooLarge, L::CODE, format!("the body is larger than {} bytes", L::MAX));
            if identity && declared.is_some_and(|n| n > L::MAX) {
                return Err(too_large());
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::bad_request("invalid_body", format!("could not read the body: {e}")))?;
                if buf.len() + chunk.len() > L::MAX {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Body(buf.freeze(), std::marker::PhantomData))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        n: u32,
    }

    #[test]
    fn names_the_field_that_does_not_fit() {
        let err = parse_json::<Login>(br#"{"username":"a","items":[{"n":1},{"n":"x"}]}"#).expect_err("bad");
        assert_eq!(err.field.as_deref(), Some("items[1].n"));
        assert_eq!(err.kind, Kind::BadRequest);
    }

    #[test]
    fn names_line_and_column_of_broken_json() {
        let err = parse_json::<Login>(b"{\n\"username\": }").expect_err("bad");
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.contains("line 2"), "{}", err.message);
    }
}
