//! Request body extraction: JSON only, size-limited, with errors that name the line/column or the
//! field at fault. Every route that takes a body reads it through [`read_body`]: gzip is inflated
//! in small steps and reading stops as soon as the decoded body passes the route's limit, so a
//! small compressed bomb never inflates into memory; a body that stalls answers 408.

use std::io::Write;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Kind};
use crate::state::AppState;

/// JSON bodies other than a push (logins, admin writes, ticket events) are small.
pub const JSON_MAX_BYTES: usize = 64 * 1024;
/// Used when the app state is missing (unit tests of extractors).
const DEFAULT_STALL: Duration = Duration::from_secs(15);

/// Like `web::Json`, with the contract's error model.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let body = read_body(req, payload, JSON_MAX_BYTES, "body_too_large");
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    Kind::UnsupportedMediaType,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            }
            parse_json(&body.await?).map(Json)
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

/// A body limit and the error code given when it is passed.
pub trait BodyLimit {
    const MAX: usize;
    const CODE: &'static str;
}

/// The raw body, gzip undone, refused with 413 once it passes `L::MAX` bytes after decoding.
pub struct Body<L: BodyLimit>(pub Bytes, std::marker::PhantomData<L>);

impl<L: BodyLimit + 'static> FromRequest for Body<L> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, L::MAX, L::CODE);
        Box::pin(async move { Ok(Body(body.await?, std::marker::PhantomData)) })
    }
}

/// How the body is encoded: the contract allows gzip and identity only.
enum Encoding {
    Identity,
    Gzip,
}

fn encoding(req: &HttpRequest) -> Result<Encoding, ApiError> {
    let values: Vec<_> = req.headers().get_all(header::CONTENT_ENCODING).collect();
    let value = match values.as_slice() {
        [] => return Ok(Encoding::Identity),
        [one] => one.to_str().map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default(),
        _ => String::new(),
    };
    match value.as_str() {
        "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "unsupported_encoding",
            "Content-Encoding must be gzip or identity",
        )),
    }
}

/// Reads the whole body, undoing gzip, into at most `max` bytes: 415 `unsupported_encoding` for
/// an encoding other than gzip/identity, 413 `code` as soon as the decoded body passes `max` (or
/// the sent bytes do), 408 `body_timeout` when no byte arrives for the configured stall time,
/// 400 `invalid_body` for a broken gzip stream or a lost connection.
pub fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    max: usize,
    code: &'static str,
) -> impl std::future::Future<Output = Result<Bytes, ApiError>> + 'static {
    let encoding = encoding(req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let stall = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_STALL, |s| Duration::from_secs(s.settings.body_timeout_s.max(1)));
    let mut stream = payload.take();
    async move {
        let too_large = || ApiError::new(Kind::PayloadTooLarge, code, format!("the body is larger than {max} bytes"));
        let encoding = encoding?;
        // Compressed bytes above the limit are refused too: they would only decode to more.
        if declared.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let mut sink = Decoder::new(encoding, max);
        let mut received = 0usize;
        loop {
            let chunk = match tokio::time::timeout(stall, stream.next()).await {
                Err(_) => {
                    return Err(ApiError::new(
                        Kind::RequestTimeout,
                        "body_timeout",
                        format!("no part of the body arrived for {} s", stall.as_secs()),
                    ))
                }
                Ok(None) => break,
                Ok(Some(chunk)) => {
                    chunk.map_err(|e| ApiError::bad_request("invalid_body", format!("could not read the body: {e}")))?
                }
            };
            received += chunk.len();
            if received > max {
                return Err(too_large());
            }
            sink.write(&chunk).map_err(|e| decode_error(e, too_large))?;
        }
        sink.finish().map_err(|e| decode_error(e, too_large))
    }
}

/// The error a decoder passes on from [`Capped`] when the body outgrows its limit.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body larger than allowed")
    }
}

impl std::error::Error for TooLarge {}

fn decode_error(e: std::io::Error, too_large: impl Fn() -> ApiError) -> ApiError {
    if e.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) {
        too_large()
    } else {
        ApiError::bad_request("invalid_body", format!("the body is not valid gzip: {e}"))
    }
}

/// Bytes decoded so far, kept as the pieces they came in (no reallocation copies while growing);
/// refuses to grow past `max` (the gzip decoder hands it at most 32 KiB at a time).
struct Capped {
    pieces: Vec<Bytes>,
    len: usize,
    max: usize,
}

impl Capped {
    fn into_bytes(self) -> Bytes {
        match <[Bytes; 1]>::try_from(self.pieces) {
            Ok([one]) => one,
            Err(pieces) => {
                let mut all = BytesMut::with_capacity(self.len);
                pieces.iter().for_each(|p| all.extend_from_slice(p));
                all.freeze()
            }
        }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.len + data.len() > self.max {
            return Err(std::io::Error::other(TooLarge));
        }
        self.len += data.len();
        self.pieces.push(Bytes::copy_from_slice(data));
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Capped),
    Gzip(Box<flate2::write::GzDecoder<Capped>>),
}

impl Decoder {
    fn new(encoding: Encoding, max: usize) -> Self {
        let capped = Capped { pieces: Vec::new(), len: 0, max };
        match encoding {
            Encoding::Identity => Decoder::Identity(capped),
            Encoding::Gzip => Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(capped))),
        }
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Identity(c) => c.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
        }
    }

    /// The decoded body; for gzip, after checking the stream is complete (trailer and CRC).
    fn finish(self) -> std::io::Result<Bytes> {
        let capped = match self {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.finish()?,
        };
        Ok(capped.into_bytes())
    }
}

/// Parses JSON, naming the line/column of a syntax error or the path of the field that did not fit.
///
/// Numbers written with a zero fraction (`3600.0`) are integers, as JSON Schema and JavaScript
/// count them: when a body does not fit, it is read once more with such numbers made integers,
/// so a client generated from the spec may send either (the common body pays nothing).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = deserialize(bytes);
    let Err(e) = &first else { return first };
    if e.code == "invalid_json" {
        return first;
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return first };
    if !integral_numbers(&mut value) {
        return first;
    }
    deserialize(value.to_string().as_bytes())
}

/// Makes numbers with a zero fraction integers; whether any was.
fn integral_numbers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
            // Exact: below 2^53 every integral f64 is an i64 of the same value.
            Some(f) => {
                *v = Value::from(f as i64);
                true
            }
            None => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |any, x| integral_numbers(x) | any),
        Value::Object(map) => map.values_mut().fold(false, |any, x| integral_numbers(x) | any),
        _ => false,
    }
}

fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    }

    async fn read(encoding: Option<&str>, body: Vec<u8>, max: usize) -> Result<Bytes, ApiError> {
        let mut req = actix_web::test::TestRequest::default();
        if let Some(e) = encoding {
            req = req.insert_header((header::CONTENT_ENCODING, e));
        }
        let (req, mut payload) = req.set_payload(body).to_http_parts();
        read_body(&req, &mut payload, max, "too_big").await
    }

    #[actix_web::test]
    async fn gzip_and_identity_bodies_are_read_within_the_limit() {
        let json = br#"{"username":"ana"}"#.repeat(100);
        assert_eq!(read(Some("gzip"), gzip(&json), json.len()).await.expect("gzip").as_ref(), &json[..]);
        assert_eq!(read(Some("identity"), json.clone(), json.len()).await.expect("identity").as_ref(), &json[..]);
        assert_eq!(read(None, json.clone(), json.len()).await.expect("plain").as_ref(), &json[..]);
        let err = read(None, json.clone(), json.len() - 1).await.expect_err("one byte too many");
        assert_eq!((err.kind, err.code.as_ref()), (Kind::PayloadTooLarge, "too_big"));
    }

    #[actix_web::test]
    async fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 20 * 1024 * 1024]);
        let err = read(Some("gzip"), bomb, 64 * 1024).await.expect_err("bomb");
        assert_eq!((err.kind, err.code.as_ref()), (Kind::PayloadTooLarge, "too_big"));
    }

    #[actix_web::test]
    async fn other_encodings_and_broken_gzip_are_refused() {
        for encoding in ["br", "deflate", "gzip, br", "zstd"] {
            let err = read(Some(encoding), b"{}".to_vec(), 100).await.expect_err(encoding);
            assert_eq!(
                (err.kind, err.code.as_ref()),
                (Kind::UnsupportedMediaType, "unsupported_encoding"),
                "{encoding}"
            );
        }
        let whole = gzip(b"{\"a\":1}");
        let err = read(Some("gzip"), whole[..whole.len() - 4].to_vec(), 100).await.expect_err("truncated");
        assert_eq!(err.code, "invalid_body");
        let err = read(Some("gzip"), b"{}".to_vec(), 100).await.expect_err("not gzip");
        assert_eq!(err.code, "invalid_body");
    }

    #[test]
    fn names_line_and_column_of_broken_json() {
        let err = parse_json::<Login>(b"{\n\"username\": }").expect_err("bad");
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.contains("line 2"), "{}", err.message);
    }
}
