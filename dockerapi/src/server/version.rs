//! API versions as Docker's daemon negotiates them: every route answers
//! unversioned and under `/v1.NN/`, a version newer than [`API_VERSION`]
//! or older than [`MIN_API_VERSION`] is refused naming both, and every
//! answer carries the headers the docker CLI reads (`Api-Version`, on
//! `/_ping` too, is how it downgrades to what the server speaks).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::ApiError;

/// The newest API version answered: the docker CLI 28's.
pub const API_VERSION: &str = "1.50";
/// The oldest API version answered (Docker 1.12's swarm mode).
pub const MIN_API_VERSION: &str = "1.24";

/// `"1.41"` as (1, 41).
fn parse(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The path without its `/v1.NN` prefix, and the version it asked for.
fn split(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let (version, tail) = rest.split_once('/').map_or((rest, ""), |(v, t)| (v, &path[path.len() - t.len() - 1..]));
    parse(version)?;
    Some((version, tail))
}

/// Whether the version asked for is one this server speaks.
fn check(version: &str) -> Result<(), ApiError> {
    let asked = parse(version);
    if asked > parse(API_VERSION) {
        return Err(ApiError::invalid(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if asked < parse(MIN_API_VERSION) {
        return Err(ApiError::invalid(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please \
             upgrade your client to a newer version"
        )));
    }
    Ok(())
}

/// Routes `req` to `api` with its version prefix taken off, and adds
/// Docker's headers to the answer.
pub(super) async fn route(api: Router, engine_version: &'static str, mut req: Request) -> Response {
    let mut response = match strip(&mut req) {
        Ok(()) => api.oneshot(req).await.into_response(),
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    if let Ok(server) = HeaderValue::from_str(&format!("Docker/{engine_version} (linux)")) {
        headers.insert("Server", server);
    }
    response
}

/// Takes the `/v1.NN` prefix off the request's path, checking the version.
fn strip(req: &mut Request) -> Result<(), ApiError> {
    let Some((version, tail)) = split(req.uri().path()) else { return Ok(()) };
    check(version)?;
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", if tail.is_empty() { "/" } else { tail }),
        None => (if tail.is_empty() { "/" } else { tail }).to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|_| ApiError::invalid("malformed path"))?);
    *req.uri_mut() = Uri::from_parts(parts).map_err(|_| ApiError::invalid("malformed path"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_paths_lose_their_prefix() {
        assert_eq!(split("/v1.41/services/web"), Some(("1.41", "/services/web")));
        assert_eq!(split("/v1.50/_ping"), Some(("1.50", "/_ping")));
        assert_eq!(split("/v1.41"), Some(("1.41", "")));
        assert_eq!(split("/services"), None);
        assert_eq!(split("/volumes"), None, "a path that merely starts with v");
    }

    #[test]
    fn versions_outside_the_range_are_refused_naming_both() {
        assert!(check("1.41").is_ok() && check(API_VERSION).is_ok() && check(MIN_API_VERSION).is_ok());
        let new = check("1.99").unwrap_err();
        assert_eq!(new.message, "client version 1.99 is too new. Maximum supported API version is 1.50");
        assert!(check("1.12").unwrap_err().message.contains("Minimum supported API version is 1.24"));
        assert!(check("1.9").is_err(), "1.9 is older than 1.24");
    }
}
