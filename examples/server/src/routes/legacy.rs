//! `/api/v1/mssql/*`: the legacy database.

use std::sync::Arc;

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, QueryRejection},
    },
    response::{IntoResponse, Response},
};
use erp_auth::Authenticated;
use erp_core::{AuthEvent, AuthEventKind, Principal, PrincipalKind};
use erp_legacy::{
    ClearanceChange, ClearanceRecord, ClearanceStatus, NewShipment, Page, RowVersion,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Deserializer};
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

fn clearance_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::Validation("the clearance id must be a positive integer"))
}

/// A record with its version as `ETag`, for a later `If-Match`.
fn with_etag(status: StatusCode, record: &ClearanceRecord) -> Response {
    let tag = RowVersion::of(record.updated_at).etag();
    let mut response = (status, Json(json!(record))).into_response();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `GET /api/v1/mssql/clearance/{id}`, with its `ETag`.
pub async fn clearance(State(app): S, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = source(&app)?
        .repo()
        .clearance(clearance_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound("clearance record"))?;
    Ok(with_etag(StatusCode::OK, &record))
}

/// Body of `PATCH /api/v1/mssql/clearance/{id}`: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearancePatch {
    status: Option<String>,
    /// Absent: kept; `null`: cleared.
    #[serde(default, deserialize_with = "present")]
    notes: Option<Option<String>>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What a legacy row is stamped with: the user's login name, or `service:` and the
/// service principal's name, so the legacy application's operators tell them apart.
fn stamp(p: &Principal) -> String {
    match p.kind {
        PrincipalKind::Service => format!("service:{}", p.username),
        _ => p.username.clone(),
    }
}

/// A body the route cannot read: 400 when it is not JSON, 422 when its values do not fit.
fn body_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(_) => {
            ApiError::Unprocessable("the body's fields or values do not fit this route")
        }
        _ => {
            ApiError::Validation("the body must be a JSON object (Content-Type: application/json)")
        }
    }
}

/// Records a legacy write in the audit trail. The write is committed by then: a trail
/// that cannot be written is logged, not turned into an error the caller would retry.
async fn audit(app: &AppState, p: &Principal, detail: String) {
    let mut event = AuthEvent::new(p.tenant_id, AuthEventKind::LegacyWrite)
        .with_user(p.user_id)
        .with_username(&p.username)
        .with_detail(detail);
    if let Some(session) = p.session_id.clone() {
        event = event.with_session(session);
    }
    if let Err(e) = app.audit.record(&event).await {
        tracing::error!(error = %e, "the audit trail of a legacy write could not be written");
    }
}

/// `PATCH /api/v1/mssql/clearance/{id}` (roles admin or pic): status and notes, only
/// if the record is still at the version of `If-Match` (412 otherwise; `*`: any).
pub async fn patch_clearance(
    State(app): S,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ClearancePatch>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = clearance_id(&id)?;
    let expected = match headers.get(header::IF_MATCH) {
        None => return Err(ApiError::PreconditionRequired),
        Some(v) => match v.to_str().map(str::trim) {
            Ok("*") => None,
            Ok(tag) => Some(RowVersion::from_etag(tag)?),
            Err(_) => return Err(ApiError::Validation("If-Match is not an entity tag")),
        },
    };
    let Json(patch) = body.map_err(body_error)?;
    let change = ClearanceChange {
        status: patch
            .status
            .as_deref()
            .map(ClearanceStatus::parse)
            .transpose()?,
        notes: patch.notes,
    };
    let record = source(&app)?
        .repo()
        .change_clearance(id, &change, expected, &stamp(&p))
        .await?;
    audit(
        &app,
        &p,
        format!(
            "clearance record {id} changed: status {}",
            record.status.as_str()
        ),
    )
    .await;
    Ok(with_etag(StatusCode::OK, &record))
}

/// `POST /api/v1/mssql/shipments` (roles admin or pic): books a shipment; 201 with it,
/// 409 when its B/L number is booked already.
pub async fn book_shipment(
    State(app): S,
    Authenticated(p): Authenticated,
    body: Result<Json<NewShipment>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body.map_err(body_error)?;
    let shipment = source(&app)?.repo().book_shipment(new, &stamp(&p)).await?;
    audit(
        &app,
        &p,
        format!("shipment {} booked: B/L {}", shipment.id, shipment.bl_no),
    )
    .await;
    Ok((StatusCode::CREATED, Json(json!(shipment))).into_response())
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

/// `POST /api/v1/mssql/sync` (role admin): legacy -> ERP database, with counts; 409
/// when a run (scheduled, or asked on any instance) is in progress.
pub async fn sync(State(app): S) -> Result<Json<Value>, ApiError> {
    source(&app)?;
    let runner =
        app.legacy_sync
            .as_ref()
            .ok_or(ApiError::Legacy(erp_legacy::LegacyError::Unavailable(
                erp_core::Error::unavailable(erp_core::Backend::Mssql, "not configured"),
            )))?;
    match runner.run_once().await {
        Ok(report) => Ok(Json(json!(report))),
        Err(crate::legacy_sync::RunError::Busy) => {
            Err(ApiError::Conflict("a legacy sync is running already"))
        }
        Err(crate::legacy_sync::RunError::Legacy(e)) => Err(e.into()),
    }
}
