//! A deal run's report as CSV and as one HTML page with inline SVG charts (tranche balances,
//! pool balance); no script, no external resource, so it can be mailed or archived as is.

use api::DealReport;
use std::fmt::Write;

/// One row per payment period: the pool, the collections, then each fee, bond, account and
/// trigger in the deal's order.
pub fn csv(r: &DealReport) -> String {
    let mut header: Vec<String> = [
        "period",
        "payment_date",
        "days",
        "waterfall",
        "revolving",
        "pool_balance_minor",
        "cumulative_default_minor",
        "interest_collected_minor",
        "principal_collected_minor",
        "recovery_minor",
        "new_default_minor",
        "call_proceeds_minor",
        "purchase_paid_minor",
        "excess_spread",
    ]
    .map(String::from)
    .to_vec();
    if let Some(first) = r.periods.first() {
        for f in &first.fees {
            header.push(format!("fee:{}:paid_minor", f.name));
        }
        for b in &first.bonds {
            for col in [
                "interest_paid_minor",
                "principal_paid_minor",
                "residual_paid_minor",
                "balance_minor",
                "factor",
            ] {
                header.push(format!("bond:{}:{col}", b.name));
            }
        }
        for a in &first.accounts {
            header.push(format!("account:{}:closing_minor", a.name));
        }
        for t in &first.triggers {
            header.push(format!("trigger:{}", t.name));
        }
    }
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("write to memory");
    for p in &r.periods {
        let mut row: Vec<String> = vec![
            p.period.to_string(),
            p.payment_date.clone(),
            p.days.to_string(),
            p.waterfall.clone(),
            p.revolving.to_string(),
            p.pool_balance_minor.to_string(),
            p.cumulative_default_minor.to_string(),
            p.interest_collected_minor.to_string(),
            p.principal_collected_minor.to_string(),
            p.recovery_minor.to_string(),
            p.new_default_minor.to_string(),
            p.call_proceeds_minor.to_string(),
            p.purchase_paid_minor.to_string(),
            p.excess_spread.clone().unwrap_or_default(),
        ];
        row.extend(p.fees.iter().map(|f| f.paid_minor.to_string()));
        for b in &p.bonds {
            row.extend([
                b.interest_paid_minor.to_string(),
                b.principal_paid_minor.to_string(),
                b.residual_paid_minor.to_string(),
                b.balance_minor.to_string(),
                b.factor.clone(),
            ]);
        }
        row.extend(p.accounts.iter().map(|a| a.closing_minor.to_string()));
        row.extend(p.triggers.iter().map(|t| t.tripped.to_string()));
        w.write_record(&row).expect("write to memory");
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("UTF-8")
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Major units with thousands separators, for people (the CSV and JSON keep minor units).
pub(crate) fn major(minor: i64, scale: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{}", group(&digits));
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{}.{frac}", group(int))
}

fn group(int: &str) -> String {
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// A line chart of named series over the periods, as inline SVG.
pub(crate) fn line_chart(
    title: &str,
    dates: &[String],
    series: &[(String, Vec<i64>)],
    scale: u32,
) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 300.0, 90.0, 40.0, 30.0, 20.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = dates.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - right) * i as f64 / n;
    let y = |v: i64| top + (h - top - bottom) * (1.0 - v as f64 / max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        w - left - right,
        h - top - bottom
    );
    for k in 0..=4 {
        let v = (max * k as f64 / 4.0) as i64;
        let _ = write!(
            s,
            r##"<text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text><line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            left - 4.0,
            y(v) + 3.0,
            esc(&major(v, scale)),
            w - right,
            y(v),
            y(v)
        );
    }
    if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
        let _ = write!(
            s,
            r#"<text x="{left}" y="{}" font-size="10">{}</text>"#,
            h - bottom + 14.0,
            esc(first)
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"#,
            w - right,
            h - bottom + 14.0,
            esc(last)
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="11" fill="{color}">{}</text>"#,
            left + 8.0 + 110.0 * k as f64,
            top - 10.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// The report as a self-contained HTML page.
pub fn html(r: &DealReport) -> String {
    let scale = r
        .currency
        .parse::<money::Currency>()
        .map_or(2, |c| c.scale());
    let dates: Vec<String> = std::iter::once(r.closing.clone())
        .chain(r.periods.iter().map(|p| p.payment_date.clone()))
        .collect();
    let mut bonds: Vec<(String, Vec<i64>)> = r
        .tranches
        .iter()
        .map(|t| (t.name.clone(), vec![t.original_balance_minor]))
        .collect();
    let mut pool = vec![r.pool_balance_minor];
    for p in &r.periods {
        for (k, b) in p.bonds.iter().enumerate() {
            bonds[k].1.push(b.balance_minor);
        }
        pool.push(p.pool_balance_minor);
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#f4f4f4}}td.l,th.l{{text-align:left}}</style></head><body><h1>{name}</h1><p>Currency {cur}; pool at cut-off {pool}; closing {closing}; {n} periods.</p>"#,
        name = esc(&r.deal),
        cur = esc(&r.currency),
        pool = major(r.pool_balance_minor, scale),
        closing = esc(&r.closing),
        n = r.periods.len()
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
    s.push_str(r#"<h2>Tranches</h2><table><tr><th class="l">tranche</th><th>original</th><th>interest</th><th>principal</th><th>residual</th><th>WAL (years)</th><th>yield</th><th>duration</th><th>loss</th></tr>"#);
    for t in &r.tranches {
        let _ = write!(
            s,
            r#"<tr><td class="l">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&t.name),
            major(t.original_balance_minor, scale),
            major(t.interest_minor, scale),
            major(t.principal_minor, scale),
            major(t.residual_minor, scale),
            t.wal_years.as_deref().unwrap_or("–"),
            t.yield_annual.as_deref().unwrap_or("–"),
            t.duration_years.as_deref().unwrap_or("–"),
            major(t.loss_minor, scale)
        );
    }
    s.push_str("</table><h2>Periods</h2><table><tr><th>#</th><th>date</th><th class=\"l\">waterfall</th><th>pool</th><th>interest in</th><th>principal in</th><th>defaults</th><th>recoveries</th><th>purchases</th>");
    if let Some(p) = r.periods.first() {
        for b in &p.bonds {
            let _ = write!(
                s,
                "<th>{0} interest</th><th>{0} principal</th><th>{0} balance</th>",
                esc(&b.name)
            );
        }
        for t in &p.triggers {
            let _ = write!(s, "<th>{}</th>", esc(&t.name));
        }
    }
    s.push_str("</tr>");
    for p in &r.periods {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td class="l">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"#,
            p.period,
            esc(&p.payment_date),
            esc(&p.waterfall),
            if p.revolving { " (revolving)" } else { "" },
            major(p.pool_balance_minor, scale),
            major(p.interest_collected_minor, scale),
            major(p.principal_collected_minor, scale),
            major(p.new_default_minor, scale),
            major(p.recovery_minor, scale),
            major(p.purchase_paid_minor, scale)
        );
        for b in &p.bonds {
            let _ = write!(
                s,
                "<td>{}</td><td>{}</td><td>{}</td>",
                major(b.interest_paid_minor, scale),
                major(b.principal_paid_minor, scale),
                major(b.balance_minor, scale)
            );
        }
        for t in &p.triggers {
            s.push_str(if t.tripped {
                "<td>tripped</td>"
            } else {
                "<td>–</td>"
            });
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_units_are_grouped_and_exact() {
        assert_eq!(major(123_456_789, 2), "1,234,567.89");
        assert_eq!(major(-5, 2), "-0.05");
        assert_eq!(major(1_000, 0), "1,000");
        assert_eq!(major(0, 3), "0.000");
    }
}
