//! The field app for volunteers and station handlers: a progressive web app from `app/`, embedded in
//! the binary like the dashboard. `/app/` is the shell, `/app/<file>` its scripts, styles and icons,
//! and `/app/sw.js` the service worker, whose default scope is `/app/` (so no `Service-Worker-Allowed`).

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../app/"]
#[include = "*.html"]
#[include = "*.js"]
#[include = "*.css"]
#[include = "*.svg"]
#[include = "*.webmanifest"]
struct Assets;

/// `/app` without the slash: the shell's relative links need the directory form.
#[get("/app")]
pub async fn bare() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/app/")).finish()
}

/// The shell and its files, revalidated on every load (`no-cache` with an ETag): the service worker
/// keeps the offline copy, so the HTTP cache need not, and an upgrade reaches phones at once.
#[get("/app/{path:.*}")]
pub async fn file(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = if path.is_empty() { "index.html" } else { path.as_str() };
    super::ui::embedded(&req, Assets::get(path), "no-cache")
}
