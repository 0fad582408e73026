//! The demo's securitization: three months before the book's last day, a revolving deal
//! buys the platform's share of the performing term loans (tranches sized to what the pool
//! holds), and each monthly payment date after that runs its period through the API.

use super::client::Api;
use super::DemoReport;
use engine::abs::{pool, PoolCriteria};
use engine::Engine;
use money::{BusinessDate, Currency};
use serde_json::{json, Value};
use uuid::Uuid;

/// The deal file the demo starts from (its dates and sizes are set here).
const TEMPLATE: &str = include_str!("../../../../examples/deals/revolving-consumer.json");
/// Days before the book's last day that the deal closes on: three monthly periods run.
pub const CLOSE_DAYS_BEFORE_END: u32 = 95;
/// The senior tranche's part of the pool, in percent; the equity holds the rest.
const SENIOR_PERCENT: i64 = 85;

pub struct DemoDeal {
    path: String,
    first_payment: BusinessDate,
    periods_run: u32,
}

/// The pool's criteria as the API takes them: performing loans with a month left at least.
fn criteria_wire() -> Value {
    json!({"dpd_max": 0, "remaining_term_months_min": 1})
}

/// [`criteria_wire`] read as the pool route reads it, so the sizing and the pooling agree.
fn criteria() -> anyhow::Result<PoolCriteria> {
    let req: api::PoolRequest = serde_json::from_value(criteria_wire())?;
    req.parse()
        .map_err(|e| anyhow::anyhow!("demo pool criteria: {e:?}"))
}

/// The deal file for a pool of `total_minor` closing on `today`.
fn deal_file(today: BusinessDate, total_minor: i64) -> anyhow::Result<Value> {
    let month = |n: u32| {
        today
            .add_months(n)
            .map(|d| d.to_string())
            .ok_or_else(|| anyhow::anyhow!("date out of range"))
    };
    let mut deal: Value = serde_json::from_str(TEMPLATE)?;
    let senior_minor = total_minor * SENIOR_PERCENT / 100;
    deal["name"] = json!(format!("Demo consumer loans {}", &today.to_string()[..7]));
    deal["dates"] = json!({
        "cutoff": today.to_string(), "closing": today.to_string(),
        "first_payment": month(1)?, "frequency": "monthly",
        "revolving_end": month(3)?, "stated_maturity": month(48)?,
    });
    deal["pool_balance_minor"] = json!(total_minor);
    deal["bonds"][0]["balance_minor"] = json!(senior_minor);
    deal["bonds"][1]["balance_minor"] = json!(total_minor - senior_minor);
    deal["accounts"][1]["opening_balance_minor"] = json!(total_minor / 100);
    Ok(deal)
}

impl DemoDeal {
    /// Makes, pools and sells the deal on `today`; `None` when no loan qualifies yet.
    pub async fn close(
        engine: &Engine,
        api: &Api,
        today: BusinessDate,
    ) -> anyhow::Result<Option<DemoDeal>> {
        let loans = match pool::select(engine, "default", Currency::Cny, &criteria()?, today).await
        {
            Ok(loans) => loans,
            Err(engine::abs::AbsError::Invalid {
                code: "empty_pool", ..
            }) => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("demo deal pool: {e}")),
        };
        let total_minor: i64 = loans.iter().map(|l| l.sold_minor).sum();
        let id = Uuid::now_v7();
        let path = format!("/v1/abs/deals/{id}");
        let deal = deal_file(today, total_minor)?;
        api.must("/v1/abs/deals", &json!({ "deal": deal }), Some(id))
            .await?;
        let pooled = api
            .must(&format!("{path}/pool"), &json!(criteria_wire()), None)
            .await?;
        anyhow::ensure!(
            pooled["total_minor"] == json!(total_minor),
            "the demo deal's pool moved between its sizing and its pooling: {pooled}"
        );
        api.must(
            &format!("{path}/close"),
            &json!({"price": "1"}),
            Some(Uuid::now_v7()),
        )
        .await?;
        Ok(Some(DemoDeal {
            path,
            first_payment: today
                .add_months(1)
                .ok_or_else(|| anyhow::anyhow!("date out of range"))?,
            periods_run: 0,
        }))
    }

    /// Runs every period whose payment date has come by `today`.
    pub async fn run_due(
        &mut self,
        api: &Api,
        today: BusinessDate,
        report: &mut DemoReport,
    ) -> anyhow::Result<()> {
        while self
            .first_payment
            .add_months(self.periods_run)
            .is_some_and(|d| d <= today)
        {
            let n = self.periods_run + 1;
            api.must(
                &format!("{}/periods/{n}/run", self.path),
                &json!({}),
                Some(Uuid::now_v7()),
            )
            .await?;
            self.periods_run = n;
            report.deal_periods += 1;
        }
        Ok(())
    }
}
