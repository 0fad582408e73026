//! The console over HTTP on each store, over a small demo book: signing in sets an
//! HttpOnly, SameSite=Strict cookie; the overview's figures equal what the API lists; roles,
//! tenants and parties hold as in the API (403 for a role, 404 for another tenant's or
//! party's object); a refused form changes nothing.

use crate::common::cny;
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use server::app;
use server::demo::{self, DemoSize};

struct App {
    base: String,
    http: reqwest::Client,
    key: String,
    name: &'static str,
    _ts: testkit::TestStore,
}

async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = app::build_state(ts.store.clone()).await.unwrap();
        let size = DemoSize {
            applicants: 16,
            lines: 4,
            merchants: 2,
            days: 34,
            seed: 5,
        };
        let today = money::BusinessDate::from_ymd(2026, 12, 1).unwrap();
        let report = demo::build(&state, size, today).await.unwrap();
        assert!(report.loans > 0, "{}: {report:?}", ts.name);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(app::serve(state, listener, std::future::pending()));
        out.push(App {
            base,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            key: report.key,
            name: ts.name,
            _ts: ts,
        });
    }
    out
}

impl App {
    /// A page as the holder of `key` sees it: status, body, and the Set-Cookie headers.
    async fn page(&self, key: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("puhui_console_key={key}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn form(&self, key: Option<&str>, path: &str, body: &str) -> reqwest::Response {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        if let Some(k) = key {
            r = r.header("cookie", format!("puhui_console_key={k}"));
        }
        r.send().await.unwrap()
    }

    async fn api(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}: {path}", self.name);
        r.json().await.unwrap()
    }

    async fn new_key(&self, body: Value) -> String {
        let r = self
            .http
            .post(format!("{}/v1/api-keys", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", self.name);
        r.json::<Value>().await.unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Every loan, through the API's list.
    async fn loans(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.api(&format!("/v1/loans?limit=500{cursor}")).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return out,
            }
        }
    }
}

#[tokio::test]
async fn sign_in_overview_roles_tenants_and_parties() {
    for app in apps().await {
        let name = app.name;
        let (status, _) = app.page("", "/console").await;
        assert_eq!(status, 303, "{name}: no key, to the sign-in page");

        let r = app.form(None, "/console/login", "key=not-a-key").await;
        assert_eq!(r.status(), 401, "{name}");
        assert!(r.text().await.unwrap().contains("field-error"));
        let r = app
            .form(None, "/console/login", &format!("key={}", app.key))
            .await;
        assert_eq!(r.status(), 303, "{name}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
            assert!(cookie.contains(attr), "{name}: {cookie}");
        }
        let r = app.form(Some(&app.key), "/console/logout", "").await;
        assert_eq!(r.status(), 303);
        assert!(r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));

        // The overview's aggregates equal the API's loans, loan by loan.
        let loans = app.loans().await;
        let active: Vec<&Value> = loans.iter().filter(|l| l["stage"] == "active").collect();
        let outstanding: i64 = active
            .iter()
            .map(|l| l["principal_outstanding_minor"].as_i64().unwrap())
            .sum();
        let (status, html) = app.page(&app.key, "/console").await;
        assert_eq!(status, 200, "{name}");
        assert!(
            html.contains(&cny(outstanding)),
            "{name}: {} not shown",
            cny(outstanding)
        );
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 3, "{name}");

        // Roles: a risk analyst reads the overview, not the keys; a merchant neither.
        let analyst = app
            .new_key(json!({"role": "risk_analyst", "tenant": "default"}))
            .await;
        assert_eq!(app.page(&analyst, "/console").await.0, 200, "{name}");
        assert_eq!(app.page(&analyst, "/console/keys").await.0, 403, "{name}");
        // Parties: a borrower's key opens its own loan only, and no overview.
        let (mine, other) = (&active[0], &active[1]);
        let borrower = app
            .new_key(json!({"role": "borrower", "tenant": "default",
                "party_kind": "borrower", "party_id": mine["borrower"]}))
            .await;
        let own = format!("/console/loans/{}", mine["id"].as_str().unwrap());
        let theirs = format!("/console/loans/{}", other["id"].as_str().unwrap());
        assert_eq!(app.page(&borrower, &own).await.0, 200, "{name}");
        assert_eq!(app.page(&borrower, &theirs).await.0, 404, "{name}");
        assert_eq!(app.page(&borrower, "/console").await.0, 403, "{name}");
        let (status, list) = app.page(&borrower, "/console/loans").await;
        assert_eq!(status, 200);
        assert!(list.contains(mine["id"].as_str().unwrap()), "{name}");
        assert!(!list.contains(other["id"].as_str().unwrap()), "{name}");
        // Tenants: another tenant's operator sees none of this book.
        let acme = app
            .new_key(json!({"role": "operator", "tenant": "acme"}))
            .await;
        assert_eq!(app.page(&acme, &own).await.0, 404, "{name}");
        let (_, html) = app.page(&acme, "/console").await;
        assert!(!html.contains(&cny(outstanding)), "{name}");
        // A malformed id names nothing.
        assert_eq!(app.page(&app.key, "/console/loans/nope").await.0, 404);

        // A refused form does nothing: an expiry that is not a date creates no key.
        let before = app.api("/v1/api-keys?limit=500").await["items"]
            .as_array()
            .unwrap()
            .len();
        let r = app
            .form(
                Some(&app.key),
                "/console/keys",
                "role=operator&tenant=default&label=x&party_kind=&party_id=&expires_on=2026-13-01",
            )
            .await;
        assert_eq!(r.status(), 422, "{name}");
        assert!(r.text().await.unwrap().contains("field-error"));
        let after = app.api("/v1/api-keys?limit=500").await["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(before, after, "{name}: nothing created");
    }
}
