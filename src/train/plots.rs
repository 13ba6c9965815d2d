//! PNG plots: learning curves and parity plots (plotters with an embedded DejaVu font, so
//! no system font configuration is needed). Files are written to a temporary name and renamed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::train::records::EpochRecord;

/// A named line of (x, y) points with its colour.
type Series<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; a failure would only lose text, not the plot.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn plot_err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::invalid(format!("plotting {}: {e}", path.display()))
}

fn temp_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("tmp.png")
}

fn rename(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(|e| Error::io(path, e))
}

/// The learning curve's lines: validation energy MAE (meV/atom), force MAE (meV/Å) and
/// relative energy MAE (meV per molecule) where the run has such data, training and
/// validation denoising loss where it trains the generator.
fn curves(records: &[EpochRecord]) -> Vec<Series<'static>> {
    let line = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter_map(|r| f(r).map(|y| (r.epoch as f64, y)))
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .collect()
    };
    let all: [Series; 5] = [
        (
            "validation energy MAE (meV/atom)",
            line(&|r| {
                (r.validation.n_energies > 0).then_some(1000.0 * r.validation.energy_per_atom_mae)
            }),
            BLUE,
        ),
        (
            "validation force MAE (meV/Å)",
            line(&|r| {
                (r.validation.n_force_components > 0).then_some(1000.0 * r.validation.force_mae)
            }),
            RED,
        ),
        (
            "validation energy MAE relative to the molecule's minimum (meV)",
            line(&|r| {
                (r.validation.n_relative > 0).then_some(1000.0 * r.validation.relative_energy_mae)
            }),
            BLACK,
        ),
        (
            "training denoising loss",
            line(&|r| r.train_denoise),
            MAGENTA,
        ),
        (
            "validation denoising loss",
            line(&|r| r.validation_denoise),
            GREEN,
        ),
    ];
    all.into_iter().filter(|s| !s.1.is_empty()).collect()
}

/// Learning curve per epoch, log scale: see `curves`.
pub fn learning_curve(path: &Path, records: &[EpochRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    register_font();
    let tmp = temp_path(path);
    let err = plot_err(path);
    {
        let root = BitMapBackend::new(&tmp, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let series = curves(records);
        let finite = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .filter(|y| y.is_finite() && *y > 0.0);
        let (lo, hi) = finite.fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
        let (lo, hi) = if lo.is_finite() {
            (lo / 1.5, hi * 1.5)
        } else {
            (0.1, 10.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption("Concord learning curve", ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5f64..records.len() as f64 + 0.5, (lo..hi).log_scale())
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("MAE / loss")
            .draw()
            .map_err(&err)?;
        for (name, points, color) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(&err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(&err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    rename(&tmp, path)
}

fn parity_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    points: &[(f64, f64)],
) -> std::result::Result<(), String> {
    let (lo, hi) = points
        .iter()
        .flat_map(|p| [p.0, p.1])
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    let (lo, hi) = if lo < hi {
        (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    } else {
        (-1.0, 1.0)
    };
    let mae = points.iter().map(|p| (p.0 - p.1).abs()).sum::<f64>() / points.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{title}  (MAE {mae:.4} {unit}, n = {})", points.len()),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(format!("reference ({unit})"))
        .y_desc(format!("predicted ({unit})"))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            vec![(lo, lo), (hi, hi)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 2, BLUE.mix(0.4).filled())),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Parity plot of energies per atom above the per-element reference energies (eV/atom) and
/// of force components (eV/Å): `(reference, predicted)` pairs.
pub fn parity(path: &Path, energies: &[(f64, f64)], forces: &[(f64, f64)]) -> Result<()> {
    register_font();
    let tmp = temp_path(path);
    let err = plot_err(path);
    {
        let root = BitMapBackend::new(&tmp, (1200, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let panels = root.split_evenly((1, 2));
        let err_s = plot_err::<String>(path);
        parity_panel(
            &panels[0],
            "energy above element references",
            "eV/atom",
            energies,
        )
        .map_err(&err_s)?;
        parity_panel(&panels[1], "force components", "eV/Å", forces).map_err(&err_s)?;
        root.present().map_err(&err)?;
    }
    rename(&tmp, path)
}
