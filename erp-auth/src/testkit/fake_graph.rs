use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

/// The access token [`FakeAzureAd`](super::FakeAzureAd)'s token endpoint hands out and
/// [`FakeGraph`] expects.
pub const FAKE_GRAPH_TOKEN: &str = "fake-graph-app-token";

#[derive(Default)]
struct State {
    groups: Mutex<HashMap<String, Vec<String>>>,
    page_size: AtomicUsize,
    /// 0: serve; 1: 503; 2: 429 with `retry_after`.
    mode: AtomicUsize,
    retry_after: AtomicUsize,
    delay_ms: AtomicUsize,
    requests: AtomicUsize,
}

/// A fake Microsoft Graph serving
/// `GET /v1.0/users/{oid}/transitiveMemberOf/microsoft.graph.group`, paged with
/// `@odata.nextLink`, for the bearer token [`FAKE_GRAPH_TOKEN`] only.
pub struct FakeGraph {
    server: MockServer,
    state: Arc<State>,
}

impl std::fmt::Debug for FakeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGraph")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

struct Groups {
    state: Arc<State>,
    uri: String,
}

impl Respond for Groups {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let state = &self.state;
        state.requests.fetch_add(1, Ordering::SeqCst);
        let delay = std::time::Duration::from_millis(state.delay_ms.load(Ordering::SeqCst) as u64);
        match state.mode.load(Ordering::SeqCst) {
            1 => return ResponseTemplate::new(503).set_delay(delay),
            2 => {
                return ResponseTemplate::new(429)
                    .insert_header(
                        "retry-after",
                        state
                            .retry_after
                            .load(Ordering::SeqCst)
                            .to_string()
                            .as_str(),
                    )
                    .set_delay(delay);
            }
            _ => {}
        }
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {FAKE_GRAPH_TOKEN}").as_str());
        if !authorized {
            return ResponseTemplate::new(401);
        }
        let oid = request
            .url
            .path()
            .split('/')
            .nth(3)
            .unwrap_or_default()
            .to_owned();
        let skip: usize = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "$skiptoken")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let all = state
            .groups
            .lock()
            .expect("groups")
            .get(&oid)
            .cloned()
            .unwrap_or_default();
        let size = state.page_size.load(Ordering::SeqCst).max(1);
        let page: Vec<_> = all
            .iter()
            .skip(skip)
            .take(size)
            .map(|id| json!({"@odata.type": "#microsoft.graph.group", "id": id}))
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
            "value": page,
        });
        if skip + size < all.len() {
            body["@odata.nextLink"] = json!(format!(
                "{}/v1.0/users/{oid}/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999&$skiptoken={}",
                self.uri,
                skip + size
            ));
        }
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(delay)
    }
}

impl FakeGraph {
    /// Starts the fake; every user is in no group until [`set_groups`](Self::set_groups).
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State::default());
        state.page_size.store(100, Ordering::SeqCst);
        Mock::given(matchers::method("GET"))
            .and(matchers::path_regex(
                r"^/v1\.0/users/[^/]+/transitiveMemberOf/microsoft\.graph\.group$",
            ))
            .respond_with(Groups {
                state: Arc::clone(&state),
                uri: server.uri(),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL, to use as `AZURE_GRAPH_HOST`.
    pub fn host(&self) -> String {
        self.server.uri()
    }

    /// Makes `oid` a (transitive) member of `groups`.
    pub fn set_groups(&self, oid: &str, groups: &[&str]) {
        self.state.groups.lock().expect("groups").insert(
            oid.to_ascii_lowercase(),
            groups.iter().map(|g| (*g).to_owned()).collect(),
        );
    }

    /// Groups per page (default 100).
    pub fn set_page_size(&self, size: usize) {
        self.state.page_size.store(size, Ordering::SeqCst);
    }

    /// Answers 503 to everything (or serves again).
    pub fn set_down(&self, down: bool) {
        self.state.mode.store(usize::from(down), Ordering::SeqCst);
    }

    /// Answers 429 with `Retry-After: seconds` (or, with `None`, serves again).
    pub fn set_throttled(&self, seconds: Option<u64>) {
        match seconds {
            Some(s) => {
                self.state.retry_after.store(s as usize, Ordering::SeqCst);
                self.state.mode.store(2, Ordering::SeqCst);
            }
            None => self.state.mode.store(0, Ordering::SeqCst),
        }
    }

    /// Delays every answer.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// Requests served so far (pages, refusals included).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}
