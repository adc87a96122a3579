//! Response helpers: JSON bodies and Status errors.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;

use crate::error::ApiError;

/// A JSON response.
pub fn json(code: u16, body: &Value) -> Response<Body> {
    bytes(code, serde_json::to_vec(body).unwrap_or_default())
}

/// A JSON response from pre-serialized bytes.
pub fn bytes(code: u16, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A plain-text response (container logs).
pub fn text(body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// The Status response for an error.
pub fn error(err: &ApiError) -> Response<Body> {
    json(err.code(), &err.status())
}
