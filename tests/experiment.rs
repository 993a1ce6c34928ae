//! Integration tests of the experiment runner with a toy solver.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use isac::error::{IsacError, Result};
use isac::experiment::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// y = a*x + small noise from the instance seed; infeasible when x > threshold.
/// Fails with a numerical error once `fail_after` calls have been made.
struct Toy {
    calls: AtomicUsize,
    fail_after: Option<usize>,
    input_error_at_x: Option<f64>,
}

impl Toy {
    fn new() -> Self {
        Toy {
            calls: AtomicUsize::new(0),
            fail_after: None,
            input_error_at_x: None,
        }
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn f(t: &toml::Table, k: &str) -> Result<f64> {
    match t.get(k) {
        Some(toml::Value::Float(v)) => Ok(*v),
        Some(toml::Value::Integer(v)) => Ok(*v as f64),
        _ => Err(IsacError::input(k, "missing number")),
    }
}

impl InstanceSolver for Toy {
    fn solve_instance(&self, t: &toml::Table) -> Result<Metrics> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|k| n >= k) {
            return Err(IsacError::Numerical("simulated crash".into()));
        }
        let x = f(t, "x")?;
        if self
            .input_error_at_x
            .is_some_and(|bad| (x - bad).abs() < 1e-12)
        {
            return Err(IsacError::input("x", "bad value, really"));
        }
        let a = f(t, "a")?;
        let seed = match t.get("seed") {
            Some(toml::Value::Integer(s)) => *s as u64,
            _ => return Err(IsacError::input("seed", "missing")),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut m = Metrics::new();
        if x > f(t, "threshold").unwrap_or(f64::INFINITY) {
            m.insert("status".into(), "infeasible".into());
            m.insert("y".into(), serde_json::Value::Null);
        } else {
            m.insert("status".into(), "optimal".into());
            m.insert("y".into(), (a * x + 1e-3 * rng.gen::<f64>() + 0.01).into());
            m.insert("y2".into(), (a * x * x + 0.01).into());
        }
        m.insert("note".into(), "a, \"quoted\" note".into());
        Ok(m)
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isac-exp-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn opts(dir: &Path, threads: Option<usize>) -> RunOptions {
    RunOptions {
        output_override: Some(dir.to_path_buf()),
        quiet: true,
        max_threads: threads,
    }
}

const TOY: &str = r#"
[experiment]
name = "toy"
system = "toy"
title = "Toy experiment"
repetitions = 2
seed = 7

[base]
a = 2.0
threshold = 0.75

[[sweep]]
keys = ["a", "label"]
values = [[1.0, "slow"], [3.0, "fast"]]

[[sweep]]
key = "x"
linspace = [0.0, 1.0, 5]

[plot]
x = "x"
y = "y"
series = "label"
x_label = "input x"
y_label = "output y"
"#;

fn input_key(e: IsacError) -> String {
    match e {
        IsacError::Input { key, .. } => key,
        other => panic!("expected an input error, got {other}"),
    }
}

fn bad(src: &str) -> String {
    input_key(ExperimentConfig::from_toml_str(src).expect_err("should be rejected"))
}

#[test]
fn experiment_cartesian_and_zipped_points() {
    let c = ExperimentConfig::from_toml_str(
        r#"
[experiment]
name = "p"
system = "s"
[[sweep]]
key = "pulse"
values = ["cosine", "sinc", "triangular"]
[[sweep]]
keys = ["tx", "rx"]
values = [[4, 8], [8, 4]]
"#,
    )
    .unwrap();
    let pts = c.points();
    assert_eq!(pts.len(), 6);
    let txt = |p: &Point| {
        p.assignments
            .iter()
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(txt(&pts[0]), "pulse=cosine tx=4 rx=8");
    assert_eq!(txt(&pts[1]), "pulse=cosine tx=8 rx=4");
    assert_eq!(txt(&pts[2]), "pulse=sinc tx=4 rx=8");
    assert_eq!(txt(&pts[5]), "pulse=triangular tx=8 rx=4");
    assert!(pts.iter().enumerate().all(|(i, p)| p.index == i));
    let inst = c.instance(&pts[3]).unwrap();
    assert_eq!(inst["pulse"].as_str(), Some("sinc"));
    assert_eq!(inst["tx"].as_integer(), Some(8));
    assert_eq!(c.repetitions, 1);
    assert_eq!(c.seed, 1);
    assert_eq!(c.output, PathBuf::from("out/p"));

    // No sweep: one point, the base.
    let c =
        ExperimentConfig::from_toml_str("[experiment]\nname='n'\nsystem='s'\n[base]\nq=1").unwrap();
    assert_eq!(c.points().len(), 1);
    assert!(c.points()[0].assignments.is_empty());
}

#[test]
fn experiment_linspace_logspace_endpoints() {
    let v = linspace(0.0, 0.07, 26);
    assert_eq!(v.len(), 26);
    assert_eq!(v[0], 0.0);
    assert_eq!(v[25], 0.07);
    assert!((v[1] - 0.0028).abs() < 1e-15);
    assert_eq!(linspace(3.0, 5.0, 1), vec![3.0]);
    let l = logspace(-3.0, 0.0, 4);
    assert_eq!(l.len(), 4);
    for (a, b) in l.iter().zip([1e-3, 1e-2, 1e-1, 1.0]) {
        assert!((a - b).abs() <= 1e-15 * b, "{a} vs {b}");
    }
    let c = ExperimentConfig::from_toml_str(
        "[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='snr'\nlogspace=[1, 3, 3]\n",
    )
    .unwrap();
    let xs: Vec<f64> = c.sweeps[0]
        .values
        .iter()
        .map(|v| v[0].as_float().unwrap())
        .collect();
    assert_eq!(xs.len(), 3);
    assert!((xs[0] - 10.0).abs() < 1e-12 && (xs[2] - 1000.0).abs() < 1e-9);
}

#[test]
fn experiment_seeds_deterministic_and_distinct() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let s1 = seeds(&c).unwrap();
    let s2 = seeds(&c).unwrap();
    assert_eq!(s1, s2);
    assert_eq!(s1.len(), 10 * 2);
    let mut uniq: Vec<u64> = s1.iter().map(|s| s.2).collect();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        20,
        "seeds must be distinct across points and repetitions"
    );
    assert!(s1.iter().all(|s| s.2 <= i64::MAX as u64));
    assert_eq!(s1[3], (1, 1, derive_seed(7, 1, 1)));
    // Another base seed gives other seeds.
    let c8 = ExperimentConfig::from_toml_str(&TOY.replace("seed = 7", "seed = 8")).unwrap();
    assert!(seeds(&c8).unwrap().iter().zip(&s1).all(|(a, b)| a.2 != b.2));
    // Larger grids: still distinct.
    let mut many: Vec<u64> = (0..200)
        .flat_map(|p| (0..50).map(move |r| derive_seed(1, p, r)))
        .collect();
    many.sort();
    many.dedup();
    assert_eq!(many.len(), 200 * 50);
    // An explicit base seed is kept with one repetition, replaced with several.
    let one = TOY
        .replace("repetitions = 2", "repetitions = 1")
        .replace("a = 2.0", "a = 2.0\nseed = 42");
    let c = ExperimentConfig::from_toml_str(&one).unwrap();
    assert!(seeds(&c).unwrap().iter().all(|s| s.2 == 42));
    let c = ExperimentConfig::from_toml_str(&TOY.replace("a = 2.0", "a = 2.0\nseed = 42")).unwrap();
    assert!(seeds(&c).unwrap().iter().all(|s| s.2 != 42));
}

#[test]
fn experiment_common_random_numbers_share_seeds_across_points() {
    let crn = TOY.replace("seed = 7", "seed = 7\ncommon_random_numbers = true");
    let c = ExperimentConfig::from_toml_str(&crn).unwrap();
    let s = seeds(&c).unwrap();
    assert_eq!(s.len(), 20);
    // Every point sees the same seed for repetition r; repetitions differ.
    for &(point, rep, seed) in &s {
        let first = s.iter().find(|x| x.0 == 0 && x.1 == rep).unwrap().2;
        assert_eq!(seed, first, "point {point} repetition {rep}");
    }
    assert_ne!(s[0].2, s[1].2);
    // The option changes the experiment's identity (a journal of the other mode is not reused).
    let plain = ExperimentConfig::from_toml_str(TOY).unwrap();
    assert_ne!(c.content_hash(), plain.content_hash());
    let bad = TOY.replace("seed = 7", "seed = 7\ncommon_random_numbers = 1");
    let e = ExperimentConfig::from_toml_str(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("experiment.common_random_numbers"), "{e}");
}

#[test]
fn experiment_results_independent_of_threads() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let d1 = tmpdir("t1");
    let d2 = tmpdir("t2");
    let d3 = tmpdir("t3");
    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let pool2 = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let s1 = pool1
        .install(|| run_experiment(&c, &Toy::new(), &opts(&d1, None)))
        .unwrap();
    let s2 = pool2
        .install(|| run_experiment(&c, &Toy::new(), &opts(&d2, None)))
        .unwrap();
    let s3 = run_experiment(&c, &Toy::new(), &opts(&d3, Some(2))).unwrap();
    assert_eq!((s1.points, s1.rows, s1.solved, s1.reused), (10, 20, 20, 0));
    let csv1 = std::fs::read_to_string(d1.join("results.csv")).unwrap();
    let csv2 = std::fs::read_to_string(d2.join("results.csv")).unwrap();
    let csv3 = std::fs::read_to_string(d3.join("results.csv")).unwrap();
    assert_eq!(csv1, csv2);
    assert_eq!(csv1, csv3);
    assert_eq!(s2.rows, s3.rows);

    let lines: Vec<&str> = csv1.lines().collect();
    assert_eq!(lines.len(), 21);
    assert_eq!(lines[0], "point,repetition,seed,a,label,x,status,note,y,y2");
    assert!(lines[1].starts_with("0,0,"));
    assert!(lines[2].starts_with("0,1,"));
    assert!(lines[20].starts_with("9,1,"));
    // The string with a comma and quotes is quoted.
    assert!(lines[1].contains(r#""a, ""quoted"" note""#));
    // x = 1.0 > threshold 0.75: infeasible, y empty.
    assert!(lines[20].contains(",1,infeasible,"), "{}", lines[20]);
    assert!(lines[20].ends_with(",,"), "{}", lines[20]);

    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d2.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["isac_version"], isac::VERSION);
    assert_eq!(m["threads"], 2);
    assert_eq!(m["points"].as_array().unwrap().len(), 10);
    assert_eq!(m["solve_seconds"].as_array().unwrap().len(), 20);
    assert_eq!(m["base_seed"], 7);
    assert_eq!(m["experiment"]["experiment"]["name"], "toy");
    assert!(m["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(m["args"].is_array());
    let m1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d1.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m1["threads"], 1);
    for d in [d1, d2, d3] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn experiment_resume_solves_only_missing_rows() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let reference = tmpdir("ref");
    run_experiment(&c, &Toy::new(), &opts(&reference, Some(2))).unwrap();
    let want = std::fs::read_to_string(reference.join("results.csv")).unwrap();

    let d = tmpdir("resume");
    // First run "crashes" after 7 solves: the other 13 rows are errors.
    let crashing = Toy {
        fail_after: Some(7),
        ..Toy::new()
    };
    let s = run_experiment(&c, &crashing, &opts(&d, Some(1))).unwrap();
    assert_eq!((s.rows, s.errors, s.solved), (20, 13, 20));
    let partial = std::fs::read_to_string(d.join("results.csv")).unwrap();
    assert!(partial.contains("simulated crash"));
    assert!(partial.lines().next().unwrap().ends_with(",error"));

    // Second run: only the 13 missing rows are solved.
    let toy = Toy::new();
    let s = run_experiment(&c, &toy, &opts(&d, Some(2))).unwrap();
    assert_eq!(toy.calls(), 13);
    assert_eq!((s.reused, s.solved, s.errors), (7, 13, 0));
    assert_eq!(
        std::fs::read_to_string(d.join("results.csv")).unwrap(),
        want
    );

    // A line cut by an interruption is ignored; nothing left to solve.
    let journal = d.join("results.partial.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"point\": 3, \"repet");
    std::fs::write(&journal, text).unwrap();
    let toy = Toy::new();
    let s = run_experiment(&c, &toy, &opts(&d, None)).unwrap();
    assert_eq!((toy.calls(), s.reused), (0, 20));
    assert_eq!(
        std::fs::read_to_string(d.join("results.csv")).unwrap(),
        want
    );

    // Drop some rows from the journal (as if interrupted): only they are re-run.
    let text = std::fs::read_to_string(&journal).unwrap();
    let kept: Vec<&str> = text.lines().take(1 + 15).collect();
    std::fs::write(&journal, kept.join("\n") + "\n").unwrap();
    let toy = Toy::new();
    run_experiment(&c, &toy, &opts(&d, Some(2))).unwrap();
    assert_eq!(toy.calls(), 5);
    assert_eq!(
        std::fs::read_to_string(d.join("results.csv")).unwrap(),
        want
    );

    // Plot-only changes keep the results.
    let c2 =
        ExperimentConfig::from_toml_str(&TOY.replace("y_label = \"output y\"", "y_label = \"Y\""))
            .unwrap();
    let toy = Toy::new();
    run_experiment(&c2, &toy, &opts(&d, None)).unwrap();
    assert_eq!(toy.calls(), 0);

    // A changed experiment starts over and moves the old journal aside.
    let changed = ExperimentConfig::from_toml_str(&TOY.replace("a = 2.0", "a = 2.5")).unwrap();
    let toy = Toy::new();
    let s = run_experiment(&changed, &toy, &opts(&d, None)).unwrap();
    assert_eq!((toy.calls(), s.reused), (20, 0));
    assert!(d.join("results.partial.jsonl.old").exists());
    let _ = std::fs::remove_dir_all(d);
    let _ = std::fs::remove_dir_all(reference);
}

#[test]
fn experiment_solver_errors() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    // Input error on the first point: abort.
    let d = tmpdir("err1");
    let toy = Toy {
        input_error_at_x: Some(0.0),
        ..Toy::new()
    };
    let e = run_experiment(&c, &toy, &opts(&d, Some(2))).expect_err("must abort");
    assert_eq!(input_key(e), "x");
    assert_eq!(toy.calls(), 1);
    // Input error on a later point: recorded, run continues.
    let d = tmpdir("err2");
    let toy = Toy {
        input_error_at_x: Some(0.5),
        ..Toy::new()
    };
    let s = run_experiment(&c, &toy, &opts(&d, Some(2))).unwrap();
    assert_eq!((s.rows, s.errors), (20, 4));
    let csv = std::fs::read_to_string(d.join("results.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",error"));
    assert_eq!(
        csv.matches("invalid input `x`: bad value, really").count(),
        4
    );
    assert!(d.join("y_vs_x.svg").exists());
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn experiment_bad_files_name_the_key() {
    assert_eq!(bad("[base]\na = 1\n"), "experiment");
    assert_eq!(bad("[experiment]\nsystem = 's'\n"), "experiment.name");
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\nrepetitions = 0\n"),
        "experiment.repetitions"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\nreps = 2\n"),
        "experiment.reps"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='x'\nvalues=[1]\nlinspace=[0,1,3]\n"),
        "sweep[1].linspace"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='x'\nlinspace=[0,1,0]\n"),
        "sweep[1].linspace"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='x'\nlogspace=[0,1]\n"),
        "sweep[1].logspace"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='x'\n"),
        "sweep[1].values"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkeys=['a','b']\nvalues=[[1,2],[3]]\n"),
        "sweep[1].values"
    );
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[[sweep]]\nkey='x'\nvalues=[1]\n[[sweep]]\nkey='x'\nvalues=[2]\n"),
        "sweep[2].key"
    );
    assert_eq!(
        bad(&TOY.replace("[plot]", "[plot]\ncolour = 1")),
        "plot.colour"
    );
    assert_eq!(
        bad(&TOY.replace("series = \"label\"", "series = \"b\"")),
        "plot.series"
    );
    assert_eq!(bad(&TOY.replace("y = \"y\"", "")), "plot.y");
    assert_eq!(
        bad("[experiment]\nname='n'\nsystem='s'\n[bse]\na=1\n"),
        "bse"
    );
    let e = ExperimentConfig::from_toml_str("[experiment\nname = 1").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 1") && !msg.contains('\n'), "{msg}");
}

#[test]
fn experiment_plots_written() {
    let src = TOY.replace("[plot]", "[[plot]]")
        + "\n[[plot]]\nname = \"both\"\nx = \"x\"\nys = [\"y\", \"y2\"]\nlog_y = true\n";
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    assert_eq!(c.plots.len(), 2);
    let d = tmpdir("plots");
    let s = run_experiment(&c, &Toy::new(), &opts(&d, None)).unwrap();
    for stem in ["y_vs_x", "both"] {
        let svg = d.join(format!("{stem}.svg"));
        let png = d.join(format!("{stem}.png"));
        assert!(s.files.contains(&svg) && s.files.contains(&png));
        let svg_text = std::fs::read_to_string(&svg).unwrap();
        let png_bytes = std::fs::read(&png).unwrap();
        assert!(png_bytes.len() > 1000);
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        if stem == "y_vs_x" {
            assert!(
                svg_text.contains("slow") && svg_text.contains("fast"),
                "series names in legend"
            );
            assert!(svg_text.contains("input x") && svg_text.contains("output y"));
            assert!(svg_text.contains("Toy experiment"));
        } else {
            assert!(
                svg_text.contains("y (a=1, label=slow)")
                    && svg_text.contains("y2 (a=3, label=fast)"),
                "{svg_text}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn experiment_plot_lines_with_gaps() {
    let d = tmpdir("lines");
    let style = PlotStyle {
        title: Some("gaps".into()),
        x_label: "snr (dB)".into(),
        y_label: "CRB".into(),
        log_x: false,
        log_y: true,
        ..PlotStyle::default()
    };
    let series = vec![
        Series::new(
            "alpha",
            vec![
                (0.0, Some(1e-3)),
                (1.0, None),
                (2.0, Some(1e-4)),
                (3.0, Some(2e-5)),
            ],
        ),
        Series::new(
            "beta",
            vec![(0.0, Some(0.0)), (1.0, Some(f64::NAN)), (2.0, Some(1e-2))],
        ),
        Series::new("empty", vec![]),
    ];
    let files = plot_lines(&d.join("sub").join("fig"), &style, &series).unwrap();
    assert_eq!(files.len(), 2);
    let svg = std::fs::read_to_string(&files[0]).unwrap();
    for n in ["alpha", "beta", "empty", "snr (dB)"] {
        assert!(svg.contains(n), "{n}");
    }
    let png = std::fs::read(&files[1]).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    // All gaps: still a (blank) figure, no error.
    let files = plot_lines(
        &d.join("blank"),
        &PlotStyle::default(),
        &[Series::new("x", vec![(1.0, None)])],
    )
    .unwrap();
    assert!(std::fs::metadata(&files[1]).unwrap().len() > 0);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn experiment_csv_field_quoting() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    assert_eq!(
        rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00.000Z"
    );
}

#[test]
fn experiment_log_tick_labels() {
    assert_eq!(ensure_log_tick(1e-6), "1e-6");
    assert_eq!(ensure_log_tick(2.5e-5), "2.5e-5");
    assert_eq!(ensure_log_tick(0.01), "0.01");
    assert_eq!(ensure_log_tick(0.30000000000000004), "0.3");
    assert_eq!(ensure_log_tick(100.0), "100");
    assert_eq!(ensure_log_tick(1e5), "1e5");
}

fn ensure_log_tick(v: f64) -> String {
    log_tick(&v)
}

#[test]
fn experiment_plot_series_means_and_gaps() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let points = c.points();
    let mut rows = vec![];
    for p in &points {
        let x = p.get("x").unwrap().as_float().unwrap();
        for r in 0..2 {
            let mut m = Metrics::new();
            let infeasible = x == 1.0 || (x == 0.5 && r == 1);
            m.insert(
                "status".into(),
                if infeasible { "infeasible" } else { "optimal" }.into(),
            );
            // An infeasible row may still carry a number: it must be ignored.
            m.insert(
                "y".into(),
                (x + 2.0 * r as f64 + if infeasible { 100.0 } else { 0.0 }).into(),
            );
            rows.push(Row {
                point: p.index,
                repetition: r,
                seed: 0,
                metrics: m,
                seconds: 0.0,
            });
        }
    }
    let (style, series) = plot_series(&c, &c.plots[0], &points, &rows);
    assert_eq!(style.x_label, "input x");
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].name, "slow");
    assert_eq!(series[1].name, "fast");
    let want = vec![
        (0.0, Some(1.0)),
        (0.25, Some(1.25)),
        (0.5, Some(0.5)),
        (0.75, Some(1.75)),
        (1.0, None),
    ];
    assert_eq!(series[0].points, want);
    // rows = "all": the infeasible repetitions count too (rates of an outcome)
    let mut all = c.plots[0].clone();
    all.all_rows = true;
    let (_, series) = plot_series(&c, &all, &points, &rows);
    assert_eq!(series[0].points[4], (1.0, Some(102.0)));
    assert_eq!(series[0].points[2], (0.5, Some(51.5)));
}

#[test]
fn experiment_plot_rows_key() {
    let src = TOY.replace("[plot]", "[plot]\nrows = \"all\"");
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    assert!(c.plots[0].all_rows);
    let key = bad(&TOY.replace("[plot]", "[plot]\nrows = \"some\""));
    assert_eq!(key, "plot.rows");
}

#[test]
fn experiment_plot_legend_names_the_metrics() {
    // one metric: the legend name replaces the metric and keeps the series value
    let src = TOY.replace("[plot]", "[plot]\nlegend = [\"RMSE\"]");
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    let points = c.points();
    let (_, series) = plot_series(&c, &c.plots[0], &points, &[]);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["RMSE (slow)", "RMSE (fast)"]);
    // one name per metric, or a named error
    let key = bad(&TOY.replace("[plot]", "[plot]\nlegend = [\"a\", \"b\"]"));
    assert_eq!(key, "plot.legend");
    let key = bad(&TOY.replace("[plot]", "[plot]\nlegend = [1.0]"));
    assert_eq!(key, "plot.legend");
}

#[test]
fn experiment_plot_value_names_label_the_series() {
    let src = TOY.replace(
        "y_label = \"output y\"",
        "y_label = \"output y\"\n[plot.value_names.label]\nslow = \"Slow scheme\"",
    );
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    let points = c.points();
    let (_, series) = plot_series(&c, &c.plots[0], &points, &[]);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    // a named value shows its name; an unnamed one its value, without the key prefix
    assert_eq!(names, ["Slow scheme", "fast"]);
    let bad_key = TOY.replace(
        "y_label = \"output y\"",
        "y_label = \"output y\"\n[plot.value_names.colour]\nred = \"Red\"",
    );
    assert_eq!(bad(&bad_key), "plot.value_names.colour");
    // `only` keeps the points of the listed values
    let src = TOY.replace(
        "y_label = \"output y\"",
        "y_label = \"output y\"\n[plot.only]\nlabel = [\"fast\"]",
    );
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    let (_, series) = plot_series(&c, &c.plots[0], &c.points(), &[]);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fast"]);
    let bad_only = TOY.replace(
        "y_label = \"output y\"",
        "y_label = \"output y\"\n[plot.only]\nlabel = []",
    );
    assert_eq!(bad(&bad_only), "plot.only.label");
}

#[test]
fn experiment_plot_along_traces_a_parametric_curve() {
    // x and y both metrics, joined in the order of the swept `x` (a front over a weight):
    // `u` first falls then rises along `x`, so ordering by `u` would fold the curve
    let src = TOY.replace(
        "x = \"x\"\ny = \"y\"",
        "x = \"u\"\ny = \"y\"\nalong = \"x\"",
    );
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    assert_eq!(c.plots[0].along.as_deref(), Some("x"));
    let points = c.points();
    let mut rows = vec![];
    for p in &points {
        let x = p.get("x").unwrap().as_float().unwrap();
        let mut m = Metrics::new();
        m.insert("status".into(), "optimal".into());
        m.insert("u".into(), ((x - 0.5) * (x - 0.5)).into());
        m.insert("y".into(), x.into());
        rows.push(Row {
            point: p.index,
            repetition: 0,
            seed: 0,
            metrics: m,
            seconds: 0.0,
        });
    }
    let (_, series) = plot_series(&c, &c.plots[0], &points, &rows);
    // `x` traces the lines: still one line per label, not one per value of `x`
    assert_eq!(series.len(), 2);
    let ys: Vec<f64> = series[0].points.iter().map(|q| q.1.unwrap()).collect();
    assert_eq!(ys, [0.0, 0.25, 0.5, 0.75, 1.0]);
    let us: Vec<f64> = series[0].points.iter().map(|q| q.0).collect();
    assert_eq!(us, [0.25, 0.0625, 0.0, 0.0625, 0.25]);
    // without `along`, the same plot is ordered by `u` and the sweep of `x` splits lines
    let mut plain = c.plots[0].clone();
    plain.along = None;
    let (_, series) = plot_series(&c, &plain, &points, &rows);
    assert!(series.len() > 2);
    // `along` must be a swept key other than x and the series
    let wrong = TOY.replace(
        "x = \"x\"\ny = \"y\"",
        "x = \"u\"\ny = \"y\"\nalong = \"alpha\"",
    );
    assert_eq!(bad(&wrong), "plot.along");
    let wrong = TOY.replace("[plot]", "[plot]\nalong = \"label\"");
    assert_eq!(bad(&wrong), "plot.along");
    let wrong = TOY.replace(
        "y_label = \"output y\"",
        "y_label = \"output y\"\n[plot.only]\ncolour = [\"red\"]",
    );
    assert_eq!(bad(&wrong), "plot.only.colour");
}

struct Panicky;
impl InstanceSolver for Panicky {
    fn solve_instance(&self, t: &toml::Table) -> Result<Metrics> {
        if f(t, "x")? == 0.25 {
            panic!("boom at 0.25");
        }
        Toy::new().solve_instance(t)
    }
}

#[test]
fn experiment_solver_panic_is_an_error_row() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let d = tmpdir("panic");
    let s = run_experiment(&c, &Panicky, &opts(&d, Some(2))).unwrap();
    assert_eq!((s.rows, s.errors), (20, 4));
    let csv = std::fs::read_to_string(d.join("results.csv")).unwrap();
    assert_eq!(csv.matches("solver panicked: boom at 0.25").count(), 4);
    let _ = std::fs::remove_dir_all(d);
}

/// The error of an experiment file, which must name `key`.
fn config_error(src: &str, key: &str) -> String {
    let e = ExperimentConfig::from_toml_str(src)
        .expect_err("the file must be rejected")
        .to_string();
    assert!(e.contains(&format!("`{key}`")), "must name {key}: {e}");
    e
}

const HEAD: &str = "[experiment]\nname = \"bounds\"\nsystem = \"toy\"\n";

#[test]
fn sweep_counts_must_be_positive_integers() {
    // a count written as a float (1e12 is a float in TOML), NaN, a fraction, a negative
    // or zero integer: each is rejected by name, not truncated or allocated
    for n in ["1e12", "nan", "2.5", "3.0", "-4", "0", "inf"] {
        for gen in ["linspace", "logspace"] {
            let src = format!("{HEAD}[[sweep]]\nkey = \"x\"\n{gen} = [0, 1, {n}]\n");
            config_error(&src, &format!("sweep[1].{gen}"));
        }
    }
}

#[test]
fn sweeps_grids_and_rows_are_bounded() {
    let max = isac::experiment::MAX_SWEEP_VALUES;
    // one sweep over the limit, as an integer count (would otherwise allocate 1e12 floats)
    let src = format!("{HEAD}[[sweep]]\nkey = \"x\"\nlinspace = [0, 1, 1000000000000]\n");
    let e = config_error(&src, "sweep[1].linspace");
    assert!(e.contains(&max.to_string()), "{e}");
    // exactly at the limit is accepted (and nothing is solved by parsing)
    let src = format!("{HEAD}[[sweep]]\nkey = \"x\"\nlinspace = [0, 1, {max}]\n");
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    assert_eq!(c.num_points(), max);
    // the grid: two sweeps of 1001 values make 1002001 points > 1e6, named at sweep 2
    let src = format!(
        "{HEAD}[[sweep]]\nkey = \"x\"\nlinspace = [0, 1, 1001]\n[[sweep]]\nkey = \"y\"\nlinspace = [0, 1, 1001]\n"
    );
    let e = config_error(&src, "sweep[2]");
    assert!(e.contains("1002001"), "{e}");
    // eight sweeps of 1000 values (1e24 points, beyond usize): named at the first sweep
    // that crosses the limit, 1000^3
    let mut src = HEAD.to_string();
    for k in 0..8 {
        src.push_str(&format!(
            "[[sweep]]\nkey = \"k{k}\"\nlinspace = [0, 1, 1000]\n"
        ));
    }
    let e = config_error(&src, "sweep[3]");
    assert!(e.contains("1000000000 points"), "{e}");
    // points x repetitions: 1000 points x 1001 repetitions
    let src = "[experiment]\nname = \"b\"\nsystem = \"toy\"\nrepetitions = 1001\n[[sweep]]\nkey = \"x\"\nlinspace = [0, 1, 1000]\n";
    let e = config_error(src, "experiment.repetitions");
    assert!(e.contains("1001000 rows"), "{e}");
    // 1000 x 1000 = 1e6 rows is the limit itself: accepted
    let src = src.replace("repetitions = 1001", "repetitions = 1000");
    assert!(ExperimentConfig::from_toml_str(&src).is_ok());
}

#[test]
fn repetitions_must_be_a_bounded_positive_integer() {
    for r in [
        "1000000000000",
        "1e9",
        "2.5",
        "nan",
        "-1",
        "0",
        "\"3\"",
        "9223372036854775807",
    ] {
        let src = format!("[experiment]\nname = \"b\"\nsystem = \"toy\"\nrepetitions = {r}\n");
        config_error(&src, "experiment.repetitions");
    }
    let src = "[experiment]\nname = \"b\"\nsystem = \"toy\"\nrepetitions = 1000000\n";
    assert_eq!(
        ExperimentConfig::from_toml_str(src).unwrap().repetitions,
        1_000_000
    );
}

#[test]
fn explicit_value_lists_are_bounded() {
    let max = isac::experiment::MAX_SWEEP_VALUES;
    let values: Vec<String> = (0..=max).map(|i| i.to_string()).collect();
    let src = format!(
        "{HEAD}[[sweep]]\nkey = \"x\"\nvalues = [{}]\n",
        values.join(",")
    );
    let e = config_error(&src, "sweep[1].values");
    assert!(e.contains(&format!("{}", max + 1)), "{e}");
}

/// `markers_by`: one key's value picks the line style, the others the colour, so that
/// lines with equal values of the other keys share a colour; axis ranges pass through,
/// and bad ones name their key.
#[test]
fn experiment_plot_markers_by_and_ranges() {
    let src = TOY
        .replace(
            "[[sweep]]\nkey = \"x\"",
            "[[sweep]]\nkey = \"b\"\nvalues = [1, 2]\n\n[[sweep]]\nkey = \"x\"",
        )
        .replace(
            "series = \"label\"",
            "series = [\"label\", \"b\"]\nmarkers_by = \"label\"\nx_range = [0.0, 2.0]\ny_range = [0.5, 3]",
        );
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    let (style, series) = plot_series(&c, &c.plots[0], &c.points(), &[]);
    assert_eq!(style.x_range, Some((0.0, 2.0)));
    assert_eq!(style.y_range, Some((0.5, 3.0)));
    let looks: Vec<(String, (usize, usize))> = series
        .iter()
        .map(|s| (s.name.clone(), s.look.unwrap()))
        .collect();
    assert_eq!(looks.len(), 4, "{looks:?}");
    for (name, (colour, shape)) in &looks {
        let want_shape = usize::from(name.contains("fast"));
        let want_colour = usize::from(name.contains("b=2"));
        assert_eq!((*colour, *shape), (want_colour, want_shape), "{looks:?}");
    }
    // without markers_by every line has the default look
    let (_, plain) = plot_series(
        &c,
        &{
            let mut p = c.plots[0].clone();
            p.markers_by = None;
            p
        },
        &c.points(),
        &[],
    );
    assert!(plain.iter().all(|s| s.look.is_none()));
    // named errors
    let with = |k: &str, v: &str| src.replace("markers_by = \"label\"", &format!("{k} = {v}"));
    assert_eq!(bad(&with("markers_by", "\"x\"")), "plot.markers_by");
    let range = |v: &str| src.replace("x_range = [0.0, 2.0]", &format!("x_range = {v}"));
    assert_eq!(bad(&range("[2.0, 1.0]")), "plot.x_range");
    assert_eq!(bad(&range("[1.0]")), "plot.x_range");
    assert_eq!(bad(&range("[0.0, \"2\"]")), "plot.x_range");
    let log = with("log_y", "true").replace("y_range = [0.5, 3]", "y_range = [0.0, 3]");
    assert_eq!(bad(&log), "plot.y_range");
}

/// A journal written by another build of isac is not resumed (the code that computes a
/// metric may have changed): the run starts over, and the manifest names the build.
#[test]
fn experiment_journal_of_another_build_is_not_reused() {
    let c = ExperimentConfig::from_toml_str(TOY).unwrap();
    let d = tmpdir("otherbuild");
    run_experiment(&c, &Toy::new(), &opts(&d, Some(1))).unwrap();
    let journal = d.join("results.partial.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_str(head).unwrap();
    assert_eq!(h["build"], isac::BUILD);
    // the same build resumes everything
    let toy = Toy::new();
    let s = run_experiment(&c, &toy, &opts(&d, Some(1))).unwrap();
    assert_eq!((toy.calls(), s.reused), (0, 20));
    // another build starts over
    h["build"] = "0123456789ab".into();
    std::fs::write(&journal, format!("{h}\n{rest}")).unwrap();
    let toy = Toy::new();
    let s = run_experiment(&c, &toy, &opts(&d, Some(1))).unwrap();
    assert_eq!((toy.calls(), s.reused, s.solved), (20, 0, 20));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["isac_build"], isac::BUILD);
    let _ = std::fs::remove_dir_all(d);
}

/// A convergence plot (`history = true`): one line per point, the mean over its
/// repetitions of a history field at each iteration (a repetition whose history is
/// shorter stops contributing); the histories go to history.csv, not results.csv.
#[test]
fn experiment_history_plot_and_csv() {
    let src = TOY
        .replace(
            "x = \"x\"\ny = \"y\"",
            "history = true\nx = \"iteration\"\ny = \"objective\"",
        )
        .replace("linspace = [0.0, 1.0, 5]", "values = [0.5]");
    let c = ExperimentConfig::from_toml_str(&src).unwrap();
    assert!(c.plots[0].history);
    let points = c.points();
    assert_eq!(points.len(), 2);
    let mut rows = vec![];
    for p in &points {
        for rep in 0..2 {
            // repetition 0: objective 10, 5, 2; repetition 1: 20, 7 (shorter)
            let h: Vec<f64> = if rep == 0 {
                vec![10.0, 5.0, 2.0]
            } else {
                vec![20.0, 7.0]
            };
            let scale = if p.index == 0 { 1.0 } else { 2.0 };
            let mut m = Metrics::new();
            m.insert("status".into(), "solved".into());
            m.insert(
                HISTORY.into(),
                serde_json::json!(h
                    .iter()
                    .enumerate()
                    .map(|(i, v)| serde_json::json!({"iteration": i, "objective": v * scale}))
                    .collect::<Vec<_>>()),
            );
            rows.push(Row {
                point: p.index,
                repetition: rep,
                seed: 0,
                metrics: m,
                seconds: 0.0,
            });
        }
    }
    let (_, series) = plot_series(&c, &c.plots[0], &points, &rows);
    assert_eq!(series.len(), 2);
    let line: Vec<(f64, Option<f64>)> = series[0].points.clone();
    assert_eq!(
        line,
        [(0.0, Some(15.0)), (1.0, Some(6.0)), (2.0, Some(2.0))]
    );
    assert_eq!(series[1].points[0], (0.0, Some(30.0)));
    let csv = results_csv(&c, &points, &rows);
    assert!(
        !csv.contains("history") && !csv.contains("objective"),
        "{csv}"
    );
    let h = history_csv(&c, &points, &rows).unwrap();
    let lines: Vec<&str> = h.lines().collect();
    assert_eq!(
        lines[0],
        "point,repetition,seed,a,label,x,iteration,objective"
    );
    assert_eq!(lines.len(), 1 + 2 * (3 + 2));
    assert_eq!(lines[1], "0,0,0,1,slow,0.5,0,10.0");
    assert_eq!(lines[4], "0,1,0,1,slow,0.5,0,20.0");
    // no history anywhere: no history.csv
    let plain: Vec<Row> = rows
        .iter()
        .cloned()
        .map(|mut r| {
            r.metrics.remove(HISTORY);
            r
        })
        .collect();
    assert!(history_csv(&c, &points, &plain).is_none());
    // a history plot's x is the iteration
    let wrong = src.replace("x = \"iteration\"", "x = \"x\"");
    assert_eq!(bad(&wrong), "plot.x");
}

/// `history.csv` as the runner wrote it before records metrics were generalised: the
/// reference that [`history_csv`] must still reproduce byte for byte.
fn history_csv_before(c: &ExperimentConfig, points: &[Point], rows: &[Row]) -> Option<String> {
    let records = |r: &Row| -> Vec<serde_json::Value> {
        r.metrics
            .get(HISTORY)
            .and_then(|h| h.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\n"
    };
    let mut fields: Vec<String> = vec![];
    for r in rows {
        for rec in records(r) {
            for k in rec.as_object().into_iter().flat_map(|o| o.keys()) {
                if k != "iteration" && !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
    }
    if rows.iter().all(|r| records(r).is_empty()) {
        return None;
    }
    let sweep_keys = c.sweep_keys();
    let mut header: Vec<String> = vec!["point".into(), "repetition".into(), "seed".into()];
    header.extend(sweep_keys.iter().cloned());
    header.push("iteration".into());
    header.extend(fields.iter().cloned());
    let mut out = line(&header);
    for r in rows {
        let mut key = vec![
            r.point.to_string(),
            r.repetition.to_string(),
            r.seed.to_string(),
        ];
        for k in &sweep_keys {
            key.push(points[r.point].get(k).map(value_text).unwrap_or_default());
        }
        for (i, rec) in records(r).iter().enumerate() {
            let mut cells = key.clone();
            cells.push(
                rec.get("iteration")
                    .map(cell)
                    .unwrap_or_else(|| i.to_string()),
            );
            for f in &fields {
                cells.push(rec.get(f).map(cell).unwrap_or_default());
            }
            out.push_str(&line(&cells));
        }
    }
    Some(out)
}

/// TOY with two points (label slow / fast at x = 0.5) and the given plots.
fn records_experiment(plots: &str) -> String {
    let head = TOY
        .replace("linspace = [0.0, 1.0, 5]", "values = [0.5]")
        .replace("threshold = 0.75", "threshold = 0.75\nunit = 1");
    let head = &head[..head.find("[plot]").unwrap()];
    format!("{head}{plots}")
}

/// The metrics of a design with records: a beampattern over a 3 x 2 grid of (angle,
/// range) (one cell null), targets to mark, a history, and a list of numbers (a plain
/// metric). `scale` moves the gains of a point, `rep` those of a repetition.
fn records_metrics_of(scale: f64, rep: usize) -> Metrics {
    use serde_json::json;
    let mut beampattern = vec![];
    for range in [1.0, 2.0] {
        for angle in [-1.0, 0.0, 1.0] {
            let gain = if angle == 1.0 && range == 2.0 {
                serde_json::Value::Null
            } else {
                json!(scale * (10.0 * range + angle) + rep as f64)
            };
            // fields in the order: angle, gain, range (a JSON object's keys are sorted)
            beampattern.push(json!({"angle": angle, "range": range, "gain": gain}));
        }
    }
    let mut m = Metrics::new();
    m.insert("status".into(), "optimal".into());
    m.insert("y".into(), (scale + rep as f64).into());
    m.insert("beampattern".into(), json!(beampattern));
    m.insert(
        "targets".into(),
        json!([
            {"angle": 0.0, "range": 1.0, "object": "target-A"},
            {"angle": -1.0, "range": 2.0, "object": "clutter-B", "rcs": 0.5},
        ]),
    );
    m.insert(
        HISTORY.into(),
        json!([{"iteration": 0, "objective": 3.0 * scale}, {"iteration": 1, "objective": scale, "gap": "a, b"}]),
    );
    m.insert("trace".into(), json!([1.0, 2.0]));
    m
}

fn records_rows(points: &[Point], reps: usize) -> Vec<Row> {
    let mut rows = vec![];
    for p in points {
        for rep in 0..reps {
            rows.push(Row {
                point: p.index,
                repetition: rep,
                seed: 10 * p.index as u64 + rep as u64,
                metrics: records_metrics_of(1.0 + p.index as f64, rep),
                seconds: 0.0,
            });
        }
    }
    rows
}

/// Records metrics (lists of objects) get a CSV of their own, with the fields of the
/// records as columns and one line per record per row, and no column in results.csv;
/// `history.csv` is byte for byte what the runner wrote before.
#[test]
fn experiment_records_metrics_get_their_own_csv() {
    let c = ExperimentConfig::from_toml_str(&records_experiment("")).unwrap();
    let points = c.points();
    let rows = records_rows(&points, 2);
    assert_eq!(
        records_metrics(&rows),
        ["beampattern", "history", "targets"]
    );
    let csv = results_csv(&c, &points, &rows);
    let header = csv.lines().next().unwrap();
    assert_eq!(header, "point,repetition,seed,a,label,x,status,trace,y");
    let bp = records_csv(&c, &points, &rows, "beampattern").unwrap();
    let lines: Vec<&str> = bp.lines().collect();
    // no `iteration` column: the records have no such field
    assert_eq!(lines[0], "point,repetition,seed,a,label,x,angle,gain,range");
    assert_eq!(lines.len(), 1 + 2 * 2 * 6);
    assert_eq!(lines[1], "0,0,0,1,slow,0.5,-1.0,9.0,1.0");
    assert_eq!(lines[6], "0,0,0,1,slow,0.5,1.0,,2.0");
    assert_eq!(lines[7], "0,1,1,1,slow,0.5,-1.0,10.0,1.0");
    assert_eq!(lines[24], "1,1,11,3,fast,0.5,1.0,,2.0");
    // fields in order of first appearance; a field some records lack is an empty cell
    let targets = records_csv(&c, &points, &rows, "targets").unwrap();
    let lines: Vec<&str> = targets.lines().collect();
    assert_eq!(
        lines[0],
        "point,repetition,seed,a,label,x,angle,object,range,rcs"
    );
    assert_eq!(lines[1], "0,0,0,1,slow,0.5,0.0,target-A,1.0,");
    assert_eq!(lines[2], "0,0,0,1,slow,0.5,-1.0,clutter-B,2.0,0.5");
    assert_eq!(lines.len(), 1 + 4 * 2);
    // a metric nobody has records of: no file
    assert!(records_csv(&c, &points, &rows, "trace").is_none());
    assert!(records_csv(&c, &points, &rows, "nothing").is_none());

    // history.csv: as before, on rows that exercise its corners (an `iteration` field
    // or not, fields that appear late, quoting, nulls, a row without history)
    let mut odd = rows.clone();
    odd[1].metrics.insert(
        HISTORY.into(),
        serde_json::json!([{"objective": 1.5}, {"objective": null, "step": "x\"y"}]),
    );
    odd[2].metrics.remove(HISTORY);
    odd[3].metrics.insert(HISTORY.into(), serde_json::json!([]));
    for set in [&rows, &odd] {
        let now = history_csv(&c, &points, set).unwrap();
        assert_eq!(Some(now.clone()), history_csv_before(&c, &points, set));
        assert_eq!(Some(now), records_csv(&c, &points, set, HISTORY));
    }
    let h = history_csv(&c, &points, &odd).unwrap();
    assert!(h.starts_with("point,repetition,seed,a,label,x,iteration,objective,gap,step\n"));
    assert!(h.contains("\n0,1,1,1,slow,0.5,1,,,\"x\"\"y\"\n"), "{h}");
}

/// A solver whose designs carry records: the runner writes one CSV per records metric,
/// lists it in the manifest, and draws record line plots and heatmaps.
struct RecordsToy;
impl InstanceSolver for RecordsToy {
    fn solve_instance(&self, t: &toml::Table) -> Result<Metrics> {
        let a = f(t, "a")?;
        let seed = f(t, "seed")?;
        Ok(records_metrics_of(a, (seed as u64 % 3) as usize))
    }
}

const RECORD_PLOTS: &str = r#"
[[plot]]
name = "convergence"
history = true
x = "iteration"
y = "objective"
series = "label"

[[plot]]
name = "cut"
records = "beampattern"
x = "angle"
y = "gain"

[[plot]]
name = "maps"
kind = "heatmap"
records = "beampattern"
x = "angle"
y = "range"
z = "gain"
marks = "targets"
columns = 2
z_label = "gain (dB)"
series = "label"
[plot.value_names.label]
slow = "Slow scheme"
"#;

#[test]
fn experiment_records_files_and_plots_are_written() {
    let c = ExperimentConfig::from_toml_str(&records_experiment(RECORD_PLOTS)).unwrap();
    assert_eq!(c.plots[0].records.as_deref(), Some("history"));
    assert_eq!(c.plots[2].kind, PlotKind::Heatmap);
    assert_eq!(c.plots[2].mark_label, "object");
    let d = tmpdir("records");
    let s = run_experiment(&c, &RecordsToy, &opts(&d, Some(1))).unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for file in [
        "results.csv",
        "beampattern.csv",
        "history.csv",
        "targets.csv",
        "convergence.svg",
        "cut.png",
        "maps.svg",
        "maps.png",
        "manifest.json",
    ] {
        assert!(listed.contains(&file), "{file} in {listed:?}");
        assert!(s.files.contains(&d.join(file)), "{file}");
        assert!(std::fs::metadata(d.join(file)).unwrap().len() > 0, "{file}");
    }
    assert!(!d.join("trace.csv").exists());
    let results = std::fs::read_to_string(d.join("results.csv")).unwrap();
    assert!(!results.contains("beampattern") && !results.contains("target-A"));
    let bp = std::fs::read_to_string(d.join("beampattern.csv")).unwrap();
    assert_eq!(bp.lines().count(), 1 + 2 * 2 * 6);
    let svg = std::fs::read_to_string(d.join("maps.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
    for text in ["Slow scheme", "fast", "target-A", "clutter-B", "gain (dB)"] {
        assert!(svg.contains(text), "{text}");
    }
    let _ = std::fs::remove_dir_all(d);
}

/// A record line plot: one line per point, x from the records' own field, y the mean
/// over the repetitions record by record; `history = true` is `records = "history"`.
#[test]
fn experiment_record_line_plot_means_over_repetitions() {
    let c = ExperimentConfig::from_toml_str(&records_experiment(RECORD_PLOTS)).unwrap();
    let points = c.points();
    let mut rows = records_rows(&points, 2);
    // repetition 1 of point 0 has a shorter beampattern: index 5 (a null gain in the
    // other repetition too) has no value there
    let short: Vec<serde_json::Value> =
        rows[1].metrics["beampattern"].as_array().unwrap()[..4].to_vec();
    rows[1]
        .metrics
        .insert("beampattern".into(), serde_json::json!(short));
    let cut = &c.plots[1];
    assert_eq!(cut.records.as_deref(), Some("beampattern"));
    let (style, series) = plot_series(&c, cut, &points, &rows);
    assert_eq!(
        (style.x_label.as_str(), style.y_label.as_str()),
        ("angle", "gain")
    );
    // no `series`: the lines are told apart by the swept keys, as in any line plot
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a=1, label=slow", "a=3, label=fast"]);
    // point 0: gain 10 * range + angle, + 1 in repetition 1
    let want = [
        (-1.0, Some(9.5)),
        (0.0, Some(10.5)),
        (1.0, Some(11.5)),
        (-1.0, Some(19.5)),
        (0.0, Some(20.0)),
        (1.0, None),
    ];
    assert_eq!(series[0].points, want);
    // point 1 (scale 2): 2 * (10 * range + angle), + 0.5 on average
    assert_eq!(series[1].points[0], (-1.0, Some(18.5)));
    assert_eq!(series[1].points.len(), 6);
    // the history plot: x is the records' own `iteration`
    let (_, series) = plot_series(&c, &c.plots[0], &points, &rows);
    assert_eq!(series[1].points, [(0.0, Some(6.0)), (1.0, Some(2.0))]);
    // x = "iteration" without such a field: the index
    let mut by_index = cut.clone();
    by_index.x = "iteration".into();
    let (_, series) = plot_series(&c, &by_index, &points, &rows);
    let xs: Vec<f64> = series[0].points.iter().map(|p| p.0).collect();
    assert_eq!(xs, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    // another missing field: no points
    let mut missing = cut.clone();
    missing.x = "elevation".into();
    let (_, series) = plot_series(&c, &missing, &points, &rows);
    assert!(series.iter().all(|s| s.points.is_empty()));
}

/// Heatmap panels from rows: one per point passing `only`, the first repetition's grid,
/// titles as line names (or the swept assignments without `series`), the marks; the
/// figure is a parseable SVG with the titles and labels, and a PNG.
#[test]
fn experiment_heatmap_panels_and_figure() {
    let c = ExperimentConfig::from_toml_str(&records_experiment(RECORD_PLOTS)).unwrap();
    let points = c.points();
    let rows = records_rows(&points, 2);
    let spec = &c.plots[2];
    let (style, panels) = heatmap_panels(&c, spec, &points, &rows).unwrap();
    assert_eq!(style.columns, 2);
    assert_eq!(style.z_label, "gain (dB)");
    assert_eq!(style.x_label, "angle");
    let titles: Vec<&str> = panels.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Slow scheme", "fast"]);
    let p = &panels[1];
    assert_eq!(p.xs, [-1.0, 0.0, 1.0]);
    assert_eq!(p.ys, [1.0, 2.0]);
    // repetition 0 of point 1: 2 * (10 * range + angle), row-major over range then angle
    assert_eq!(
        p.z,
        [
            Some(18.0),
            Some(20.0),
            Some(22.0),
            Some(38.0),
            Some(40.0),
            None
        ]
    );
    assert_eq!(
        p.marks,
        [
            (0.0, 1.0, "target-A".to_string()),
            (-1.0, 2.0, "clutter-B".to_string())
        ]
    );
    // no series: the point's swept assignments; `only` keeps the listed points
    let src = records_experiment(RECORD_PLOTS).replace(
        "series = \"label\"\n[plot.value_names.label]\nslow = \"Slow scheme\"\n",
        "[plot.only]\nlabel = [\"fast\"]\n",
    );
    let c2 = ExperimentConfig::from_toml_str(&src).unwrap();
    let (_, only) = heatmap_panels(&c2, &c2.plots[2], &points, &rows).unwrap();
    let titles: Vec<&str> = only.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["a=3, label=fast, x=0.5"]);

    let d = tmpdir("heatmap");
    let mut panels = panels;
    panels.push(HeatmapPanel {
        title: "empty panel".into(),
        xs: vec![],
        ys: vec![],
        z: vec![],
        marks: vec![],
    });
    let style = HeatmapStyle {
        title: Some("Beampatterns".into()),
        ..style
    };
    let files = plot_heatmaps(&d.join("sub").join("maps"), &style, &panels).unwrap();
    assert_eq!(files.len(), 2);
    let svg = std::fs::read_to_string(&files[0]).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in [
        "Beampatterns",
        "Slow scheme",
        "fast",
        "empty panel",
        "target-A",
        "clutter-B",
        "gain (dB)",
        "angle",
        "range",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    let png = std::fs::read(&files[1]).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 1000);
    // a cell count that does not match the grid is an error, not a panic
    let bad_panel = HeatmapPanel {
        title: "t".into(),
        xs: vec![0.0, 1.0],
        ys: vec![0.0],
        z: vec![Some(1.0)],
        marks: vec![],
    };
    assert!(plot_heatmaps(&d.join("bad"), &HeatmapStyle::default(), &[bad_panel]).is_err());
    let _ = std::fs::remove_dir_all(d);
}

/// The new keys are validated by name.
#[test]
fn experiment_records_and_heatmap_keys_name_the_key() {
    let heat = "[[plot]]\nkind = \"heatmap\"\nrecords = \"beampattern\"\nx = \"angle\"\ny = \"range\"\nz = \"gain\"\n";
    assert!(ExperimentConfig::from_toml_str(&records_experiment(heat)).is_ok());
    let with = |extra: &str| records_experiment(&format!("{heat}{extra}\n"));
    let lines = "[[plot]]\nrecords = \"beampattern\"\nx = \"angle\"\ny = \"gain\"\n";
    let cases: Vec<(String, &str)> = vec![
        (records_experiment(&format!("{lines}z = \"gain\"\n")), "plot[1].z"),
        (records_experiment(&format!("{lines}columns = 2\n")), "plot[1].columns"),
        (records_experiment(&format!("{lines}z_range = [0, 1]\n")), "plot[1].z_range"),
        (records_experiment(&format!("{lines}kind = \"pie\"\n")), "plot[1].kind"),
        (records_experiment(&format!("{lines}records = \"\"\n").replacen("records = \"beampattern\"\n", "", 1)), "plot[1].records"),
        (records_experiment(&format!("{lines}records = 3\n").replacen("records = \"beampattern\"\n", "", 1)), "plot[1].records"),
        (
            records_experiment("[[plot]]\nhistory = true\nrecords = \"beampattern\"\nx = \"iteration\"\ny = \"objective\"\n"),
            "plot[1].records",
        ),
        (heat.replace("z = \"gain\"\n", ""), "plot[1].z"),
        (heat.replace("records = \"beampattern\"\n", ""), "plot[1].records"),
        (with("log_y = true"), "plot[1].log_y"),
        (with("along = \"x\""), "plot[1].along"),
        (with("history = true"), "plot[1].history"),
        (with("legend = [\"g\"]"), "plot[1].legend"),
        (heat.replace("y = \"range\"", "ys = [\"range\"]"), "plot[1].ys"),
        (with("columns = 0"), "plot[1].columns"),
        (with("z_range = [1, 0]"), "plot[1].z_range"),
        (with("mark_label = \"name\""), "plot[1].mark_label"),
        (with("marks = \"\""), "plot[1].marks"),
        (with("series = \"colour\""), "plot[1].series"),
    ];
    for (src, key) in cases {
        let src = if src.starts_with("[[plot]]") {
            records_experiment(&src)
        } else {
            src
        };
        assert_eq!(bad(&src), key, "{src}");
    }
    // a history plot keeps its x rule
    let h = "[[plot]]\nhistory = true\nrecords = \"history\"\nx = \"angle\"\ny = \"objective\"\n";
    assert_eq!(bad(&records_experiment(h)), "plot[1].x");
}
