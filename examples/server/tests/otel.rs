//! OpenTelemetry traces (feature `otel`): the server's spans exported over OTLP/HTTP to a
//! local receiver (wiremock on 127.0.0.1 taking `POST /v1/traces`, the protobuf decoded
//! with opentelemetry-proto's types), Entra ID faked with real RSA keys. Each test has
//! its own pipeline and subscriber (`set_default` on a current-thread runtime: the
//! server's futures all run on the test's thread) and flushes it with `force_flush`.

use std::collections::HashMap;

use axum::{Router, body::Body};
use erp_auth::testkit::FakeAzureAd;
use erp_server::{AppState, config::ServerConfig, otel::TraceExport, router, testkit::send};
use http::{Request, StatusCode};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::any_value,
    trace::v1::{Span, span::SpanKind},
};
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

/// The caller's trace: W3C ids as the header spells them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One traced server at a time in this binary. Each test installs its subscriber with
/// `set_default` (thread-local), but `tracing`'s callsite interest and max-level hint
/// are process-wide: while the other test was starting or dropping its subscriber, a
/// full-workspace run once lost the JWKS client span of this one.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An OTLP/HTTP collector that accepts every export.
struct Receiver {
    server: MockServer,
}

impl Receiver {
    async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Self { server }
    }

    fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.server.uri())
    }

    /// Every span of every export received so far.
    async fn spans(&self) -> Vec<Span> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        let mut spans = Vec::new();
        for request in requests {
            assert_eq!(
                request.headers.get("content-type").unwrap(),
                "application/x-protobuf"
            );
            let export = ExportTraceServiceRequest::decode(request.body.as_slice())
                .expect("an OTLP protobuf export");
            for resource in export.resource_spans {
                let service = resource
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|a| a.key == "service.name")
                    .and_then(|a| text(a.value.as_ref()?));
                assert_eq!(service.as_deref(), Some("erp-server"));
                spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
            }
        }
        spans
    }
}

fn text(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| text(a.value.as_ref()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server whose Entra ID is faked, with its spans going to a local receiver.
struct Traced {
    app: Router,
    fake: FakeAzureAd,
    receiver: Receiver,
    export: TraceExport,
    _subscriber: tracing::subscriber::DefaultGuard,
    _dir: tempfile::TempDir,
    /// Last: fields drop in order, so the next test starts after this one's subscriber
    /// and exporter are gone.
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Traced {
    async fn start() -> Self {
        let serial = ONE_AT_A_TIME.lock().await;
        let tenant = uuid::Uuid::new_v4().to_string();
        let fake = FakeAzureAd::start(&tenant, "api-client").await;
        let dir = tempfile::tempdir().unwrap();
        let env: HashMap<&str, String> = HashMap::from([
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("erp.sqlite").display()),
            ),
            ("AZURE_CLIENT_ID", "api-client".to_owned()),
            ("AZURE_TENANT_ID", tenant),
            ("AZURE_AUTHORITY_HOST", fake.authority_host()),
            ("AZURE_AUTO_PROVISION", "true".to_owned()),
            // A key rotated in right after start-up is fetched at once, inside the
            // request that meets it.
            ("JWKS_MIN_REFRESH_INTERVAL", "0ms".to_owned()),
        ]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true;
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        // Start-up (discovery, the first JWKS fetch) runs before the pipeline listens:
        // what the receiver gets is the requests' traces only.
        let app = router(AppState::build(config).await.unwrap());
        let receiver = Receiver::start().await;
        let export = TraceExport::to_endpoint(&receiver.traces_url()).unwrap();
        let subscriber =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(export.layer()));
        Self {
            app,
            fake,
            receiver,
            export,
            _subscriber: subscriber,
            _dir: dir,
            _serial: serial,
        }
    }

    /// `GET /auth/me` with a token signed by a key published after start-up (so the
    /// request fetches the JWKS) and `extra` headers.
    async fn me_with_new_key(&self, kid: &str, extra: &[(&str, &str)]) {
        self.fake.add_key(kid);
        let token = self.fake.token().build();
        let mut req = Request::get("/auth/me").header("authorization", format!("Bearer {token}"));
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        let (status, body, _) = send(&self.app, req.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Exports everything ended so far (blocking on the receiver's answer, off the
    /// runtime's thread) and returns what the receiver holds.
    async fn flushed_spans(&self) -> Vec<Span> {
        let export = self.export.clone();
        tokio::task::spawn_blocking(move || export.force_flush())
            .await
            .unwrap()
            .expect("the receiver took the export");
        self.receiver.spans().await
    }

    /// The `traceparent` of each JWKS request the fake received after start-up.
    async fn jwks_traceparents(&self) -> Vec<Option<String>> {
        let jwks: Vec<_> = self
            .fake
            .received_requests()
            .await
            .into_iter()
            .filter(|r| r.url.path() == "/discovery/v2.0/keys")
            .collect();
        assert!(jwks.len() >= 2, "start-up and the rotation each fetched");
        jwks[1..]
            .iter()
            .map(|r| {
                r.headers
                    .get("traceparent")
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .collect()
    }
}

/// Whether `ancestor` is `span` or one of its parents among `spans`.
fn descends_from(span: &Span, ancestor: &Span, spans: &[Span]) -> bool {
    let mut current = span;
    loop {
        if current.span_id == ancestor.span_id {
            return true;
        }
        match spans.iter().find(|s| s.span_id == current.parent_span_id) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test]
async fn a_request_continues_the_callers_trace_and_carries_it_to_entra_id() {
    let traced = Traced::start().await;
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    traced
        .me_with_new_key("k2", &[("traceparent", traceparent.as_str())])
        .await;
    let spans = traced.flushed_spans().await;

    assert!(!spans.is_empty(), "nothing was exported");
    for span in &spans {
        assert_eq!(
            hex(&span.trace_id),
            TRACE_ID,
            "span {:?} is outside the caller's trace",
            span.name
        );
    }
    let requests = named(&spans, "request");
    assert_eq!(requests.len(), 1, "one request span: {spans:#?}");
    let request = requests[0];
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(attribute(request, "method").as_deref(), Some("GET"));
    assert_eq!(attribute(request, "path").as_deref(), Some("/auth/me"));

    // The JWKS refetch for the new key: a client span inside the request's trace.
    let jwks: Vec<&Span> = named(&spans, "http.client")
        .into_iter()
        .filter(|s| attribute(s, "url.path").as_deref() == Some("/discovery/v2.0/keys"))
        .collect();
    assert_eq!(jwks.len(), 1, "one JWKS fetch: {spans:#?}");
    let jwks = jwks[0];
    assert_eq!(jwks.kind, SpanKind::Client as i32);
    assert!(
        descends_from(jwks, request, &spans),
        "the fetch is outside the request"
    );
    assert_eq!(
        attribute(jwks, "http.response.status_code").as_deref(),
        Some("200")
    );

    // And the fake saw that span's context on the wire.
    assert_eq!(
        traced.jwks_traceparents().await,
        vec![Some(format!("00-{TRACE_ID}-{}-01", hex(&jwks.span_id)))]
    );
}

#[tokio::test]
async fn a_request_without_trace_context_starts_a_new_trace() {
    let traced = Traced::start().await;
    let (status, _, _) = send(
        &traced.app,
        Request::get("/auth/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A malformed header is no trace context: a new trace, and no error.
    traced
        .me_with_new_key("k2", &[("traceparent", "00-not-a-trace-01")])
        .await;
    let spans = traced.flushed_spans().await;

    let requests = named(&spans, "request");
    assert_eq!(requests.len(), 2, "{spans:#?}");
    for request in &requests {
        assert!(
            request.parent_span_id.is_empty(),
            "a root span: {request:?}"
        );
        assert_eq!(request.trace_id.len(), 16);
        assert_ne!(hex(&request.trace_id), TRACE_ID);
    }
    assert_ne!(
        requests[0].trace_id, requests[1].trace_id,
        "each request its own trace"
    );
    let me = requests
        .iter()
        .find(|s| attribute(s, "path").as_deref() == Some("/auth/me"))
        .unwrap();
    let trace = hex(&me.trace_id);
    let [Some(sent)] = &traced.jwks_traceparents().await[..] else {
        panic!("the JWKS fetch carried no traceparent");
    };
    assert!(
        sent.starts_with(&format!("00-{trace}-")),
        "the fetch carries the new trace {trace}: {sent}"
    );
}
