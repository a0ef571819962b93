//! `GET /events`: the cluster's changes in Docker's event shape, one JSON
//! object per line, from `since` (history the manager keeps) and live
//! until `until` or until the client goes (the control stream is dropped
//! with the response).

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use shoal_proto::{EventFilter, EventsRequest};

use super::{ApiError, Backend, query};
use crate::shape;

/// Streams the events the filters keep.
pub(super) async fn stream(
    State(b): State<Backend>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let time = |name: &str| q.get(name).filter(|v| !v.is_empty()).map(|v| query::timestamp(name, v)).transpose();
    let (since, until) = (time("since")?, time("until")?);
    // Keys are the control API's to check: it knows which it filters by.
    let filters = query::filters(q.get("filters").map(String::as_str), |text| {
        let (k, v) = text.split_once('=').unwrap_or((text, ""));
        Ok((k.to_string(), v.to_string()))
    })?;
    let filters = filters.into_iter().map(|(key, value)| EventFilter { key, value }).collect();
    let events = b.control.clone().events(EventsRequest { since, until, filters }).await?.into_inner();
    let lines = events
        .take_until(b.stop.clone().cancelled_owned())
        .take_while(|e| std::future::ready(e.is_ok()))
        .filter_map(|e| std::future::ready(e.ok()))
        .map(|e| Ok::<_, Infallible>(Bytes::from(format!("{}\n", shape::event(&e)))));
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(lines)).into_response())
}
