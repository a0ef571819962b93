//! Errors as Docker's daemon answers them: a status code and
//! `{"message": "..."}`, which the docker CLI prints as "Error response
//! from daemon: ..." and reads the kind of (not found, conflict) from the
//! code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic::Code;

/// A refused or failed request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// A bad parameter or body (400).
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// No such object or route (404).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// The object changed since the caller read it, or its name is taken (409).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::CONFLICT, message: message.into() }
    }
}

/// The control API's answer as Docker's status codes: not found 404,
/// a name taken or a stale version 409, a bad argument 400, a node that
/// is not a manager (or is locked, or has no leader) 503. A stale
/// version reads as Docker's does ("update out of sequence"), which
/// scripts look for.
impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> ApiError {
        let message = match status.code() {
            Code::Aborted => format!("update out of sequence: {}", status.message()),
            _ => status.message().to_string(),
        };
        let code = match status.code() {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::FailedPrecondition if message.contains("not a cluster manager") || message.contains("locked") => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::FailedPrecondition => StatusCode::CONFLICT,
            Code::Unavailable | Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
            Code::PermissionDenied | Code::Unauthenticated => StatusCode::FORBIDDEN,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status: code, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_codes_become_dockers() {
        let code = |s: tonic::Status| ApiError::from(s).status;
        assert_eq!(code(tonic::Status::not_found("service web not found")), StatusCode::NOT_FOUND);
        assert_eq!(code(tonic::Status::already_exists("name taken")), StatusCode::CONFLICT);
        assert_eq!(code(tonic::Status::aborted("node x changed")), StatusCode::CONFLICT);
        let stale = ApiError::from(tonic::Status::aborted("node x changed since it was read"));
        assert_eq!(stale.message, "update out of sequence: node x changed since it was read");
        assert_eq!(code(tonic::Status::invalid_argument("--replicas")), StatusCode::BAD_REQUEST);
        let worker = tonic::Status::failed_precondition("this node is not a cluster manager: ...");
        assert_eq!(code(worker), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(tonic::Status::unavailable("no leader")), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(tonic::Status::internal("boom")), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
