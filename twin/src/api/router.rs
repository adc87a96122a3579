//! The axum router: one handler that parses the path and dispatches.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, Response, header};

use super::path::{self, Route};
use super::{control, discovery, objects, respond, watch};
use crate::error::ApiError;
use crate::twin::Twin;

use super::params::Params;

/// Largest request body accepted (the real API server's limit, 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The router for `twin`: every path goes to one dispatcher.
pub fn router(twin: Twin) -> Router {
    Router::new().fallback(handle).with_state(twin)
}

async fn handle(State(twin): State<Twin>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let route = path::parse(parts.uri.path());
    let is_control = matches!(route, Route::Control(_));
    if !is_control && twin.in_outage() {
        return respond::error(&ApiError::Unavailable);
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return respond::error(&ApiError::TooLarge { limit: MAX_BODY }),
    };
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let accept = header(header::ACCEPT);
    let content_type = header(header::CONTENT_TYPE);
    let query = parts.uri.query().unwrap_or("");
    let result = dispatch(
        &twin,
        &parts.method,
        route,
        query,
        &accept,
        &content_type,
        &body,
    );
    match result {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(method = %parts.method, path = %parts.uri, code = e.code(), "{e}");
            respond::error(&e)
        }
    }
}

fn dispatch(
    twin: &Twin,
    method: &Method,
    route: Route,
    query: &str,
    accept: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let get_only = |doc: Option<serde_json::Value>| -> Result<Response<Body>, ApiError> {
        if method != Method::GET {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
            });
        }
        doc.map(|d| respond::json(200, &d))
            .ok_or(ApiError::UnknownResource {
                path: String::new(),
            })
    };
    match route {
        Route::Version => get_only(Some(discovery::version(&twin.kubernetes_version()))),
        Route::Health => {
            let mut resp = Response::new(Body::from("ok"));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain"),
            );
            Ok(resp)
        }
        Route::CoreVersions => get_only(Some(discovery::core_versions())),
        Route::OpenApiRoot => get_only(Some(discovery::openapi_v3_root())),
        Route::OpenApiGroup { group, version } => {
            get_only(discovery::openapi_v3_group(&group, &version))
        }
        Route::Groups => get_only(Some(discovery::groups())),
        Route::Group(g) => get_only(discovery::api_group(&g)),
        Route::ResourceList { group, version } => {
            get_only(discovery::resource_list(&group, &version))
        }
        Route::Control(segs) => control::handle(twin, method, &segs, query, body),
        Route::Unknown => Err(ApiError::UnknownResource {
            path: String::new(),
        }),
        Route::Resource(r) => {
            let params = Params::parse(query)?;
            match (method.as_str(), r.name.clone()) {
                ("GET", Some(name)) if r.sub.as_deref() == Some("log") => {
                    objects::logs(twin, &r, &name, Some(query))
                }
                (_, Some(_)) if r.sub.as_deref() == Some("log") => {
                    Err(ApiError::MethodNotAllowed {
                        method: method.to_string(),
                    })
                }
                ("GET", None) if params.watch => watch::watch(twin, &r, params),
                ("GET", None) => objects::list(twin, &r, &params, accept),
                ("GET", Some(name)) => objects::get(twin, &r, &name, &params, accept),
                ("POST", None) => objects::create(twin, &r, &params, body),
                ("PUT", Some(name)) => objects::update(twin, &r, &name, &params, body),
                ("PATCH", Some(name)) => {
                    objects::patch(twin, &r, &name, &params, content_type, body)
                }
                ("DELETE", Some(name)) if r.sub.is_none() => {
                    objects::delete(twin, &r, &name, &params, body)
                }
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                }),
            }
        }
    }
}
