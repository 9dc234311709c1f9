//! `/api/v1/mssql/*`: the legacy database.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use erp_legacy::Page;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, error::ApiError, legacy_db::LegacySource};

type S = State<Arc<AppState>>;

/// The legacy database, once its schema check has passed; 503 `LEGACY_DB_UNAVAILABLE`
/// before (or without one configured).
fn source(app: &AppState) -> Result<&LegacySource, ApiError> {
    let legacy =
        app.legacy
            .as_ref()
            .ok_or(ApiError::Legacy(erp_legacy::LegacyError::Unavailable(
                erp_core::Error::unavailable(erp_core::Backend::Mssql, "not configured"),
            )))?;
    Ok(legacy.ready()?)
}

/// Query of the client search.
#[derive(Debug, Deserialize)]
pub struct ClientQuery {
    q: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// `GET /api/v1/mssql/clients?q=&page=&page_size=`.
pub async fn clients(
    State(app): S,
    query: Result<Query<ClientQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) =
        query.map_err(|_| ApiError::Validation("page and page_size must be positive integers"))?;
    let page = Page::new(q.page.unwrap_or(1), q.page_size.unwrap_or(20));
    let result = source(&app)?
        .repo()
        .search_clients(q.q.as_deref(), page)
        .await?;
    Ok(Json(json!(result)))
}

/// `GET /api/v1/mssql/clients/{code}`.
pub async fn client(State(app): S, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let client = source(&app)?
        .repo()
        .client(&code)
        .await?
        .ok_or(ApiError::NotFound("client"))?;
    Ok(Json(json!(client)))
}

/// `GET /api/v1/mssql/clearance/{id}`.
pub async fn clearance(State(app): S, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::Validation("the clearance id must be a positive integer"))?;
    let record = source(&app)?
        .repo()
        .clearance(id)
        .await?
        .ok_or(ApiError::NotFound("clearance record"))?;
    Ok(Json(json!(record)))
}

/// Query of the shipment list.
#[derive(Debug, Deserialize)]
pub struct ShipmentQuery {
    client: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// `GET /api/v1/mssql/shipments?client=`.
pub async fn shipments(
    State(app): S,
    query: Result<Query<ShipmentQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) =
        query.map_err(|_| ApiError::Validation("page and page_size must be positive integers"))?;
    let client = q
        .client
        .ok_or(ApiError::Validation("the client parameter is required"))?;
    let page = Page::new(q.page.unwrap_or(1), q.page_size.unwrap_or(20));
    let result = source(&app)?
        .repo()
        .shipments_by_client(&client, page)
        .await?;
    Ok(Json(json!(result)))
}

/// `POST /api/v1/mssql/sync` (role admin): legacy -> ERP database, with counts.
pub async fn sync(State(app): S) -> Result<Json<Value>, ApiError> {
    let report = source(&app)?.sync(app.db.clone()).await?;
    Ok(Json(json!(report)))
}
