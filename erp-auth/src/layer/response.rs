use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{Either, Full};

use crate::AuthError;

/// Response body of the auth services: the inner service's body, or our problem document.
pub type AuthBody<B> = Either<B, Full<Bytes>>;

/// An `application/problem+json` (RFC 9457) response: `type` derived from the stable
/// machine `code`, `title` from the status. The one place the body is built; the server's
/// own errors use it too. `detail` must be fixed text, never anything from the request.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "type": format!("urn:erp:problem:{}", code.to_ascii_lowercase().replace('_', "-")),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The problem answer for `err`, with an RFC 6750 `WWW-Authenticate` challenge on 401
/// and on 403 for a missing role. Every text in it is static: nothing from the request
/// is echoed.
pub fn problem_response(err: &AuthError) -> Response<Full<Bytes>> {
    let status = err.status();
    let mut response = problem(status, err.code(), err.description());
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let AuthError::RateLimited { retry_after } = err {
        // Whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3).
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    let challenge_needed = matches!(err, AuthError::InvalidCredentials)
        || status == http::StatusCode::UNAUTHORIZED
        || err.bearer_error().is_some();
    if challenge_needed {
        let mut challenge = match err.bearer_error() {
            Some(error) => format!(
                "Bearer realm=\"erp\", error=\"{error}\", error_description=\"{}\"",
                err.description()
            ),
            None => "Bearer realm=\"erp\"".to_owned(),
        };
        if let AuthError::InsufficientScope { scope } = err {
            // RFC 6750 §3: the scope the request needed. It comes from configuration,
            // checked to be scope-tokens (no quote or backslash) when the guard was built.
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        // Static ASCII text: always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn problem_bodies_and_challenges() {
        let r = problem_response(&AuthError::Expired);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let challenge = r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let body: serde_json::Value =
            serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["code"], "TOKEN_EXPIRED");
        assert_eq!(body["status"], 401);

        let missing = problem_response(&AuthError::MissingCredential);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"erp\""
        );
        let forbidden = problem_response(&AuthError::Forbidden);
        assert_eq!(forbidden.status(), 403);
        assert!(
            forbidden.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("insufficient_scope")
        );
        let scope = problem_response(&AuthError::InsufficientScope {
            scope: "Books.Read Books.ReadWrite".into(),
        });
        assert_eq!(scope.status(), 403);
        let challenge = scope.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.ends_with("scope=\"Books.Read Books.ReadWrite\""),
            "{challenge}"
        );
        let down = problem_response(&AuthError::KeysUnavailable);
        assert_eq!(down.status(), 503);
        assert!(down.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
