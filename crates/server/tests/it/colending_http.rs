//! Co-lending routes through a real server on port 0, on SQLite and PostgreSQL: bad
//! partners and plans (guarantees among them) are refused naming the field and keep
//! nothing; co-lent loans show their funders and guarantor; a partner's key sees its own.

use crate::common;
use crate::loans_http::{field, product};

use common::start_in_process;
use serde_json::{json, Value};
use uuid::Uuid;

/// Co-lending over HTTP: bad partners and plans are refused naming the field; a co-lent
/// loan shows its funders; a funder over quota declines the loan with every funder's
/// reason and nothing is booked; a partner's key sees only its own partner.
#[tokio::test]
async fn co_lending_routes_refuse_bad_partners_and_plans_and_show_funders() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let partner = |name: &str, quota: i64| {
            json!({"name": name, "kind": "bank", "currency": "CNY", "yield_annual": "0.068",
                "quota_minor": quota, "daily_quota_minor": quota, "approval": {"mode": "auto"}})
        };
        let with = |mut v: Value, k: &str, x: Value| {
            v[k] = x;
            v
        };
        // Bad partners: each names its field; nothing is created.
        for (body, f) in [
            (
                with(partner("a", 1_000), "quota_minor", json!(0)),
                "quota_minor",
            ),
            (
                with(partner("a", 1_000), "yield_annual", json!("lots")),
                "yield_annual",
            ),
            (
                with(partner("a", 1_000), "yield_annual", json!("1.5")),
                "yield_annual",
            ),
            (with(partner("a", 1_000), "kind", json!("platform")), "kind"),
            (
                with(partner("a", 1_000), "daily_quota_minor", json!(5_000)),
                "daily_quota_minor",
            ),
            (
                with(
                    partner("a", 1_000),
                    "approval",
                    json!({"mode": "callback", "url": "ftp://x", "secret": "0123456789abcdef", "timeout_ms": 500}),
                ),
                "approval.url",
            ),
        ] {
            let key = Uuid::now_v7();
            let (s, v) = api.post("/v1/funding-partners", body, Some(key)).await;
            assert_eq!((s, field(&v)), (422, f), "{name}: {v}");
            let (s, _) = api.get(&format!("/v1/funding-partners/{key}")).await;
            assert_eq!(s, 404, "{name}: nothing created");
        }
        let (s, v) = api
            .post("/v1/funding-partners", partner("a", 1_000), None)
            .await;
        assert_eq!(s, 400, "{name}: the key is required: {v}");
        let (a, b, small) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for (id, body) in [
            (a, partner("bank a", 1_000_000_000)),
            (
                b,
                with(
                    partner("trust b", 1_000_000_000),
                    "yield_annual",
                    Value::Null,
                ),
            ),
            (small, partner("small", 100_000)),
        ] {
            let (s, v) = api.post("/v1/funding-partners", body, Some(id)).await;
            assert_eq!(s, 201, "{name}: {v}");
            assert_eq!(v["id"], json!(id));
        }
        let (s, v) = api.get("/v1/funding-partners?limit=2").await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let cursor = v["next_cursor"].as_str().unwrap().to_string();
        let (_, v) = api
            .get(&format!("/v1/funding-partners?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{name}: {v}");
        // A change is a new version; kind and currency stay.
        let (s, v) = api
            .post(
                &format!("/v1/funding-partners/{a}/changes"),
                with(
                    partner("bank a", 1_000_000_000),
                    "yield_annual",
                    json!("0.07"),
                ),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["version"].as_i64(), v["yield_annual"].as_str()),
            (201, Some(2), Some("0.07")),
            "{name}: {v}"
        );
        let (s, v) = api
            .post(
                &format!("/v1/funding-partners/{a}/changes"),
                with(partner("bank a", 1), "currency", json!("USD")),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "currency"), "{name}: {v}");

        let (_, prod) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let prod = prod["id"].as_str().unwrap().to_string();
        let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
        let plan = |shares: &[(Uuid, &str)]| {
            let shares: Vec<Value> = shares
                .iter()
                .map(|(p, s)| json!({"partner_id": p, "share": s}))
                .collect();
            json!({"shares": shares})
        };
        let path = format!("/v1/loan-products/{prod}/funding-plan");
        for (body, f) in [
            (
                plan(&[(platform, "0.4"), (a, "0.3"), (b, "0.31")]),
                "shares",
            ),
            (plan(&[(platform, "0.2"), (a, "0.5"), (b, "0.3")]), "shares"),
            (
                plan(&[(platform, "0.4"), (a, "0.3"), (Uuid::now_v7(), "0.3")]),
                "shares[2].partner_id",
            ),
            (
                plan(&[(platform, "0.4"), (a, "0.3"), (b, "x")]),
                "shares[2].share",
            ),
            (
                with(
                    plan(&[(platform, "0.4"), (a, "0.6")]),
                    "guarantee",
                    json!({"guarantor_id": a, "trigger_dpd": 30}),
                ),
                "guarantee.guarantor_id",
            ),
            (
                with(
                    plan(&[(platform, "0.4"), (a, "0.6")]),
                    "guarantee",
                    json!({"guarantor_id": b, "trigger_dpd": 0}),
                ),
                "guarantee.trigger_dpd",
            ),
            (
                with(
                    plan(&[(platform, "0.4"), (a, "0.6")]),
                    "fees",
                    json!("guarantor"),
                ),
                "fees",
            ),
        ] {
            let (s, v) = api.post(&path, body, Some(Uuid::now_v7())).await;
            assert_eq!((s, field(&v)), (422, f), "{name}: {v}");
        }
        let (s, v) = api.get(&path).await;
        assert_eq!(s, 404, "{name}: no plan was stored: {v}");
        let (s, v) = api
            .post(
                &path,
                plan(&[(platform, "0.4"), (a, "0.35"), (b, "0.25")]),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["platform_share_min"], json!("0.3"));

        let api = &api;
        let disburse = |loan: String| async move {
            api.post(
                &format!("/v1/loans/{loan}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await
        };
        let new_loan = |product: String| async move {
            let (_, l) = api.post("/v1/loans", json!({"product_id": product, "borrower": "li", "amount_minor": 1_000_001, "term_months": 6}), None).await;
            let loan = l["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{l}"))
                .to_string();
            api.post(&format!("/v1/loans/{loan}/approve"), json!({}), None)
                .await;
            loan
        };
        let loan = new_loan(prod.clone()).await;
        let (s, v) = disburse(loan.clone()).await;
        assert_eq!(s, 201, "{name}: {v}");
        let (_, v) = api.get(&format!("/v1/loans/{loan}")).await;
        let funding = v["funding"]
            .as_array()
            .expect("a co-lent loan shows its funders");
        let principal: Vec<i64> = funding
            .iter()
            .map(|f| f["principal_outstanding_minor"].as_i64().unwrap())
            .collect();
        assert_eq!(principal, [400_001, 350_000, 250_000], "{name}: {v}");
        let (_, v) = api
            .post(
                &format!("/v1/loans/{loan}/repayments"),
                json!({"amount_minor": 300_000, "currency": "CNY", "date": "2026-01-15"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert!(v.is_object());
        let (_, v) = api.get(&format!("/v1/loans/{loan}")).await;
        let sum: i64 = v["funding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["principal_outstanding_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum,
            v["principal_outstanding_minor"].as_i64().unwrap(),
            "{name}: {v}"
        );
        // A plan change does not touch live loans.
        // The new plan has a guarantee company guarantee it, taking the product's fees as
        // its fee; a bank cannot be the guarantor.
        let g = Uuid::now_v7();
        let guarantor = with(partner("guarantor g", 1), "kind", json!("guarantor"));
        let (s, made) = api.post("/v1/funding-partners", guarantor, Some(g)).await;
        assert_eq!(s, 201, "{name}: {made}");
        let by_bank = with(
            plan(&[(platform, "0.5"), (a, "0.5")]),
            "guarantee",
            json!({"guarantor_id": b, "trigger_dpd": 30}),
        );
        let (s, refused) = api.post(&path, by_bank, Some(Uuid::now_v7())).await;
        assert_eq!(
            (s, field(&refused)),
            (422, "guarantee.guarantor_id"),
            "{name}: {refused}"
        );
        let guaranteed = with(
            with(
                plan(&[(platform, "0.5"), (a, "0.5")]),
                "fees",
                json!("guarantor"),
            ),
            "guarantee",
            json!({"guarantor_id": g, "trigger_dpd": 30}),
        );
        let (s, changed) = api.post(&path, guaranteed, Some(Uuid::now_v7())).await;
        assert_eq!(s, 201, "{name}: {changed}");
        assert_eq!(changed["guarantee"]["guarantor_id"], json!(g), "{name}");
        assert_eq!(changed["fees"], json!("guarantor"), "{name}");
        let (_, after) = api.get(&format!("/v1/loans/{loan}")).await;
        assert_eq!(after["funding"], v["funding"], "{name}");
        assert!(after.get("guarantor").is_none(), "{name}: {after}");

        // Over quota: declined with every funder's reason, nothing booked.
        let (_, prod2) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let prod2 = prod2["id"].as_str().unwrap().to_string();
        let (s, _) = api
            .post(
                &format!("/v1/loan-products/{prod2}/funding-plan"),
                plan(&[(platform, "0.4"), (small, "0.6")]),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201);
        let loan2 = new_loan(prod2).await;
        let (_, entries_before) = api.get("/v1/ledger/entries?limit=500").await;
        let (s, v) = disburse(loan2.clone()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("funding_declined")),
            "{name}: {v}"
        );
        let codes: Vec<&str> = v["funders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["incomplete", "quota"], "{name}: {v}");
        let (_, l2) = api.get(&format!("/v1/loans/{loan2}")).await;
        assert_eq!(l2["stage"], json!("approved"), "{name}");
        assert!(l2.get("funding").is_none(), "{name}: {l2}");
        let (_, entries_after) = api.get("/v1/ledger/entries?limit=500").await;
        assert_eq!(entries_before, entries_after, "{name}: nothing posted");
        // A loan without a plan shows no funders.
        let (_, plain) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let plain = new_loan(plain["id"].as_str().unwrap().to_string()).await;
        let (s, _) = disburse(plain.clone()).await;
        assert_eq!(s, 201);
        let (_, v) = api.get(&format!("/v1/loans/{plain}")).await;
        assert!(v.get("funding").is_none(), "{name}: {v}");

        // Partner A's key: its own partner and positions, nothing of partner B's.
        let (_, k) = api.post("/v1/api-keys", json!({"role": "partner_bank", "tenant": "default", "party_kind": "partner", "party_id": a.to_string()}), None).await;
        let send = |path: String| {
            let req = api
                .http
                .get(format!("{}{path}", api.base))
                .bearer_auth(k["key"].as_str().unwrap().to_string());
            async move {
                let r = req.send().await.unwrap();
                let s = r.status().as_u16();
                (s, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        assert_eq!(
            send(format!("/v1/funding-partners/{a}")).await.0,
            200,
            "{name}"
        );
        assert_eq!(
            send(format!("/v1/funding-partners/{b}")).await.0,
            404,
            "{name}"
        );
        assert_eq!(
            send(format!("/v1/funding-partners/{b}/positions")).await.0,
            404,
            "{name}"
        );
        let (s, v) = send(format!("/v1/funding-partners/{a}/positions")).await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{name}: {v}");
        let (_, v) = send("/v1/funding-partners".into()).await;
        let listed: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [a.to_string()], "{name}");
        assert_eq!(
            send(format!("/v1/loans/{loan}")).await.0,
            404,
            "{name}: not its borrower's loan"
        );
        // Partner A's reconciliation of the day: the manifest, and each file streamed as
        // the manifest describes it; partner B's day is not A's to read.
        let day = "2026-01-15";
        let (s, m) = send(format!("/v1/funding-partners/{a}/recon/{day}")).await;
        assert_eq!(s, 200, "{name}: {m}");
        assert_eq!(m["closed"], json!(false), "{name}: the day is open");
        let files = m["files"].as_array().unwrap();
        assert_eq!(files.len(), 10, "{name}: {m}");
        let rows = |n: &str| files.iter().find(|f| f["name"] == n).unwrap()["rows"].clone();
        assert_eq!(rows("disbursements.csv"), json!(1), "{name}: {m}");
        assert_eq!(rows("balances.csv"), json!(1), "{name}: {m}");
        for f in files {
            let url = format!("{}{}", api.base, f["href"].as_str().unwrap());
            let r = api
                .http
                .get(url)
                .bearer_auth(k["key"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{name}: {f}");
            let bytes = r.bytes().await.unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            assert_eq!(json!(digest), f["sha256"], "{name}: {f}");
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
            assert_eq!(lines, f["rows"].as_u64().unwrap() + 1, "{name}: {f}");
        }
        for path in [
            format!("/v1/funding-partners/{b}/recon/{day}"),
            format!("/v1/funding-partners/{b}/recon/{day}/balances.csv"),
            format!("/v1/funding-partners/{a}/recon/{day}/secrets.csv"),
        ] {
            assert_eq!(send(path.clone()).await.0, 404, "{name}: {path}");
        }
        let (s, v) = send(format!("/v1/funding-partners/{a}/recon/2026-13-01")).await;
        assert_eq!((s, field(&v)), (422, "date"), "{name}: {v}");

        // A loan of the guaranteed plan shows its guarantor.
        let loan_g = new_loan(prod.clone()).await;
        let (s, _) = disburse(loan_g.clone()).await;
        assert_eq!(s, 201);
        let (_, lg) = api.get(&format!("/v1/loans/{loan_g}")).await;
        assert_eq!(lg["guarantor"]["partner_id"], json!(g), "{name}: {lg}");
        assert_eq!(lg["guarantor"]["trigger_dpd"], json!(30), "{name}: {lg}");
        assert_eq!(lg["guarantor"]["paid_minor"], json!(0), "{name}: {lg}");
        let (s, gp) = api
            .get(&format!("/v1/funding-partners/{g}/positions"))
            .await;
        assert_eq!(s, 200, "{name}: {gp}");
        let items = gp["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{name}: the loan it guarantees: {gp}");
        assert_eq!(items[0]["loan_id"], json!(loan_g), "{name}: {gp}");
        assert_eq!(items[0]["share"], json!("0"), "{name}: {gp}");
        // A routed plan: the platform's minimum, then "small" as far as its quota of
        // 100,000 goes (0.09 of 1,000,001 with a unit of margin), bank A its cap of 0.6,
        // and the platform the 0.01 left.
        let (_, prod3) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let prod3 = prod3["id"].as_str().unwrap().to_string();
        let routed = |order: &str| {
            json!({"routing": {"order": order, "candidates": [
                {"partner_id": platform, "share_max": "1"},
                {"partner_id": small, "share_max": "0.5"},
                {"partner_id": a, "share_max": "0.6"}]}})
        };
        let path3 = format!("/v1/loan-products/{prod3}/funding-plan");
        let (s, v) = api
            .post(&path3, routed("cheapest"), Some(Uuid::now_v7()))
            .await;
        assert_eq!((s, field(&v)), (422, "routing.order"), "{name}: {v}");
        let mut both = routed("priority");
        both["shares"] = json!([{"partner_id": platform, "share": "1"}]);
        let (s, v) = api.post(&path3, both, Some(Uuid::now_v7())).await;
        assert_eq!((s, field(&v)), (422, "routing"), "{name}: {v}");
        let (s, v) = api
            .post(&path3, routed("priority"), Some(Uuid::now_v7()))
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["routing"]["order"], json!("priority"), "{name}: {v}");
        let loan_r = new_loan(prod3).await;
        let (s, v) = disburse(loan_r.clone()).await;
        assert_eq!(s, 201, "{name}: {v}");
        let (_, r) = api.get(&format!("/v1/loans/{loan_r}")).await;
        let chosen: Vec<(String, String)> = r["funding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["partner_id"].as_str().unwrap().to_string(),
                    f["share"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            chosen,
            [
                (platform.to_string(), "0.31".to_string()),
                (small.to_string(), "0.09".to_string()),
                (a.to_string(), "0.6".to_string())
            ],
            "{name}: {r}"
        );
        running.stop().await;
    }
}

/// First-loss deposits over HTTP: a bad deposit is 422 naming the field and keeps nothing;
/// the Idempotency-Key is the id, the same key and body answer 200; the deposit shows its
/// cap (the lesser of the cap and what was deposited); a plan naming an unknown deposit is
/// 422 `first_loss.deposit_id`, and one naming the deposit shows it.
#[tokio::test]
async fn first_loss_deposits_are_created_once_and_named_by_plans() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let deposit = json!({"portfolio": "2026 consumer", "currency": "CNY",
            "cap_fraction": "0.05", "portfolio_principal_minor": 100_000_000,
            "deposited_minor": 4_000_000});
        for (k, bad, f) in [
            ("cap_fraction", json!("0"), "cap_fraction"),
            ("cap_fraction", json!("five"), "cap_fraction"),
            ("currency", json!("XXX"), "currency"),
            ("deposited_minor", json!(-1), "deposited_minor"),
            (
                "portfolio_principal_minor",
                json!(0),
                "portfolio_principal_minor",
            ),
        ] {
            let mut body = deposit.clone();
            body[k] = bad;
            let key = Uuid::now_v7();
            let (s, v) = api.post("/v1/first-loss-deposits", body, Some(key)).await;
            assert_eq!((s, field(&v)), (422, f), "{name}: {v}");
            let (s, _) = api.get(&format!("/v1/first-loss-deposits/{key}")).await;
            assert_eq!(s, 404, "{name}: nothing created");
        }
        let id = Uuid::now_v7();
        let (s, v) = api
            .post("/v1/first-loss-deposits", deposit.clone(), Some(id))
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["id"], json!(id));
        assert_eq!(
            (&v["cap_minor"], &v["available_minor"], &v["drawn_minor"]),
            (&json!(4_000_000), &json!(4_000_000), &json!(0)),
            "{name}: {v}"
        );
        let (s, again) = api
            .post("/v1/first-loss-deposits", deposit.clone(), Some(id))
            .await;
        assert_eq!((s, &again), (200, &v), "{name}");
        let (s, listed) = api.get("/v1/first-loss-deposits?limit=10").await;
        assert_eq!(s, 200, "{name}: {listed}");
        assert_eq!(listed["items"], json!([v]), "{name}");
        let (_, p) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let path = format!(
            "/v1/loan-products/{}/funding-plan",
            p["id"].as_str().unwrap()
        );
        let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
        let plan = |deposit_id: Uuid| {
            json!({"shares": [{"partner_id": platform, "share": "1"}],
                "first_loss": {"deposit_id": deposit_id}})
        };
        let (s, v) = api
            .post(&path, plan(Uuid::now_v7()), Some(Uuid::now_v7()))
            .await;
        assert_eq!(
            (s, field(&v)),
            (422, "first_loss.deposit_id"),
            "{name}: {v}"
        );
        let (s, _) = api.get(&path).await;
        assert_eq!(s, 404, "{name}: no plan was stored");
        let (s, v) = api.post(&path, plan(id), Some(Uuid::now_v7())).await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["first_loss"], json!({"deposit_id": id}), "{name}: {v}");
        // A loan under the plan names the deposit; nothing is drawn before a write-off.
        let body = json!({"product_id": p["id"], "borrower": "li", "amount_minor": 500_000, "term_months": 6});
        let (_, l) = api.post("/v1/loans", body, None).await;
        let loan = l["id"].as_str().unwrap_or_else(|| panic!("{l}"));
        api.post(&format!("/v1/loans/{loan}/approve"), json!({}), None)
            .await;
        let (s, v) = api
            .post(
                &format!("/v1/loans/{loan}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (_, v) = api.get(&format!("/v1/loans/{loan}")).await;
        assert_eq!(
            v["first_loss"],
            json!({"deposit_id": id, "drawn_on": null, "paid_minor": 0}),
            "{name}: {v}"
        );
        running.stop().await;
    }
}
