//! Charts drawn as inline SVG, without a chart library: a line chart with axes, grid lines,
//! labels, a legend and a `<title>` tooltip on every point. Rendered on the server, so they show
//! before (and without) the wasm; the same markup hydrates.

use leptos::prelude::*;

use crate::i18n::{Texts, use_i18n};

/// Width of the drawing (SVG user units; it scales to the page).
const W: f64 = 640.0;
/// Height of the drawing.
const H: f64 = 220.0;
/// Room for the y labels.
const LEFT: f64 = 56.0;
/// Room on the right.
const RIGHT: f64 = 12.0;
/// Room above.
const TOP: f64 = 12.0;
/// Room for the x labels.
const BOTTOM: f64 = 28.0;
/// Most x labels written under the axis.
const X_LABELS: usize = 8;

/// Colours of the series, in order (colour-blind friendly Tableau 10).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSeries {
    /// A stable key (a member id, a model name), in `data-series`.
    pub key: String,
    /// What the legend says.
    pub label: String,
    /// One value per x position; `None` where there is no value (a gap).
    pub values: Vec<Option<f64>>,
}

/// A round number at or above `max` for the top of the y axis.
pub fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// A number with few characters: `1.2k`, `3.4M`, `0.0123`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 || (v.fract() == 0.0) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The x coordinate of position `i` of `n`.
fn x_at(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return LEFT + (W - LEFT - RIGHT) / 2.0;
    }
    LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
}

/// The y coordinate of `v` on an axis from 0 to `top`.
fn y_at(v: f64, top: f64) -> f64 {
    TOP + (H - TOP - BOTTOM) * (1.0 - v / top)
}

/// A line chart. `x_labels` has one label per position; `format` writes values (axis and
/// tooltips). The SVG's id is `id`; each line is a `<g data-series=key>`.
#[component]
pub fn LineChart(
    /// Id of the figure.
    #[prop(into)]
    id: String,
    /// The caption, per locale.
    title: fn(&Texts) -> &'static str,
    /// One label per x position.
    x_labels: Vec<String>,
    /// The lines.
    series: Vec<ChartSeries>,
    /// How values are written.
    format: fn(f64) -> String,
) -> impl IntoView {
    let i18n = use_i18n();
    let n = x_labels.len();
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b));
    let top = nice_max(max);
    let grid = (0..=4)
        .map(|k| {
            let v = top * f64::from(k) / 4.0;
            let y = y_at(v, top);
            view! {
                <g>
                    <line x1=LEFT x2=W - RIGHT y1=y y2=y stroke="currentColor" stroke-opacity="0.15" />
                    <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end" font-size="11" fill="currentColor">{format(v)}</text>
                </g>
            }
        })
        .collect_view();
    let every = n.div_ceil(X_LABELS).max(1);
    let ticks = x_labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, label)| {
            view! {
                <text x=x_at(i, n) y=H - 8.0 text-anchor="middle" font-size="11" fill="currentColor">{label.clone()}</text>
            }
        })
        .collect_view();
    let lines = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let color = PALETTE[k % PALETTE.len()];
            let points = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x_at(i, n), y_at(v, top))))
                .collect::<Vec<_>>()
                .join(" ");
            let dots = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .map(|(i, v)| {
                    let tip = format!("{} · {}: {}", s.label, x_labels.get(i).cloned().unwrap_or_default(), format(v));
                    view! {
                        <circle cx=format!("{:.1}", x_at(i, n)) cy=format!("{:.1}", y_at(v, top)) r="3" fill=color>
                            <title>{tip}</title>
                        </circle>
                    }
                })
                .collect_view();
            view! {
                <g data-series=s.key.clone() data-label=s.label.clone()>
                    <polyline points=points fill="none" stroke=color stroke-width="2" stroke-linejoin="round" />
                    {dots}
                </g>
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let color = PALETTE[k % PALETTE.len()];
            view! {
                <li class="flex items-center gap-1.5">
                    <span aria-hidden="true" class="inline-block h-2.5 w-2.5 rounded-sm" style=format!("background:{color}")></span>
                    {s.label.clone()}
                </li>
            }
        })
        .collect_view();
    let label_id = format!("{id}-title");
    view! {
        <figure class="space-y-2">
            <figcaption id=label_id.clone() class="text-sm font-medium">{move || title(i18n.t())}</figcaption>
            <svg id=id role="img" aria-labelledby=label_id viewBox=format!("0 0 {W} {H}") class="h-auto w-full text-slate-500 dark:text-slate-400">
                {grid}
                <line x1=LEFT x2=W - RIGHT y1=H - BOTTOM y2=H - BOTTOM stroke="currentColor" stroke-opacity="0.5" />
                {ticks}
                {lines}
            </svg>
            <ul class="flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600 dark:text-slate-300">{legend}</ul>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::{compact, nice_max};

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(0.0031), 0.005);
        assert_eq!(compact(1530.0), "1.5k");
        assert_eq!(compact(2_500_000.0), "2.5M");
        assert_eq!(compact(0.0123), "0.0123");
    }
}
