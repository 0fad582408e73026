//! Customers and compliance through a real server on SQLite and PostgreSQL: personal data
//! masked unless an operator reveals it with a reason (audited), lookup by identity number,
//! duplicates refused, bad input naming its field; the five planted breaches of issue 19
//! refused with their rule id and nothing stored; the book report clean, then listing what
//! a stricter pack finds.

use serde_json::{json, Value};
use uuid::Uuid;

const KEY: &str = "customers-http-test-operator-key";

struct App {
    name: &'static str,
    base: String,
    http: reqwest::Client,
    state: server::app::AppState,
    _store: testkit::TestStore,
}

async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = server::app::build_state(ts.store.clone()).await.unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::app::serve(
            state.clone(),
            listener,
            std::future::pending(),
        ));
        out.push(App {
            name: ts.name,
            base,
            http: reqwest::Client::new(),
            state,
            _store: ts,
        });
    }
    out
}

impl App {
    async fn send(&self, method: &str, path: &str, body: Option<Value>, key: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self
                .http
                .post(url)
                .header("Idempotency-Key", Uuid::now_v7().to_string()),
        }
        .bearer_auth(key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        if status >= 400 {
            assert_eq!(
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{}: {method} {path}",
                self.name
            );
        }
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, KEY).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body), KEY).await
    }

    async fn ok(&self, path: &str, body: Value) -> String {
        let (s, v) = self.post(path, body).await;
        assert!(s == 201 || s == 200, "{}: POST {path}: {s} {v}", self.name);
        v["id"].as_str().unwrap().to_string()
    }

    async fn key(&self, role: &str) -> String {
        let (s, v) = self
            .post("/v1/api-keys", json!({"role": role, "tenant": "default"}))
            .await;
        assert_eq!(s, 201, "{v}");
        v["key"].as_str().unwrap().to_string()
    }
}

fn id_number(birth: &str, seq: u32) -> String {
    let first17 = format!("310104{}{seq:03}", birth.replace('-', ""));
    format!(
        "{first17}{}",
        compliance::resident_id_check_char(&first17).unwrap()
    )
}

fn person(seq: u32, income_minor: i64, student: bool) -> Value {
    json!({"kind": "individual", "name": "王小明", "id_number": id_number("1995-04-20", seq),
        "phone": format!("1391234{seq:04}"), "bank_card": "6222 0212 3456 7890 123",
        "birth_date": "1995-04-20", "region_code": "310104", "occupation": "engineer",
        "student": student, "currency": "CNY", "annual_income_minor": income_minor})
}

fn product_body(rate_cap: &str) -> Value {
    json!({"name": "cash", "currency": "CNY", "amount_minor_min": 10_000,
        "amount_minor_max": 100_000_000, "term_months_min": 1, "term_months_max": 12,
        "repayment_method": "annuity", "contract_rate": "18%/year", "rate_cap": rate_cap,
        "grace_days": 3, "late_fee_minor": 1_000, "penalty_rate": "x1.5",
        "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 100_000_000, "write_off_dpd": 90})
}

#[tokio::test]
async fn personal_data_is_masked_revealed_with_an_audit_and_deduplicated() {
    for app in apps().await {
        let name = app.name;
        let (s, v) = app
            .post("/v1/customers", person(1, 30_000_000, false))
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(
            v["id_number"],
            json!("310***********".to_string() + &id_number("1995-04-20", 1)[14..])
        );
        assert_eq!(v["phone"], json!("+86*******0001"));
        assert_eq!(v["name"], json!("王**"));
        assert_eq!(v["bank_card"], json!("622202*********0123"));
        assert_eq!(v["revealed"], json!(false));

        // Masked on read, also for a risk analyst, who may not reveal.
        let analyst = app.key("risk_analyst").await;
        let (s, v) = app
            .send("GET", &format!("/v1/customers/{id}"), None, &analyst)
            .await;
        assert_eq!(
            (s, v["phone"].as_str()),
            (200, Some("+86*******0001")),
            "{name}"
        );
        let (s, v) = app
            .send(
                "GET",
                &format!("/v1/customers/{id}?reveal=true&reason=audit"),
                None,
                &analyst,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("reveal_forbidden")),
            "{name}"
        );

        // An operator reveals with a reason; without one, 422 and nothing is recorded.
        let (s, v) = app.get(&format!("/v1/customers/{id}?reveal=true")).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("reason")),
            "{name}: {v}"
        );
        let reads = |app: &App| {
            let store = app.state.engine.store().clone();
            async move {
                store
                    .docs(engine::customers::PII_READ, None, None, 100)
                    .await
                    .unwrap()
            }
        };
        assert!(reads(&app).await.is_empty(), "{name}");
        let (s, v) = app
            .get(&format!(
                "/v1/customers/{id}?reveal=true&reason=complaint%20C-1001"
            ))
            .await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(v["id_number"], json!(id_number("1995-04-20", 1)));
        assert_eq!(v["phone"], json!("+8613912340001"));
        assert_eq!(v["name"], json!("王小明"));
        assert_eq!(v["revealed"], json!(true));
        let audit = reads(&app).await;
        assert_eq!(audit.len(), 1, "{name}");
        let r: Value = serde_json::from_slice(&audit[0].body).unwrap();
        assert_eq!(r["customer_id"], json!(id));
        assert_eq!(r["reason"], json!("complaint C-1001"));
        assert_eq!(r["role"], json!("operator"));
        assert!(
            r["at_ms"].as_i64().unwrap() > 0 && r["key_id"].is_string(),
            "{r}"
        );

        // Lookup by identity number through the blind index, with the number's own spacing.
        let q = id_number("1995-04-20", 1);
        let (s, v) = app.get(&format!("/v1/customers?id_number={q}")).await;
        assert_eq!(
            (s, v["items"][0]["id"].as_str()),
            (200, Some(id.as_str())),
            "{name}: {v}"
        );
        let (s, v) = app
            .get(&format!(
                "/v1/customers?id_number={}",
                id_number("1995-04-20", 2)
            ))
            .await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{name}"
        );

        // Duplicates and bad input: 409 / 422 naming the field; nothing stored.
        let (s, v) = app.post("/v1/customers", person(1, 1, false)).await;
        assert_eq!(
            (s, v["code"].as_str(), v["field"].as_str()),
            (409, Some("duplicate_customer"), Some("id_number")),
            "{name}: {v}"
        );
        let mut bad = person(3, 1, false);
        let correct = id_number("1995-04-20", 3);
        let wrong_check = if correct.ends_with('0') { '1' } else { '0' };
        bad["id_number"] = json!(format!("{}{wrong_check}", &correct[..17]));
        let (s, v) = app.post("/v1/customers", bad).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("id_number")),
            "{name}: {v}"
        );
        let mut bad = person(3, 1, false);
        bad["birth_date"] = json!("2030-01-01");
        let (s, v) = app.post("/v1/customers", bad).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("birth_date")),
            "{name}: {v}"
        );
        let mut bad = person(3, 1, false);
        bad["credit_code"] = json!("91110105MA01ABCDE1");
        let (s, v) = app.post("/v1/customers", bad).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("credit_code")),
            "{name}: {v}"
        );
        let (s, v) = app.get(&format!("/v1/customers?id_number={correct}")).await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{name}"
        );

        // A customer is a borrower: the alias shows the masked name; a line opens on it.
        let (s, v) = app.get(&format!("/v1/borrowers/{id}")).await;
        assert_eq!((s, v["name"].as_str()), (200, Some("王**")), "{name}: {v}");
        app.ok(
            "/v1/credit-lines",
            json!({"borrower_id": id, "currency": "CNY", "limit_minor": 2_000_000}),
        )
        .await;
        let (s, v) = app.get(&format!("/v1/customers/{id}/exposure")).await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(
            v["totals"][0]["limit_minor"],
            json!(2_000_000),
            "{name}: {v}"
        );
        // Listed, masked.
        let (s, v) = app.get("/v1/customers?limit=10").await;
        assert_eq!(s, 200, "{name}: {v}");
        assert!(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["revealed"] == json!(false)));
    }
}

async fn loan(
    app: &App,
    product: &str,
    borrower: &str,
    amount_minor: i64,
    extra: Value,
) -> (u16, Value, String) {
    let id = Uuid::now_v7().to_string();
    let mut body = json!({"id": id, "product_id": product, "borrower": borrower,
        "amount_minor": amount_minor, "term_months": 12});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, v) = app.post("/v1/loans", body).await;
    (s, v, id)
}

#[tokio::test]
async fn the_five_planted_breaches_are_refused_with_their_rule_id() {
    for app in apps().await {
        let name = app.name;
        let product = app.ok("/v1/loan-products", product_body("36%/year")).await;
        let rich = app
            .ok("/v1/customers", person(11, 120_000_000, false))
            .await;
        let student = app.ok("/v1/customers", person(12, 12_000_000, true)).await;

        let refused = |s: u16, v: &Value, rule: &str, field: &str| {
            assert_eq!(
                (s, v["code"].as_str(), v["field"].as_str()),
                (422, Some(rule), Some(field)),
                "{name}: {v}"
            );
        };
        let absent = |id: String| {
            let app = &app;
            async move {
                let (s, _) = app.get(&format!("/v1/loans/{id}")).await;
                assert_eq!(s, 404, "{}: a refused loan is not stored", app.name);
            }
        };

        // 1. An all-in price above the cap (30% a year, inside the product's own 36%).
        let (s, v, id) = loan(
            &app,
            &product,
            &rich,
            1_000_000,
            json!({"rate": "30%/year"}),
        )
        .await;
        refused(s, &v, "cn.all_in_apr_max", "rate");
        absent(id).await;

        // 2. Over the limit across two products: a 200,000 line, then a 150,000 loan.
        app.ok(
            "/v1/credit-lines",
            json!({"borrower_id": rich, "currency": "CNY", "limit_minor": 20_000_000}),
        )
        .await;
        let (s, v, id) = loan(&app, &product, &rich, 15_000_000, json!({})).await;
        refused(s, &v, "cn.microloan.individual_balance_max", "amount_minor");
        absent(id).await;
        // Raising the line past the limit is refused the same way, and the limit stays.
        let line = {
            let (_, v) = app.get(&format!("/v1/customers/{rich}/exposure")).await;
            v["items"][0]["id"].as_str().unwrap().to_string()
        };
        let (s, v) = app
            .post(
                &format!("/v1/credit-lines/{line}/changes"),
                json!({"action": "set_limit", "limit_minor": 31_000_000, "reason": "raise"}),
            )
            .await;
        refused(s, &v, "cn.microloan.individual_balance_max", "limit_minor");
        let (_, v) = app.get(&format!("/v1/credit-lines/{line}")).await;
        assert_eq!(v["limit_minor"], json!(20_000_000), "{name}: {v}");
        // Within the limit it goes through.
        let (s, v, _) = loan(&app, &product, &rich, 5_000_000, json!({})).await;
        assert_eq!(s, 201, "{name}: {v}");

        // 3. A student.
        let (s, v, id) = loan(&app, &product, &student, 100_000, json!({})).await;
        refused(s, &v, "cn.no_students", "borrower");
        absent(id).await;

        // 4. A banned purpose.
        let other = app.ok("/v1/customers", person(13, 12_000_000, false)).await;
        let (s, v, id) = loan(
            &app,
            &product,
            &other,
            100_000,
            json!({"purpose": "securities"}),
        )
        .await;
        refused(s, &v, "cn.banned_purposes", "purpose");
        absent(id).await;
        let (s, v, _) = loan(
            &app,
            &product,
            &other,
            100_000,
            json!({"purpose": "nonsense"}),
        )
        .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("purpose")),
            "{name}: {v}"
        );

        // 5. A co-lending plan whose platform share is below 30% (its own minimum set lower).
        let plan_product = app.ok("/v1/loan-products", product_body("24%/year")).await;
        let bank = app
            .ok("/v1/funding-partners", json!({"name": "bank a", "kind": "bank", "currency": "CNY",
                "quota_minor": 1_000_000_000, "daily_quota_minor": 1_000_000_000, "approval": {"mode": "auto"}}))
            .await;
        let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
        let (s, v) = app
            .post(&format!("/v1/loan-products/{plan_product}/funding-plan"), json!({
                "shares": [{"partner_id": platform, "share": "0.2"}, {"partner_id": bank, "share": "0.8"}],
                "platform_share_min": "0.2"}))
            .await;
        assert!(s == 200 || s == 201, "{name}: {v}");
        let (s, v, id) = loan(&app, &plan_product, &other, 100_000, json!({})).await;
        refused(s, &v, "cn.colending.platform_share_min", "product_id");
        absent(id).await;
    }
}

#[tokio::test]
async fn the_book_report_is_clean_and_lists_what_a_stricter_pack_finds() {
    for app in apps().await {
        let name = app.name;
        let product = app.ok("/v1/loan-products", product_body("24%/year")).await;
        let mut customers = Vec::new();
        for seq in 0..6 {
            let c = app
                .ok("/v1/customers", person(100 + seq, 60_000_000, false))
                .await;
            let (s, v, _) = loan(
                &app,
                &product,
                &c,
                1_000_000 * (i64::from(seq) + 1),
                json!({}),
            )
            .await;
            assert_eq!(s, 201, "{name}: {v}");
            customers.push(c);
        }
        let (s, v) = app.get("/v1/compliance/report").await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(
            (v["breach_count"].as_u64(), v["customers_checked"].as_u64()),
            (Some(0), Some(6)),
            "{name}: {v}"
        );

        // The same book under a pack whose individual limit is 35,000 CNY: the customers
        // owing 40,000 to 60,000 are listed under that rule.
        let mut packs = compliance::builtin_packs().packs().to_vec();
        for p in &mut packs {
            for r in &mut p.rules {
                if let compliance::Condition::IndividualBalanceMax {
                    limit,
                    funder_kind: None,
                    ..
                } = &mut r.condition
                {
                    *limit = money::Money::from_minor(3_500_000, money::Currency::Cny);
                }
            }
        }
        let strict = compliance::PackSet::new(packs).unwrap();
        let r = server::routes::compliance::book_report(
            &app.state.engine,
            &strict,
            None,
            "2026-12-01".parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(r.breach_count, 3, "{name}");
        let rule = &r.rules[0];
        assert_eq!(rule.rule_id, "cn.microloan.individual_balance_max");
        let listed: Vec<&str> = rule.findings.iter().map(|f| f.subject.as_str()).collect();
        for c in &customers[3..] {
            assert!(
                listed.contains(&format!("customer:{c}").as_str()),
                "{name}: {listed:?}"
            );
        }
    }
}
