//! The dashboard: static files from `dashboard/`, embedded in the binary (no CDN; works on a closed
//! network). `/` is the page; its scripts, styles and the vendored chart library live under `/ui/`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, web, HttpRequest, HttpResponse};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../dashboard/"]
#[include = "*.html"]
#[include = "*.js"]
#[include = "*.css"]
#[include = "*.svg"]
#[include = "vendor/*"]
#[exclude = "node_modules/*"]
struct Assets;

/// The page shell. Never cached: it is the entry to authenticated views.
#[get("/")]
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// A script, style sheet or vendored file. Cached, but revalidated by ETag so an upgrade shows at once.
#[get("/ui/{path:.*}")]
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    serve(&req, &path)
}

fn serve(req: &HttpRequest, path: &str) -> HttpResponse {
    let cache = if path == "index.html" { "no-store" } else { "no-cache" };
    embedded(req, Assets::get(path), cache)
}

/// An embedded file with its ETag (a matching `If-None-Match` gets 304) and cache policy; a missing
/// one is a bare 404, which the JSON error fallback turns into the contract's error body.
pub(super) fn embedded(req: &HttpRequest, file: Option<rust_embed::EmbeddedFile>, cache: &'static str) -> HttpResponse {
    let Some(file) = file else {
        return HttpResponse::NotFound().finish();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let fresh = req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header((header::ETAG, etag));
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)));
    if fresh {
        return res.finish();
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("+json") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    res.content_type(content_type).body(file.data.into_owned())
}
