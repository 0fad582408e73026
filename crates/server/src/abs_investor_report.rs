//! A live deal's investor report as CSV (one `section,name,field,value` row per figure) and
//! as one HTML page with the deal's tranche and pool balances to the period as SVG charts.
//! The proofs are in the JSON report only: they are for a program to check.

use crate::abs_report::{esc, line_chart, major};
use api::InvestorReport;
use engine::abs::DealDoc;
use std::fmt::Write;

/// Every figure of the report, one per row; amounts in minor units.
pub fn csv(r: &InvestorReport) -> String {
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let mut row = |section: &str, name: &str, field: &str, value: String| {
        rows.push((section.into(), name.into(), field.into(), value));
    };
    row("deal", &r.deal, "deal_id", r.deal_id.to_string());
    row("deal", &r.deal, "currency", r.currency.clone());
    row("period", "", "n", r.period.to_string());
    row("period", "", "from", r.from.clone());
    row("period", "", "payment_date", r.payment_date.clone());
    row("period", "", "waterfall", r.waterfall.clone());
    row("period", "", "revolving", r.revolving.to_string());
    let p = &r.pool;
    for (field, v) in [
        ("opening_balance_minor", p.opening_balance_minor),
        ("closing_balance_minor", p.closing_balance_minor),
        ("interest_collected_minor", p.interest_collected_minor),
        ("principal_collected_minor", p.principal_collected_minor),
        ("prepayment_minor", p.prepayment_minor),
        ("recovery_minor", p.recovery_minor),
        ("defaults_minor", p.defaults_minor),
        ("cumulative_defaults_minor", p.cumulative_defaults_minor),
        ("purchase_paid_minor", p.purchase_paid_minor),
        ("purchased_balance_minor", p.purchased_balance_minor),
        ("purchased_loans", i64::from(p.purchased_loans)),
        ("repurchased_minor", p.repurchased_minor),
    ] {
        row("pool", "", field, v.to_string());
    }
    let d = &r.delinquency;
    for (bucket, v) in [
        ("current", d.current_minor),
        ("dpd_1_30", d.dpd_1_30_minor),
        ("dpd_31_60", d.dpd_31_60_minor),
        ("dpd_61_90", d.dpd_61_90_minor),
        ("dpd_91_plus", d.dpd_91_plus_minor),
    ] {
        row("delinquency", bucket, "balance_minor", v.to_string());
    }
    for t in &r.tranches {
        row(
            "tranche",
            &t.name,
            "original_balance_minor",
            t.original_balance_minor.to_string(),
        );
        row(
            "tranche",
            &t.name,
            "opening_balance_minor",
            t.opening_balance_minor.to_string(),
        );
        row("tranche", &t.name, "coupon", t.coupon.clone());
        row(
            "tranche",
            &t.name,
            "interest_paid_minor",
            t.interest_paid_minor.to_string(),
        );
        row(
            "tranche",
            &t.name,
            "principal_paid_minor",
            t.principal_paid_minor.to_string(),
        );
        row(
            "tranche",
            &t.name,
            "residual_paid_minor",
            t.residual_paid_minor.to_string(),
        );
        row(
            "tranche",
            &t.name,
            "closing_balance_minor",
            t.closing_balance_minor.to_string(),
        );
        row("tranche", &t.name, "factor", t.factor.clone());
    }
    for f in &r.fees {
        row("fee", &f.name, "paid_minor", f.amount_minor.to_string());
    }
    for a in &r.accounts {
        row(
            "account",
            &a.name,
            "closing_minor",
            a.amount_minor.to_string(),
        );
    }
    for t in &r.triggers {
        row("trigger", &t.name, "tripped", t.tripped.to_string());
    }
    let c = &r.collections;
    row("collections", "", "total_minor", c.total_minor.to_string());
    for e in &c.entries {
        row(
            "collections",
            &e.entry_id.to_string(),
            "leaf_index",
            e.leaf_index.to_string(),
        );
    }
    row(
        "tree_head",
        "",
        "tree_size",
        r.tree_head.tree_size.to_string(),
    );
    row("tree_head", "", "root_hash", r.tree_head.root_hash.clone());
    let mut out = String::from("section,name,field,value\n");
    for (a, b, c, d) in rows {
        let _ = writeln!(out, "{},{},{},{}", cell(&a), cell(&b), cell(&c), cell(&d));
    }
    out
}

/// RFC 4180 quoting where needed.
fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as a self-contained page; `deal` gives the balances of the earlier periods.
pub fn html(r: &InvestorReport, deal: &DealDoc) -> String {
    let scale = deal.currency.scale();
    let mut dates = vec![deal
        .closing
        .as_ref()
        .map_or_else(String::new, |c| c.closed_on.to_string())];
    let mut pool = vec![deal.closing.as_ref().map_or(0, |c| c.sold_minor)];
    let mut bonds: Vec<(String, Vec<i64>)> = r
        .tranches
        .iter()
        .map(|t| (t.name.clone(), vec![t.original_balance_minor]))
        .collect();
    for p in deal.periods.iter().filter(|p| p.n <= r.period) {
        dates.push(p.payment_date.to_string());
        pool.push(p.pool_balance_minor);
        for (k, b) in p.bond_balances_minor.iter().enumerate() {
            bonds[k].1.push(*b);
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}: period {n}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px;margin-bottom:1em}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#f4f4f4}}td.l,th.l{{text-align:left}}</style></head><body><h1>{name}</h1><p>Investor report, period {n}: {from} to {date}; {cur}; waterfall {wf}{rev}.</p>"#,
        name = esc(&r.deal),
        n = r.period,
        from = esc(&r.from),
        date = esc(&r.payment_date),
        cur = esc(&r.currency),
        wf = esc(&r.waterfall),
        rev = if r.revolving { " (revolving)" } else { "" },
    );
    s.push_str("<h2>Tranche balances</h2>");
    s.push_str(&line_chart("Tranche balances", &dates, &bonds, scale));
    s.push_str("<h2>Pool balance</h2>");
    s.push_str(&line_chart(
        "Pool balance",
        &dates,
        &[("pool".into(), pool)],
        scale,
    ));
    let p = &r.pool;
    s.push_str("<h2>Pool</h2><table>");
    for (label, v) in [
        ("opening balance", p.opening_balance_minor),
        ("interest collected", p.interest_collected_minor),
        ("principal collected", p.principal_collected_minor),
        ("of which prepaid", p.prepayment_minor),
        ("recoveries", p.recovery_minor),
        ("defaults", p.defaults_minor),
        ("cumulative defaults", p.cumulative_defaults_minor),
        ("revolving purchases paid", p.purchase_paid_minor),
        ("balance purchased", p.purchased_balance_minor),
        ("repurchased", p.repurchased_minor),
        ("closing balance", p.closing_balance_minor),
    ] {
        let _ = write!(
            s,
            r#"<tr><th class="l">{label}</th><td>{}</td></tr>"#,
            major(v, scale)
        );
    }
    let d = &r.delinquency;
    s.push_str("</table><h2>Delinquency</h2><table><tr><th>current</th><th>1–30</th><th>31–60</th><th>61–90</th><th>91+</th></tr><tr>");
    for v in [
        d.current_minor,
        d.dpd_1_30_minor,
        d.dpd_31_60_minor,
        d.dpd_61_90_minor,
        d.dpd_91_plus_minor,
    ] {
        let _ = write!(s, "<td>{}</td>", major(v, scale));
    }
    s.push_str(r#"</tr></table><h2>Tranches</h2><table><tr><th class="l">tranche</th><th>opening</th><th>coupon</th><th>interest</th><th>principal</th><th>residual</th><th>closing</th><th>factor</th></tr>"#);
    for t in &r.tranches {
        let _ = write!(
            s,
            r#"<tr><td class="l">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&t.name),
            major(t.opening_balance_minor, scale),
            esc(&t.coupon),
            major(t.interest_paid_minor, scale),
            major(t.principal_paid_minor, scale),
            major(t.residual_paid_minor, scale),
            major(t.closing_balance_minor, scale),
            esc(&t.factor)
        );
    }
    s.push_str(r#"</table><h2>Fees, accounts, triggers</h2><table>"#);
    for f in &r.fees {
        let _ = write!(
            s,
            r#"<tr><th class="l">fee {}</th><td>{}</td></tr>"#,
            esc(&f.name),
            major(f.amount_minor, scale)
        );
    }
    for a in &r.accounts {
        let _ = write!(
            s,
            r#"<tr><th class="l">account {}</th><td>{}</td></tr>"#,
            esc(&a.name),
            major(a.amount_minor, scale)
        );
    }
    for t in &r.triggers {
        let _ = write!(
            s,
            r#"<tr><th class="l">trigger {}</th><td>{}</td></tr>"#,
            esc(&t.name),
            if t.tripped { "tripped" } else { "–" }
        );
    }
    let _ = writeln!(
        s,
        r#"</table><h2>Collections</h2><p>{} collected into the SPV's collection account in {} ledger entries, each with an inclusion proof in the JSON report against the signed tree head of size {} (root <code>{}</code>).</p></body></html>"#,
        major(r.collections.total_minor, scale),
        r.collections.entries.len(),
        r.tree_head.tree_size,
        esc(&r.tree_head.root_hash)
    );
    s
}
