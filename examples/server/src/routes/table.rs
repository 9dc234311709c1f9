//! The route table: every endpoint is built as one service holding its whole stack
//! (observe; authenticate and authorise where the route asks; the handler), which the
//! router boxes once, as it boxes a bare handler.
//!
//! Layering the router instead (`Router::layer` for observing, `route_layer` for the
//! auth layer) wraps every route in one more `Route` per layer: a boxed service, cloned
//! and boxed again on every request, plus its response mapping. Each level was about
//! 830 instructions of a cached `GET /auth/me` (docs/performance.md).

use std::{collections::BTreeMap, convert::Infallible, sync::Arc};

use axum::{
    Router,
    extract::Request,
    handler::Handler,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter},
};
use erp_auth::{AuthLayer, layer::RequireRoleLayer};
use tower::Layer;

use crate::{AppState, observe::Observe};

/// Who may call an endpoint.
#[derive(Debug, Clone)]
pub enum Access {
    /// Anyone.
    Public,
    /// An authenticated principal (401 otherwise).
    Authenticated,
    /// An authenticated principal with these roles (401, then 403).
    Roles(RequireRoleLayer),
}

/// `RouteTable::<method>(template, access, handler)` for each method named.
macro_rules! methods {
    ($($(#[$doc:meta])* $name:ident => $filter:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name<H, T>(self, template: &str, access: Access, handler: H) -> Self
            where
                H: Handler<T, Arc<AppState>>,
                T: 'static,
            {
                self.on(MethodFilter::$filter, template, access, handler)
            }
        )*
    };
}

/// The routes of one server: each path template (also its metrics label, shared by its
/// services) with its methods.
#[derive(Debug)]
pub struct RouteTable {
    state: Arc<AppState>,
    auth: AuthLayer,
    paths: BTreeMap<Arc<str>, MethodRouter>,
}

impl RouteTable {
    /// An empty table whose handlers get `state`.
    pub fn new(state: &Arc<AppState>) -> Self {
        Self {
            auth: AuthLayer::new(state.authenticator.clone()),
            state: Arc::clone(state),
            paths: BTreeMap::new(),
        }
    }

    methods! {
        /// `GET` (and `HEAD`) `template`.
        get => GET,
        /// `POST template`.
        post => POST,
        /// `PATCH template`.
        patch => PATCH,
        /// `DELETE template`.
        delete => DELETE,
    }

    /// `handler` for the methods of `filter` on `template`, behind `access`.
    ///
    /// # Panics
    /// When `template` already has a handler for one of these methods (a programming
    /// error, as with axum's own `route`).
    pub fn on<H, T>(
        mut self,
        filter: MethodFilter,
        template: &str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let handler = handler.with_state(Arc::clone(&self.state));
        let template = self
            .paths
            .get_key_value(template)
            .map_or_else(|| Arc::from(template), |(known, _)| Arc::clone(known));
        let label = Some(Arc::clone(&template));
        let methods = self.paths.remove(&template).unwrap_or_default();
        let methods = match access {
            Access::Public => methods.on_service(filter, Observe::new(label, handler)),
            Access::Authenticated => {
                methods.on_service(filter, Observe::new(label, self.auth.layer(handler)))
            }
            Access::Roles(roles) => methods.on_service(
                filter,
                Observe::new(label, self.auth.layer(roles.layer(handler))),
            ),
        };
        self.paths.insert(template, methods);
        self
    }

    /// The router: each path answers its other methods with 405 (and `Allow`), any other
    /// path with 404, both observed like the routes (the 404s labelled
    /// [`UNMATCHED`](crate::observe::http_metrics::UNMATCHED)).
    pub fn into_router(self) -> Router {
        let mut router = Router::new();
        for (template, methods) in self.paths {
            let refused = Observe::new(
                Some(Arc::clone(&template)),
                answer(StatusCode::METHOD_NOT_ALLOWED),
            );
            router = router.route(&template, methods.fallback_service(refused));
        }
        router.fallback_service(Observe::new(None, answer(StatusCode::NOT_FOUND)))
    }
}

/// A service answering `status` with an empty body (what axum answers by default).
fn answer(
    status: StatusCode,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = Infallible,
    Future = std::future::Ready<Result<Response, Infallible>>,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |_: Request| std::future::ready(Ok(status.into_response())))
}
