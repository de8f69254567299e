//! A small bound-constrained L-BFGS (projected quasi-Newton) for the GP sampler.
//!
//! Used twice: unbounded, for the MAP fit of the kernel hyperparameters, and with box bounds,
//! for the local searches of the acquisition function. The direction comes from the usual
//! two-loop recursion restricted to the *free* variables (those not held at a bound by their
//! gradient); the step is a backtracking Armijo search along the projected path
//! `P(x + t·d)`. This is the "projected L-BFGS" simplification of L-BFGS-B (no generalised
//! Cauchy point), which behaves the same on the smooth, low-dimensional problems here.
//! Stopping rules follow SciPy's L-BFGS-B: the projected gradient's largest component at most
//! `pgtol`, or a relative decrease of at most `ftol` (SciPy's `factr = 1e7` gives
//! `ftol ≈ 2.2e-9`).

/// Why the minimisation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The projected gradient is below `pgtol`.
    Gradient,
    /// The objective stopped decreasing (relative change below `ftol`).
    Objective,
    /// No step along the search direction decreased the objective (numerical floor reached).
    LineSearch,
    /// `max_iter` iterations were spent.
    MaxIter,
    /// The objective is not finite at the starting point.
    NonFinite,
}

/// Settings; the defaults are SciPy's L-BFGS-B ones except `max_iter`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// History length.
    pub m: usize,
    /// Projected-gradient tolerance (max norm).
    pub pgtol: f64,
    /// Relative objective-decrease tolerance.
    pub ftol: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Backtracking steps per line search.
    pub max_ls: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            m: 10,
            pgtol: 1e-5,
            ftol: 1e7 * f64::EPSILON,
            max_iter: 200,
            max_ls: 20,
        }
    }
}

/// Outcome of [`minimize`].
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The best point found.
    pub x: Vec<f64>,
    /// The objective there.
    pub f: f64,
    /// Iterations performed (accepted steps).
    pub iters: usize,
    /// Why it stopped.
    pub stop: Stop,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((v, l), h) in x.iter_mut().zip(lo).zip(hi) {
        *v = v.clamp(*l, *h);
    }
}

/// Largest component of the projected gradient `P(x − g) − x`.
fn projected_gradient_norm(x: &[f64], g: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
    let mut m = 0.0f64;
    for i in 0..x.len() {
        let p = (x[i] - g[i]).clamp(lo[i], hi[i]) - x[i];
        m = m.max(p.abs());
    }
    m
}

/// Minimises `f` (which returns the value and writes the gradient into its second argument)
/// from `x0` within `[lo, hi]` (use infinities for unbounded coordinates).
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    opt: Options,
) -> Outcome {
    let n = x0.len();
    let mut x = x0.to_vec();
    project(&mut x, lo, hi);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Outcome {
            x,
            f: fx,
            iters: 0,
            stop: Stop::NonFinite,
        };
    }
    // History of (s, y, 1 / yᵀs), oldest first.
    let mut hist: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(opt.m);
    let mut d = vec![0.0; n];
    let mut free = vec![true; n];
    let mut alpha = vec![0.0; opt.m];
    let mut xt = vec![0.0; n];
    let mut gt = vec![0.0; n];
    let mut iters = 0;
    loop {
        if projected_gradient_norm(&x, &g, lo, hi) <= opt.pgtol {
            return Outcome {
                x,
                f: fx,
                iters,
                stop: Stop::Gradient,
            };
        }
        if iters >= opt.max_iter {
            return Outcome {
                x,
                f: fx,
                iters,
                stop: Stop::MaxIter,
            };
        }
        // A variable sitting on a bound with its gradient pushing outwards is held fixed.
        for i in 0..n {
            free[i] = !((x[i] <= lo[i] && g[i] > 0.0) || (x[i] >= hi[i] && g[i] < 0.0));
        }
        for i in 0..n {
            d[i] = if free[i] { -g[i] } else { 0.0 };
        }
        // Two-loop recursion on the free subspace.
        for (k, (s, y, rho)) in hist.iter().enumerate().rev() {
            let a = rho * dot_free(s, &d, &free);
            alpha[k] = a;
            for i in 0..n {
                if free[i] {
                    d[i] -= a * y[i];
                }
            }
        }
        if let Some((s, y, _)) = hist.last() {
            let yy = dot_free(y, y, &free);
            let sy = dot_free(s, y, &free);
            if yy > 0.0 && sy > 0.0 {
                let gamma = sy / yy;
                d.iter_mut().for_each(|v| *v *= gamma);
            }
        }
        for (k, (s, y, rho)) in hist.iter().enumerate() {
            let b = rho * dot_free(y, &d, &free);
            for i in 0..n {
                if free[i] {
                    d[i] += s[i] * (alpha[k] - b);
                }
            }
        }
        let mut slope = dot(&d, &g);
        if slope >= 0.0 || !slope.is_finite() {
            // The curvature pairs no longer describe the free subspace: restart from steepest
            // descent.
            hist.clear();
            for i in 0..n {
                d[i] = if free[i] { -g[i] } else { 0.0 };
            }
            slope = dot(&d, &g);
            if slope >= 0.0 {
                return Outcome {
                    x,
                    f: fx,
                    iters,
                    stop: Stop::Gradient,
                };
            }
        }
        // The very first step has no curvature information: keep it short, as L-BFGS-B does.
        let mut t = if hist.is_empty() {
            (1.0 / norm(&d)).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..opt.max_ls {
            for i in 0..n {
                xt[i] = x[i] + t * d[i];
            }
            project(&mut xt, lo, hi);
            let decrease: f64 = (0..n).map(|i| g[i] * (xt[i] - x[i])).sum();
            if decrease >= 0.0 {
                break;
            }
            let ft = f(&xt, &mut gt);
            if ft.is_finite() && gt.iter().all(|v| v.is_finite()) && ft <= fx + 1e-4 * decrease {
                accepted = Some(ft);
                break;
            }
            t *= if ft.is_finite() { 0.5 } else { 0.1 };
        }
        let Some(ft) = accepted else {
            if !hist.is_empty() {
                // As L-BFGS-B does: a quasi-Newton direction that yields no decrease is blamed
                // on stale curvature pairs, so the memory is dropped and the iteration retried
                // from steepest descent; only a steepest-descent failure ends the run.
                hist.clear();
                continue;
            }
            return Outcome {
                x,
                f: fx,
                iters,
                stop: Stop::LineSearch,
            };
        };
        iters += 1;
        let s: Vec<f64> = (0..n).map(|i| xt[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gt[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if hist.len() == opt.m {
                hist.remove(0);
            }
            hist.push((s, y, 1.0 / sy));
        }
        let f_old = fx;
        x.copy_from_slice(&xt);
        g.copy_from_slice(&gt);
        fx = ft;
        if (f_old - fx) <= opt.ftol * f_old.abs().max(fx.abs()).max(1.0) {
            return Outcome {
                x,
                f: fx,
                iters,
                stop: Stop::Objective,
            };
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot_free(a: &[f64], b: &[f64], free: &[bool]) -> f64 {
    (0..a.len()).filter(|&i| free[i]).map(|i| a[i] * b[i]).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let n = x.len();
        let mut f = 0.0;
        g.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n - 1 {
            let a = x[i + 1] - x[i] * x[i];
            let b = 1.0 - x[i];
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * a * x[i] - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        f
    }

    #[test]
    fn unbounded_rosenbrock_reaches_the_minimum() {
        let inf = vec![f64::INFINITY; 4];
        let ninf = vec![f64::NEG_INFINITY; 4];
        let opt = Options {
            max_iter: 1000,
            ..Options::default()
        };
        let r = minimize(rosenbrock, &[-1.2, 1.0, -1.2, 1.0], &ninf, &inf, opt);
        for v in &r.x {
            assert!((v - 1.0).abs() < 1e-3, "{r:?}");
        }
        assert!(r.f < 1e-7, "{r:?}");
    }

    #[test]
    fn bounds_are_respected_and_active_at_the_solution() {
        // min (x0 - 2)² + (x1 + 1)² + (x2 - 0.3)² on [0, 1]³: the solution is (1, 0, 0.3).
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 2.0);
            g[1] = 2.0 * (x[1] + 1.0);
            g[2] = 2.0 * (x[2] - 0.3);
            (x[0] - 2.0).powi(2) + (x[1] + 1.0).powi(2) + (x[2] - 0.3).powi(2)
        };
        let r = minimize(
            f,
            &[0.5, 0.5, 0.9],
            &[0.0; 3],
            &[1.0; 3],
            Options::default(),
        );
        assert_eq!(r.x[0], 1.0);
        assert_eq!(r.x[1], 0.0);
        assert!((r.x[2] - 0.3).abs() < 1e-6, "{r:?}");
        assert_eq!(r.stop, Stop::Gradient);
    }

    #[test]
    fn a_failed_line_search_restarts_from_steepest_descent() {
        // min (x − 3)² from 0, with the gradient at the first trial point misreported so the
        // curvature pair claims almost no curvature (γ ≈ 1e9): the next quasi-Newton step is
        // so long that 20 halvings find no decrease. Dropping the memory, as L-BFGS-B does,
        // must still reach the minimum instead of stopping at x = 1.
        let mut calls = 0;
        let f = |x: &[f64], g: &mut [f64]| {
            calls += 1;
            g[0] = if calls == 2 {
                -6.0 + 1e-9
            } else {
                2.0 * (x[0] - 3.0)
            };
            (x[0] - 3.0).powi(2)
        };
        let inf = [f64::INFINITY];
        let r = minimize(f, &[0.0], &[-inf[0]], &inf, Options::default());
        assert!((r.x[0] - 3.0).abs() < 1e-5, "{r:?}");
        assert_eq!(r.stop, Stop::Gradient, "{r:?}");
    }

    #[test]
    fn a_non_finite_start_is_reported() {
        let f = |_: &[f64], _: &mut [f64]| f64::NAN;
        let r = minimize(f, &[0.0], &[-1.0], &[1.0], Options::default());
        assert_eq!(r.stop, Stop::NonFinite);
    }
}
