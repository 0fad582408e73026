//! Charts drawn on the server as SVG: axes with ticks and labels, a title, and one element
//! per datum carrying its value (`data-value`) and a tooltip. Geometry only: the values
//! are counts and percentages, never amounts of money.

use maud::{html, Markup};

const W: f64 = 560.0;
const H: f64 = 270.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 54.0;
const BOTTOM: f64 = 62.0;

/// A bar: its label on the x axis, its value, and how the value reads.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

/// A line of a line chart, one value per x label (None: no point there).
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub values: Vec<Option<f64>>,
}

/// The smallest 1, 2 or 5 × 10^k at or above `x / 5`, so about five ticks span `x`.
fn tick_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn fmt_tick(v: f64, unit: &str) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// The frame: title, y axis with ticks and grid lines, x axis, axis captions. Returns the
/// drawing and the y scale's top.
fn frame(title: &str, x_caption: &str, y_caption: &str, max: f64, unit: &str) -> (Markup, f64) {
    let step = tick_step(max);
    let top = (max / step).ceil().max(1.0) * step;
    let ticks: Vec<f64> = (0..=((top / step).round() as i64))
        .map(|k| k as f64 * step)
        .collect();
    let plot_h = H - TOP - BOTTOM;
    let m = html! {
        text.title x="4" y="18" { (title) }
        @for v in &ticks {
            @let y = TOP + plot_h * (1.0 - v / top);
            line x1=(LEFT) x2=(W - RIGHT) y1=(y) y2=(y) stroke="#e6eaf0" {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (fmt_tick(*v, unit)) }
        }
        line.axis x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(H - BOTTOM) stroke="#5b6b7c" {}
        line.axis x1=(LEFT) x2=(W - RIGHT) y1=(H - BOTTOM) y2=(H - BOTTOM) stroke="#5b6b7c" {}
        text x=((LEFT + W - RIGHT) / 2.0) y=(H - 6.0) text-anchor="middle" { (x_caption) }
        text x="14" y=((TOP + H - BOTTOM) / 2.0) text-anchor="middle"
            transform={ "rotate(-90 14 " ((TOP + H - BOTTOM) / 2.0) ")" } { (y_caption) }
    };
    (m, top)
}

fn x_label(x: f64, text: &str, slanted: bool) -> Markup {
    let y = H - BOTTOM + 14.0;
    html! {
        @if slanted {
            text x=(x) y=(y) text-anchor="end" transform={ "rotate(-35 " (x) " " (y) ")" } { (text) }
        } @else {
            text x=(x) y=(y) text-anchor="middle" { (text) }
        }
    }
}

/// A bar chart.
pub fn bars(
    title: &str,
    x_caption: &str,
    y_caption: &str,
    unit: &str,
    data: &[Bar],
    no_data: &str,
) -> Markup {
    let max = data.iter().map(|b| b.value).fold(0.0, f64::max);
    let (frame, top) = frame(title, x_caption, y_caption, max, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / data.len().max(1) as f64;
    let slanted = data.len() > 8;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) }
            role="img" aria-label=(title) {
            (frame)
            @if data.is_empty() {
                text x=(LEFT + plot_w / 2.0) y=(TOP + plot_h / 2.0) text-anchor="middle" { (no_data) }
            }
            @for (i, b) in data.iter().enumerate() {
                @let h = plot_h * b.value / top;
                @let x = LEFT + slot * i as f64;
                rect.datum x=(x + slot * 0.15) y=(TOP + plot_h - h) width=(slot * 0.7) height=(h)
                    fill="#2e78b7" data-value=(b.value) {
                    title { (b.label) ": " (b.shown) }
                }
                @if !slanted {
                    text x=(x + slot / 2.0) y=(TOP + plot_h - h - 4.0) text-anchor="middle" { (b.shown) }
                }
                (x_label(x + slot / 2.0, &b.label, slanted))
            }
        }
    }
}

/// A line chart over labelled x positions, with a legend.
pub fn lines(
    title: &str,
    x_caption: &str,
    y_caption: &str,
    unit: &str,
    x_labels: &[String],
    series: &[Series],
    no_data: &str,
) -> Markup {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0, |a: f64, b| a.max(*b));
    let (frame, top) = frame(title, x_caption, y_caption, max, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / x_labels.len().max(1) as f64;
    let at = |i: usize, v: f64| {
        (
            LEFT + slot * (i as f64 + 0.5),
            TOP + plot_h * (1.0 - v / top),
        )
    };
    let slanted = x_labels.len() > 8;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) }
            role="img" aria-label=(title) {
            (frame)
            @if x_labels.is_empty() {
                text x=(LEFT + plot_w / 2.0) y=(TOP + plot_h / 2.0) text-anchor="middle" { (no_data) }
            }
            @for (i, l) in x_labels.iter().enumerate() {
                (x_label(LEFT + slot * (i as f64 + 0.5), l, slanted))
            }
            @for (k, s) in series.iter().enumerate() {
                @let points: Vec<String> = s.values.iter().enumerate()
                    .filter_map(|(i, v)| v.map(|v| { let (x, y) = at(i, v); format!("{x:.1},{y:.1}") }))
                    .collect();
                polyline points=(points.join(" ")) fill="none" stroke=(s.colour) stroke-width="2" {}
                @for (i, v) in s.values.iter().enumerate() {
                    @if let Some(v) = v {
                        @let (x, y) = at(i, *v);
                        circle.datum cx=(x) cy=(y) r="3.5" fill=(s.colour) data-value=(v) {
                            title { (s.name) ", " (x_labels[i]) ": " (fmt_tick(*v, unit)) }
                        }
                    }
                }
                // The legend, right-aligned under the title, a row per series.
                @let ly = 11.0 + 13.0 * k as f64;
                rect x=(W - RIGHT - 10.0) y=(ly - 8.0) width="10" height="10" fill=(s.colour) {}
                text x=(W - RIGHT - 14.0) y=(ly + 1.0) text-anchor="end" { (s.name) }
            }
        }
    }
}

/// A matrix of shares (0–1), one row per `row_labels`, one column per `col_labels`: each
/// cell shaded by its share and labelled with it in percent (None: no data in the row).
pub fn heatmap(
    title: &str,
    row_caption: &str,
    col_caption: &str,
    row_labels: &[String],
    col_labels: &[String],
    cells: &[Vec<Option<f64>>],
    no_data: &str,
) -> Markup {
    let left = 90.0;
    let plot_w = W - left - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let cw = plot_w / col_labels.len().max(1) as f64;
    let ch = plot_h / row_labels.len().max(1) as f64;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) }
            role="img" aria-label=(title) {
            text.title x="4" y="18" { (title) }
            text x=(left + plot_w / 2.0) y=(TOP - 22.0) text-anchor="middle" { (col_caption) }
            text x="14" y=((TOP + H - BOTTOM) / 2.0) text-anchor="middle"
                transform={ "rotate(-90 14 " ((TOP + H - BOTTOM) / 2.0) ")" } { (row_caption) }
            @if row_labels.is_empty() {
                text x=(left + plot_w / 2.0) y=(TOP + plot_h / 2.0) text-anchor="middle" { (no_data) }
            }
            @for (j, c) in col_labels.iter().enumerate() {
                text x=(left + cw * (j as f64 + 0.5)) y=(TOP - 6.0) text-anchor="middle" { (c) }
            }
            @for (i, r) in row_labels.iter().enumerate() {
                @let y = TOP + ch * i as f64;
                text x=(left - 6.0) y=(y + ch / 2.0 + 4.0) text-anchor="end" { (r) }
                @for (j, v) in cells.get(i).into_iter().flatten().enumerate() {
                    @let x = left + cw * j as f64;
                    @let share = v.unwrap_or(0.0).clamp(0.0, 1.0);
                    rect.datum x=(x) y=(y) width=(cw - 1.0) height=(ch - 1.0)
                        fill="#c0392b" fill-opacity=(format!("{:.3}", 0.05 + 0.9 * share))
                        data-value=(share) {
                        title { (r) " → " (col_labels[j]) ": " (format!("{:.1}%", share * 100.0)) }
                    }
                    @if v.is_some() {
                        text x=(x + cw / 2.0) y=(y + ch / 2.0 + 4.0) text-anchor="middle" {
                            (format!("{:.1}%", share * 100.0))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        assert_eq!(tick_step(100.0), 20.0);
        assert_eq!(tick_step(7.0), 2.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(tick_step(33.0), 10.0);
    }

    #[test]
    fn a_bar_per_datum_with_its_value() {
        let data = [
            Bar {
                label: "M0".into(),
                value: 10.0,
                shown: "10".into(),
            },
            Bar {
                label: "M1".into(),
                value: 3.0,
                shown: "3".into(),
            },
        ];
        let svg = bars("t", "x", "y", "", &data, "none").into_string();
        assert_eq!(svg.matches("class=\"datum\"").count(), 2, "{svg}");
        assert!(svg.contains("data-value=\"3\""), "{svg}");
        assert!(!svg.contains("none</text>"));
        let empty = bars("t", "x", "y", "", &[], "none").into_string();
        assert!(empty.contains("none</text>"));
    }
}
