//! Securitization deals in the crash mix. Deals are pooled and sold at set-up on loans the
//! load repays; each deal's first payment date falls on one of the days close of business
//! reaches under the load, and the first client to learn that the day is open runs the
//! period (under its own Idempotency-Key, like every other operation). After a restart an
//! acknowledged run is there, an unacknowledged one retried with its key is answered 200 or
//! 201, and at the end each deal has run its period once, or not at all when its day never
//! came.

use super::{call, created, get, Kind, Op};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Mutex;

/// Deals, and loans pooled in each. Deal `i` pays first `i + 1` days after the business
/// date the suite opens on: the short harness (six kill points, three days closed or so)
/// reaches two or three of them, the long one (twenty days) all.
pub(super) const DEALS: usize = 12;
pub(super) const LOANS_PER_DEAL: usize = 2;

pub(super) struct Deals {
    /// (deal id, first payment date) of every deal.
    pub all: Vec<(String, String)>,
    /// The deals whose period no client has sent yet.
    pending: Mutex<Vec<(String, String)>>,
}

impl Deals {
    /// The run of a deal's first period when its payment date is not after `open_day`;
    /// each deal's run is handed out once.
    pub fn due(&self, open_day: &str, key: String) -> Option<Op> {
        let mut pending = self.pending.lock().unwrap();
        let at = pending
            .iter()
            .position(|(_, day)| day.as_str() <= open_day)?;
        let (deal, _) = pending.swap_remove(at);
        Some(Op {
            kind: Kind::Period,
            path: format!("/v1/abs/deals/{deal}/periods/1/run"),
            key,
            body: json!({}),
        })
    }
}

/// A partial prepayment of one of the pooled `loans`, dated `open_day` (30,000 to 40,000
/// fen, above the 10,000 of principal a partial prepayment must reach after the interest
/// accrued; a few dozen at most reach a loan of 1,000,000 in the long harness).
pub(super) fn prepayment(
    loans: &[String],
    rng: &mut rand::rngs::StdRng,
    open_day: &str,
    key: String,
) -> Op {
    use rand::Rng;
    let loan = &loans[rng.gen_range(0..loans.len())];
    Op {
        kind: Kind::Prepayment,
        path: format!("/v1/loans/{loan}/prepay"),
        key,
        body: json!({"amount_minor": rng.gen_range(30_000..=40_000), "currency": "CNY",
            "date": open_day, "kind": "partial"}),
    }
}

fn deal_file(opens: money::BusinessDate, first_payment_days: i64) -> Value {
    let mut deal: Value = serde_json::from_str(include_str!(
        "../../../../../examples/deals/static-senior-equity.json"
    ))
    .unwrap();
    let first = money::BusinessDate::add_days(opens, first_payment_days).unwrap();
    deal["name"] = json!(format!("Crash deal paying first on {first}"));
    deal["dates"]["cutoff"] = json!(opens.to_string());
    deal["dates"]["closing"] = json!(opens.to_string());
    deal["dates"]["first_payment"] = json!(first.to_string());
    deal
}

/// Creates, pools (`LOANS_PER_DEAL` of `loans` each) and closes the deals on the open day.
pub(super) async fn set_up(
    c: &reqwest::Client,
    base: &str,
    opens: &str,
    loans: &[String],
) -> Deals {
    assert_eq!(loans.len(), DEALS * LOANS_PER_DEAL);
    let opens: money::BusinessDate = opens.parse().unwrap();
    let mut all = Vec::new();
    for (i, pooled) in loans.chunks(LOANS_PER_DEAL).enumerate() {
        let file = deal_file(opens, i as i64 + 1);
        let first = file["dates"]["first_payment"].as_str().unwrap().to_string();
        let deal = created(c, base, "/v1/abs/deals", json!({ "deal": file })).await;
        let deal = deal["id"].as_str().unwrap().to_string();
        let path = format!("/v1/abs/deals/{deal}");
        created(
            c,
            base,
            &format!("{path}/pool"),
            json!({ "loan_ids": pooled }),
        )
        .await;
        created(c, base, &format!("{path}/close"), json!({"price": "1"})).await;
        all.push((deal, first));
    }
    Deals {
        pending: Mutex::new(all.clone()),
        all,
    }
}

fn deal_of(op: &Op) -> &str {
    op.path.split('/').nth(4).unwrap()
}

async fn periods(c: &reqwest::Client, base: &str, deal: &str) -> Vec<Value> {
    let (s, v) = get(c, base, &format!("/v1/abs/deals/{deal}/periods")).await;
    assert_eq!(s, 200, "{deal}: {v}");
    v["items"].as_array().unwrap().clone()
}

/// An acknowledged period run is there, with its entries in the ledger.
pub(super) async fn check_acked(c: &reqwest::Client, base: &str, op: &Op, at: &str) {
    let deal = deal_of(op);
    let items = periods(c, base, deal).await;
    assert_eq!(items.len(), 1, "{at}: acknowledged period of {deal} lost");
    let p = &items[0];
    let mut entries: Vec<Value> = p["collection_entry_ids"].as_array().unwrap().clone();
    // The waterfall's entry is posted when the waterfall paid something.
    let paid = [
        "fees_paid_minor",
        "interest_paid_minor",
        "principal_paid_minor",
        "residual_paid_minor",
    ]
    .iter()
    .flat_map(|k| p[*k].as_array().unwrap())
    .any(|v| v.as_i64().unwrap() > 0);
    if paid {
        entries.push(p["entry_id"].clone());
    }
    for e in entries.iter().filter_map(Value::as_str) {
        let (s, _) = get(c, base, &format!("/v1/ledger/entries/{e}")).await;
        assert_eq!(s, 200, "{at}: deal {deal}: entry {e} of its period lost");
    }
}

/// Every deal ran its first period exactly once when a client sent it, never otherwise;
/// a run asked again under another key is refused and changes nothing. Returns the periods
/// run and what they collected.
pub(super) async fn check_exactly_once(
    name: &str,
    c: &reqwest::Client,
    base: &str,
    deals: &Deals,
    sent: &[Op],
) -> (usize, i64) {
    let run: HashSet<&str> = sent
        .iter()
        .filter(|o| o.kind == Kind::Period)
        .map(deal_of)
        .collect();
    let mut collected_minor = 0;
    for (deal, first) in &deals.all {
        let items = periods(c, base, deal).await;
        let expected = usize::from(run.contains(deal.as_str()));
        assert_eq!(items.len(), expected, "{name}: deal {deal}: {items:?}");
        if expected == 0 {
            continue;
        }
        assert_eq!(items[0]["payment_date"], first.as_str(), "{name}: {deal}");
        collected_minor += ["principal_collected_minor", "interest_collected_minor"]
            .iter()
            .map(|k| items[0][*k].as_i64().unwrap())
            .sum::<i64>();
        let path = format!("/v1/abs/deals/{deal}/periods/1/run");
        let (s, v) = call(c, base, &path, Some(&super::new_id()), &json!({})).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("period_already_run")),
            "{name}: {deal}: {v}"
        );
        assert_eq!(periods(c, base, deal).await, items, "{name}: {deal}");
    }
    (run.len(), collected_minor)
}
