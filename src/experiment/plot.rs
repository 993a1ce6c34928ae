//! Line plots (SVG + PNG) with plotters, using the embedded DejaVu Sans font.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{IsacError, Result};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Register the embedded font under the generic family names plotters uses.
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in ["sans-serif", "serif", "monospace"] {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                // The font is embedded and known to be valid.
                let _ = plotters::style::register_font(name, style, FONT);
            }
        }
    });
}

/// One named line: `(x, y)` points; `y = None` (or a non-finite value, or a
/// non-positive value on a log axis) is a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, Option<f64>)>,
}

/// Labels and axes of a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotStyle {
    pub title: Option<String>,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Size in pixels (SVG user units).
    pub width: u32,
    pub height: u32,
}

impl Default for PlotStyle {
    fn default() -> Self {
        PlotStyle {
            title: None,
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            width: 900,
            height: 600,
        }
    }
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn valid(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

fn axis_range(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        // Extend to whole decades: plotters labels a log axis at its decades (and their
        // multiples), so a range inside one decade would get no labels at all.
        let lo = 10f64.powf((lo.log10() - 1e-9).floor());
        let hi = 10f64.powf((hi.log10() + 1e-9).ceil());
        (lo, hi)
    } else if hi - lo <= 1e-12 * hi.abs().max(lo.abs()).max(1e-300) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    } else {
        let d = (hi - lo) * 0.04;
        (lo - d, hi + d)
    }
}

/// Write `<stem>.svg` and `<stem>.png` with one line (with markers) per series
/// and a legend. Returns the two paths.
pub fn plot_lines(stem: &Path, style: &PlotStyle, series: &[Series]) -> Result<Vec<PathBuf>> {
    ensure_font();
    if let Some(dir) = stem.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| IsacError::io(dir.display().to_string(), e))?;
        }
    }
    // Keep only drawable points (gaps stay gaps).
    let clean: Vec<Series> = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .filter(|(x, _)| valid(*x, style.log_x))
                .map(|&(x, y)| (x, y.filter(|y| valid(*y, style.log_y))))
                .collect(),
        })
        .collect();
    let drawn = || {
        clean
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|&(x, y)| y.map(|y| (x, y))))
    };
    let xr = axis_range(drawn().map(|p| p.0), style.log_x);
    let yr = axis_range(drawn().map(|p| p.1), style.log_y);

    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let size = (style.width.max(200), style.height.max(150));
    let fail = |path: &Path, e: String| {
        IsacError::io(path.display().to_string(), std::io::Error::other(e))
    };
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw_any(root, xr, yr, style, &clean).map_err(|e| fail(&svg, e))?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw_any(root, xr, yr, style, &clean).map_err(|e| fail(&png, e))?;
    }
    Ok(vec![svg, png])
}

/// Tick label on a log axis: `1e-6` style outside [1e-3, 1e4), else plain.
pub fn log_tick(v: &f64) -> String {
    let v = *v;
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        // Round to 6 significant digits to avoid 0.30000000000000004.
        let digits = (5 - a.log10().floor() as i32).max(0) as usize;
        let t = format!("{v:.digits$}");
        let t = if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        };
        return t;
    }
    let t = format!("{v:.3e}");
    match t.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') {
                m.trim_end_matches('0').trim_end_matches('.')
            } else {
                m
            };
            format!("{m}e{e}")
        }
        None => t,
    }
}

fn draw_any<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    xr: (f64, f64),
    yr: (f64, f64),
    style: &PlotStyle,
    series: &[Series],
) -> std::result::Result<(), String> {
    let (x, y) = (xr.0..xr.1, yr.0..yr.1);
    match (style.log_x, style.log_y) {
        (false, false) => draw(root, x, y, style, series),
        (true, false) => draw(root, x.log_scale(), y, style, series),
        (false, true) => draw(root, x, y.log_scale(), style, series),
        (true, true) => draw(root, x.log_scale(), y.log_scale(), style, series),
    }
}

fn draw<DB, XR, YR>(
    root: DrawingArea<DB, Shift>,
    xr: XR,
    yr: YR,
    style: &PlotStyle,
    series: &[Series],
) -> std::result::Result<(), String>
where
    DB: DrawingBackend,
    XR: AsRangedCoord<Value = f64>,
    YR: AsRangedCoord<Value = f64>,
    XR::CoordDescType: ValueFormatter<f64>,
    YR::CoordDescType: ValueFormatter<f64>,
{
    let s = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(s)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(85);
    if let Some(t) = &style.title {
        builder.caption(t, (FAMILY, 22));
    }
    let mut chart = builder.build_cartesian_2d(xr, yr).map_err(s)?;
    {
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(style.x_label.as_str())
            .y_desc(style.y_label.as_str())
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16));
        if style.log_x {
            mesh.x_label_formatter(&log_tick);
        }
        if style.log_y {
            mesh.y_label_formatter(&log_tick);
        }
        mesh.draw().map_err(s)?;
    }
    for (i, ser) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        // Split into segments at gaps.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![vec![]];
        for &(x, y) in &ser.points {
            match y {
                Some(y) => segments.last_mut().expect("non-empty").push((x, y)),
                None => segments.push(vec![]),
            }
        }
        for seg in segments.iter().filter(|s| s.len() > 1) {
            chart
                .draw_series(LineSeries::new(seg.iter().copied(), color.stroke_width(2)))
                .map_err(s)?;
        }
        let marks: Vec<(f64, f64)> = segments.into_iter().flatten().collect();
        chart
            .draw_series(marks.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(s)?
            .label(ser.name.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-12, 0), (12, 0)], color.stroke_width(2))
                    + Circle::new((0, 0), 4, color.filled())
            });
    }
    if series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(s)?;
    }
    root.present().map_err(s)?;
    Ok(())
}
