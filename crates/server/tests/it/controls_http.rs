//! Emergency controls through a real server on SQLite and PostgreSQL: bad requests are
//! refused naming the field and change nothing; under concurrent load, no origination or
//! purchase in a halted scope is accepted once the halt has answered, while the other
//! scope continues, and a lift restores it; the read-only mode refuses every change and
//! survives a restart, as halts do; a funder's outage reroutes or pauses its loans.

use crate::common;

use common::{start_in_process, Api};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use uuid::Uuid;

fn product() -> Value {
    json!({
        "name": "controls", "currency": "CNY", "amount_minor_min": 10_000,
        "amount_minor_max": 20_000_000, "term_months_min": 1, "term_months_max": 12,
        "repayment_method": "annuity", "contract_rate": "0.05%/day", "rate_cap": "24%/year",
        "grace_days": 3, "late_fee_minor": 1_000, "penalty_rate": "x1.5",
        "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90
    })
}

async fn created(api: &Api, path: &str, body: Value) -> String {
    let (s, v) = api.post(path, body, Some(Uuid::now_v7())).await;
    assert!(s == 200 || s == 201, "{}: POST {path}: {s} {v}", api.name);
    v["id"].as_str().unwrap().to_string()
}

async fn loan_product(api: &Api) -> String {
    let (s, v) = api.post("/v1/loan-products", product(), None).await;
    assert_eq!(s, 201, "{}: {v}", api.name);
    v["id"].as_str().unwrap().to_string()
}

async fn merchant(api: &Api, name: &str) -> String {
    created(
        api,
        "/v1/merchants",
        json!({"name": name, "discount_rate": "0.008", "settlement_account": "bank:1"}),
    )
    .await
}

async fn line(api: &Api) -> String {
    let b = created(
        api,
        "/v1/borrowers",
        json!({"kind": "individual", "name": "Li Lei"}),
    )
    .await;
    created(
        api,
        "/v1/credit-lines",
        json!({"borrower_id": b, "currency": "CNY", "limit_minor": 1_000_000_000}),
    )
    .await
}

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or("")
}

/// Every event of the given types, in sequence order.
async fn events(api: &Api, types: &str) -> Vec<Value> {
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let (s, page) = api
            .get(&format!(
                "/v1/events?after={after}&types={types}&limit=5000"
            ))
            .await;
        assert_eq!(s, 200, "{}: {page}", api.name);
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        after = page["next_after"].as_i64().unwrap();
        out.extend(items);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_and_change_nothing() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-05").await;
        let name = api.name;
        let unknown = Uuid::now_v7();
        for (scope, bad_field) in [
            (
                json!({"kind": "product", "product_id": unknown}),
                "scope.product_id",
            ),
            (
                json!({"kind": "merchant", "merchant_id": unknown}),
                "scope.merchant_id",
            ),
            (
                json!({"kind": "funder", "partner_id": unknown}),
                "scope.partner_id",
            ),
        ] {
            let body = json!({"scope": scope, "reason": "incident 7"});
            let (s, v) = api
                .post("/v1/controls/halts", body, Some(Uuid::now_v7()))
                .await;
            assert_eq!((s, field(&v)), (422, bad_field), "{name}: {v}");
        }
        let m = merchant(&api, "tea").await;
        let cases = [
            // A reason is required, and must say something.
            (json!({"scope": {"kind": "everywhere"}}), 400),
            (
                json!({"scope": {"kind": "everywhere"}, "reason": "  "}),
                422,
            ),
            (
                json!({"scope": {"kind": "everywhere"}, "reason": "x".repeat(501)}),
                422,
            ),
            // A merchant's halt stops purchases only.
            (
                json!({"scope": {"kind": "merchant", "merchant_id": m},
                       "operations": ["originations"], "reason": "r"}),
                422,
            ),
            (
                json!({"scope": {"kind": "everywhere"}, "operations": [], "reason": "r"}),
                422,
            ),
            (json!({"scope": {"kind": "planet"}, "reason": "r"}), 400),
        ];
        for (body, status) in cases {
            let (s, v) = api
                .post("/v1/controls/halts", body.clone(), Some(Uuid::now_v7()))
                .await;
            assert_eq!(s, status, "{name}: {body}: {v}");
            assert!(v["code"].is_string(), "{name}: {v}");
        }
        let (s, v) = api
            .post(
                &format!("/v1/controls/halts/{unknown}/lift"),
                json!({"reason": "done"}),
                None,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("not_found")),
            "{name}: {v}"
        );
        let (s, v) = api
            .post(
                "/v1/controls/read-only",
                json!({"on": true, "reason": ""}),
                None,
            )
            .await;
        assert_eq!((s, field(&v)), (422, "reason"), "{name}: {v}");
        let (s, v) = api
            .post(
                "/v1/controls/funder-outages",
                json!({"partner_id": unknown, "action": "pause", "reason": "down"}),
                None,
            )
            .await;
        assert_eq!((s, field(&v)), (422, "partner_id"), "{name}: {v}");
        // Nothing was stored, nothing is in force, no event was written.
        let (_, page) = api.get("/v1/controls/halts").await;
        assert_eq!(page["items"], json!([]), "{name}: {page}");
        let (_, mode) = api.get("/v1/controls/read-only").await;
        assert_eq!(mode["on"], false, "{name}");
        let (_, outages) = api.get("/v1/controls/funder-outages").await;
        assert_eq!(outages["items"], json!([]), "{name}");
        let all = "control.halted,control.halt_lifted,control.read_only_changed,control.funder_outage_changed";
        assert!(events(&api, all).await.is_empty(), "{name}");
        // A real halt, lifted once; a second lift is refused and changes nothing.
        let (s, h) = api
            .post(
                "/v1/controls/halts",
                json!({"scope": {"kind": "merchant", "merchant_id": m}, "reason": "fraud ring"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, h["status"].as_str()),
            (201, Some("active")),
            "{name}: {h}"
        );
        assert_eq!(h["operations"], json!(["purchases"]), "{name}: {h}");
        let id = h["id"].as_str().unwrap();
        let lift = format!("/v1/controls/halts/{id}/lift");
        let (s, v) = api.post(&lift, json!({}), None).await;
        assert_eq!(s, 400, "{name}: a lift needs its reason: {v}");
        let (s, v) = api
            .post(&lift, json!({"reason": "ring closed"}), None)
            .await;
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some("lifted")),
            "{name}: {v}"
        );
        assert_eq!(v["lift_reason"], "ring closed", "{name}");
        let (s, v) = api.post(&lift, json!({"reason": "again"}), None).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("not_active")),
            "{name}: {v}"
        );
        let (_, after) = api.get(&format!("/v1/controls/halts/{id}")).await;
        assert_eq!(after["lift_reason"], "ring closed", "{name}: {after}");
        let kinds: Vec<String> = events(&api, all)
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kinds, ["control.halted", "control.halt_lifted"], "{name}");
        running.stop().await;
    }
}

/// One request of the load: its scope, when it was sent, and its answer.
struct Sent {
    scope: &'static str,
    sent: Instant,
    answered: Instant,
    status: u16,
    code: String,
    halt_id: String,
}

/// What the load's tasks share.
struct Load {
    api: Api,
    merchants: [String; 2],
    products: [String; 2],
    lines: Vec<String>,
    log: Mutex<Vec<Sent>>,
    done: AtomicUsize,
    stop: AtomicBool,
}

async fn one_request(load: &Load, task: usize, n: usize) {
    // Even tasks purchase, odd ones apply for loans; scopes alternate by request.
    let which = n % 2;
    let sent = Instant::now();
    let (scope, (status, v)) = if task.is_multiple_of(2) {
        let line = &load.lines[(task / 2) % load.lines.len()];
        let body = json!({"credit_line_id": line, "merchant_id": load.merchants[which],
            "amount_minor": 100, "currency": "CNY", "capture": n.is_multiple_of(3)});
        let scope = ["merchant_a", "merchant_b"][which];
        (
            scope,
            load.api
                .post("/v1/purchases", body, Some(Uuid::now_v7()))
                .await,
        )
    } else {
        let body = json!({"product_id": load.products[which], "borrower": format!("b{task}"),
            "amount_minor": 100_000, "term_months": 6});
        let scope = ["product_a", "product_b"][which];
        (scope, load.api.post("/v1/loans", body, None).await)
    };
    let answered = Instant::now();
    load.log.lock().unwrap().push(Sent {
        scope,
        sent,
        answered,
        status,
        code: v["code"].as_str().unwrap_or("").to_string(),
        halt_id: v["halt_id"].as_str().unwrap_or("").to_string(),
    });
    load.done.fetch_add(1, Ordering::SeqCst);
}

/// Waits (without a time limit) until the load has answered `more` further requests.
async fn progress(load: &Load, more: usize) {
    let target = load.done.load(Ordering::SeqCst) + more;
    while load.done.load(Ordering::SeqCst) < target {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_stops_its_scope_for_every_later_request_under_load() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-05").await;
        let name = api.name;
        let merchants = [merchant(&api, "a").await, merchant(&api, "b").await];
        let products = [loan_product(&api).await, loan_product(&api).await];
        let mut lines = Vec::new();
        for _ in 0..4 {
            lines.push(line(&api).await);
        }
        let load = Arc::new(Load {
            api: Api {
                base: api.base.clone(),
                http: reqwest::Client::new(),
                name,
            },
            merchants: merchants.clone(),
            products: products.clone(),
            lines,
            log: Mutex::new(Vec::new()),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let mut tasks = Vec::new();
        for task in 0..8 {
            let load = load.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = task;
                while !load.stop.load(Ordering::SeqCst) {
                    one_request(&load, task, n).await;
                    n += 1;
                }
            }));
        }
        progress(&load, 60).await;
        // Halt merchant a's purchases and product a's originations, one after the other.
        let mut halts = Vec::new();
        for scope in [
            json!({"kind": "merchant", "merchant_id": merchants[0]}),
            json!({"kind": "product", "product_id": products[0]}),
        ] {
            let (s, h) = api
                .post(
                    "/v1/controls/halts",
                    json!({"scope": scope, "reason": "load test"}),
                    Some(Uuid::now_v7()),
                )
                .await;
            assert_eq!(s, 201, "{name}: {h}");
            halts.push((h["id"].as_str().unwrap().to_string(), Instant::now()));
        }
        progress(&load, 200).await;
        let (mut lifted, mut lifting) = (Vec::new(), Vec::new());
        for (id, _) in &halts {
            lifting.push(Instant::now());
            let (s, v) = api
                .post(
                    &format!("/v1/controls/halts/{id}/lift"),
                    json!({"reason": "load test over"}),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{name}: {v}");
            lifted.push(Instant::now());
        }
        progress(&load, 80).await;
        load.stop.store(true, Ordering::SeqCst);
        for t in tasks {
            t.await.unwrap();
        }
        let log = std::mem::take(&mut *load.log.lock().unwrap());
        let halt_of = |scope: &str| match scope {
            "merchant_a" => Some(0),
            "product_a" => Some(1),
            _ => None,
        };
        let (mut refused, mut others_during, mut restored) = (0, 0, 0);
        for r in &log {
            match halt_of(r.scope) {
                Some(h) => {
                    let (id, thrown) = &halts[h];
                    // Sent after the halt answered, answered before its lift was asked for.
                    if r.sent > *thrown && r.answered < lifting[h] {
                        assert_eq!(
                            (r.status, r.code.as_str(), r.halt_id.as_str()),
                            (409, "halted", id.as_str()),
                            "{name}: a {} request sent after the halt answered",
                            r.scope
                        );
                        refused += 1;
                    } else {
                        if r.sent > lifted[h] {
                            restored += 1;
                        }
                        assert!(
                            r.status == 201 || (r.status == 409 && r.code == "halted"),
                            "{name}: {} {} {}",
                            r.scope,
                            r.status,
                            r.code
                        );
                        if r.sent > lifted[h] {
                            assert_eq!(r.status, 201, "{name}: after the lift, {}", r.scope);
                        }
                    }
                }
                None => {
                    assert_eq!(r.status, 201, "{name}: {} {}", r.scope, r.code);
                    if r.sent > halts[1].1 && r.sent < lifted[0] {
                        others_during += 1;
                    }
                }
            }
        }
        assert!(
            refused > 0 && others_during > 0 && restored > 0,
            "{name}: {refused} {others_during} {restored}"
        );
        // Commit order agrees: every accepted purchase at merchant a and every loan of
        // product a precedes its halt in the event sequence or follows its lift.
        let feed = events(
            &api,
            "purchase.authorized,purchase.captured,loan.created,control.halted,control.halt_lifted",
        )
        .await;
        let seq_of = |kind: &str, id: &str| {
            feed.iter()
                .find(|e| e["type"] == kind && e["subject_id"] == id)
                .map(|e| e["seq"].as_i64().unwrap())
                .unwrap_or_else(|| panic!("{name}: no {kind} event of {id}"))
        };
        let windows: Vec<(i64, i64)> = halts
            .iter()
            .map(|(id, _)| {
                (
                    seq_of("control.halted", id),
                    seq_of("control.halt_lifted", id),
                )
            })
            .collect();
        let mut checked = 0;
        for e in &feed {
            let scope = match e["type"].as_str().unwrap() {
                "purchase.authorized" | "purchase.captured"
                    if e["payload"]["doc"]["merchant_id"] == merchants[0].as_str() =>
                {
                    0
                }
                "loan.created" if e["payload"]["product_id"] == products[0].as_str() => 1,
                _ => continue,
            };
            let (from, to) = windows[scope];
            let seq = e["seq"].as_i64().unwrap();
            assert!(seq < from || seq > to, "{name}: {e} committed while halted");
            checked += 1;
        }
        assert!(checked > 0, "{name}");
        eprintln!(
            "{name}: {} requests; {refused} refused in halted scopes after the halt answered, \
             {others_during} accepted in the other scopes meanwhile, {restored} accepted after \
             the lift; {checked} accepted in halted scopes, all committed outside the halt",
            log.len()
        );
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mode_and_halts_survive_a_restart() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-05").await;
        let name = api.name;
        let m = merchant(&api, "tea").await;
        let l = line(&api).await;
        let (s, h) = api
            .post(
                "/v1/controls/halts",
                json!({"scope": {"kind": "revolving"}, "reason": "card scheme incident"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {h}");
        let (s, v) = api
            .post(
                "/v1/controls/read-only",
                json!({"on": true, "reason": "disk 95% full"}),
                None,
            )
            .await;
        assert_eq!((s, v["on"].as_bool()), (200, Some(true)), "{name}: {v}");
        running.stop().await;

        let (api, running) = start_in_process(&ts, "2026-01-05").await;
        let (_, mode) = api.get("/v1/controls/read-only").await;
        assert_eq!(
            (mode["on"].as_bool(), mode["reason"].as_str()),
            (Some(true), Some("disk 95% full")),
            "{name}"
        );
        // Every change is refused, reads work.
        for (path, body) in [
            ("/v1/borrowers", json!({"kind": "individual", "name": "x"})),
            ("/v1/loan-products", product()),
            (
                "/v1/controls/halts",
                json!({"scope": {"kind": "everywhere"}, "reason": "r"}),
            ),
        ] {
            let (s, v) = api.post(path, body, Some(Uuid::now_v7())).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (503, Some("read_only")),
                "{name} {path}: {v}"
            );
        }
        let (s, _) = api.get(&format!("/v1/credit-lines/{l}")).await;
        assert_eq!(s, 200, "{name}");
        let (s, v) = api
            .post(
                "/v1/controls/read-only",
                json!({"on": false, "reason": "disk grown"}),
                None,
            )
            .await;
        assert_eq!((s, v["on"].as_bool()), (200, Some(false)), "{name}: {v}");
        // The halt came back with the restart.
        let purchase =
            json!({"credit_line_id": l, "merchant_id": m, "amount_minor": 100, "currency": "CNY"});
        let (s, v) = api
            .post("/v1/purchases", purchase.clone(), Some(Uuid::now_v7()))
            .await;
        assert_eq!(
            (s, v["halt_id"].as_str()),
            (409, h["id"].as_str()),
            "{name}: {v}"
        );
        let (s, v) = api
            .post(
                &format!("/v1/controls/halts/{}/lift", h["id"].as_str().unwrap()),
                json!({"reason": "scheme back"}),
                None,
            )
            .await;
        assert_eq!(s, 200, "{name}: {v}");
        let (s, v) = api
            .post("/v1/purchases", purchase, Some(Uuid::now_v7()))
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let kinds: Vec<String> = events(&api, "control.read_only_changed")
            .await
            .iter()
            .map(|e| e["payload"]["doc"]["reason"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            ["disk 95% full", "disk grown"],
            "{name}: each switch is an event"
        );
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funders_outage_reroutes_its_share_or_pauses_its_loans() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-05").await;
        let name = api.name;
        let bank = |n: &str| {
            json!({"name": n, "kind": "bank", "currency": "CNY",
            "quota_minor": 1_000_000_000, "daily_quota_minor": 1_000_000_000,
            "approval": {"mode": "auto"}})
        };
        let a = created(&api, "/v1/funding-partners", bank("bank a")).await;
        let b = created(&api, "/v1/funding-partners", bank("bank b")).await;
        let p = loan_product(&api).await;
        let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
        let (s, v) = api
            .post(
                &format!("/v1/loan-products/{p}/funding-plan"),
                json!({
                "shares": [{"partner_id": platform, "share": "0.3"},
                           {"partner_id": a, "share": "0.35"}, {"partner_id": b, "share": "0.35"}],
                "platform_share_min": "0.3"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert!(s == 200 || s == 201, "{name}: {v}");
        // Reroute: bank a's share goes to bank b and the platform in proportion to theirs.
        outage(&api, &a, "reroute").await;
        let (s, v, _) = lend(&api, &p).await;
        assert_eq!(s, 201, "{name}: {v}");
        let mut expected = vec![
            (b.clone(), "0.5385".to_string()),
            (platform.to_string(), "0.4615".to_string()),
        ];
        expected.sort();
        assert_eq!(shares(&v), expected, "{name}: {v}");
        // Pause: a loan that needs bank a is refused and nothing is booked.
        outage(&api, &a, "pause").await;
        let (s, v, id) = lend(&api, &p).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("funder_outage")),
            "{name}: {v}"
        );
        let (_, loan) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(loan["stage"], "approved", "{name}: still waiting: {loan}");
        let (_, list) = api.get("/v1/controls/funder-outages").await;
        assert_eq!(list["items"][0]["action"], "pause", "{name}: {list}");
        // Over: the plan's own shares again.
        outage(&api, &a, "end").await;
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (_, v) = api.get(&format!("/v1/loans/{id}")).await;
        let mut plan = vec![
            (a.clone(), "0.35".to_string()),
            (b.clone(), "0.35".to_string()),
            (platform.to_string(), "0.3".to_string()),
        ];
        plan.sort();
        assert_eq!(shares(&v), plan, "{name}: {v}");
        let (_, list) = api.get("/v1/controls/funder-outages").await;
        assert_eq!(list["items"], json!([]), "{name}");
        running.stop().await;
    }
}

/// Applies for, approves and disburses a loan of product `p`: the disbursement's answer.
async fn lend(api: &Api, p: &str) -> (u16, Value, String) {
    let name = api.name;
    let (s, v) = api
        .post(
            "/v1/loans",
            json!({"product_id": p, "borrower": "wang", "amount_minor": 1_000_000, "term_months": 6}),
            None,
        )
        .await;
    assert_eq!(s, 201, "{name}: {v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = api
        .post(&format!("/v1/loans/{id}/approve"), json!({}), None)
        .await;
    assert_eq!(s, 200, "{name}: {v}");
    let (s, v) = api
        .post(
            &format!("/v1/loans/{id}/disburse"),
            json!({}),
            Some(Uuid::now_v7()),
        )
        .await;
    if s != 201 {
        return (s, v, id);
    }
    // The loan as read, with its funders.
    let (_, loan) = api.get(&format!("/v1/loans/{id}")).await;
    (s, loan, id)
}

/// The funders' shares of a loan, sorted.
fn shares(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["funding"]
        .as_array()
        .unwrap_or_else(|| panic!("no funding: {v}"))
        .iter()
        .map(|f| {
            (
                f["partner_id"].as_str().unwrap().to_string(),
                f["share"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn outage(api: &Api, partner: &str, action: &str) {
    let (s, v) = api
        .post(
            "/v1/controls/funder-outages",
            json!({"partner_id": partner, "action": action, "reason": "core banking down"}),
            None,
        )
        .await;
    assert_eq!(
        (s, v["action"].as_str()),
        (200, Some(action)),
        "{}: {v}",
        api.name
    );
}
