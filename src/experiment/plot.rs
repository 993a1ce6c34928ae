//! Line plots and heatmaps (SVG + PNG) with plotters, using the embedded DejaVu Sans
//! font.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
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
    /// `(colour, line style)` indices; `None`: the series' position picks the colour,
    /// solid line and circles. Line styles cycle through solid + circles, dashed +
    /// triangles, dotted + squares, long-dashed + crosses.
    pub look: Option<(usize, usize)>,
}

impl Series {
    /// A series in the default look.
    pub fn new(name: impl Into<String>, points: Vec<(f64, Option<f64>)>) -> Series {
        Series {
            name: name.into(),
            points,
            look: None,
        }
    }
}

/// Labels and axes of a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotStyle {
    pub title: Option<String>,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Fixed axis ranges (default: the data's); lines leaving them are clipped at the
    /// frame and points outside are not marked.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Markers at the data points (the legend keeps its marker).
    pub markers: bool,
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
            x_range: None,
            y_range: None,
            markers: true,
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
            look: s.look,
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
    let xr = style
        .x_range
        .unwrap_or_else(|| axis_range(drawn().map(|p| p.0), style.log_x));
    let yr = style
        .y_range
        .unwrap_or_else(|| axis_range(drawn().map(|p| p.1), style.log_y));
    let bad = |(lo, hi): (f64, f64), log: bool| !(valid(lo, log) && valid(hi, log) && lo < hi);
    if bad(xr, style.log_x) || bad(yr, style.log_y) {
        return Err(IsacError::input(
            "plot range",
            "needs lo < hi, both finite (and positive on a log axis)",
        ));
    }
    let box_ = Frame {
        x: xr,
        y: yr,
        log_x: style.log_x,
        log_y: style.log_y,
    };
    // markers at the series' own points inside the frame, lines clipped to it
    let marks: Vec<Vec<(f64, f64)>> = clean
        .iter()
        .filter(|_| style.markers)
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| y.map(|y| (x, y)))
                .filter(|&p| box_.inside(p))
                .collect()
        })
        .collect();
    let clean: Vec<Series> = clean.into_iter().map(|s| box_.clip(s)).collect();

    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let size = (style.width.max(200), style.height.max(150));
    let fail = |path: &Path, e: String| {
        IsacError::io(path.display().to_string(), std::io::Error::other(e))
    };
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw_any(root, xr, yr, style, &clean, &marks).map_err(|e| fail(&svg, e))?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw_any(root, xr, yr, style, &clean, &marks).map_err(|e| fail(&png, e))?;
    }
    Ok(vec![svg, png])
}

/// The plotting frame in data coordinates (clipping is done on the axes' scales: linear
/// or log10).
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
    log_y: bool,
}

impl Frame {
    fn scale(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            if self.log_x { x.log10() } else { x },
            if self.log_y { y.log10() } else { y },
        )
    }

    fn unscale(&self, (u, v): (f64, f64)) -> (f64, f64) {
        (
            if self.log_x { 10f64.powf(u) } else { u },
            if self.log_y { 10f64.powf(v) } else { v },
        )
    }

    fn inside(&self, (x, y): (f64, f64)) -> bool {
        // a relative slack so that points on the frame count as inside
        let within = |v: f64, (lo, hi): (f64, f64)| {
            let e = 1e-12 * (hi - lo).abs().max(hi.abs());
            v >= lo - e && v <= hi + e
        };
        within(x, self.x) && within(y, self.y)
    }

    /// Liang–Barsky: the part of segment `a -> b` inside the frame, in data coordinates.
    fn clip_segment(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (p, q) = (self.scale(a), self.scale(b));
        let (lo, hi) = (
            self.scale((self.x.0, self.y.0)),
            self.scale((self.x.1, self.y.1)),
        );
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (d, num) in [
            (-dx, p.0 - lo.0),
            (dx, hi.0 - p.0),
            (-dy, p.1 - lo.1),
            (dy, hi.1 - p.1),
        ] {
            if d == 0.0 {
                if num < 0.0 {
                    return None;
                }
            } else {
                let t = num / d;
                if d < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        (t0 <= t1).then(|| {
            let at = |t: f64| self.unscale((p.0 + t * dx, p.1 + t * dy));
            (
                if t0 == 0.0 { a } else { at(t0) },
                if t1 == 1.0 { b } else { at(t1) },
            )
        })
    }

    /// The series cut to the frame: segments leaving it end at the frame (a gap follows),
    /// points outside it are dropped. Clipped ends are inserted as points; they get no
    /// marker ([`draw`] marks only the series' own points inside the frame).
    fn clip(&self, s: Series) -> Series {
        let mut out: Vec<(f64, Option<f64>)> = vec![];
        let mut prev: Option<(f64, f64)> = None;
        for &(x, y) in &s.points {
            let Some(y) = y else {
                out.push((x, None));
                prev = None;
                continue;
            };
            let here = (x, y);
            match prev {
                Some(a) => match self.clip_segment(a, here) {
                    Some((c, d)) => {
                        if c != a {
                            out.push((c.0, Some(c.1)));
                        }
                        out.push((d.0, Some(d.1)));
                        if d != here {
                            out.push((x, None));
                        }
                    }
                    None => out.push((x, None)),
                },
                None if !self.inside(here) => out.push((x, None)),
                None => out.push((x, Some(y))),
            }
            prev = Some(here);
        }
        Series {
            name: s.name,
            points: out,
            look: s.look,
        }
    }
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
    marks: &[Vec<(f64, f64)>],
) -> std::result::Result<(), String> {
    let (x, y) = (xr.0..xr.1, yr.0..yr.1);
    match (style.log_x, style.log_y) {
        (false, false) => draw(root, x, y, style, series, marks),
        (true, false) => draw(root, x.log_scale(), y, style, series, marks),
        (false, true) => draw(root, x, y.log_scale(), style, series, marks),
        (true, true) => draw(root, x.log_scale(), y.log_scale(), style, series, marks),
    }
}

fn draw<DB, XR, YR>(
    root: DrawingArea<DB, Shift>,
    xr: XR,
    yr: YR,
    style: &PlotStyle,
    series: &[Series],
    marks: &[Vec<(f64, f64)>],
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
        let (c, shape) = ser.look.unwrap_or((i, 0));
        let color = COLORS[c % COLORS.len()];
        // Split into segments at gaps.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![vec![]];
        for &(x, y) in &ser.points {
            match y {
                Some(y) => segments.last_mut().expect("non-empty").push((x, y)),
                None => segments.push(vec![]),
            }
        }
        for seg in segments.iter().filter(|s| s.len() > 1) {
            let pts = seg.iter().copied();
            let line = color.stroke_width(2);
            match shape % 4 {
                0 => chart.draw_series(LineSeries::new(pts, line)),
                1 => chart.draw_series(DashedLineSeries::new(pts, 10, 6, line)),
                2 => chart.draw_series(DashedLineSeries::new(pts, 3, 4, line)),
                _ => chart.draw_series(DashedLineSeries::new(pts, 14, 5, line)),
            }
            .map_err(s)?;
        }
        let own = marks.get(i).cloned().unwrap_or_default();
        let name = ser.name.as_str();
        // one arm per marker shape (each a different element type): the markers, and
        // the legend entry with the line's style
        macro_rules! marked {
            ($p:ident => $m:expr, $solid:expr) => {{
                let legend = move |(x, y): (i32, i32)| {
                    let line = vec![(-12, 0), (12, 0)];
                    let $p = (0, 0);
                    let style = color.stroke_width(2);
                    EmptyElement::at((x, y))
                        + if $solid {
                            PathElement::new(line, style).into_dyn()
                        } else {
                            let (dash, gap) = match shape % 4 {
                                1 => (6, 3),
                                2 => (2, 3),
                                _ => (9, 3),
                            };
                            DashedPathElement::new(line.into_iter(), dash, gap, style).into_dyn()
                        }
                        + $m
                };
                chart
                    .draw_series(own.iter().map(|&$p| $m))
                    .map_err(s)?
                    .label(name)
                    .legend(legend);
            }};
        }
        match shape % 4 {
            0 => marked!(p => Circle::new(p, 4, color.filled()), true),
            1 => marked!(p => TriangleMarker::new(p, 5, color.filled()), false),
            2 => {
                marked!(p => EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], color.filled()), false)
            }
            _ => marked!(p => Cross::new(p, 5, color.stroke_width(2)), false),
        }
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

/// Labels and layout of a figure of heatmap panels ([`plot_heatmaps`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapStyle {
    /// Title of the whole figure.
    pub title: Option<String>,
    pub x_label: String,
    pub y_label: String,
    /// Label of the colour bar.
    pub z_label: String,
    /// Colour scale `[lo, hi]` (default: the finite values over all panels); values
    /// outside it get the colour of the nearer end.
    pub z_range: Option<(f64, f64)>,
    /// Panels per row.
    pub columns: usize,
    /// Size of one panel in pixels (SVG user units), axes included.
    pub panel_width: u32,
    pub panel_height: u32,
}

impl Default for HeatmapStyle {
    fn default() -> Self {
        HeatmapStyle {
            title: None,
            x_label: String::new(),
            y_label: String::new(),
            z_label: String::new(),
            z_range: None,
            columns: 4,
            panel_width: 360,
            panel_height: 300,
        }
    }
}

/// One panel of a heatmap figure: a grid over the ascending coordinates `xs` (columns)
/// and `ys` (rows), one value per cell, and labelled points to mark.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapPanel {
    pub title: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    /// Row-major over `ys` then `xs`: the cell `(xs[i], ys[j])` is `z[j * xs.len() + i]`;
    /// `None` (or a non-finite value) is a cell without a value, drawn light grey.
    pub z: Vec<Option<f64>>,
    /// `(x, y, label)`: a black marker with a white edge and its label beside it.
    pub marks: Vec<(f64, f64, String)>,
}

/// Viridis (matplotlib's perceptually uniform colour map) at 0, 0.1, ..., 1; colours in
/// between are interpolated linearly in RGB.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (68, 1, 84),
    (72, 36, 117),
    (65, 68, 135),
    (53, 95, 141),
    (42, 120, 142),
    (33, 145, 140),
    (34, 168, 132),
    (68, 191, 112),
    (122, 209, 81),
    (189, 223, 38),
    (253, 231, 37),
];

/// Colour of a cell without a value.
const NO_VALUE: RGBColor = RGBColor(211, 211, 211);

/// The viridis colour of `t` in [0, 1] (clamped; NaN is the low end).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let last = VIRIDIS.len() - 1;
    let u = t * last as f64;
    let i = (u.floor() as usize).min(last - 1);
    let f = u - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Cell edges of ascending grid coordinates: midway between neighbours, the outer cells
/// as wide as their inner neighbours (a single value gets a cell of width 1).
fn cell_edges(v: &[f64]) -> Vec<f64> {
    match v.len() {
        0 => vec![],
        1 => vec![v[0] - 0.5, v[0] + 0.5],
        n => {
            let mut e = Vec::with_capacity(n + 1);
            e.push(v[0] - (v[1] - v[0]) / 2.0);
            e.extend(v.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            e.push(v[n - 1] + (v[n - 1] - v[n - 2]) / 2.0);
            e
        }
    }
}

/// Write `<stem>.svg` and `<stem>.png`: one heatmap panel per entry of `panels`
/// (`style.columns` per row, in order), a shared colour scale and a colour bar on the
/// right. Returns the two paths.
pub fn plot_heatmaps(
    stem: &Path,
    style: &HeatmapStyle,
    panels: &[HeatmapPanel],
) -> Result<Vec<PathBuf>> {
    ensure_font();
    if let Some(dir) = stem.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| IsacError::io(dir.display().to_string(), e))?;
        }
    }
    for (i, p) in panels.iter().enumerate() {
        let ascending =
            |v: &[f64]| v.iter().all(|x| x.is_finite()) && v.windows(2).all(|w| w[0] < w[1]);
        if !ascending(&p.xs) || !ascending(&p.ys) || p.z.len() != p.xs.len() * p.ys.len() {
            return Err(IsacError::input(
                format!("heatmap panel {}", i + 1),
                "needs finite ascending xs and ys and one z per cell (ys.len() x xs.len())",
            ));
        }
    }
    let finite = || {
        panels
            .iter()
            .flat_map(|p| p.z.iter().filter_map(|z| z.filter(|z| z.is_finite())))
    };
    let zr = match style.z_range {
        Some(r) => r,
        None => {
            let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), z| {
                (lo.min(z), hi.max(z))
            });
            if !lo.is_finite() {
                (0.0, 1.0)
            } else if hi - lo <= 1e-12 * hi.abs().max(lo.abs()).max(1e-300) {
                let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                (lo - d, hi + d)
            } else {
                (lo, hi)
            }
        }
    };
    if !(zr.0.is_finite() && zr.1.is_finite() && zr.0 < zr.1) {
        return Err(IsacError::input(
            "heatmap z_range",
            "needs lo < hi, both finite",
        ));
    }
    let layout = HeatmapLayout::new(style, panels.len());
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let fail = |path: &Path, e: String| {
        IsacError::io(path.display().to_string(), std::io::Error::other(e))
    };
    {
        let root = SVGBackend::new(&svg, layout.size).into_drawing_area();
        draw_heatmaps(root, style, &layout, panels, zr).map_err(|e| fail(&svg, e))?;
    }
    {
        let root = BitMapBackend::new(&png, layout.size).into_drawing_area();
        draw_heatmaps(root, style, &layout, panels, zr).map_err(|e| fail(&png, e))?;
    }
    Ok(vec![svg, png])
}

/// Pixel layout of a heatmap figure: title band, panel grid, colour bar.
struct HeatmapLayout {
    size: (u32, u32),
    rows: usize,
    columns: usize,
    bar_width: u32,
}

impl HeatmapLayout {
    const MARGIN: u32 = 10;

    fn new(style: &HeatmapStyle, panels: usize) -> Self {
        let columns = style.columns.max(1).min(panels.max(1));
        let rows = panels.max(1).div_ceil(columns);
        let title_height = if style.title.is_some() { 40 } else { 0 };
        let bar_width = 130;
        let (pw, ph) = (style.panel_width.max(120), style.panel_height.max(100));
        let size = (
            columns as u32 * pw + bar_width + 2 * Self::MARGIN,
            title_height + rows as u32 * ph + 2 * Self::MARGIN,
        );
        HeatmapLayout {
            size,
            rows,
            columns,
            bar_width,
        }
    }
}

fn draw_heatmaps<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    style: &HeatmapStyle,
    layout: &HeatmapLayout,
    panels: &[HeatmapPanel],
    (z_lo, z_hi): (f64, f64),
) -> std::result::Result<(), String> {
    let s = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(s)?;
    let m = HeatmapLayout::MARGIN;
    let mut area = root.margin(m, m, m, m);
    if let Some(t) = &style.title {
        area = area.titled(t, (FAMILY, 22)).map_err(s)?;
    }
    let width = area.dim_in_pixel().0;
    let (grid, bar) = area.split_horizontally(width.saturating_sub(layout.bar_width));
    let colour = |z: f64| viridis((z - z_lo) / (z_hi - z_lo));
    let cells = grid.split_evenly((layout.rows, layout.columns));
    for (panel, cell) in panels.iter().zip(&cells) {
        let (xe, ye) = (cell_edges(&panel.xs), cell_edges(&panel.ys));
        let frame = |e: &[f64]| match e {
            [] => (0.0, 1.0),
            e => (e[0], e[e.len() - 1]),
        };
        let ((x0, x1), (y0, y1)) = (frame(&xe), frame(&ye));
        let mut builder = ChartBuilder::on(cell);
        builder
            .margin(8)
            .margin_right(14)
            .x_label_area_size(42)
            .y_label_area_size(58);
        if !panel.title.is_empty() {
            builder.caption(&panel.title, (FAMILY, 15));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(s)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_desc(style.x_label.as_str())
            .y_desc(style.y_label.as_str())
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 13))
            .draw()
            .map_err(s)?;
        // a cell that covers no pixel is left out (its neighbour's edge covers it), which
        // bounds the SVG's size by the panel's pixels, not by the grid's cells
        let nx = panel.xs.len();
        let rects = (0..panel.ys.len())
            .flat_map(|j| (0..nx).map(move |i| (i, j)))
            .filter_map(|(i, j)| {
                let (a, b) = ((xe[i], ye[j]), (xe[i + 1], ye[j + 1]));
                let (pa, pb) = (chart.backend_coord(&a), chart.backend_coord(&b));
                (pa.0 != pb.0 && pa.1 != pb.1).then(|| {
                    let c = match panel.z[j * nx + i] {
                        Some(z) if z.is_finite() => colour(z),
                        _ => NO_VALUE,
                    };
                    Rectangle::new([a, b], c.filled())
                })
            })
            .collect::<Vec<_>>();
        chart.draw_series(rects).map_err(s)?;
        let font = TextStyle::from((FAMILY, 12).into_font()).color(&BLACK);
        for (x, y, label) in &panel.marks {
            let inside = (x0..=x1).contains(x) && (y0..=y1).contains(y);
            if !inside {
                continue;
            }
            let marker = EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 5, BLACK.filled())
                + Circle::new((0, 0), 5, WHITE.stroke_width(2));
            chart.draw_series(std::iter::once(marker)).map_err(s)?;
            if label.is_empty() {
                continue;
            }
            // the label on a light box, readable on dark and bright cells alike
            let (tw, th) = cell.estimate_text_size(label, &font).map_err(s)?;
            let (tw, th) = (tw as i32, th as i32);
            let text = EmptyElement::at((*x, *y))
                + Rectangle::new([(8, -th - 4), (12 + tw, 0)], WHITE.mix(0.8).filled())
                + Text::new(label.clone(), (10, -th - 2), font.clone());
            chart.draw_series(std::iter::once(text)).map_err(s)?;
        }
    }
    // the colour bar: the scale from z_lo to z_hi in 128 steps, ticks and label on the right
    let mut builder = ChartBuilder::on(&bar);
    builder
        .margin_top(30)
        .margin_bottom(50)
        .margin_left(12)
        .margin_right(4)
        .set_label_area_size(LabelAreaPosition::Right, 90);
    let mut chart = builder
        .build_cartesian_2d(0f64..1f64, z_lo..z_hi)
        .map_err(s)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_desc(style.z_label.as_str())
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .draw()
        .map_err(s)?;
    const STEPS: usize = 128;
    let step = (z_hi - z_lo) / STEPS as f64;
    chart
        .draw_series((0..STEPS).map(|k| {
            let lo = z_lo + step * k as f64;
            Rectangle::new(
                [(0.0, lo), (1.0, lo + step)],
                colour(lo + step / 2.0).filled(),
            )
        }))
        .map_err(s)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, z_lo), (1.0, z_hi)],
            BLACK.stroke_width(1),
        )))
        .map_err(s)?;
    root.present().map_err(s)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(log_y: bool) -> Frame {
        Frame {
            x: (0.0, 10.0),
            y: if log_y { (1e-2, 1.0) } else { (0.0, 1.0) },
            log_x: false,
            log_y,
        }
    }

    /// A line leaving the frame ends on it, re-enters where it crosses back, and the
    /// part outside is a gap; a segment that only passes outside leaves nothing.
    #[test]
    fn lines_are_cut_at_the_frame() {
        let f = frame(false);
        let s = Series::new(
            "s",
            vec![
                (0.0, Some(0.5)),
                (2.0, Some(1.5)),
                (4.0, Some(0.5)),
                (6.0, Some(-1.0)),
                (8.0, Some(-3.0)),
            ],
        );
        let c = f.clip(s);
        let drawn: Vec<(f64, Option<f64>)> = c.points;
        // (0, .5) -> (2, 1.5) leaves at y = 1 (x = 1); (2, 1.5) -> (4, .5) enters at x = 3
        let want = [
            (0.0, Some(0.5)),
            (1.0, Some(1.0)),
            (2.0, None),
            (3.0, Some(1.0)),
            (4.0, Some(0.5)),
            (14.0 / 3.0, Some(0.0)),
            (6.0, None),
            (8.0, None),
        ];
        assert_eq!(drawn.len(), want.len(), "{drawn:?}");
        for ((x, y), (wx, wy)) in drawn.iter().zip(want) {
            assert!((x - wx).abs() < 1e-12, "{drawn:?}");
            match (y, wy) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{drawn:?}"),
                (None, None) => {}
                _ => panic!("{drawn:?}"),
            }
        }
    }

    /// The colour map runs from viridis' dark purple to its yellow, through its anchors.
    #[test]
    fn viridis_ends_and_anchors() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        // halfway between two anchors
        assert_eq!(viridis(0.05), RGBColor(70, 19, 101));
    }

    /// Cells are centred on their coordinates and tile the axis without gaps.
    #[test]
    fn heatmap_cells_tile_the_axis() {
        assert_eq!(cell_edges(&[2.0]), [1.5, 2.5]);
        assert_eq!(cell_edges(&[0.0, 1.0, 3.0]), [-0.5, 0.5, 2.0, 4.0]);
        assert!(cell_edges(&[]).is_empty());
    }

    /// On a log axis the cut is where the straight line on the plot (straight in log y)
    /// meets the frame: from y = 1e-1 to y = 1e-3 over x 0..2, the frame 1e-2 is met at x = 1.
    #[test]
    fn log_axes_are_cut_on_their_scale() {
        let f = frame(true);
        let c = f.clip(Series::new("s", vec![(0.0, Some(1e-1)), (2.0, Some(1e-3))]));
        let (x, y) = (c.points[1].0, c.points[1].1.unwrap());
        assert!(
            (x - 1.0).abs() < 1e-12 && (y - 1e-2).abs() < 1e-14,
            "{:?}",
            c.points
        );
        assert!(c.points[2].1.is_none());
    }
}
