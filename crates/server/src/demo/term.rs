//! The demo's term loans, through the HTTP API: two partner banks, a guarantor and a
//! guaranteed funding plan with a first-loss deposit on the consumer product, applicants decided by the bundled model, loans priced by their
//! decisions, and repayments by a habit that follows each borrower's risk; some of the
//! loans written off later recover part of what was lost.

use super::client::Api;
use super::people::Population;
use super::DemoReport;
use money::BusinessDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use risk::features::DecisionInput;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

enum Booked {
    Loan { id: Uuid, loan: Value, pd: f64 },
    Refused(String),
    NotApproved,
}

/// One installment a borrower will pay on a day, or cash a collection recovers then on a
/// written-off loan.
struct Payment {
    loan: Uuid,
    amount_minor: i64,
    recovery: bool,
}

/// The products' days past due to a write-off.
const WRITE_OFF_DPD: i64 = 90;

pub struct TermBook {
    consumer_product: Uuid,
    merchant_product: Uuid,
    due: BTreeMap<BusinessDate, Vec<Payment>>,
}

fn product(name: &str, method: &str, rate: &str, max_minor: i64) -> Value {
    json!({
        "name": name, "currency": "CNY",
        "amount_minor_min": 100_000, "amount_minor_max": max_minor,
        "term_months_min": 1, "term_months_max": 12, "repayment_method": method,
        "contract_rate": rate, "rate_cap": "24%/year", "grace_days": 3,
        "late_fee_minor": 2_000, "penalty_rate": "x1.5", "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 100_000_000, "write_off_dpd": WRITE_OFF_DPD
    })
}

fn partner(name: &str, yield_annual: &str) -> Value {
    json!({"name": name, "kind": "bank", "currency": "CNY", "yield_annual": yield_annual,
        "quota_minor": 10_000_000_000_i64, "daily_quota_minor": 1_000_000_000,
        "eligibility": {"amount_max_minor": 20_000_000, "term_months_max": 12},
        "approval": {"mode": "auto"}})
}

fn id_of(v: &Value) -> anyhow::Result<Uuid> {
    v["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow::anyhow!("answer without an id: {v}"))
}

impl TermBook {
    /// The two partner banks, the two products and the consumer product's funding plan.
    pub async fn set_up(api: &Api) -> anyhow::Result<TermBook> {
        let mut banks = Vec::new();
        for (name, y) in [
            ("Jiangnan Rural Commercial Bank", "0.055"),
            ("Lakeside City Bank", "0.06"),
        ] {
            let id = Uuid::now_v7();
            let body = partner(name, y);
            banks.push(id_of(
                &api.must("/v1/funding-partners", &body, Some(id)).await?,
            )?);
        }
        let consumer = product("Consumer instalment loan", "annuity", "18%/year", 5_000_000);
        let consumer_product = id_of(&api.must("/v1/loan-products", &consumer, None).await?)?;
        let merchant = product(
            "Merchant working-capital loan",
            "equal-principal",
            "15%/year",
            5_000_000,
        );
        let merchant_product = id_of(&api.must("/v1/loan-products", &merchant, None).await?)?;
        let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
        let guarantor = json!({"name": "Xinhe Financing Guarantee Co.", "kind": "guarantor",
            "currency": "CNY", "quota_minor": 10_000_000_000_i64,
            "daily_quota_minor": 1_000_000_000, "approval": {"mode": "auto"}});
        let guarantor = id_of(
            &api.must("/v1/funding-partners", &guarantor, Some(Uuid::now_v7()))
                .await?,
        )?;
        // The platform's first-loss deposit bears the funders' written-off claims of the
        // consumer loans up to 2% of a 20,000,000 CNY portfolio.
        let deposit = json!({"portfolio": "Consumer instalment loans", "currency": "CNY",
            "cap_fraction": "0.02", "portfolio_principal_minor": 2_000_000_000_i64,
            "deposited_minor": 40_000_000});
        let deposit = id_of(
            &api.must("/v1/first-loss-deposits", &deposit, Some(Uuid::now_v7()))
                .await?,
        )?;
        // The guarantor pays the funders at 30 days past due, well before the write-off,
        // and takes the late fees as its guarantee fee.
        let plan = json!({"shares": [
            {"partner_id": platform, "share": "0.3"},
            {"partner_id": banks[0], "share": "0.4"},
            {"partner_id": banks[1], "share": "0.3"}],
            "fees": "guarantor",
            "guarantee": {"guarantor_id": guarantor, "trigger_dpd": 30},
            "first_loss": {"deposit_id": deposit}});
        api.must(
            &format!("/v1/loan-products/{consumer_product}/funding-plan"),
            &plan,
            Some(Uuid::now_v7()),
        )
        .await?;
        Ok(TermBook {
            consumer_product,
            merchant_product,
            due: BTreeMap::new(),
        })
    }

    /// Today's applicants, each decided by the bundled model and, when approved, booked
    /// and disbursed at its decision's price; all at once, as independent clients would.
    pub async fn apply_all(
        &mut self,
        api: &Api,
        pop: &Population,
        rng: &mut StdRng,
        today: BusinessDate,
        count: u32,
        report: &mut DemoReport,
    ) -> anyhow::Result<()> {
        let applicants: Vec<(DecisionInput, bool, u64)> = (0..count)
            .map(|_| {
                let merchant = rng.gen_bool(0.2);
                let borrower = match merchant {
                    true => format!("merchant-{}", Uuid::from_u128(rng.gen())),
                    false => format!("consumer-{}", Uuid::from_u128(rng.gen())),
                };
                (
                    pop.applicant(rng, &borrower, today, merchant),
                    merchant,
                    rng.gen(),
                )
            })
            .collect();
        let booked = futures_util::future::join_all(
            applicants
                .iter()
                .map(|(input, merchant, _)| self.book(api, input, *merchant)),
        )
        .await;
        for ((_, _, seed), outcome) in applicants.iter().zip(booked) {
            report.decisions += 1;
            match outcome? {
                Booked::Loan { id, loan, pd } => {
                    report.loans += 1;
                    let mut rng = StdRng::seed_from_u64(*seed);
                    self.plan_payments(&mut rng, id, &loan, pd);
                }
                Booked::Refused(code) => report.refusals.push(code),
                Booked::NotApproved => {}
            }
        }
        Ok(())
    }

    async fn book(
        &self,
        api: &Api,
        input: &DecisionInput,
        merchant: bool,
    ) -> anyhow::Result<Booked> {
        let d = api.must("/v1/decisions", &json!(input), None).await?;
        if d["outcome"] != "approve" || d["price"].is_null() {
            return Ok(Booked::NotApproved);
        }
        let limit = d["limit_minor"].as_i64().unwrap_or(0);
        let amount = input.application.requested_minor.min(limit) / 10_000 * 10_000;
        if amount < 100_000 {
            return Ok(Booked::NotApproved);
        }
        let id = Uuid::now_v7();
        let product = match merchant {
            true => self.merchant_product,
            false => self.consumer_product,
        };
        let body = json!({"id": id, "product_id": product, "product_version": 1,
            "borrower": input.applicant_id, "amount_minor": amount,
            "term_months": input.application.term_months, "decision_id": d["decision_id"]});
        // A decision's price may sit above the product's cap on the all-in APR.
        if let Err(r) = api.post("/v1/loans", &body, Some(id)).await? {
            return Ok(Booked::Refused(r.code));
        }
        api.must(&format!("/v1/loans/{id}/approve"), &json!({}), None)
            .await?;
        let disburse = format!("/v1/loans/{id}/disburse");
        match api
            .post(&disburse, &json!({"payee": null}), Some(Uuid::now_v7()))
            .await?
        {
            Ok(loan) => Ok(Booked::Loan {
                id,
                loan,
                pd: d["probability_bad"].as_f64().unwrap_or(0.2),
            }),
            Err(r) => Ok(Booked::Refused(r.code)),
        }
    }

    /// The borrower's habit follows its risk: the riskier miss installments from some
    /// point on, some pay late, the rest on time.
    fn plan_payments(&mut self, rng: &mut StdRng, id: Uuid, loan: &Value, pd: f64) {
        let u: f64 = rng.gen();
        let installments = loan["installments"].as_array().cloned().unwrap_or_default();
        let stops_after = match u < (pd * 0.9).min(0.5) {
            true => rng.gen_range(0..installments.len().max(1)),
            false => usize::MAX,
        };
        let late = u > 0.8;
        self.plan_recovery(rng, id, &installments, stops_after);
        for (n, i) in installments.iter().enumerate() {
            if n >= stops_after {
                break;
            }
            let Some(due) = i["due_date"].as_str().and_then(|d| d.parse().ok()) else {
                continue;
            };
            let total = i["total_minor"].as_i64().unwrap_or(0);
            let (on, amount_minor) = match late {
                true => (
                    BusinessDate::add_days(due, rng.gen_range(5..25)).unwrap_or(due),
                    total + total / 25 + 2_000,
                ),
                false => (due, total),
            };
            self.due.entry(on).or_default().push(Payment {
                loan: id,
                amount_minor,
                recovery: false,
            });
        }
    }

    /// Of the borrowers who stop paying, about half are later collected from: a tenth to
    /// a half of the principal they left unpaid, 3 to 30 days after the write-off.
    fn plan_recovery(&mut self, rng: &mut StdRng, id: Uuid, installments: &[Value], from: usize) {
        let Some(first_missed) = installments.get(from) else {
            return;
        };
        if !rng.gen_bool(0.5) {
            return;
        }
        let Some(due) = first_missed["due_date"]
            .as_str()
            .and_then(|d| d.parse::<BusinessDate>().ok())
        else {
            return;
        };
        let unpaid_minor: i64 = installments[from..]
            .iter()
            .filter_map(|i| i["principal_minor"].as_i64())
            .sum();
        let part_minor = unpaid_minor * rng.gen_range(10..=50) / 100;
        let after = WRITE_OFF_DPD + rng.gen_range(3..30);
        let Some(on) = BusinessDate::add_days(due, after) else {
            return;
        };
        if part_minor > 0 {
            self.due.entry(on).or_default().push(Payment {
                loan: id,
                amount_minor: part_minor,
                recovery: true,
            });
        }
    }

    /// Today's repayments and recoveries, all at once; a loan already paid off or written
    /// off refuses a repayment, one not written off (yet) a recovery, which is fine.
    pub async fn repay_due(
        &mut self,
        api: &Api,
        today: BusinessDate,
        report: &mut DemoReport,
    ) -> anyhow::Result<()> {
        let due = self.due.remove(&today).unwrap_or_default();
        let paid = futures_util::future::join_all(due.iter().map(|p| {
            let (path, body) = match p.recovery {
                true => (
                    format!("/v1/loans/{}/recoveries", p.loan),
                    json!({"amount_minor": p.amount_minor, "currency": "CNY"}),
                ),
                false => (
                    format!("/v1/loans/{}/repayments", p.loan),
                    json!({"amount_minor": p.amount_minor, "currency": "CNY",
                        "date": today.to_string()}),
                ),
            };
            async move { api.post(&path, &body, Some(Uuid::now_v7())).await }
        }))
        .await;
        for (r, p) in paid.into_iter().zip(&due) {
            match (r?.is_ok(), p.recovery) {
                (true, false) => report.repayments += 1,
                (true, true) => report.recoveries += 1,
                (false, _) => {}
            }
        }
        Ok(())
    }
}
