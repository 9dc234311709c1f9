//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver, against the sign-in page on `/`:
//!
//! - with a development account: sign in, see the display name and roles, sign out;
//! - with "Sign in with Microsoft": the `erp-server` binary's Entra ID authority is a real
//!   OpenID Connect provider (npm `oidc-provider` in `tests/oidc/`, dressed as an Entra ID
//!   v2 tenant, over https with a CA made for this run that the server trusts through
//!   `SSL_CERT_FILE`); MSAL.js signs in in a popup, a reload stays signed in by silent
//!   renewal, sign-out leaves the token the page used refused by the server.
//!
//! Each step leaves a screenshot in `$CARGO_TARGET_TMPDIR/browser/<test>/` (printed).
//! CI installs the browser and the provider's packages (`npm ci`) and sets
//! ERP_REQUIRE_BROWSER=1, so there anything missing fails the test instead of skipping.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use erp_server::{AppState, config::ServerConfig, router};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    shots: PathBuf,
    step: AtomicUsize,
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

    async fn try_find(&self, css: &str) -> Option<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_owned)
    }

    async fn find(&self, css: &str) -> String {
        self.try_find(css)
            .await
            .unwrap_or_else(|| panic!("no element {css}"))
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
        let Some(el) = self.try_find(css).await else {
            return String::new();
        };
        self.call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn displayed(&self, css: &str) -> bool {
        let Some(el) = self.try_find(css).await else {
            return false;
        };
        self.call(
            reqwest::Method::GET,
            &format!("/element/{el}/displayed"),
            None,
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn windows(&self) -> Vec<String> {
        let v = self
            .call(reqwest::Method::GET, "/window/handles", None)
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    async fn switch_to(&self, handle: &str) {
        self.call(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await;
    }

    /// Writes `NN-name.png` of the current window to the test's output folder.
    async fn screenshot(&self, name: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a screenshot"))
            .expect("base64 png");
        let n = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Polls `check` for up to 15 s.
    async fn wait_for(&self, what: &str, check: impl AsyncFn(&Self) -> bool) {
        for _ in 0..300 {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.screenshot(&format!("timeout-{}", what.replace(' ', "-")))
            .await;
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

/// A missing prerequisite: a skip on a developer's machine, a failure in CI.
fn missing(what: &str) -> Option<Browser> {
    assert!(
        std::env::var("ERP_REQUIRE_BROWSER").is_err(),
        "ERP_REQUIRE_BROWSER is set but {what}"
    );
    erp_core::testing::skipped(what);
    None
}

struct Browser {
    driver: Driver,
    process: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn close(mut self) {
        let d = &self.driver;
        d.http
            .delete(format!("{}/session/{}", d.base, d.session))
            .send()
            .await
            .ok();
        self.process.kill().await.ok();
    }
}

/// Headless Chromium under chromedriver, screenshots going to `browser/<test>/`.
async fn browser(test: &str, extra_args: &[&str]) -> Option<Browser> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let chromedriver =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !Path::new(&chromium).exists() || !Path::new(&chromedriver).exists() {
        return missing(&format!(
            "no {chromium} / {chromedriver} (apt-get install chromium chromium-driver)"
        ));
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(test);
    std::fs::create_dir_all(&shots).unwrap();
    for old in std::fs::read_dir(&shots).unwrap().flatten() {
        std::fs::remove_file(old.path()).ok();
    }
    let port = free_port();
    let process = tokio::process::Command::new(&chromedriver)
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
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1024,768",
    ]
    .iter()
    .chain(extra_args)
    .map(|a| (*a).to_owned())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let created: Value = http
        .post(format!("{base}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium, "args": args
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
    Some(Browser {
        driver: Driver {
            http,
            base,
            session,
            shots,
            step: AtomicUsize::new(0),
        },
        process,
        _profile: profile,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_in_a_real_browser() {
    let Some(browser) = browser("sign_in_and_out_in_a_real_browser", &[]).await else {
        return;
    };

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

    let d = &browser.driver;
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
    d.screenshot("signed-out").await;

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
    d.screenshot("wrong-password").await;

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
    d.screenshot("signed-in").await;

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
    d.screenshot("signed-out-after-reload").await;
    browser.close().await;
}

/// A CA for this run and a leaf certificate for 127.0.0.1 signed by it (openssl).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca, key, csr, cert, ext) = (
        dir.join("ca.key"),
        dir.join("ca.pem"),
        dir.join("leaf.key"),
        dir.join("leaf.csr"),
        dir.join("leaf.pem"),
        dir.join("leaf.ext"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &PathBuf| p.to_str().unwrap().to_owned();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=erp browser test CA",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}

/// The OpenID provider's process and what it printed.
struct Provider {
    _process: tokio::process::Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Provider {
    fn issued_tokens(&self) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("access_token "))
            .count()
    }
}

async fn provider(
    dir: &Path,
    cert: &Path,
    key: &Path,
    tenant: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Option<Provider> {
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
    let modules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/node_modules/oidc-provider");
    if !modules.exists() {
        missing(
            "the OpenID provider's packages are not installed (cd examples/server/tests/oidc && npm ci)",
        );
        return None;
    }
    let Ok(mut process) = tokio::process::Command::new(&node)
        .arg(&script)
        .current_dir(dir)
        .env("OIDC_CERT", cert)
        .env("OIDC_KEY", key)
        .env("OIDC_TENANT", tenant)
        .env("OIDC_CLIENT_ID", client_id)
        .env("OIDC_REDIRECT_URIS", redirect_uri)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    else {
        missing(&format!("no {node} (apt-get install nodejs npm)"));
        return None;
    };
    let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(port) = line.strip_prefix("listening ") {
                return port.trim().parse::<u16>().unwrap();
            }
        }
        panic!("the OpenID provider exited before listening");
    })
    .await
    .expect("the OpenID provider did not start in 20 s");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Some(Provider {
        _process: process,
        port,
        lines,
    })
}

/// The `erp-server` binary as deployed: configured by its environment only.
async fn server(dir: &Path, port: u16, env: &[(&str, String)]) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_erp-server"));
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ERP_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http
            .get(format!("http://127.0.0.1:{port}/auth/config"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("erp-server exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("erp-server did not answer in 30 s");
}

/// The access token MSAL holds for the API, from its cache in the page's sessionStorage.
const MSAL_ACCESS_TOKEN: &str = r#"
for (const key of Object.keys(sessionStorage)) {
  try {
    const v = JSON.parse(sessionStorage.getItem(key));
    if (v && v.credentialType === 'AccessToken' && v.secret) return v.secret;
  } catch (_) {}
}
return null;"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_microsoft_in_a_real_browser() {
    let test = "sign_in_with_microsoft_in_a_real_browser";
    // The provider's certificate comes from a CA of this run: Chromium is told to accept
    // it, the server trusts the CA the standard way (SSL_CERT_FILE).
    let Some(browser) = browser(test, &["--ignore-certificate-errors"]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let tenant = uuid::Uuid::new_v4().to_string();
    let client_id = uuid::Uuid::new_v4().to_string();
    let server_port = free_port();
    let origin = format!("http://127.0.0.1:{server_port}");
    let Some(idp) = provider(
        dir.path(),
        &cert,
        &key,
        &tenant,
        &client_id,
        &format!("{origin}/auth/redirect.html"),
    )
    .await
    else {
        return;
    };
    let authority_host = format!("https://127.0.0.1:{}", idp.port);
    let _server = server(
        dir.path(),
        server_port,
        &[
            ("SSL_CERT_FILE", ca.display().to_string()),
            ("SESSION_COOKIE_SECURE", "false".into()),
            ("AZURE_CLIENT_ID", client_id.clone()),
            ("AZURE_TENANT_ID", tenant.clone()),
            ("AZURE_AUTHORITY_HOST", authority_host.clone()),
            ("AZURE_AUTO_PROVISION", "true".into()),
            ("AZURE_ROLE_MAP", "Erp.Clerk=clerk".into()),
        ],
    )
    .await;
    let api = reqwest::Client::new();
    let me = async |token: &str| {
        api.get(format!("{origin}/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };

    let d = &browser.driver;
    d.call(
        reqwest::Method::POST,
        "/url",
        Some(json!({"url": format!("{origin}/")})),
    )
    .await;
    d.wait_for("the Microsoft button", async |d| {
        d.displayed("#msal-login").await
    })
    .await;
    assert!(
        d.displayed("#login-form").await,
        "the password form stays beside it"
    );
    d.screenshot("signed-out").await;

    // Sign in with Microsoft: a popup on the provider's page.
    let main = d.windows().await.pop().unwrap();
    d.click("#msal-login").await;
    d.wait_for("the sign-in popup", async |d| d.windows().await.len() == 2)
        .await;
    let popup = d.windows().await.into_iter().find(|h| *h != main).unwrap();
    d.switch_to(&popup).await;
    d.wait_for("the provider's login form", async |d| {
        d.displayed("input[name=login]").await
    })
    .await;
    let url = d.call(reqwest::Method::GET, "/url", None).await;
    assert!(
        url.as_str()
            .unwrap()
            .starts_with(&format!("{authority_host}/{tenant}/v2.0/")),
        "the login page is the authority's: {url}"
    );
    d.screenshot("provider-login").await;
    d.type_into("input[name=login]", "ada").await;
    d.type_into("input[name=password]", "any password").await;
    d.click("button[type=submit]").await;
    d.wait_for("the popup to close", async |d| d.windows().await.len() == 1)
        .await;
    d.switch_to(&main).await;
    d.wait_for("the Microsoft user's name", async |d| {
        d.text("#display-name").await == "Ada Lovelace"
    })
    .await;
    assert_eq!(d.text("#username-shown").await, "ada@contoso.example");
    assert!(d.text("#roles").await.contains("clerk"), "mapped app role");
    d.screenshot("signed-in").await;
    let first = d.execute(MSAL_ACCESS_TOKEN).await;
    let first = first.as_str().expect("MSAL caches the API's access token");
    assert_eq!(me(first).await, 200, "the page's token is the API's");

    // A reload keeps the user signed in, renewed silently: a new token, no new login.
    let issued = idp.issued_tokens();
    d.call(reqwest::Method::POST, "/refresh", Some(json!({})))
        .await;
    d.wait_for("the Microsoft user after a reload", async |d| {
        d.text("#display-name").await == "Ada Lovelace" && d.displayed("#signed-in").await
    })
    .await;
    assert_eq!(d.windows().await.len(), 1, "no login popup after a reload");
    d.screenshot("signed-in-after-reload").await;
    let renewed = d.execute(MSAL_ACCESS_TOKEN).await;
    let renewed = renewed
        .as_str()
        .expect("a token after the reload")
        .to_owned();
    assert_ne!(renewed, first, "renewed silently (refresh token)");
    assert!(idp.issued_tokens() > issued, "the provider issued it");
    assert_eq!(me(&renewed).await, 200);

    // Sign out: MSAL forgets the account, the server refuses the token the page used.
    d.click("#logout").await;
    d.wait_for("the signed-out page", async |d| {
        d.displayed("#msal-login").await && !d.displayed("#signed-in").await
    })
    .await;
    assert!(
        d.execute(MSAL_ACCESS_TOKEN).await.is_null(),
        "MSAL's cache is cleared"
    );
    d.screenshot("signed-out-again").await;
    assert_eq!(me(&renewed).await, 401, "the token is revoked server-side");
    d.call(reqwest::Method::POST, "/refresh", Some(json!({})))
        .await;
    d.wait_for("signed out after a reload", async |d| {
        d.displayed("#msal-login").await
    })
    .await;
    assert!(!d.displayed("#signed-in").await);
    d.screenshot("signed-out-after-reload").await;
    browser.close().await;
}
