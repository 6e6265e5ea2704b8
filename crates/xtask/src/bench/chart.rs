//! PNG charts, one per metric: every scheduler side by side, a bar at the
//! median with a min–max whisker, the median and its ratio to the default
//! scheduler written above. Drawn with plotters' bitmap backend; text is
//! rendered with ab_glyph from a TTF file found at run time (Debian's
//! fonts-dejavu-core), so no fontconfig or freetype is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use super::agent::HISTOGRAM_US;
use super::model::{BenchResults, Metric, DEFAULT_SCHED};
use super::stats::Summary;
use super::table::{fmt_num, past_histogram, ratio_to_default, summary};

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];
const FAMILY: &str = "sans-serif";

/// Register a TTF font for the charts once: `SCX_BENCH_FONT` or a known path.
pub fn load_font() -> Result<()> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let path: Option<PathBuf> = std::env::var_os("SCX_BENCH_FONT")
            .map(PathBuf::from)
            .or_else(|| {
                FONT_CANDIDATES
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.is_file())
            });
        let Some(path) = path else {
            return Err(
                "no TTF font found for the charts (install fonts-dejavu-core or set SCX_BENCH_FONT)"
                    .to_string(),
            );
        };
        let bytes =
            fs::read(&path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
        // plotters keeps registered fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        register_font(FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| format!("{} is not a usable TTF font", path.display()))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// A ratio to the default scheduler, e.g. `1.23×`, `12.3×`, `406×`.
fn fmt_ratio(q: f64) -> String {
    if q >= 100.0 {
        format!("{q:.0}×")
    } else if q >= 10.0 {
        format!("{q:.1}×")
    } else {
        format!("{q:.2}×")
    }
}

/// An axis tick: like the table's numbers, without trailing zeros.
fn fmt_tick(v: f64) -> String {
    let s = fmt_num(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The chart file name of a metric.
pub fn file_name(m: &Metric) -> String {
    format!("{}.png", m.id)
}

/// A linear axis from 0, or, when the medians differ by more than
/// [`LOG_SPREAD`] times, log10 of the values on a linear axis (ticks labelled
/// with the values) so that the small bars stay readable.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    Linear,
    /// The bottom of the axis, in log10 units.
    Log {
        floor: f64,
    },
}

const LOG_SPREAD: f64 = 30.0;

impl Scale {
    fn choose(xs: &[Summary]) -> Scale {
        let lo = xs
            .iter()
            .map(|x| x.min)
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let top = xs.iter().map(|x| x.max).fold(0.0, f64::max);
        let lo_med = xs
            .iter()
            .map(|x| x.median)
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        if lo.is_finite() && lo_med.is_finite() && top / lo_med > LOG_SPREAD {
            Scale::Log {
                floor: lo.log10().floor(),
            }
        } else {
            Scale::Linear
        }
    }

    /// Value → axis position.
    fn y(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log { floor } if v > 0.0 => v.log10().max(floor),
            Scale::Log { floor } => floor,
        }
    }

    /// Axis position → value (for the tick labels).
    fn value(self, y: f64) -> f64 {
        match self {
            Scale::Linear => y,
            Scale::Log { .. } => 10f64.powf(y),
        }
    }

    fn note(self) -> &'static str {
        match self {
            Scale::Linear => "",
            Scale::Log { .. } => ", log scale",
        }
    }
}

struct Col {
    name: String,
    x: Option<Summary>,
    ratio: Option<f64>,
    default: bool,
    /// Runs whose 99th percentile lay past cyclictest's histogram.
    past: usize,
}

/// Draw one metric; false when no scheduler has a sample of it.
pub fn draw(r: &BenchResults, m: &Metric, path: &Path) -> Result<bool> {
    load_font()?;
    // One column per scheduler with samples, or whose percentile lay past
    // cyclictest's histogram in every run (a note instead of a bar).
    let cols: Vec<Col> = r
        .scheds
        .iter()
        .filter_map(|s| {
            let x = summary(s, m);
            let past = past_histogram(s, m);
            (x.is_some() || past > 0).then(|| Col {
                name: s.name.clone(),
                x,
                ratio: ratio_to_default(r, s, m),
                default: s.is_default(),
                past,
            })
        })
        .collect();
    // (column, its summary) for the columns that have a bar.
    let rows: Vec<(usize, &Col, Summary)> = cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c, c.x?)))
        .collect();
    if cols.is_empty() {
        return Ok(false);
    }
    let top = rows.iter().map(|r| r.2.max).fold(0.0, f64::max);
    let scale = Scale::choose(&rows.iter().map(|r| r.2).collect::<Vec<_>>());
    let (ylo, yhi) = match scale {
        Scale::Linear => (0.0, if top > 0.0 { top * 1.45 } else { 1.0 }),
        Scale::Log { floor } => (floor, top.log10() + 1.0),
    };
    let ty = |v: f64| scale.y(v);
    let err = |e: &dyn std::fmt::Display| anyhow!("failed to draw {}: {e}", path.display());

    let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!("{}: {} ({})", m.workload, m.what, m.direction());
    let title_len = title.chars().count();
    let sub = format!(
        "kernel {}, {} vCPUs, {} runs each, {}",
        r.kernel, r.nr_cpus, r.reps, r.date
    );
    let (head, body) = root.split_vertically(62);
    head.draw(&Text::new(
        title,
        (500, 8),
        TextStyle::from((FAMILY, if title_len > 75 { 20 } else { 24 }).into_font())
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(|e| err(&e))?;
    head.draw(&Text::new(
        sub,
        (500, 38),
        (FAMILY, 15)
            .into_font()
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(|e| err(&e))?;

    let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d((0..cols.len()).into_segmented(), ylo..yhi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cols.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                names.get(*i).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .y_labels(match scale {
            // One tick per decade.
            Scale::Log { .. } => (yhi - ylo).ceil() as usize + 1,
            Scale::Linear => 10,
        })
        .y_label_formatter(&|v| fmt_tick(scale.value(*v)))
        .max_light_lines(1)
        .x_desc("scheduler")
        .y_desc(format!("{} ({}){}", m.what, m.unit, scale.note()))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .draw()
        .map_err(|e| err(&e))?;

    let bar = RGBColor(66, 114, 196);
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(rows.iter().map(|&(i, c, x)| {
            let color = if c.default { grey } else { bar };
            let mut rect = Rectangle::new(
                [
                    (SegmentValue::Exact(i), ylo),
                    (SegmentValue::Exact(i + 1), ty(x.median)),
                ],
                color.filled(),
            );
            rect.set_margin(0, 0, 22, 22);
            rect
        }))
        .map_err(|e| err(&e))?
        .label("median (the default scheduler in grey)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], bar.filled()));
    let whisker = BLACK.stroke_width(2);
    chart
        .draw_series(rows.iter().map(|&(i, _, x)| {
            PathElement::new(
                vec![
                    (SegmentValue::CenterOf(i), ty(x.min)),
                    (SegmentValue::CenterOf(i), ty(x.max)),
                ],
                whisker,
            )
        }))
        .map_err(|e| err(&e))?
        .label("min–max of the runs")
        .legend(move |(x, y)| PathElement::new(vec![(x + 8, y - 7), (x + 8, y + 7)], whisker));
    chart
        .draw_series(rows.iter().flat_map(|&(i, _, x)| {
            [x.min, x.max].map(|v| {
                EmptyElement::at((SegmentValue::CenterOf(i), ty(v)))
                    + PathElement::new(vec![(-9, 0), (9, 0)], whisker)
            })
        }))
        .map_err(|e| err(&e))?;
    let label_font =
        TextStyle::from((FAMILY, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let note_font = TextStyle::from((FAMILY, 13).into_font())
        .color(&RGBColor(70, 70, 70))
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(cols.iter().enumerate().map(|(i, c)| {
            // Two lines above the whisker: the median, then its ratio to the
            // default scheduler (and runs past cyclictest's histogram).
            let (value, note, at) = match c.x {
                Some(x) => {
                    let mut note = match c.ratio {
                        Some(q) if c.name != DEFAULT_SCHED => fmt_ratio(q),
                        _ => String::new(),
                    };
                    if c.past > 0 {
                        if !note.is_empty() {
                            note.push_str(", ");
                        }
                        note.push_str(&format!("{} > {} ms", c.past, HISTOGRAM_US / 1000));
                    }
                    (fmt_num(x.median), note, ty(x.max))
                }
                None => (
                    format!("all > {} ms", HISTOGRAM_US / 1000),
                    String::new(),
                    ylo,
                ),
            };
            EmptyElement::at((SegmentValue::CenterOf(i), at))
                + Text::new(value, (0, -22), label_font.clone())
                + Text::new(note, (0, -6), note_font.clone())
        }))
        .map_err(|e| err(&e))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 15))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

/// Draw every metric into `dir`; the files written.
pub fn draw_all(r: &BenchResults, dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let mut out = Vec::new();
    for m in super::model::METRICS {
        let p = dir.join(file_name(m));
        if draw(r, m, &p)? {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_only_for_wide_ranges() {
        let s = |v: &[f64]| Summary::of(v).expect("summary");
        let narrow = [s(&[1.0, 2.0]), s(&[10.0, 12.0])];
        assert_eq!(Scale::choose(&narrow), Scale::Linear);
        let wide = [s(&[3000.0, 4000.0]), s(&[300_000.0, 700_000.0])];
        let sc = Scale::choose(&wide);
        assert_eq!(sc, Scale::Log { floor: 3.0 });
        assert!((sc.y(10_000.0) - 4.0).abs() < 1e-12);
        assert_eq!(sc.y(0.0), 3.0);
        assert!((sc.value(5.0) - 100_000.0).abs() < 1e-6);
        assert_eq!(Scale::Linear.y(7.0), 7.0);
    }

    #[test]
    fn ticks() {
        assert_eq!(fmt_tick(4.5), "4.5");
        assert_eq!(fmt_tick(0.0), "0");
        assert_eq!(fmt_tick(2500.0), "2500");
        assert_eq!(fmt_tick(12.25), "12.25");
        assert_eq!(fmt_ratio(405.88), "406×");
        assert_eq!(fmt_ratio(86.13), "86.1×");
        assert_eq!(fmt_ratio(0.848), "0.85×");
    }
}
