//! Decision explorer: an application typed into a form is decided by the loaded model and
//! policy and shown with its score, reason codes, price and limit. A what-if: nothing is
//! stored (decisions that count go through `POST /v1/decisions`, which records them).

use super::{Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, RISK};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use money::{Currency, Money};
use risk::decision::{Decision, Outcome};
use risk::features::{Application, Behaviour, Bureau, DecisionInput, Scalar};
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub const PAGE: Page = Page {
    routes,
    rules: &[r("GET", "/console/decisions", Some(RISK), PartyOf::Unbound)],
    menu: Some(Menu {
        path: "/console/decisions",
        label: |t| t.decisions,
    }),
};

fn routes() -> Router<AppState> {
    Router::new().route("/console/decisions", get(show))
}

/// Categorical attributes the form offers, with the bundled model's levels.
const ATTRIBUTES: [&str; 6] = [
    "status_of_existing_checking_account",
    "credit_history",
    "savings_account_and_bonds",
    "property",
    "present_employment_since",
    "other_installment_plans",
];

fn levels(feature: &str) -> &'static [String] {
    static LEVELS: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    LEVELS
        .get_or_init(|| {
            let model: serde_json::Value =
                serde_json::from_str(crate::decisioning::DEFAULT_MODEL).unwrap_or_default();
            let mut out = BTreeMap::new();
            for f in model["schema"]["features"].as_array().into_iter().flatten() {
                let levels: Vec<String> = f["kind"]["levels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect();
                out.insert(f["name"].as_str().unwrap_or_default().to_string(), levels);
            }
            out
        })
        .get(feature)
        .map_or(&[], |v| v.as_slice())
}

fn example() -> DecisionInput {
    serde_json::from_str(include_str!(
        "../../../../../models/example-application.json"
    ))
    .expect("the shipped example application parses")
}

/// The example application's values as the form's defaults.
fn defaults(f: &mut Form) {
    let e = example();
    let a = &e.application;
    f.default("applicant_id", &e.applicant_id);
    f.default("as_of", &e.as_of);
    f.default("age", &a.age.to_string());
    let major = |m: i64| {
        Money::from_minor(m, Currency::Cny)
            .to_major_decimal()
            .to_string()
    };
    f.default("income", &major(a.monthly_income_minor));
    f.default("requested", &major(a.requested_minor));
    f.default("term_months", &a.term_months.to_string());
    f.default("purpose", &a.purpose);
    for name in ATTRIBUTES {
        if let Some(Scalar::Text(v)) = a.attributes.get(name) {
            f.default(name, v);
        }
    }
    f.default("installment_rate", "2");
    f.default("open_loans", &e.bureau.open_loans.to_string());
    f.default("inquiries_6m", &e.bureau.inquiries_6m.to_string());
    f.default("max_dpd_24m", &e.bureau.max_dpd_24m.to_string());
}

/// The application the form describes, or None with the errors beside their fields.
fn input(f: &mut Form) -> Option<DecisionInput> {
    let applicant_id = f.text("applicant_id", 200);
    let as_of = f.date("as_of");
    let age = f.int("age", 0, 120);
    let income = f.amount_minor("income", Currency::Cny);
    let requested = f.amount_minor("requested", Currency::Cny);
    let term = f.int("term_months", 1, 360);
    let purpose = f.choice("purpose", levels("purpose"));
    let mut attributes = BTreeMap::new();
    for name in ATTRIBUTES {
        if let Some(v) = f.choice(name, levels(name)) {
            attributes.insert(name.to_string(), Scalar::Text(v));
        }
    }
    if let Some(rate) = f.int("installment_rate", 1, 4) {
        attributes.insert(
            "installment_rate_in_percentage_of_disposable_income".into(),
            Scalar::Number(rate as f64),
        );
    }
    let open_loans = f.int("open_loans", 0, 1_000);
    let inquiries = f.int("inquiries_6m", 0, 1_000);
    let max_dpd = f.int("max_dpd_24m", 0, 10_000);
    if !f.ok() {
        return None;
    }
    Some(DecisionInput {
        applicant_id: applicant_id?,
        as_of: as_of?.to_string(),
        application: Application {
            age: age? as u32,
            monthly_income_minor: income?,
            purpose: purpose?,
            student: false,
            requested_minor: requested?,
            term_months: term? as u32,
            enterprise: None,
            attributes,
        },
        bureau: Bureau {
            open_loans: open_loans? as u32,
            inquiries_6m: inquiries? as u32,
            max_dpd_24m: max_dpd? as u32,
            outstanding_minor: 0,
            blacklisted: false,
        },
        behaviour: Behaviour {
            transactions: Vec::new(),
            repayments: Vec::new(),
            sales: Vec::new(),
        },
    })
}

/// The form field an input error names (`application.purpose` → `purpose`).
fn field_of(path: &str) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or(path);
    match last {
        "monthly_income_minor" => "income",
        "requested_minor" => "requested",
        "installment_rate_in_percentage_of_disposable_income" => "installment_rate",
        other => [
            "applicant_id",
            "as_of",
            "age",
            "term_months",
            "purpose",
            "open_loans",
            "inquiries_6m",
            "max_dpd_24m",
        ]
        .into_iter()
        .chain(ATTRIBUTES)
        .find(|f| *f == other)
        .unwrap_or("applicant_id"),
    }
}

async fn show(ctx: Ctx, State(s): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let t = ctx.t;
    let submitted = form::parse(q.as_deref().unwrap_or(""));
    let run = submitted.contains_key("run");
    let mut f = Form::new(submitted, t);
    defaults(&mut f);
    let mut decided = None;
    if run {
        if let Some(input) = input(&mut f) {
            match s.decisions.decide(&input) {
                Ok(d) => decided = Some(d.decision),
                Err(e) => f.fail(field_of(&e.field), e.message),
            }
        }
    }
    let body = html! {
        form.fields method="get" action="/console/decisions" {
            input type="hidden" name="run" value="1";
            (f.input("applicant_id", t.applicant, "text"))
            (f.input("as_of", t.as_of, "text"))
            (f.input("age", t.age, "text"))
            (f.input("income", t.income, "text"))
            (f.input("requested", t.requested, "text"))
            (f.input("term_months", t.term_months, "text"))
            (f.select("purpose", t.purpose, levels("purpose")))
            @for name in ATTRIBUTES { (f.select(name, name, levels(name))) }
            (f.input("installment_rate", "installment_rate_in_percentage_of_disposable_income", "text"))
            (f.input("open_loans", t.open_loans, "text"))
            (f.input("inquiries_6m", t.inquiries, "text"))
            (f.input("max_dpd_24m", t.max_dpd, "text"))
            button.primary type="submit" { (t.decide) }
        }
        p.note { (t.what_if_note) }
        @if let Some(d) = &decided { (result(&ctx, d)) }
    };
    let status = if f.ok() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Reply::status(status, layout::page(&ctx, t.decisions, body))
}

fn result(ctx: &Ctx, d: &Decision) -> Markup {
    let t = ctx.t;
    let (class, outcome) = match d.outcome {
        Outcome::Approve => ("ok", t.approve),
        Outcome::Refer => ("note", t.refer),
        Outcome::Decline => ("bad", t.decline),
    };
    html! {
        h2 { (t.result) }
        div.cards {
            div.card { div.k { (t.outcome) } div.v { span class=(class) id="outcome" { (outcome) } } }
            div.card { div.k { (t.score) } div.v { (format!("{:.0}", d.score)) } }
            div.card { div.k { (t.probability_bad) } div.v { (format!("{:.1}%", d.probability_bad * 100.0)) } }
            div.card { div.k { (t.limit) } div.v { (layout::money(d.limit_minor, "CNY")) } }
            @if let Some(p) = &d.price {
                div.card { div.k { (t.rate) } div.v { ((p.annual_rate * money::Decimal::ONE_HUNDRED).round_dp(2)) "%" } }
                div.card { div.k { "APR" } div.v { (p.apr_percent) "%" } }
                div.card { div.k { (t.fee) } div.v { (layout::money(p.fee_minor, "CNY")) } }
            }
        }
        @if !d.rules_fired.is_empty() {
            p { (t.rules_fired) ": " @for r in &d.rules_fired { span.pill { (r) } " " } }
        }
        h2 { (t.reasons) }
        table {
            tr { th { (t.code) } th { (t.feature) } th { (t.value) } th.n { (t.impact) } }
            @for r in &d.reasons {
                tr {
                    td.mono { (r.code) } td { (r.feature) }
                    td { (serde_json::to_string(&r.value).unwrap_or_default()) }
                    td.n { (format!("{:.2}", r.impact)) }
                }
            }
            @if d.reasons.is_empty() { tr { td colspan="4" { (t.none) } } }
        }
    }
}
