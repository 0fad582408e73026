//! The demo's applicants: consumers and small merchants whose German-credit attributes are
//! drawn from the public data's own distribution (the bin counts stored in the bundled
//! scorecard, which are the training data's counts), with incomes, requests and histories
//! drawn around them. Deterministic for a seed.

use money::BusinessDate;
use rand::rngs::StdRng;
use rand::Rng;
use risk::features::{
    Application, Behaviour, Bureau, DecisionInput, Enterprise, MonthlySales, Repayment, Scalar,
    Transaction,
};
use std::collections::BTreeMap;

/// One categorical attribute: its levels with how often each occurred in the data.
struct Attribute {
    name: String,
    levels: Vec<(String, f64)>,
}

/// The categorical attributes of the bundled scorecard, weighted by their data counts. A
/// bin that merged several levels shares its count among them equally.
pub struct Population {
    attributes: Vec<Attribute>,
}

/// Model features the application carries in named fields, not in `attributes`.
const FIELD_FEATURES: [&str; 2] = ["purpose", "credit_history"];

impl Population {
    pub fn from_model(model_json: &str) -> anyhow::Result<Population> {
        let model: serde_json::Value = serde_json::from_str(model_json)?;
        let features = model["card"]["features"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("the bundled model has no scorecard features"))?;
        let mut attributes = Vec::new();
        for f in features {
            let binning = &f["binning"];
            if binning["rule"]["type"] != "categorical" {
                continue;
            }
            let name = binning["name"].as_str().unwrap_or_default().to_string();
            let mut levels = Vec::new();
            for bin in binning["bins"].as_array().into_iter().flatten() {
                let label = bin["label"].as_str().unwrap_or_default();
                let count = bin["count"].as_f64().unwrap_or(0.0);
                if label == "missing" || count <= 0.0 {
                    continue;
                }
                let parts: Vec<&str> = label.split(" | ").collect();
                for p in &parts {
                    levels.push(((*p).to_string(), count / parts.len() as f64));
                }
            }
            anyhow::ensure!(!levels.is_empty(), "feature {name} has no levels");
            attributes.push(Attribute { name, levels });
        }
        Ok(Population { attributes })
    }

    fn draw(&self, rng: &mut StdRng, name: &str) -> Option<String> {
        let a = self.attributes.iter().find(|a| a.name == name)?;
        let total: f64 = a.levels.iter().map(|(_, w)| w).sum();
        let mut x = rng.gen::<f64>() * total;
        for (level, w) in &a.levels {
            if x < *w {
                return Some(level.clone());
            }
            x -= w;
        }
        a.levels.last().map(|(l, _)| l.clone())
    }

    /// A consumer's (or, with `merchant`, a small business's) application on `today`.
    pub fn applicant(
        &self,
        rng: &mut StdRng,
        id: &str,
        today: BusinessDate,
        merchant: bool,
    ) -> DecisionInput {
        let mut attributes = BTreeMap::new();
        for a in &self.attributes {
            if FIELD_FEATURES.contains(&a.name.as_str()) {
                continue;
            }
            if let Some(level) = self.draw(rng, &a.name) {
                attributes.insert(a.name.clone(), Scalar::Text(level));
            }
        }
        attributes.insert(
            "installment_rate_in_percentage_of_disposable_income".into(),
            Scalar::Number(f64::from(rng.gen_range(1..=4))),
        );
        if let Some(history) = self.draw(rng, "credit_history") {
            attributes.insert("credit_history".into(), Scalar::Text(history));
        }
        let purpose = match merchant {
            true => "business".to_string(),
            false => self
                .draw(rng, "purpose")
                .unwrap_or_else(|| "radio/television".into()),
        };
        // Monthly income 3,000–30,000 CNY, skewed low as incomes are.
        let income_minor = (3_000.0 + 27_000.0 * rng.gen::<f64>().powi(2)) as i64 * 100;
        let requested_minor = rng.gen_range(20..=(if merchant { 500 } else { 300 })) * 10_000;
        let term_months = [3, 6, 6, 9, 12, 12][rng.gen_range(0..6)];
        let late_payer = rng.gen_bool(0.15);
        let history_day = |back: i64| today.add_days(-back).unwrap_or(today).to_string();
        let transactions = (0..rng.gen_range(0..12))
            .map(|_| Transaction {
                date: history_day(rng.gen_range(1..90)),
                amount_minor: rng.gen_range(50..3_000) * 100,
            })
            .collect();
        let repayments = (0..rng.gen_range(0..6))
            .map(|k| Repayment {
                due_date: history_day(30 * (k + 1)),
                dpd: if late_payer { rng.gen_range(0..45) } else { 0 },
            })
            .collect();
        let (enterprise, sales) = match merchant {
            false => (None, Vec::new()),
            true => {
                let revenue = rng.gen_range(30..400) * 100_000;
                let sales = (1..=3)
                    .map(|m| MonthlySales {
                        month: first_of_month(today, m).to_string(),
                        revenue_minor: revenue,
                        refunds_minor: revenue / rng.gen_range(20..100),
                    })
                    .collect();
                let registered = today.add_days(-rng.gen_range(200..3_000)).unwrap_or(today);
                let industry = ["retail", "catering", "repairs", "apparel"][rng.gen_range(0..4)];
                let e = Enterprise {
                    registered_on: registered.to_string(),
                    employees: rng.gen_range(1..30),
                    industry: industry.into(),
                };
                (Some(e), sales)
            }
        };
        DecisionInput {
            applicant_id: id.to_string(),
            as_of: today.to_string(),
            application: Application {
                age: rng.gen_range(20..=64),
                monthly_income_minor: income_minor,
                purpose,
                student: false,
                requested_minor,
                term_months,
                enterprise,
                attributes,
            },
            bureau: Bureau {
                open_loans: rng.gen_range(0..4),
                inquiries_6m: rng.gen_range(0..6),
                max_dpd_24m: if late_payer { rng.gen_range(0..60) } else { 0 },
                outstanding_minor: rng.gen_range(0..200) * 10_000,
                blacklisted: false,
            },
            behaviour: Behaviour {
                transactions,
                repayments,
                sales,
            },
        }
    }
}

/// The first day of the month `back` months before `today`'s.
fn first_of_month(today: BusinessDate, back: u32) -> BusinessDate {
    let months = today.year() * 12 + today.month() as i32 - 1 - back as i32;
    BusinessDate::from_ymd(months.div_euclid(12), (months.rem_euclid(12) + 1) as u32, 1)
        .unwrap_or(today)
}

const SURNAMES: [&str; 12] = [
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun",
];
const GIVEN: [&str; 12] = [
    "Wei", "Fang", "Na", "Min", "Jing", "Lei", "Yan", "Jun", "Tao", "Ping", "Hui", "Qiang",
];
const SHOPS: [&str; 8] = [
    "Noodle House",
    "Phone Repair",
    "Fruit Market",
    "Tea Shop",
    "Bakery",
    "Tailor",
    "Hardware Store",
    "Bookshop",
];

pub fn person_name(rng: &mut StdRng) -> String {
    format!(
        "{} {}",
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())]
    )
}

pub fn shop_name(rng: &mut StdRng, i: u32) -> String {
    format!(
        "{} {} #{}",
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
        SHOPS[i as usize % SHOPS.len()],
        i + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn applicants_use_only_the_models_levels_and_decide() {
        let pop = Population::from_model(crate::decisioning::DEFAULT_MODEL).unwrap();
        let svc = crate::decisioning::DecisionService::load(None, None).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let today = BusinessDate::from_ymd(2026, 6, 1).unwrap();
        let mut approved = 0;
        for i in 0..200 {
            let input = pop.applicant(&mut rng, &format!("a{i}"), today, i % 5 == 0);
            let d = svc
                .decide(&input)
                .expect("a drawn applicant is a valid input");
            approved += usize::from(d.decision.outcome == risk::decision::Outcome::Approve);
        }
        // The German data is 70 % good: a drawn book is neither all approved nor all not.
        assert!((40..190).contains(&approved), "{approved} of 200 approved");
    }
}
