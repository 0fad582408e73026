//! The console in a real browser: headless Chromium, driven over the DevTools protocol,
//! signs in through the login form and opens every page in English and Chinese over a
//! small demo book. Each page must answer 200 with no console error, no uncaught exception
//! and no blocked resource (the page's CSP reports there), every chart must be an `<svg>`
//! with data; a form given bad input shows the error beside the field and does nothing.
//! Screenshots go to `target/console-screenshots/`.
//!
//! Chromium: `apt-get install -y chromium` (or `PUHUI_CHROMIUM=/path`). Without it the test
//! is skipped, unless `CI` is set, where it fails.

use serde_json::{json, Value};
use server::app;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

fn chromium() -> Option<String> {
    let path = std::env::var("PUHUI_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then_some(path)
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("console-screenshots")
}

/// A DevTools protocol session on one page.
struct Cdp {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let hostport = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let stream = TcpStream::connect(hostport).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(url, stream).expect("DevTools websocket");
        // Short reads from here on, so that waiting for an event can check its deadline.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Cdp {
            ws,
            next_id: 1,
            session: None,
            events: Vec::new(),
        }
    }

    fn read(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            assert!(Instant::now() < deadline, "no answer from Chromium in time");
            match self.ws.read() {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("DevTools connection: {e}"),
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::Text(msg.to_string())).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some(v) = self.read(deadline) else {
                continue;
            };
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn wait_for(&mut self, method: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = 0;
        loop {
            if self.events[seen..].iter().any(|e| e["method"] == method) {
                return;
            }
            seen = self.events.len();
            if let Some(v) = self.read(deadline) {
                self.events.push(v);
            }
        }
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    /// Opens `url` (or runs `js`, which navigates) and waits for its load event; the
    /// document's HTTP status and the errors the page reported.
    fn load(&mut self, url: Option<&str>, js: Option<&str>) -> (u16, Vec<String>) {
        self.events.clear();
        match (url, js) {
            (Some(u), _) => {
                self.call("Page.navigate", json!({"url": u}));
            }
            (None, Some(js)) => {
                self.eval(js);
            }
            _ => unreachable!(),
        }
        self.wait_for("Page.loadEventFired");
        // Let late console messages of the page arrive.
        let settle = Instant::now() + Duration::from_millis(300);
        while Instant::now() < settle {
            if let Some(v) = self.read(settle + Duration::from_secs(5)) {
                self.events.push(v);
            }
        }
        let mut status = 0;
        let mut errors = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Network.responseReceived" if p["type"] == "Document" => {
                    status = p["response"]["status"].as_u64().unwrap_or(0) as u16;
                }
                "Runtime.exceptionThrown" => errors.push(p.to_string()),
                "Runtime.consoleAPICalled" if p["type"] == "error" => errors.push(p.to_string()),
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    errors.push(p["entry"]["text"].to_string())
                }
                _ => {}
            }
        }
        (status, errors)
    }

    fn screenshot(&mut self, name: &str) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// The whole process group: `chromium` may be a wrapper script whose browser and
    /// helper processes would outlive it.
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test created; no memory is involved.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn launch(path: &str) -> (Browser, Cdp) {
    let profile = tempfile::tempdir().unwrap();
    use std::os::unix::process::CommandExt;
    let child = Command::new(path)
        .process_group(0)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-port=0",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let port_file = profile.path().join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Ok(t) = std::fs::read_to_string(&port_file) {
            if t.lines().count() >= 2 {
                break t;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromium did not open its DevTools port"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut lines = text.lines();
    let port = lines.next().unwrap().trim().to_string();
    let path = lines.next().unwrap().trim().to_string();
    let mut cdp = Cdp::connect(&format!("ws://127.0.0.1:{port}{path}"));
    let target = cdp.call("Target.createTarget", json!({"url": "about:blank"}));
    let attached = cdp.call(
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = attached["sessionId"].as_str().map(str::to_owned);
    for domain in [
        "Page.enable",
        "Runtime.enable",
        "Log.enable",
        "Network.enable",
    ] {
        cdp.call(domain, json!({}));
    }
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
    );
    (
        Browser {
            child,
            _profile: profile,
        },
        cdp,
    )
}

/// Drives the console at `base`, signing in with `key`.
fn drive(path: &str, base: &str, key: &str) {
    let (_browser, mut cdp) = launch(path);
    let (status, errors) = cdp.load(Some(&format!("{base}/console/login")), None);
    assert_eq!((status, errors.len()), (200, 0), "login page: {errors:?}");
    cdp.screenshot("login-en");
    let (status, errors) = cdp.load(
        None,
        Some(&format!(
            "document.querySelector('input[name=key]').value = '{key}'; \
             document.querySelector('form').submit()"
        )),
    );
    assert_eq!(
        (status, errors.len()),
        (200, 0),
        "after sign-in: {errors:?}"
    );
    let here = cdp.eval("location.pathname");
    assert_eq!(here, "/console", "an operator lands on the overview");
    // Objects to open: the first of each list.
    let first = |cdp: &mut Cdp, list: &str, prefix: &str| -> String {
        cdp.load(Some(&format!("{base}{list}")), None);
        let js = format!(
            "(document.querySelector('a[href^=\"{prefix}\"]') || {{}}).getAttribute?.('href')"
        );
        cdp.eval(&js)
            .as_str()
            .unwrap_or_else(|| panic!("{list} links to no {prefix}"))
            .to_string()
    };
    let loan = first(&mut cdp, "/console/loans?bucket=M1", "/console/loans/");
    let line = first(&mut cdp, "/console/lines", "/console/lines/");
    let partner = first(&mut cdp, "/console/colending", "/console/colending/");
    let entry = first(&mut cdp, &loan, "/console/ledger?entry=");
    let deal = first(&mut cdp, "/console/abs", "/console/abs/");
    let pages: Vec<(&str, String, usize)> = vec![
        ("overview", "/console".into(), 3),
        ("loans", "/console/loans".into(), 0),
        ("loan", loan.clone(), 0),
        ("lines", "/console/lines".into(), 0),
        ("line", line, 0),
        ("decisions", "/console/decisions?run=1".into(), 0),
        ("colending", "/console/colending".into(), 0),
        ("partner", partner, 0),
        ("ledger", "/console/ledger".into(), 0),
        ("proof", entry, 0),
        ("keys", "/console/keys".into(), 0),
        ("controls", "/console/controls".into(), 0),
        ("compliance", "/console/compliance".into(), 0),
        ("abs", "/console/abs".into(), 0),
        ("deal", deal, 1),
    ];
    for lang in ["en", "zh"] {
        for (name, path, charts) in &pages {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{base}{path}{sep}lang={lang}");
            let (status, errors) = cdp.load(Some(&url), None);
            assert_eq!(status, 200, "{name} ({lang}) {url}");
            assert!(errors.is_empty(), "{name} ({lang}): {errors:?}");
            let html_lang = cdp.eval("document.documentElement.lang");
            assert!(
                html_lang.as_str().unwrap().starts_with(lang),
                "{name}: {html_lang}"
            );
            let drawn = cdp.eval(
                "[...document.querySelectorAll('svg.chart')].map(s => \
                 s.querySelectorAll('.datum').length)",
            );
            let drawn: Vec<u64> = serde_json::from_value(drawn).unwrap();
            assert_eq!(drawn.len(), *charts, "{name}: charts {drawn:?}");
            assert!(
                drawn.iter().all(|n| *n > 0),
                "{name}: a chart without data {drawn:?}"
            );
            cdp.screenshot(&format!("{name}-{lang}"));
        }
    }
    let verdict = cdp.load(Some(&format!("{base}{}", pages[9].1)), None);
    assert_eq!(verdict.0, 200);
    let v = cdp.eval("document.getElementById('proof-verdict').textContent");
    assert!(v.as_str().unwrap().contains('✓'), "the proof verifies: {v}");

    // Bad input: the error beside its field, and nothing done.
    cdp.load(
        Some(&format!("{base}/console/loans?id=not-a-loan&lang=en")),
        None,
    );
    let e = cdp.eval("document.querySelector('input[name=id]').parentElement.querySelector('.field-error')?.textContent");
    assert!(
        e.as_str().is_some_and(|s| s.contains("UUID")),
        "loan id error: {e}"
    );
    let (status, _) = cdp.load(
        Some(&format!("{base}/console/compliance?on=2026-02-30&lang=en")),
        None,
    );
    assert_eq!(status, 422);
    let e = cdp.eval("document.querySelector('input[name=on]').parentElement.querySelector('.field-error')?.textContent");
    assert!(e.as_str().is_some(), "compliance date error: {e}");
    assert_eq!(cdp.eval("document.querySelector('div.cards')"), Value::Null);
    cdp.load(Some(&format!("{base}/console/decisions")), None);
    let (status, errors) = cdp.load(
        None,
        Some(
            "document.querySelector('input[name=income]').value = '12.345x'; \
             document.querySelector('input[name=as_of]').value = '2026-02-30'; \
             document.querySelector('form.fields').submit()",
        ),
    );
    // Chromium logs the refused form's own 422 as a failed load; nothing else may appear.
    assert_eq!(status, 422);
    assert!(
        errors.iter().all(|e| e.contains("status of 422")),
        "{errors:?}"
    );
    let invalid =
        cdp.eval("[...document.querySelectorAll('[aria-invalid=true]')].map(e => e.name).sort()");
    assert_eq!(invalid, json!(["as_of", "income"]));
    assert_eq!(cdp.eval("document.getElementById('outcome')"), Value::Null);
    cdp.screenshot("decisions-bad-input-en");
    cdp.load(Some(&format!("{base}/console/keys")), None);
    let keys_before = cdp.eval("document.querySelectorAll('form[action$=revoke]').length");
    let (status, _) = cdp.load(
        None,
        Some(
            "document.querySelector('input[name=expires_on]').value = 'tomorrow'; \
             document.querySelector('form.fields').submit()",
        ),
    );
    assert_eq!(status, 422);
    let e = cdp.eval("document.querySelector('input[name=expires_on]').parentElement.querySelector('.field-error')?.textContent");
    assert!(e.as_str().is_some(), "expiry error: {e}");
    assert_eq!(cdp.eval("document.getElementById('new-key')"), Value::Null);
    let keys_after = cdp.eval("document.querySelectorAll('form[action$=revoke]').length");
    assert_eq!(keys_before, keys_after, "a refused form created no key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_both_languages_in_a_real_browser() {
    let Some(path) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed (apt-get install -y chromium)"
        );
        eprintln!("skipped: chromium is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open_sqlite(dir.path()).unwrap();
    let state = app::build_state(store).await.unwrap();
    let size = server::demo::DemoSize {
        applicants: 40,
        lines: 20,
        merchants: 4,
        // Long enough for the demo's deal to close and run its periods.
        days: 160,
        seed: 3,
    };
    let today = money::BusinessDate::from_ymd(2026, 12, 1).unwrap();
    let report = server::demo::build(&state, size, today).await.unwrap();
    assert!(report.loans > 0 && report.purchases > 0, "{report:?}");
    assert!(report.deal_periods > 0, "{report:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app::serve(state, listener, std::future::pending()));
    let key = report.key.clone();
    tokio::task::spawn_blocking(move || drive(&path, &base, &key))
        .await
        .unwrap();
}
