//! What a solved instance reports: the JSON answer of `isac solve SYSTEM --json`, the human
//! summary, the flat metrics of an experiment row, and the helpers every system uses to
//! write numbers and matrices into them (one copy, so every system writes `null` for a
//! missing or non-finite number and the same `{"re", "im"}` layout for complex data).

use serde_json::{json, Value};

use crate::C64;

/// Flat, named metrics of one solved instance (one CSV row after the sweep keys).
pub type Metrics = serde_json::Map<String, Value>;

/// The answer of one instance: the full JSON object and the human summary lines.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Everything `isac solve SYSTEM --json` prints (status, metrics, design, data).
    pub json: Value,
    /// Lines `isac solve SYSTEM` prints, the first naming the system and the status.
    pub summary: Vec<String>,
}

/// A finite number as JSON, `null` otherwise (JSON has no NaN or infinity).
pub fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// An optional number as JSON: `null` when absent or not finite.
pub fn optional_number(x: Option<f64>) -> Value {
    x.map_or(Value::Null, number)
}

/// A power ratio in dB (`10 log10 x`), `null` when not finite (x <= 0).
pub fn decibels(x: f64) -> Value {
    number(10.0 * x.log10())
}

/// A real matrix as JSON rows.
pub fn real_matrix_json(m: &faer::Mat<f64>) -> Value {
    json!((0..m.nrows())
        .map(|r| (0..m.ncols())
            .map(|c| number(m[(r, c)]))
            .collect::<Vec<_>>())
        .collect::<Vec<_>>())
}

/// A complex matrix as JSON `{"re": [[..]], "im": [[..]]}` (rows first), the format every
/// system's answer uses for channels, beamformers and covariances.
pub fn complex_matrix_json(m: &faer::Mat<C64>) -> Value {
    let rows = |f: &dyn Fn(C64) -> f64| -> Vec<Vec<f64>> {
        (0..m.nrows())
            .map(|r| (0..m.ncols()).map(|c| f(m[(r, c)])).collect())
            .collect()
    };
    json!({"re": rows(&|z| z.re), "im": rows(&|z| z.im)})
}

/// A complex vector as JSON `{"re": [..], "im": [..]}`.
pub fn complex_vector_json(v: &[C64]) -> Value {
    json!({
        "re": v.iter().map(|z| z.re).collect::<Vec<_>>(),
        "im": v.iter().map(|z| z.im).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_numbers_are_null() {
        assert_eq!(number(f64::NAN), Value::Null);
        assert_eq!(number(f64::INFINITY), Value::Null);
        assert_eq!(optional_number(None), Value::Null);
        assert_eq!(optional_number(Some(2.5)), json!(2.5));
        assert_eq!(decibels(0.0), Value::Null);
        assert_eq!(decibels(100.0), json!(20.0));
    }

    #[test]
    fn complex_matrix_layout_is_rows_first() {
        let m = faer::Mat::from_fn(2, 3, |r, c| C64::new(r as f64, c as f64));
        let v = complex_matrix_json(&m);
        assert_eq!(v["re"][1][2], json!(1.0));
        assert_eq!(v["im"][1][2], json!(2.0));
        assert_eq!(v["re"].as_array().unwrap().len(), 2);
    }
}
