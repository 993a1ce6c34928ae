//! Typed reading of TOML input tables. Every failure names the key and what is allowed,
//! so the command line can print one clear line and exit with code 2.

use crate::error::{IsacError, Result};
use toml::{Table, Value};

/// A view on one input table with typed, validated getters.
pub struct Input<'a> {
    table: &'a Table,
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

impl<'a> Input<'a> {
    pub fn new(table: &'a Table) -> Self {
        Input { table }
    }

    pub fn table(&self) -> &Table {
        self.table
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    fn get(&self, key: &str) -> Result<&Value> {
        self.table
            .get(key)
            .ok_or_else(|| IsacError::input(key, "missing (required key)"))
    }

    /// A finite real number.
    pub fn f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key)?;
        let x = as_f64(v).ok_or_else(|| IsacError::input(key, "must be a number"))?;
        if !x.is_finite() {
            return Err(IsacError::input(
                key,
                "must be a finite number (not NaN or inf)",
            ));
        }
        Ok(x)
    }

    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        if self.has(key) {
            self.f64(key)
        } else {
            Ok(default)
        }
    }

    /// A finite real number in `[lo, hi]` (use infinities for one-sided ranges).
    pub fn f64_in(&self, key: &str, lo: f64, hi: f64) -> Result<f64> {
        let x = self.f64(key)?;
        check_range(key, x, lo, hi)?;
        Ok(x)
    }

    pub fn f64_in_or(&self, key: &str, lo: f64, hi: f64, default: f64) -> Result<f64> {
        let x = self.f64_or(key, default)?;
        check_range(key, x, lo, hi)?;
        Ok(x)
    }

    /// A strictly positive finite number.
    pub fn positive(&self, key: &str) -> Result<f64> {
        let x = self.f64(key)?;
        if x <= 0.0 {
            return Err(IsacError::input(key, format!("must be > 0, got {x}")));
        }
        Ok(x)
    }

    pub fn positive_or(&self, key: &str, default: f64) -> Result<f64> {
        if self.has(key) {
            self.positive(key)
        } else {
            Ok(default)
        }
    }

    /// An integer in `[lo, hi]`.
    pub fn usize_in(&self, key: &str, lo: usize, hi: usize) -> Result<usize> {
        let v = self.get(key)?;
        let i = match v {
            Value::Integer(i) => *i,
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i64,
            _ => {
                return Err(IsacError::input(
                    key,
                    format!("must be an integer in [{lo}, {hi}]"),
                ))
            }
        };
        if i < lo as i64 || i > hi as i64 {
            return Err(IsacError::input(
                key,
                format!("must be an integer in [{lo}, {hi}], got {i}"),
            ));
        }
        Ok(i as usize)
    }

    pub fn usize_in_or(&self, key: &str, lo: usize, hi: usize, default: usize) -> Result<usize> {
        if self.has(key) {
            self.usize_in(key, lo, hi)
        } else {
            Ok(default)
        }
    }

    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64> {
        if !self.has(key) {
            return Ok(default);
        }
        match self.get(key)? {
            Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            _ => Err(IsacError::input(key, "must be a non-negative integer")),
        }
    }

    /// A string from a fixed set of choices.
    pub fn choice(&self, key: &str, allowed: &[&str]) -> Result<String> {
        let v = self.get(key)?;
        let s = v
            .as_str()
            .ok_or_else(|| IsacError::input(key, format!("must be one of {}", quoted(allowed))))?;
        if !allowed.contains(&s) {
            return Err(IsacError::input(
                key,
                format!("unknown value \"{s}\"; allowed: {}", quoted(allowed)),
            ));
        }
        Ok(s.to_string())
    }

    pub fn choice_or(&self, key: &str, allowed: &[&str], default: &str) -> Result<String> {
        if self.has(key) {
            self.choice(key, allowed)
        } else {
            Ok(default.to_string())
        }
    }

    /// A list of finite numbers.
    pub fn f64_list(&self, key: &str) -> Result<Vec<f64>> {
        let v = self.get(key)?;
        let arr = v
            .as_array()
            .ok_or_else(|| IsacError::input(key, "must be a list of numbers"))?;
        arr.iter()
            .map(|x| match as_f64(x) {
                Some(f) if f.is_finite() => Ok(f),
                _ => Err(IsacError::input(key, "every entry must be a finite number")),
            })
            .collect()
    }

    /// A 2-D point `[x, y]` in metres.
    pub fn point(&self, key: &str) -> Result<[f64; 2]> {
        let v = self.f64_list(key)?;
        if v.len() != 2 {
            return Err(IsacError::input(key, "must be a point [x, y] in metres"));
        }
        Ok([v[0], v[1]])
    }

    /// A list of 2-D points `[[x, y], ...]`.
    pub fn points(&self, key: &str) -> Result<Vec<[f64; 2]>> {
        let v = self.get(key)?;
        let arr = v
            .as_array()
            .ok_or_else(|| IsacError::input(key, "must be a list of points [[x, y], ...]"))?;
        arr.iter()
            .map(|p| {
                let pt = p.as_array().and_then(|a| {
                    if a.len() == 2 {
                        Some([as_f64(&a[0])?, as_f64(&a[1])?])
                    } else {
                        None
                    }
                });
                match pt {
                    Some(q) if q[0].is_finite() && q[1].is_finite() => Ok(q),
                    _ => Err(IsacError::input(
                        key,
                        "every entry must be a point [x, y] of finite numbers",
                    )),
                }
            })
            .collect()
    }
}

fn check_range(key: &str, x: f64, lo: f64, hi: f64) -> Result<()> {
    if x < lo || x > hi {
        return Err(IsacError::input(
            key,
            format!("must be in [{lo}, {hi}], got {x}"),
        ));
    }
    Ok(())
}

fn quoted(allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// dBm to watts.
pub fn dbm_to_watts(dbm: f64) -> f64 {
    10f64.powf((dbm - 30.0) / 10.0)
}

/// Watts to dBm.
pub fn watts_to_dbm(w: f64) -> f64 {
    10.0 * w.log10() + 30.0
}

/// dB to a linear power ratio.
pub fn db_to_linear(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

impl Input<'_> {
    /// An optional complex 3-D array given as two real arrays `re_key` / `im_key` of shape
    /// `[dims.0][dims.1][dims.2]` (`names` says what each axis is, for the error message).
    /// `None` when both keys are absent; an error naming the key when only one is given
    /// or a shape or entry is wrong.
    pub fn complex_tensor(
        &self,
        re_key: &str,
        im_key: &str,
        dims: [usize; 3],
        names: [&str; 3],
    ) -> Result<Option<Vec<Vec<Vec<crate::C64>>>>> {
        let (re, im) = (self.table.get(re_key), self.table.get(im_key));
        let both = format!("missing: give both {re_key} and {im_key}");
        let (re, im) = match (re, im) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(IsacError::input(im_key, both)),
            (None, Some(_)) => return Err(IsacError::input(re_key, both)),
            (Some(a), Some(b)) => (a, b),
        };
        let [d0, d1, d2] = dims;
        let shape = format!(
            "must have shape [{d0}][{d1}][{d2}] ({}, {}, {}) of finite numbers",
            names[0], names[1], names[2]
        );
        let read = |v: &Value, key: &str| -> Result<Vec<Vec<Vec<f64>>>> {
            let bad = || IsacError::input(key, shape.clone());
            let array = |v: &'_ Value, n: usize| -> Result<Vec<Value>> {
                match v.as_array() {
                    Some(a) if a.len() == n => Ok(a.clone()),
                    _ => Err(bad()),
                }
            };
            array(v, d0)?
                .iter()
                .map(|m| {
                    array(m, d1)?
                        .iter()
                        .map(|r| {
                            array(r, d2)?
                                .iter()
                                .map(|x| match x {
                                    Value::Float(f) if f.is_finite() => Ok(*f),
                                    Value::Integer(i) => Ok(*i as f64),
                                    _ => Err(bad()),
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        };
        let (a, b) = (read(re, re_key)?, read(im, im_key)?);
        Ok(Some(
            (0..d0)
                .map(|q| {
                    (0..d1)
                        .map(|r| {
                            (0..d2)
                                .map(|c| crate::C64::new(a[q][r][c], b[q][r][c]))
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        ))
    }
}

impl Input<'_> {
    /// Rejects any key not in `allowed`, naming it and listing what `system` reads (a key
    /// that differs from an allowed one only in case, such as `power_dBm`, gets a "did
    /// you mean"). Nested tables are keys too: `[extra]` or a dotted `a.b` is rejected by
    /// its top-level name, since no system reads a table-valued key.
    pub fn reject_unknown(&self, system: &str, allowed: &[&str]) -> Result<()> {
        match self.table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(key))
                    .map(|a| format!("did you mean `{a}`? "))
                    .unwrap_or_default();
                Err(IsacError::input(
                    key,
                    format!(
                        "unknown key for system \"{system}\"; {hint}allowed: {}",
                        allowed.join(", ")
                    ),
                ))
            }
            None => Ok(()),
        }
    }

    /// An instance may name its system (`system = "..."`); any other name is an error.
    pub fn check_system(&self, system: &str) -> Result<()> {
        match self.table.get("system") {
            None => Ok(()),
            Some(v) if v.as_str() == Some(system) => Ok(()),
            Some(_) => Err(IsacError::input(
                "system",
                format!("must be \"{system}\" for this solver (or omitted)"),
            )),
        }
    }

    /// For a system without named scenario presets: `scenario` is an error saying so and
    /// what the defaults already are (`defaults`), instead of a bare "unknown key".
    pub fn reject_scenario(&self, system: &str, defaults: &str) -> Result<()> {
        if self.has("scenario") {
            return Err(IsacError::input(
                "scenario",
                format!(
                    "{system} has no named scenario presets (only backscatter has, \"I\" | \"II\"); {defaults}"
                ),
            ));
        }
        Ok(())
    }
}

impl Input<'_> {
    /// An optional complex matrix given as two real arrays `re_key` / `im_key` of shape
    /// `[rows][cols]` (`names` says what each axis is, for the error message). `None` when
    /// both keys are absent; an error naming the key when only one is given or a shape or
    /// entry is wrong.
    pub fn complex_matrix(
        &self,
        re_key: &str,
        im_key: &str,
        rows: usize,
        cols: usize,
        names: [&str; 2],
    ) -> Result<Option<Vec<Vec<crate::C64>>>> {
        let (re, im) = (self.table.get(re_key), self.table.get(im_key));
        let both = format!("missing: give both {re_key} and {im_key}");
        let (re, im) = match (re, im) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(IsacError::input(im_key, both)),
            (None, Some(_)) => return Err(IsacError::input(re_key, both)),
            (Some(a), Some(b)) => (a, b),
        };
        let shape = format!(
            "must have shape [{rows}][{cols}] ({}, {}) of finite numbers",
            names[0], names[1]
        );
        let read = |v: &Value, key: &str| -> Result<Vec<Vec<f64>>> {
            let bad = || IsacError::input(key, shape.clone());
            let outer = v.as_array().filter(|a| a.len() == rows).ok_or_else(bad)?;
            outer
                .iter()
                .map(|r| {
                    let r = r.as_array().filter(|a| a.len() == cols).ok_or_else(bad)?;
                    r.iter()
                        .map(|x| match x {
                            Value::Float(f) if f.is_finite() => Ok(*f),
                            Value::Integer(i) => Ok(*i as f64),
                            _ => Err(bad()),
                        })
                        .collect()
                })
                .collect()
        };
        let (a, b) = (read(re, re_key)?, read(im, im_key)?);
        Ok(Some(
            (0..rows)
                .map(|r| {
                    (0..cols)
                        .map(|c| crate::C64::new(a[r][c], b[r][c]))
                        .collect()
                })
                .collect(),
        ))
    }

    /// An optional complex vector of length `len` given as two real lists `re_key` /
    /// `im_key` (`what` names the entries for the error message); `None` when both are
    /// absent, an error naming the key otherwise.
    pub fn complex_vector(
        &self,
        re_key: &str,
        im_key: &str,
        len: usize,
        what: &str,
    ) -> Result<Option<Vec<crate::C64>>> {
        let both = format!("missing: give both {re_key} and {im_key}");
        match (self.has(re_key), self.has(im_key)) {
            (false, false) => return Ok(None),
            (true, false) => return Err(IsacError::input(im_key, both)),
            (false, true) => return Err(IsacError::input(re_key, both)),
            (true, true) => {}
        }
        let read = |key: &str| -> Result<Vec<f64>> {
            let v = self.f64_list(key)?;
            if v.len() != len {
                return Err(IsacError::input(
                    key,
                    format!("must have {len} entries ({what}), got {}", v.len()),
                ));
            }
            Ok(v)
        };
        let (a, b) = (read(re_key)?, read(im_key)?);
        Ok(Some(
            a.iter()
                .zip(&b)
                .map(|(&x, &y)| crate::C64::new(x, y))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> Table {
        s.parse().unwrap()
    }

    #[test]
    fn errors_name_the_key() {
        let t = table("a = \"x\"\nn = -3\nm = 1.5\np = [1.0]");
        let i = Input::new(&t);
        let e = i.f64("a").unwrap_err().to_string();
        assert!(e.contains("`a`"), "{e}");
        assert!(i
            .usize_in("n", 1, 10)
            .unwrap_err()
            .to_string()
            .contains("`n`"));
        assert!(i.usize_in("m", 1, 10).is_err());
        assert!(i.point("p").unwrap_err().to_string().contains("`p`"));
        assert!(i
            .f64("missing")
            .unwrap_err()
            .to_string()
            .contains("missing"));
        let c = i.choice("a", &["y", "z"]).unwrap_err().to_string();
        assert!(c.contains("\"y\" | \"z\""), "{c}");
    }

    #[test]
    fn unknown_keys_are_named_with_a_hint() {
        let t = table("power_dBm = 20\nx = 1");
        let e = Input::new(&t)
            .reject_unknown("demo", &["power_dbm", "x"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`power_dBm`") && e.contains("did you mean `power_dbm`"),
            "{e}"
        );
        let t = table("x = 1\n[extra]\ny = 2");
        let e = Input::new(&t)
            .reject_unknown("demo", &["x", "y"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`extra`") && e.contains("allowed: x, y"), "{e}");
        assert!(Input::new(&table("x = 1"))
            .reject_unknown("demo", &["x"])
            .is_ok());
    }

    #[test]
    fn system_and_scenario_checks() {
        let t = table("system = \"other\"\nscenario = \"I\"");
        let i = Input::new(&t);
        assert!(i
            .check_system("demo")
            .unwrap_err()
            .to_string()
            .contains("`system`"));
        assert!(i.check_system("other").is_ok());
        let e = i
            .reject_scenario("demo", "omit it")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`scenario`") && e.contains("no named scenario presets"),
            "{e}"
        );
    }

    #[test]
    fn nan_is_rejected() {
        let t = table("x = nan");
        assert!(Input::new(&t).f64("x").is_err());
    }

    #[test]
    fn dbm_roundtrip() {
        assert!((dbm_to_watts(30.0) - 1.0).abs() < 1e-12);
        assert!((watts_to_dbm(1e-9) + 60.0).abs() < 1e-9);
    }
}
