//! Quality gates: declarative rules over any recorded number, evaluated after training.
//!
//! ```toml
//! [gates]
//! defaults = true                                   # §7 proposals that apply (warn level)
//! hard = ["cv.roc_auc.mean >= 0.52", "holdout.trading.sharpe > 0"]
//! warn = ["holdout.trading.psr >= 0.95"]
//! ```
//! A rule is `<name> <op> <number>` with `>=`, `>`, `<=`, `<`, `==`, `!=`. Names are the keys of
//! [`values`](crate::gates::values): `cv.<metric>.mean|std|min|max`, `holdout.<metric>`,
//! `cv.trading.<x>` and `holdout.trading.<x>` (sharpe, sortino, max_drawdown, calmar, psr,
//! min_track_record, turnover, sr_per_period, ...), `cv.trading.path_sharpe_mean|median|std|p5` (CPCV),
//! `dsr` and `dsr.n_trials` (deflated Sharpe ratio of the out-of-fold backtest over the
//! experiment's trials), `pbo` and `pbo.n_trials` (CSCV over the same trials), `gap.<metric>` (train − validation), `bias.gap`, `bias.p_value`,
//! `drift_share`, `rows`; for a panel, `cv.rank_ic.mean` (a metric), the pooled
//! `cv.rank_ic.icir|icir_annualised|t_stat|hit_rate|std` (and `ic`, and `holdout.`),
//! `cv.rank_ic.decay_<h>`, and with `[portfolio]` `cv.portfolio.turnover|gross_exposure|
//! net_exposure|cost_drag|quantile_spread|monotonicity|long_leg.sharpe|short_leg.sharpe` (the
//! portfolio's Sharpe ratio and the rest are `cv.trading.*`). A failed hard gate makes
//! `hone train` exit with code 3; a rule naming an unknown value fails, naming the known ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::job::TrainReport;

/// The `[gates]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// Rules that fail the job.
    #[serde(default)]
    pub hard: Vec<String>,
    /// Rules that only warn.
    #[serde(default)]
    pub warn: Vec<String>,
    /// Add the recommended defaults that apply, at warn level:
    /// DSR ≥ 0.95, PBO ≤ 0.2, holdout PSR ≥ 0.95. Drift and MinTRL rules are opt-in (README).
    #[serde(default)]
    pub defaults: bool,
}

/// One evaluated gate.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    /// The rule as written.
    pub rule: String,
    /// `hard` or `warn`.
    pub level: String,
    /// The value it was checked against (None if unavailable).
    pub value: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// The rules of the hard gates that failed (a run with any is stopped; its promotion blocked).
pub fn failed_hard(gates: &[GateResult]) -> Vec<&str> {
    gates
        .iter()
        .filter(|g| g.level == "hard" && !g.passed)
        .map(|g| g.rule.as_str())
        .collect()
}

/// Every named number of a report that rules can use.
pub fn values(r: &TrainReport) -> BTreeMap<String, f64> {
    let mut v = BTreeMap::new();
    for (m, s) in &r.cv {
        v.insert(format!("cv.{m}.mean"), s.mean);
        v.insert(format!("cv.{m}.std"), s.std);
        v.insert(format!("cv.{m}.min"), s.min);
        v.insert(format!("cv.{m}.max"), s.max);
    }
    if let Some(h) = &r.holdout {
        for (m, x) in &h.metrics {
            v.insert(format!("holdout.{m}"), *x);
        }
    }
    for (name, x) in r.complexity.values() {
        v.insert(format!("complexity.{name}"), x);
    }
    if let Some(t) = &r.trading {
        let mut add = |prefix: &str, s: &crate::trading::TradingSummary| {
            if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(s) {
                for (k, x) in map {
                    if let Some(f) = x.as_f64() {
                        v.insert(format!("{prefix}.trading.{k}"), f);
                    }
                }
            }
        };
        add("cv", &t.cv);
        if let Some(h) = &t.holdout {
            add("holdout", h);
        }
        if let Some(p) = &t.pbo {
            v.insert("pbo".into(), p.pbo);
            v.insert("pbo.n_trials".into(), p.n_trials as f64);
        }
        if let Some(d) = &t.dsr {
            v.insert("dsr".into(), d.dsr);
            v.insert("dsr.n_trials".into(), d.n_trials as f64);
        }
        if let Some(p) = &t.cpcv_paths {
            v.insert("cv.trading.path_sharpe_mean".into(), p.mean);
            v.insert("cv.trading.path_sharpe_median".into(), p.median);
            v.insert("cv.trading.path_sharpe_std".into(), p.std);
            v.insert("cv.trading.path_sharpe_p5".into(), p.p5);
        }
    }
    if let Some(p) = &r.panel {
        let mut add = |span: &str, c: &crate::portfolio::CrossSectionReport| {
            for (name, ic) in [("ic", &c.ic), ("rank_ic", &c.rank_ic)] {
                if let Some(ic) = ic {
                    for (k, x) in [
                        ("icir", ic.icir),
                        ("icir_annualised", ic.icir_annualised),
                        ("t_stat", ic.t_stat),
                        ("hit_rate", ic.hit_rate),
                        ("std", ic.std),
                    ] {
                        v.insert(format!("{span}.{name}.{k}"), x);
                    }
                }
            }
            for d in &c.decay {
                v.insert(format!("{span}.rank_ic.decay_{}", d.horizon), d.rank_ic);
                v.insert(format!("{span}.ic.decay_{}", d.horizon), d.ic);
            }
        };
        add("cv", &p.cv);
        if let Some(h) = &p.holdout {
            add("holdout", h);
        }
    }
    if let Some(p) = &r.portfolio {
        let mut add = |span: &str, s: &crate::portfolio::PortfolioSummary| {
            for (k, x) in [
                ("turnover", s.turnover),
                ("gross_exposure", s.gross_exposure),
                ("net_exposure", s.net_exposure),
                ("cost_drag", s.cost_drag),
                ("quantile_spread", s.quantile_spread),
                ("monotonicity", s.monotonicity),
            ] {
                v.insert(format!("{span}.portfolio.{k}"), x);
            }
            for (leg, l) in [("long_leg", &s.long_leg), ("short_leg", &s.short_leg)] {
                if let Some(l) = l {
                    v.insert(format!("{span}.portfolio.{leg}.sharpe"), l.sharpe);
                    v.insert(
                        format!("{span}.portfolio.{leg}.annual_return"),
                        l.annual_return,
                    );
                }
            }
        };
        add("cv", &p.cv);
        if let Some(h) = &p.holdout {
            add("holdout", h);
        }
    }
    for (m, g) in &r.train_cv_gap {
        v.insert(format!("gap.{m}"), *g);
    }
    if let Some(b) = r.stress.as_ref().and_then(|s| s.bias.as_ref()) {
        v.insert("bias.gap".into(), b.gap);
        v.insert("bias.p_value".into(), b.p_value);
    }
    v.insert("drift_share".into(), r.drift_share);
    v.insert("rows".into(), r.rows as f64);
    v
}

fn parse_rule(rule: &str) -> Result<(String, String, f64), TrainError> {
    let ops = [">=", "<=", "==", "!=", ">", "<"];
    for op in ops {
        if let Some(i) = rule.find(op) {
            let name = rule[..i].trim().to_string();
            let rhs = rule[i + op.len()..].trim();
            let value: f64 = rhs.parse().map_err(|_| {
                TrainError::Config(format!("gate {rule:?}: {rhs:?} is not a number"))
            })?;
            if name.is_empty() {
                break;
            }
            return Ok((name, op.to_string(), value));
        }
    }
    Err(TrainError::Config(format!(
        "gate {rule:?} must read `<name> <op> <number>` with >=, >, <=, <, == or !="
    )))
}

/// Whether `value op rhs` holds.
fn holds(value: f64, op: &str, rhs: f64) -> bool {
    match op {
        ">=" => value >= rhs,
        ">" => value > rhs,
        "<=" => value <= rhs,
        "<" => value < rhs,
        "==" => value == rhs,
        _ => value != rhs,
    }
}

impl GatesConfig {
    /// Checks every rule's syntax (names are checked against the report later).
    pub fn validate(&self) -> Result<(), TrainError> {
        for r in self.hard.iter().chain(&self.warn) {
            parse_rule(r)?;
        }
        Ok(())
    }

    /// Evaluates the gates on a report.
    pub fn evaluate(&self, report: &TrainReport) -> Result<Vec<GateResult>, TrainError> {
        self.evaluate_values(&values(report), |_| true)
    }

    /// Evaluates the gates on values recorded earlier (a registered version's stored metrics,
    /// for a promotion): a rule whose value was not recorded fails, with no value, instead of
    /// being an error; the model cannot be retrained to supply it.
    pub fn evaluate_recorded(
        &self,
        vals: &BTreeMap<String, f64>,
    ) -> Result<Vec<GateResult>, TrainError> {
        self.rules(vals)
            .into_iter()
            .map(|(rule, level)| {
                let (name, op, rhs) = parse_rule(&rule)?;
                let value = vals.get(&name).copied();
                Ok(GateResult {
                    passed: value.is_some_and(|v| holds(v, &op, rhs)),
                    rule,
                    level: level.to_string(),
                    value,
                })
            })
            .collect()
    }

    /// The rules with their level: hard, warn, then the defaults that apply to `vals`.
    fn rules(&self, vals: &BTreeMap<String, f64>) -> Vec<(String, &'static str)> {
        let mut rules: Vec<(String, &str)> =
            self.hard.iter().map(|r| (r.clone(), "hard")).collect();
        rules.extend(self.warn.iter().map(|r| (r.clone(), "warn")));
        if self.defaults {
            if vals.contains_key("dsr") {
                rules.push(("dsr >= 0.95".into(), "warn"));
            }
            if vals.contains_key("pbo") {
                rules.push(("pbo <= 0.2".into(), "warn"));
            }
            if vals.contains_key("holdout.trading.psr") {
                rules.push(("holdout.trading.psr >= 0.95".into(), "warn"));
            }
            // Not in the defaults, by measurement (README, "Drift"):
            // - holdout periods >= MinTRL: at the same 95 % level it is the PSR rule above
            //   restated in periods, so it only printed the same verdict twice;
            // - drift_share < 0.5: on the bundled S&P 500 data it failed for every holdout year
            //   (16/16, scripts/measure_drift_defaults.py), so it carried no information.
        }
        rules
    }

    /// Evaluates the gates on named values; rules whose name fails `applies` are skipped.
    pub fn evaluate_values(
        &self,
        vals: &BTreeMap<String, f64>,
        applies: impl Fn(&str) -> bool,
    ) -> Result<Vec<GateResult>, TrainError> {
        self.rules(vals)
            .into_iter()
            .filter(|(rule, _)| parse_rule(rule).is_ok_and(|(name, _, _)| applies(&name)))
            .map(|(rule, level)| {
                let (name, op, rhs) = parse_rule(&rule)?;
                let value = *vals.get(&name).ok_or_else(|| {
                    let known: Vec<&str> = vals.keys().map(String::as_str).collect();
                    TrainError::Config(format!(
                        "gate {rule:?}: no value named `{name}`; known: {}",
                        known.join(", ")
                    ))
                })?;
                Ok(GateResult {
                    passed: holds(value, &op, rhs),
                    rule,
                    level: level.to_string(),
                    value: Some(value),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_reject_garbage() {
        assert_eq!(
            parse_rule("cv.auc.mean >= 0.52").unwrap(),
            ("cv.auc.mean".into(), ">=".into(), 0.52)
        );
        assert_eq!(
            parse_rule("pbo<0.2").unwrap(),
            ("pbo".into(), "<".into(), 0.2)
        );
        assert!(parse_rule("cv.auc.mean ≥ 0.5").is_err());
        assert!(parse_rule(">= 3").is_err());
        assert!(parse_rule("x >= high").is_err());
    }
}
