"""Reference values for hone-tune's Gaussian-process sampler: crates/hone-tune/src/sampler/gp/model.rs
(kernel_matrix_matches_numpy, posterior_matches_numpy, loss_and_gradient_match_numpy_and_...)
and crates/hone-tune/src/sampler/qmc.rs (plain_sequence_matches_scipy).

Libraries: numpy 2.4.6 for the GP (the model of Optuna 5.0's GPSampler written out: Matern-5/2
ARD kernel with Hamming distance on categorical dimensions, priors of optuna/_gp/prior.py, the
log marginal likelihood without its constant, gradients by the trace formula), scipy 1.17.1 for
the Sobol sequence (scipy.stats.qmc.Sobol, unscrambled).
Run: python scripts/reference/gp.py
"""
import numpy as np
import scipy
from scipy.stats import qmc

print("numpy", np.__version__, "scipy", scipy.__version__)
np.set_printoptions(precision=17)

# 4 points: two numeric dimensions and one categorical index; hyperparameters of the tests.
X = np.array([[0.1, 0.2, 0.0], [0.4, 0.9, 1.0], [0.8, 0.5, 0.0], [0.3, 0.35, 2.0]])
Y = np.array([0.5, -1.2, 0.9, -0.2])
LAM, S, NOISE = np.array([2.0, 0.5, 1.5]), 1.3, 0.01
IS_CAT = np.array([False, False, True])
MIN_NOISE = 1e-6


def sq_dists(a, b):
    """Per-dimension squared distances (Hamming for categorical dimensions), shape (n, m, d)."""
    diff = a[:, None, :] - b[None, :, :]
    return np.where(IS_CAT, (diff != 0).astype(float), diff**2)


def kernel(a, b, lam=LAM, s=S):
    sqd = sq_dists(a, b) @ lam
    r = np.sqrt(5 * sqd)
    return s * (1 + r + 5 / 3 * sqd) * np.exp(-r)


print("\n== kernel_matrix_matches_numpy (lam = [2, 0.5, 1.5], s = 1.3) ==")
K = kernel(X, X)
for row in K:
    print([float(v) for v in row])

print("\n== posterior_matches_numpy (noise 0.01) ==")
C = K + NOISE * np.eye(4)
alpha = np.linalg.solve(C, Y)
for x in [[0.2, 0.3, 0.0], [0.4, 0.9, 1.0], [0.95, 0.05, 1.0]]:
    k = kernel(np.array([x]), X)[0]
    print(f"x*={x}: mean {float(k @ alpha)!r}, var {float(S - k @ np.linalg.solve(C, k))!r}")


def loss(lam, s, noise):
    """-(log marginal likelihood without its constant + log prior), as optuna/_gp fits it."""
    C = kernel(X, X, lam, s) + noise * np.eye(len(Y))
    L = np.linalg.cholesky(C)
    mll = -np.sum(np.log(np.diag(L))) - 0.5 * Y @ np.linalg.solve(C, Y)
    prior = -np.sum(0.1 / lam + 0.1 * lam) + (np.log(s) - s) + (0.1 * np.log(noise) - 30 * noise)
    return -(mll + prior)


print("\n== loss_and_gradient_match_numpy_and_finite_differences ==")
print("loss:", repr(float(loss(LAM, S, NOISE))))
# Gradient with respect to the raw parameters [ln lam_1..3, ln s, ln(noise - 1e-6)], by the
# trace formula d mll / d theta = 0.5 tr((alpha alpha^T - C^-1) dC/d theta).
D = sq_dists(X, X)
sqd = D @ LAM
r = np.sqrt(5 * sqd)
dk_dsqd = -5 / 6 * S * (1 + r) * np.exp(-r)  # d/d sqd of s (1 + r + 5/3 sqd) e^-r
Cinv = np.linalg.inv(C)
W = np.outer(alpha, alpha) - Cinv
grad = []
for j in range(3):
    dmll = 0.5 * np.sum(W * (dk_dsqd * D[:, :, j]))
    dprior = 0.1 / LAM[j] ** 2 - 0.1
    grad.append(-(dmll + dprior) * LAM[j])
dmll = 0.5 * np.sum(W * (K / S))
grad.append(-(dmll + (1 / S - 1)) * S)
dmll = 0.5 * np.trace(W)
grad.append(-(dmll + (0.1 / NOISE - 30)) * (NOISE - MIN_NOISE))
print("gradient (trace formula):", [float(g) for g in grad])
raw = np.concatenate([np.log(LAM), [np.log(S), np.log(NOISE - MIN_NOISE)]])


def loss_raw(v):
    return loss(np.exp(v[:3]), np.exp(v[3]), np.exp(v[4]) + MIN_NOISE)


h = 1e-6
fd = [(loss_raw(raw + h * e) - loss_raw(raw - h * e)) / (2 * h) for e in np.eye(5)]
print("gradient (central differences, h = 1e-6):", [float(g) for g in fd])

print("\n== qmc.rs plain_sequence_matches_scipy ==")
pts = qmc.Sobol(d=4, scramble=False).random(8)
for row in pts:
    print([float(v) for v in row])
