//! `GET /openapi.json`: OpenAPI 3.1 of every route, body and error.

use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

fn ok(schema: &str, description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn etagged(mut response: Value) -> Value {
    response["headers"] = json!({ "ETag": { "description": "the record's version, for If-Match", "schema": { "type": "string" } } });
    response
}

fn secured(mut op: Value) -> Value {
    op["security"] = json!([{ "bearer": [] }, { "cookie": [] }]);
    let responses = op["responses"].as_object_mut().expect("responses");
    responses
        .entry("401")
        .or_insert_with(|| problem("TOKEN_INVALID, TOKEN_EXPIRED or SESSION_REVOKED"));
    responses
        .entry("403")
        .or_insert_with(|| problem("FORBIDDEN (a role is missing, or CSRF on a cookie request)"));
    responses
        .entry("503")
        .or_insert_with(|| problem("UPSTREAM_UNAVAILABLE (a store or the IdP is down)"));
    op
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

/// The document.
pub fn document() -> Value {
    let page_params = json!([
        { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1, "default": 1 } },
        { "name": "page_size", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } }
    ]);
    let mut client_params = page_params.clone();
    client_params.as_array_mut().unwrap().insert(0, json!({ "name": "q", "in": "query", "description": "matches code or name, ignoring case", "schema": { "type": "string", "maxLength": 100 } }));
    let mut shipment_params = page_params;
    shipment_params.as_array_mut().unwrap().insert(0, json!({ "name": "client", "in": "query", "required": true, "schema": { "type": "string", "maxLength": 40 } }));
    json!({
        "openapi": "3.1.0",
        "info": { "title": "ERP auth & legacy-data toolkit: reference server", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/": { "get": { "summary": "The sign-in page", "responses": { "200": { "description": "HTML", "content": { "text/html": { "schema": { "type": "string" } } } } } } },
            "/health": { "get": { "summary": "Status and latency of each dependency", "responses": {
                "200": ok("Health", "ok or degraded"), "503": ok("Health", "the ERP database is down") } } },
            "/auth/config": { "get": { "summary": "What the browser app needs to sign in", "responses": { "200": ok("AuthConfig", "settings") } } },
            "/auth/login": { "post": { "summary": "Username/password sign-in (local or the external API)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoginRequest" } } } },
                "responses": { "200": ok("Tokens", "tokens, user, and session cookies (Set-Cookie)"),
                    "400": problem("VALIDATION_FAILED"), "401": problem("INVALID_CREDENTIALS"), "403": problem("ACCOUNT_DISABLED"),
                    "429": problem("RATE_LIMITED, with Retry-After"), "503": problem("UPSTREAM_UNAVAILABLE") } } },
            "/auth/refresh": { "post": { "summary": "Rotate a refresh token; reuse of an old one revokes the family",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RefreshRequest" } } } },
                "responses": { "200": ok("Tokens", "a rotated pair"), "400": problem("VALIDATION_FAILED"),
                    "401": problem("INVALID_CREDENTIALS, TOKEN_EXPIRED or SESSION_REVOKED (reuse)"), "503": problem("UPSTREAM_UNAVAILABLE") } } },
            "/auth/me": { "get": secured(json!({ "summary": "The principal", "responses": { "200": ok("Me", "the principal") } })) },
            "/auth/logout": { "post": secured(json!({ "summary": "Revoke the current session and clear the cookies", "responses": { "200": ok("Revoked", "revoked") } })) },
            "/auth/sessions": { "get": secured(json!({ "summary": "My active sessions", "responses": { "200": ok("Sessions", "sessions") } })) },
            "/auth/sessions/{jti}": { "delete": secured(json!({ "summary": "End one of my sessions",
                "parameters": [path_param("jti", "session id", json!({ "type": "string", "minLength": 16, "maxLength": 128 }))],
                "responses": { "200": ok("Revoked", "revoked"), "400": problem("VALIDATION_FAILED"), "404": problem("NOT_FOUND") } })) },
            "/admin/users/{id}/sessions/revoke": { "post": secured(json!({ "summary": "Revoke every session of a user (role admin)",
                "parameters": [path_param("id", "user id", json!({ "type": "string", "format": "uuid" }))],
                "responses": { "200": ok("RevokedCount", "count"), "400": problem("VALIDATION_FAILED"), "404": problem("NOT_FOUND") } })) },
            "/admin/tenants/{id}/sessions/revoke": { "post": secured(json!({ "summary": "Revoke every session of the tenant (role admin, own tenant)",
                "parameters": [path_param("id", "tenant id", json!({ "type": "string", "format": "uuid" }))],
                "responses": { "200": ok("RevokedCount", "count"), "400": problem("VALIDATION_FAILED") } })) },
            "/api/v1/mssql/clients": { "get": secured(json!({ "summary": "Search legacy clients", "parameters": client_params,
                "responses": { "200": ok("ClientPage", "a page"), "400": problem("VALIDATION_FAILED"), "503": problem("LEGACY_DB_UNAVAILABLE") } })) },
            "/api/v1/mssql/clients/{code}": { "get": secured(json!({ "summary": "A legacy client",
                "parameters": [path_param("code", "client code", json!({ "type": "string", "maxLength": 40 }))],
                "responses": { "200": ok("Client", "the client"), "400": problem("VALIDATION_FAILED"), "404": problem("NOT_FOUND"), "503": problem("LEGACY_DB_UNAVAILABLE") } })) },
            "/api/v1/mssql/clearance/{id}": { "get": secured(json!({ "summary": "A clearance record, with its version as ETag",
                "parameters": [path_param("id", "record id", json!({ "type": "integer", "minimum": 1 }))],
                "responses": { "200": etagged(ok("ClearanceRecord", "the record")), "400": problem("VALIDATION_FAILED"), "404": problem("NOT_FOUND"), "503": problem("LEGACY_DB_UNAVAILABLE") } })),
                "patch": secured(json!({ "summary": "Change a clearance record's status and notes (role admin or pic), if it is still at the version of If-Match; stamped with the principal where the mapping names updated_by; audited",
                "parameters": [path_param("id", "record id", json!({ "type": "integer", "minimum": 1 })),
                    { "name": "If-Match", "in": "header", "required": true, "description": "the ETag of the record as read, or * to overwrite whatever version", "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ClearancePatch" } } } },
                "responses": { "200": etagged(ok("ClearanceRecord", "the changed record")), "400": problem("VALIDATION_FAILED (malformed id, body or If-Match; unknown status; nothing to change)"),
                    "404": problem("NOT_FOUND"), "412": problem("PRECONDITION_FAILED: changed since the version of If-Match; read it again"),
                    "422": problem("VALIDATION_FAILED (a field of the wrong type)"), "428": problem("PRECONDITION_REQUIRED: no If-Match"), "503": problem("LEGACY_DB_UNAVAILABLE") } })) },
            "/api/v1/mssql/shipments": { "get": secured(json!({ "summary": "A client's shipments", "parameters": shipment_params,
                "responses": { "200": ok("ShipmentPage", "a page"), "400": problem("VALIDATION_FAILED"), "503": problem("LEGACY_DB_UNAVAILABLE") } })),
                "post": secured(json!({ "summary": "Book a shipment (role admin or pic); stamped with the principal where the mapping names created_by / updated_by; audited",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewShipment" } } } },
                "responses": { "201": ok("Shipment", "the booked shipment with its id"), "400": problem("VALIDATION_FAILED"), "404": problem("NOT_FOUND (the client)"),
                    "409": problem("CONFLICT: the B/L number is booked already"), "422": problem("VALIDATION_FAILED (a field missing or of the wrong type)"), "503": problem("LEGACY_DB_UNAVAILABLE") } })) },
            "/api/v1/mssql/sync": { "post": secured(json!({ "summary": "Sync legacy -> ERP database (role admin)",
                "responses": { "200": ok("SyncReport", "counts"), "409": problem("CONFLICT: a sync is running (scheduled, or on another instance)"), "503": problem("LEGACY_DB_UNAVAILABLE") } })) },
            "/metrics": { "get": { "summary": "Prometheus text format", "responses": { "200": { "description": "metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } } } }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT (Entra ID RS256 or local HS256)" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": "erp_session", "description": "unsafe methods also need X-CSRF-Token" }
            },
            "schemas": {
                "Problem": { "type": "object", "required": ["type", "title", "status", "code"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "detail": { "type": "string" },
                    "code": { "type": "string", "enum": ["INVALID_CREDENTIALS", "TOKEN_EXPIRED", "TOKEN_INVALID", "SESSION_REVOKED", "FORBIDDEN",
                        "RATE_LIMITED", "UPSTREAM_UNAVAILABLE", "LEGACY_DB_UNAVAILABLE", "VALIDATION_FAILED", "NOT_FOUND",
                        "USER_NOT_PROVISIONED", "ACCOUNT_DISABLED", "TENANT_NOT_PROVISIONED", "TENANT_DISABLED", "INTERNAL"] } } },
                "LoginRequest": { "type": "object", "required": ["username", "password"], "additionalProperties": false, "properties": {
                    "username": { "type": "string", "minLength": 1, "maxLength": 128 }, "password": { "type": "string", "minLength": 1, "maxLength": 1024 },
                    "tenant": { "type": "string", "description": "tenant slug; the default tenant when absent" } } },
                "RefreshRequest": { "type": "object", "required": ["refresh_token"], "additionalProperties": false, "properties": { "refresh_token": { "type": "string" } } },
                "User": { "type": "object", "properties": { "id": { "type": "string", "format": "uuid" }, "tenant_id": { "type": "string", "format": "uuid" },
                    "username": { "type": "string" }, "display_name": { "type": ["string", "null"] }, "email": { "type": ["string", "null"] },
                    "roles": { "type": "array", "items": { "type": "string" } } } },
                "Tokens": { "type": "object", "properties": { "access_token": { "type": "string" }, "token_type": { "const": "Bearer" },
                    "expires_in": { "type": "integer" }, "expires_at": { "type": "string", "format": "date-time" }, "refresh_at": { "type": "string", "format": "date-time" },
                    "refresh_token": { "type": "string" }, "refresh_expires_at": { "type": "string", "format": "date-time" }, "session_id": { "type": "string" },
                    "auth_method": { "type": "string" }, "user": { "$ref": "#/components/schemas/User" },
                    "upstream_expires_at": { "type": ["string", "null"], "format": "date-time" } } },
                "Me": { "type": "object", "properties": { "id": { "type": "string" }, "kind": { "type": "string", "enum": ["user", "service"] }, "username": { "type": "string" }, "display_name": { "type": ["string", "null"] },
                    "email": { "type": ["string", "null"] }, "roles": { "type": "array", "items": { "type": "string" } }, "tenant": { "type": "string" },
                    "auth_method": { "type": "string" }, "session_id": { "type": ["string", "null"] } } },
                "Revoked": { "type": "object", "properties": { "revoked": { "type": "boolean" } } },
                "RevokedCount": { "type": "object", "properties": { "revoked_sessions": { "type": "integer" } } },
                "Sessions": { "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object" } } } },
                "AuthConfig": { "type": "object", "properties": { "msal": { "type": "object" }, "login_modes": { "type": "array", "items": { "type": "string" } } } },
                "Health": { "type": "object", "properties": { "status": { "enum": ["ok", "degraded", "down"] }, "checks": { "type": "object" } } },
                "Client": { "type": "object", "properties": { "code": { "type": "string" }, "name": { "type": "string" }, "business_reg_no": { "type": ["string", "null"] },
                    "contact_name": { "type": ["string", "null"] }, "contact_phone": { "type": ["string", "null"] }, "contact_email": { "type": ["string", "null"] },
                    "address": { "type": ["string", "null"] }, "currency": { "type": "string" }, "is_active": { "type": "boolean" }, "updated_at": { "type": "string", "format": "date-time" } } },
                "ClientPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Client" } },
                    "page": { "type": "integer" }, "page_size": { "type": "integer" }, "total": { "type": "integer" } } },
                "ClearanceRecord": { "type": "object", "properties": { "id": { "type": "integer" }, "clearance_no": { "type": "string" }, "client_code": { "type": "string" },
                    "declaration_date": { "type": "string", "format": "date" }, "hs_code": { "type": "string" },
                    "customs_value": { "type": "string", "description": "exact decimal" }, "currency": { "type": "string" }, "duty": { "type": "string", "description": "exact decimal" },
                    "status": { "enum": ["DRAFT", "SUBMITTED", "INSPECTION", "CLEARED", "REJECTED", "CANCELLED"] }, "notes": { "type": ["string", "null"] },
                    "updated_at": { "type": "string", "format": "date-time" } } },
                "Shipment": { "type": "object", "properties": { "id": { "type": "integer" }, "bl_no": { "type": "string" }, "client_code": { "type": "string" },
                    "container_no": { "type": ["string", "null"] }, "origin": { "type": "string" }, "destination": { "type": "string" },
                    "etd": { "type": ["string", "null"], "format": "date" }, "eta": { "type": ["string", "null"], "format": "date" },
                    "status": { "type": "string" }, "updated_at": { "type": "string", "format": "date-time" } } },
                "ShipmentPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Shipment" } },
                    "page": { "type": "integer" }, "page_size": { "type": "integer" }, "total": { "type": "integer" } } },
                "ClearancePatch": { "type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
                    "status": { "type": "string", "enum": ["DRAFT", "SUBMITTED", "INSPECTION", "CLEARED", "REJECTED", "CANCELLED"], "description": "case-insensitive" },
                    "notes": { "type": ["string", "null"], "maxLength": 2000, "description": "null clears them; absent keeps them" } } },
                "NewShipment": { "type": "object", "required": ["bl_no", "client_code", "origin", "destination"], "properties": {
                    "bl_no": { "type": "string", "maxLength": 40 }, "client_code": { "type": "string", "maxLength": 40 },
                    "container_no": { "type": ["string", "null"], "maxLength": 20 }, "origin": { "type": "string", "maxLength": 80 },
                    "destination": { "type": "string", "maxLength": 80 }, "etd": { "type": ["string", "null"], "format": "date" },
                    "eta": { "type": ["string", "null"], "format": "date", "description": "not before etd" },
                    "status": { "type": ["string", "null"], "maxLength": 20, "default": "BOOKED" } } },
                "SyncReport": { "type": "object", "properties": { "tables": { "type": "array", "items": { "type": "object", "properties": {
                    "table": { "type": "string" }, "rows": { "type": "integer" }, "batches": { "type": "integer" },
                    "deleted": { "type": "integer", "description": "rows whose legacy row was gone: marked deleted_at or removed" } } } }, "duration": { "type": "integer", "description": "milliseconds" } } }
            }
        }
    })
}
