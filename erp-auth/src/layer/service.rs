use std::task::{Context, Poll};

use erp_core::Principal;
use http::{Request, Response};
use http_body_util::Either;
use tower::Service;

use super::{
    AuthBody, ResponseFuture,
    credential::{bearer_header, bearer_token, token_text},
    problem_response,
};
use crate::{AuthError, Authenticator, TokenClaims, session::is_unsafe};

/// What the request presents, read synchronously before the async part.
enum Credential {
    Bearer(http::HeaderValue),
    Cookie {
        tenant: erp_core::TenantId,
        session: erp_core::SessionId,
        csrf_ok: bool,
    },
    Refused(AuthError),
}

/// A bearer token wins over a cookie (browsers never add `Authorization` on their own,
/// so a bearer request needs no CSRF check).
fn credential<B>(authenticator: &Authenticator, req: &Request<B>) -> Credential {
    match bearer_header(req.headers(), authenticator.max_token_bytes()) {
        Ok(value) => Credential::Bearer(value),
        Err(AuthError::MissingCredential) => match authenticator.cookies() {
            Some(cookies) => match cookies.session_from(req.headers()) {
                Ok(Some((tenant, session))) => {
                    let csrf_ok = !is_unsafe(req.method())
                        || cookies.csrf_valid(req.headers(), tenant, &session);
                    Credential::Cookie {
                        tenant,
                        session,
                        csrf_ok,
                    }
                }
                Ok(None) => Credential::Refused(AuthError::MissingCredential),
                Err(e) => Credential::Refused(e),
            },
            None => Credential::Refused(AuthError::MissingCredential),
        },
        Err(e) => Credential::Refused(e),
    }
}

/// The service made by [`AuthLayer`](super::AuthLayer).
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

impl<S> AuthService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, authenticator: Authenticator) -> Self {
        Self {
            inner,
            authenticator,
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let credential = credential(&self.authenticator, &req);
        if let Credential::Bearer(value) = &credential
            && let Ok(token) = bearer_token(value)
        {
            let started = tokio::time::Instant::now();
            if let Some(outcome) = self.authenticator.authenticate_cached(token, started) {
                let outcome = outcome.map(|(p, c)| (p, Some(c)));
                return match admit(&mut req, "bearer", started, outcome) {
                    // Polled ready by our caller: this request is its to serve.
                    Ok(()) => ResponseFuture::Calling {
                        fut: self.inner.call(req),
                    },
                    Err(err) => ResponseFuture::Refused {
                        response: Some(refusal(&err)),
                    },
                };
            }
        }
        // The clone that was polled ready serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        ResponseFuture::waiting(async move {
            // tokio's clock (the std one unless a test pauses time): the same reading
            // serves the cache's freshness checks.
            let started = tokio::time::Instant::now();
            let kind = match &credential {
                Credential::Bearer(_) => "bearer",
                Credential::Cookie { .. } => "cookie",
                Credential::Refused(_) => "none",
            };
            let outcome = match credential {
                Credential::Bearer(value) => match bearer_token(&value) {
                    Ok(token) => authenticator
                        .authenticate_bearer(token, token_text, started)
                        .await
                        .map(|(p, c)| (p, Some(c))),
                    Err(e) => Err(e),
                },
                Credential::Cookie {
                    tenant,
                    session,
                    csrf_ok,
                } => {
                    match authenticator.authenticate_session(tenant, session).await {
                        // The session is checked first: a forged or revoked cookie is
                        // 401 whatever the CSRF header says.
                        Ok(_) if !csrf_ok => Err(AuthError::CsrfRejected),
                        other => other.map(|p| (p, None)),
                    }
                }
                Credential::Refused(e) => Err(e),
            };
            match admit(&mut req, kind, started, outcome) {
                Ok(()) => inner.call(req).await.map(|r| r.map(Either::Left)),
                Err(err) => Ok(refusal(&err)),
            }
        })
    }
}

/// Counts `outcome` under the credential `kind` and, when it lets the request in, puts
/// the principal (and a token's claims) into the request; the error is for
/// [`refusal`] to answer.
fn admit<B>(
    req: &mut Request<B>,
    kind: &'static str,
    started: tokio::time::Instant,
    outcome: Result<(Principal, Option<TokenClaims>), AuthError>,
) -> Result<(), AuthError> {
    let code = outcome.as_ref().map_or_else(|e| e.code(), |_| "ok");
    crate::metrics::request(kind, code, started.elapsed());
    let (principal, claims) = outcome?;
    req.extensions_mut().insert(principal);
    if let Some(claims) = claims {
        req.extensions_mut().insert(claims);
    }
    Ok(())
}

/// The answer to a request that was not let in.
fn refusal<B>(err: &AuthError) -> Response<AuthBody<B>> {
    tracing::debug!(error = %err, code = err.code(), "request not authenticated");
    problem_response(err).map(Either::Right)
}
