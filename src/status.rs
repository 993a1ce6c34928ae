//! One status vocabulary for every system's answer (JSON of `isac solve`, CSV rows of
//! `isac run`). The words and their meaning are documented once, here and in the README:
//!
//! | status           | meaning |
//! |------------------|---------|
//! | `optimal`        | the design problem is convex (or an exhaustive search over convex programs) and was solved; the conic layer's violation gate passed and the returned design was re-checked: the optimum of the stated problem |
//! | `solved`         | a heuristic or local method (SCA, alternating optimisation, penalty, a baseline scheme) met its stopping rule and its design passed the re-check: feasible, not proven optimal |
//! | `max_iterations` | an iterative method hit its iteration cap; its design passed the re-check but may still improve |
//! | `stalled`        | an iterative method stopped before its rule because a subproblem could not be solved accurately; the last accepted iterate passed the re-check |
//! | `infeasible`     | no design meets the constraints; `certified: true` when proven (a checked infeasibility certificate or a bound), `false` when only no feasible point was found |
//! | `inaccurate`     | a design came back but violates a constraint beyond tolerance, or the solver could not decide; `violation` is the measured largest (scaled) violation when there is a point |
//! | `error`          | experiments only: the instance could not be solved (bad input or a failure); the message is in `error` |
//!
//! Only `optimal`, `solved`, `max_iterations` and `stalled` carry a design that passed the
//! re-check ([`DesignStatus::has_checked_design`]).

use serde_json::json;

use crate::report::{number, Metrics};

/// Every status word, in the order of the table above.
pub const STATUS_WORDS: &[&str] = &[
    "optimal",
    "solved",
    "max_iterations",
    "stalled",
    "infeasible",
    "inaccurate",
    "error",
];

/// The status of a design (see the [module docs](self) for the meaning of each word).
#[derive(Debug, Clone, PartialEq)]
pub enum DesignStatus {
    /// A convex design problem solved and its design re-checked.
    Optimal,
    /// A heuristic's or local method's design that passed the re-check; `note` says how
    /// it was found (may be empty).
    Solved { note: String },
    /// An iterative method hit its cap; the design passed the re-check.
    MaxIterations { note: String },
    /// An iterative method stopped early on an inaccurate subproblem; the last accepted
    /// iterate passed the re-check.
    Stalled { reason: String },
    /// No design meets the constraints; `certified` when proven.
    Infeasible { reason: String, certified: bool },
    /// A design that violates a constraint beyond tolerance, or no decision; `violation`
    /// is the measured largest scaled violation when a point exists.
    Inaccurate {
        reason: String,
        violation: Option<f64>,
    },
}

impl DesignStatus {
    /// `Solved` with a note.
    pub fn solved(note: impl Into<String>) -> Self {
        DesignStatus::Solved { note: note.into() }
    }

    /// `Infeasible` with its reason.
    pub fn infeasible(reason: impl Into<String>, certified: bool) -> Self {
        DesignStatus::Infeasible {
            reason: reason.into(),
            certified,
        }
    }

    /// `Inaccurate` with its reason and the measured violation, if any.
    pub fn inaccurate(reason: impl Into<String>, violation: Option<f64>) -> Self {
        DesignStatus::Inaccurate {
            reason: reason.into(),
            violation,
        }
    }

    /// The status word.
    pub fn as_str(&self) -> &'static str {
        match self {
            DesignStatus::Optimal => "optimal",
            DesignStatus::Solved { .. } => "solved",
            DesignStatus::MaxIterations { .. } => "max_iterations",
            DesignStatus::Stalled { .. } => "stalled",
            DesignStatus::Infeasible { .. } => "infeasible",
            DesignStatus::Inaccurate { .. } => "inaccurate",
        }
    }

    /// True when the answer carries a design that passed the re-check.
    pub fn has_checked_design(&self) -> bool {
        matches!(
            self,
            DesignStatus::Optimal
                | DesignStatus::Solved { .. }
                | DesignStatus::MaxIterations { .. }
                | DesignStatus::Stalled { .. }
        )
    }

    /// The reason, note or explanation, if any (empty strings count as none).
    pub fn detail(&self) -> Option<&str> {
        let s = match self {
            DesignStatus::Optimal => return None,
            DesignStatus::Solved { note } | DesignStatus::MaxIterations { note } => note,
            DesignStatus::Stalled { reason }
            | DesignStatus::Infeasible { reason, .. }
            | DesignStatus::Inaccurate { reason, .. } => reason,
        };
        (!s.is_empty()).then_some(s.as_str())
    }

    /// Writes `status`, and where they apply `reason`, `certified` and `violation`, into
    /// a metrics row: the same keys for every system.
    pub fn write_metrics(&self, m: &mut Metrics) {
        m.insert("status".into(), json!(self.as_str()));
        if let Some(d) = self.detail() {
            m.insert("reason".into(), json!(d));
        }
        match self {
            DesignStatus::Infeasible { certified, .. } => {
                m.insert("certified".into(), json!(certified));
            }
            DesignStatus::Inaccurate { violation, .. } => {
                m.insert("violation".into(), violation.map_or(json!(null), number));
            }
            _ => {}
        }
    }

    /// The summary line under the headline (`  reason: ...`), if there is something to say.
    pub fn summary_line(&self) -> Option<String> {
        let d = self.detail()?;
        Some(match self {
            DesignStatus::Infeasible { certified, .. } => {
                format!("  reason: {d} (certified: {certified})")
            }
            DesignStatus::Inaccurate {
                violation: Some(v), ..
            } => format!("  reason: {d} (largest scaled violation {v:.3e})"),
            _ => format!("  reason: {d}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_documented_word() {
        let all = [
            DesignStatus::Optimal,
            DesignStatus::solved(""),
            DesignStatus::MaxIterations { note: "".into() },
            DesignStatus::Stalled { reason: "x".into() },
            DesignStatus::infeasible("x", true),
            DesignStatus::inaccurate("x", Some(1e-3)),
        ];
        for s in &all {
            assert!(STATUS_WORDS.contains(&s.as_str()), "{}", s.as_str());
        }
        let checked: Vec<bool> = all.iter().map(|s| s.has_checked_design()).collect();
        assert_eq!(checked, [true, true, true, true, false, false]);
    }

    #[test]
    fn metrics_carry_the_same_keys_for_every_system() {
        let mut m = Metrics::new();
        DesignStatus::infeasible("no power", false).write_metrics(&mut m);
        assert_eq!(m["status"], json!("infeasible"));
        assert_eq!(m["certified"], json!(false));
        assert_eq!(m["reason"], json!("no power"));
        let mut m = Metrics::new();
        DesignStatus::inaccurate("gate", Some(f64::NAN)).write_metrics(&mut m);
        assert_eq!(m["violation"], json!(null));
        let mut m = Metrics::new();
        DesignStatus::Optimal.write_metrics(&mut m);
        assert_eq!(m.len(), 1);
    }
}
