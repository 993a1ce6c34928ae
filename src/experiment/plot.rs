//! Line plots (SVG + PNG) with plotters, using the embedded DejaVu Sans font.

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
