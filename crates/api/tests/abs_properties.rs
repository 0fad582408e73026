//! Any scenario and any small pool run through the example deals without a refusal or a
//! panic, and every period spends exactly what it has: the wire's path from a request to
//! the domain keeps the domain's conservation.

use api::{DealFile, PoolLoanWire, PoolWire, ProjectionRequest, ScenarioWire};
use proptest::prelude::*;

fn deal(name: &str) -> DealFile {
    let path = format!(
        "{}/../../examples/deals/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rate(per_10k: u32) -> String {
    format!("{}.{:04}", per_10k / 10_000, per_10k % 10_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn projections_conserve_every_minor_unit(
        which in 0usize..5,
        shares in prop::collection::vec((1i64..1_000, 0u32..3_600, 1u32..=60, 0u32..24, 0u8..3), 1..6),
        cpr in 0u32..=10_000,
        cdr in 0u32..=3_000,
        severity in 0u32..=10_000,
        lag in 0u32..13,
        advanced: bool,
        call: bool,
    ) {
        let name = ["static-senior-equity", "three-sequential-seniors", "target-balance-trigger",
            "cumulative-default-trigger", "revolving-consumer"][which];
        let file = deal(name);
        // Loans split the deal's pool in the drawn shares, the last taking the remainder.
        let total: i64 = shares.iter().map(|s| s.0).sum();
        let mut left = file.pool_balance_minor;
        let loans: Vec<PoolLoanWire> = shares
            .iter()
            .enumerate()
            .map(|(i, (share, r, term, age, am))| {
                let balance = if i + 1 == shares.len() { left } else { file.pool_balance_minor * share / total };
                left -= balance;
                PoolLoanWire {
                    loan_id: None,
                    balance_minor: balance,
                    annual_rate: rate(*r),
                    remaining_term_months: *term,
                    age_months: *age,
                    amortization: api::AmortizationWire::parse("x", ["level_payment", "equal_principal", "bullet"][*am as usize]).unwrap(),
                }
            })
            .collect();
        let req = ProjectionRequest {
            deal: file,
            pool: PoolWire { loans, collections: Vec::new() },
            scenario: Some(ScenarioWire {
                cpr: Some(rate(cpr)),
                cdr: Some(rate(cdr)),
                severity: Some(rate(severity)),
                recovery_lag_months: lag,
                advanced,
                ..ScenarioWire::default()
            }),
            call_when_exercisable: call,
            index_rates: vec![api::IndexRateWire { index: "LPR1Y".into(), rate: "0.03".into() }],
            prices: Vec::new(),
        };
        let r = req.run().map_err(|e| TestCaseError::fail(format!("{name}: {e:?}")))?;
        prop_assert!(!r.periods.is_empty());
        for p in &r.periods {
            prop_assert_eq!(p.sources_minor, p.uses_minor, "{} period {}", name, p.period);
        }
        for t in &r.tranches {
            prop_assert!(t.principal_minor <= t.original_balance_minor, "{:?}", t);
            prop_assert_eq!(t.loss_minor, t.original_balance_minor - t.principal_minor);
        }
    }
}
