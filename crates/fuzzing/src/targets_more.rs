//! Fuzz targets for securitization's inputs (deal runs, loan tapes, collection tables) and
//! for regulatory rule packs. Seeds are the example deals in `examples/deals/` and the
//! built-in packs as their files.

use crate::targets::Target;

const DEALS: [(&str, &str); 5] = [
    (
        include_str!("../../../examples/deals/static-senior-equity.json"),
        include_str!("../../../examples/deals/static-senior-equity.collections.csv"),
    ),
    (
        include_str!("../../../examples/deals/three-sequential-seniors.json"),
        include_str!("../../../examples/deals/three-sequential-seniors.collections.csv"),
    ),
    (
        include_str!("../../../examples/deals/target-balance-trigger.json"),
        include_str!("../../../examples/deals/target-balance-trigger.collections.csv"),
    ),
    (
        include_str!("../../../examples/deals/cumulative-default-trigger.json"),
        include_str!("../../../examples/deals/cumulative-default-trigger.collections.csv"),
    ),
    (
        include_str!("../../../examples/deals/revolving-consumer.json"),
        include_str!("../../../examples/deals/revolving-consumer.collections.csv"),
    ),
];
/// The fixing of the three-seniors deal's floating bond (the others ignore it).
const LPR: [IndexFixing; 1] = [IndexFixing {
    index: "LPR1Y",
    rate: "0.0345",
}];

#[derive(serde::Serialize)]
struct IndexFixing {
    index: &'static str,
    rate: &'static str,
}

const TAPE: &str = include_str!("../../../examples/deals/three-sequential-seniors.tape.csv");

pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "deal-run",
            run: deal_run,
            seeds: deal_seeds,
        },
        Target {
            name: "loan-tape",
            run: loan_tape,
            seeds: || vec![TAPE.into()],
        },
        Target {
            name: "collection-table",
            run: collection_table,
            seeds: || DEALS.iter().map(|(_, c)| c.as_bytes().to_vec()).collect(),
        },
        Target {
            name: "rule-pack",
            run: rule_pack,
            seeds: || {
                [
                    compliance::china_online_lending(),
                    compliance::us_regulation_z(),
                ]
                .iter()
                .map(|p| server::rule_packs::pack_json(p).to_string().into_bytes())
                .collect()
            },
        },
    ]
}

/// `POST /v1/abs/projections` bodies: each example deal over its collection table, and the
/// three-seniors deal over its loan tape under a scenario.
fn deal_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = DEALS
        .iter()
        .map(|(deal, table)| {
            let rows = api::abs_tape::read_collection_table(table).expect("example table");
            let deal: serde_json::Value = serde_json::from_str(deal).expect("example deal");
            serde_json::json!({"deal": deal, "pool": {"collections": rows}, "index_rates": LPR})
                .to_string()
                .into_bytes()
        })
        .collect();
    let loans = api::abs_tape::read_loan_tape(TAPE, None).expect("example tape");
    let deal: serde_json::Value = serde_json::from_str(DEALS[1].0).expect("example deal");
    out.push(
        serde_json::json!({"deal": deal, "pool": {"loans": loans}, "index_rates": LPR,
            "scenario": {"cpr": "0.1", "cdr": "0.02", "severity": "0.5", "recovery_lag_months": 3}})
        .to_string()
        .into_bytes(),
    );
    out
}

fn deal_run(data: &[u8]) -> bool {
    serde_json::from_slice::<api::ProjectionRequest>(data).is_ok_and(|r| r.run().is_ok())
}

fn loan_tape(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match api::abs_tape::read_loan_tape(text, None) {
        Ok(loans) => loans.iter().all(|l| l.cohort("loans.").is_ok()),
        Err(_) => false,
    }
}

fn collection_table(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match api::abs_tape::read_collection_table(text) {
        Ok(rows) => rows.iter().all(|r| r.parse("collections.").is_ok()),
        Err(_) => false,
    }
}

fn rule_pack(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    server::rule_packs::parse_pack("fuzz.json", text).is_ok()
}
