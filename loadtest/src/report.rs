//! CSV files and SVG charts of a run, in the spirit of Locust's: totals per
//! request kind, a per-second timeline, and load against throughput.
//!
//! SVG rather than PNG: the viewer draws the text with its own fonts, so
//! no font file is read or rasterised here (plotters' font support goes
//! through `ttf-parser`, which is unmaintained, RUSTSEC-2026-0192).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::stats::Stats;
use crate::steps::StepSummary;

const SIZE: (u32, u32) = (1000, 420);

/// Writes `summary.csv`, `timeline.csv`, `steps.csv` and the charts into `dir`.
pub fn write(
    dir: &Path,
    label: &str,
    load_name: &str,
    stats: &Stats,
    steps: &[StepSummary],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut summary =
        String::from("label,request,requests,failures,p50_ms,p90_ms,p95_ms,p99_ms,max_ms\n");
    let mut rows: Vec<(String, crate::stats::Tally)> = stats
        .kinds
        .iter()
        .cloned()
        .zip(stats.per_kind.iter().cloned())
        .collect();
    rows.push(("all".into(), stats.overall()));
    for (kind, tally) in &rows {
        let _ = writeln!(
            summary,
            "{label},{kind},{},{},{:.3},{:.3},{:.3},{:.3},{:.3}",
            tally.ok + tally.failed,
            tally.failed,
            tally.ms(0.5),
            tally.ms(0.9),
            tally.ms(0.95),
            tally.ms(0.99),
            tally.latency.max() as f64 / 1000.0
        );
    }
    std::fs::write(dir.join("summary.csv"), summary)?;

    let mut timeline =
        format!("second,{load_name},requests_per_s,failures_per_s,p50_ms,p95_ms,p99_ms\n");
    for (second, window) in stats.windows.iter().enumerate() {
        let t = &window.tally;
        let _ = writeln!(
            timeline,
            "{second},{},{},{},{:.3},{:.3},{:.3}",
            window.load,
            t.ok + t.failed,
            t.failed,
            t.ms(0.5),
            t.ms(0.95),
            t.ms(0.99)
        );
    }
    std::fs::write(dir.join("timeline.csv"), timeline)?;

    let mut step_rows =
        format!("{load_name},throughput_per_s,failures_per_s,p50_ms,p95_ms,p99_ms\n");
    for step in steps {
        let _ = writeln!(
            step_rows,
            "{},{:.1},{:.2},{:.3},{:.3},{:.3}",
            step.load,
            step.throughput,
            step.failures,
            step.tally.ms(0.5),
            step.tally.ms(0.95),
            step.tally.ms(0.99)
        );
    }
    std::fs::write(dir.join("steps.csv"), step_rows)?;

    timeline_chart(&dir.join("timeline.svg"), label, load_name, stats)?;
    if steps.len() > 1 {
        curve_chart(&dir.join("curve.svg"), label, load_name, steps)?;
    }
    Ok(())
}

fn timeline_chart(path: &Path, label: &str, load_name: &str, stats: &Stats) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (SIZE.0, SIZE.1 * 2)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1);
    let seconds = stats.windows.len().max(2) as u32;
    let rps: Vec<(u32, f64)> = series(stats, |w| (w.tally.ok + w.tally.failed) as f64);
    let failed: Vec<(u32, f64)> = series(stats, |w| w.tally.failed as f64);
    let load: Vec<(u32, f64)> = series(stats, |w| w.load as f64);
    let top_max = rps.iter().chain(&load).map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{label}: requests per second, failures, {load_name}"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0u32..seconds, 0.0..top_max)?;
    chart.configure_mesh().x_desc("seconds").draw()?;
    chart
        .draw_series(LineSeries::new(rps, &BLUE))?
        .label("requests/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(failed, &RED))?
        .label("failures/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(LineSeries::new(load, &BLACK))?
        .label(load_name)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;

    let p50 = series(stats, |w| w.tally.ms(0.5));
    let p95 = series(stats, |w| w.tally.ms(0.95));
    let p99 = series(stats, |w| w.tally.ms(0.99));
    let latency_max = p99.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("latency (ms): p50, p95, p99 per second", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0u32..seconds, 0.0..latency_max)?;
    chart.configure_mesh().x_desc("seconds").draw()?;
    for (points, color, name) in [
        (p50, GREEN, "p50"),
        (p95, MAGENTA, "p95"),
        (p99, RED, "p99"),
    ] {
        chart
            .draw_series(LineSeries::new(points, &color))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn curve_chart(
    path: &Path,
    label: &str,
    load_name: &str,
    steps: &[StepSummary],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (SIZE.0, SIZE.1 * 2)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1);
    let max_load = steps.iter().map(|s| s.load).max().unwrap_or(1) as f64 * 1.05;
    let max_tp = steps
        .iter()
        .map(|s| s.throughput + s.failures)
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{label}: throughput against {load_name}"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_load, 0.0..max_tp)?;
    chart
        .configure_mesh()
        .x_desc(load_name)
        .y_desc("per second")
        .draw()?;
    let ok: Vec<(f64, f64)> = steps
        .iter()
        .map(|s| (s.load as f64, s.throughput))
        .collect();
    let failed: Vec<(f64, f64)> = steps.iter().map(|s| (s.load as f64, s.failures)).collect();
    chart
        .draw_series(LineSeries::new(ok.clone(), &BLUE).point_size(4))?
        .label("successful requests/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(failed, &RED).point_size(4))?
        .label("failures/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;

    let max_latency = steps.iter().map(|s| s.tally.ms(0.99)).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .caption(
            format!("latency (ms) against {load_name}"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_load, 0.0..max_latency)?;
    chart
        .configure_mesh()
        .x_desc(load_name)
        .y_desc("ms")
        .draw()?;
    for (quantile, color, name) in [
        (0.5, GREEN, "p50"),
        (0.95, MAGENTA, "p95"),
        (0.99, RED, "p99"),
    ] {
        let points: Vec<(f64, f64)> = steps
            .iter()
            .map(|s| (s.load as f64, s.tally.ms(quantile)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, &color).point_size(4))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn series(stats: &Stats, value: impl Fn(&crate::stats::Window) -> f64) -> Vec<(u32, f64)> {
    stats
        .windows
        .iter()
        .enumerate()
        .map(|(second, window)| (second as u32, value(window)))
        .collect()
}
