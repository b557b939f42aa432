//! 405 for a method a path does not serve (contract 1.1), with `Allow` naming the ones it does;
//! 404 stays for paths that do not exist. The table comes from `/openapi.json`'s operations, so
//! a route documented there is covered, plus the few routes outside the spec.

use actix_web::dev::ResourceDef;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::OpenApi;

use crate::error::{ApiError, Kind};
use crate::http::routes::openapi::ApiDoc;

/// Routes served but not in the spec, all read-only.
const UNDOCUMENTED: [&str; 6] = ["/openapi.json", "/metrics", "/", "/ui/{path:.*}", "/app", "/app/{path:.*}"];

pub struct Routes(Vec<(ResourceDef, Vec<&'static str>)>);

impl Routes {
    pub fn from_spec() -> Self {
        let spec = ApiDoc::openapi();
        let mut routes: Vec<(ResourceDef, Vec<&'static str>)> = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                (ResourceDef::new(path.as_str()), methods.iter().filter(|m| m.1).map(|m| m.0).collect())
            })
            .collect();
        routes.extend(UNDOCUMENTED.iter().map(|p| (ResourceDef::new(*p), vec!["GET"])));
        Self(routes)
    }

    /// The methods served at `path`, empty if no route has that path. When several routes match,
    /// the most literal ones speak for it: `/users/deactivate` is its own resource, not a
    /// `/users/{id}`.
    pub fn allowed(&self, path: &str) -> Vec<&'static str> {
        let matching: Vec<&(ResourceDef, Vec<&'static str>)> =
            self.0.iter().filter(|(def, _)| def.is_match(path)).collect();
        let dynamic = |def: &ResourceDef| def.pattern().map_or(0, |p| p.matches('{').count());
        let fewest = matching.iter().map(|(def, _)| dynamic(def)).min().unwrap_or(0);
        let mut allowed: Vec<&'static str> =
            matching.iter().filter(|(def, _)| dynamic(def) == fewest).flat_map(|(_, m)| m.iter().copied()).collect();
        allowed.sort_unstable();
        allowed.dedup();
        allowed
    }

    /// The app's default answer: 405 with `Allow` if the path exists under other methods, else 404.
    pub fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let allowed = self.allowed(req.path());
        if allowed.is_empty() {
            return ApiError::new(Kind::NotFound, "not_found", "no such resource").error_response();
        }
        let message = format!("{} is not served here; allowed: {}", req.method(), allowed.join(", "));
        let mut res = ApiError::new(Kind::MethodNotAllowed, "method_not_allowed", message).error_response();
        if let Ok(v) = header::HeaderValue::from_str(&allowed.join(", ")) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_know_their_methods() {
        let routes = Routes::from_spec();
        assert_eq!(routes.allowed("/api/v1/policy"), ["GET", "PUT"]);
        assert_eq!(routes.allowed("/api/v1/auth/login"), ["POST"]);
        assert_eq!(routes.allowed("/api/v1/tickets/abc"), ["GET"]);
        assert_eq!(routes.allowed("/api/v1/tickets/abc/events"), ["POST"]);
        assert_eq!(routes.allowed("/api/v1/users/deactivate"), ["POST"], "not PATCH of /users/{{id}}");
        assert_eq!(routes.allowed("/api/v1/users/abc"), ["PATCH"]);
        assert_eq!(routes.allowed("/ui/app.js"), ["GET"]);
        assert_eq!(routes.allowed("/app/js/sync.js"), ["GET"]);
        assert!(routes.allowed("/api/v1/nothing").is_empty());
        assert!(routes.allowed("/api/v1/tickets/a/b/c").is_empty());
    }
}
