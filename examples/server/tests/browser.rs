//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver: sign in on `/` with a development account, see the display name and
//! roles, sign out, be signed out. CI installs the browser and sets
//! ERP_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping.

use std::{collections::HashMap, path::Path, process::Stdio, time::Duration};

use erp_server::{AppState, config::ServerConfig, router};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn displayed(&self, css: &str) -> bool {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{el}/displayed"),
            None,
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Polls `check` for up to 10 s.
    async fn wait_for(&self, what: &str, check: impl AsyncFn(&Self) -> bool) {
        for _ in 0..200 {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let chromedriver =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !Path::new(&chromium).exists() || !Path::new(&chromedriver).exists() {
        assert!(
            std::env::var("ERP_REQUIRE_BROWSER").is_err(),
            "ERP_REQUIRE_BROWSER is set but {chromium} or {chromedriver} is missing"
        );
        eprintln!(
            "skipped: no {chromium} / {chromedriver} (apt-get install chromium chromium-driver)"
        );
        return;
    }

    // The server, on its embedded database with the development accounts.
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("erp.sqlite").display()),
        ),
        ("SESSION_COOKIE_SECURE", "false".into()),
    ]);
    let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.embedded_database = true;
    config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
    let app = router(AppState::build(config).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The browser.
    let port = free_port();
    let mut driver_process = tokio::process::Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if http.get(format!("{base}/status")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let created: Value = http
        .post(format!("{base}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-quic", "--no-first-run", format!("--user-data-dir={}", profile.path().display())]
        }}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_owned();
    let d = Driver {
        http,
        base,
        session,
    };

    d.call(
        reqwest::Method::POST,
        "/url",
        Some(json!({"url": server_url})),
    )
    .await;
    d.wait_for("the sign-in form", async |d| {
        d.displayed("#login-form").await
    })
    .await;
    assert!(
        !d.displayed("#msal-login").await,
        "no MSAL without Entra ID configured"
    );

    // A wrong password: the problem's detail, still signed out.
    d.type_into("#username", "admin").await;
    d.type_into("#password", "wrong").await;
    d.click("#login").await;
    d.wait_for("the error", async |d| {
        d.text("#error")
            .await
            .contains("invalid username or password")
    })
    .await;
    assert!(d.displayed("#login-form").await);

    // The right one.
    let el = d.find("#password").await;
    d.call(
        reqwest::Method::POST,
        &format!("/element/{el}/clear"),
        Some(json!({})),
    )
    .await;
    d.type_into("#password", "admin123").await;
    d.click("#login").await;
    d.wait_for("the display name", async |d| {
        d.text("#display-name").await == "Administrator"
    })
    .await;
    assert_eq!(d.text("#username-shown").await, "admin");
    assert!(d.text("#roles").await.contains("admin"));

    // Sign out: the session ends, the form is back, and a reload stays signed out.
    d.click("#logout").await;
    d.wait_for("the sign-in form again", async |d| {
        d.displayed("#login-form").await
    })
    .await;
    d.call(reqwest::Method::POST, "/refresh", Some(json!({})))
        .await;
    d.wait_for("the form after a reload", async |d| {
        d.displayed("#login-form").await
    })
    .await;
    assert!(!d.displayed("#signed-in").await);

    d.http
        .delete(format!("{}/session/{}", d.base, d.session))
        .send()
        .await
        .ok();
    driver_process.kill().await.ok();
}
