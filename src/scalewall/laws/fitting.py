"""Fit L(N, D) = E + A/N^α + B/D^β to a user's training runs, with bootstrap intervals.

The procedure is Hoffmann et al.'s Approach 3 (App. D.2) as Besiroglu et al. replicate it:
minimise the Huber loss (δ = 1e-3) of the log-space residuals of the log-sum-exp form

.. math:: \\log \\hat L = \\mathrm{LSE}(a - \\alpha \\log N,\\; b - \\beta \\log D,\\; e),
          \\quad A = e^a,\\ B = e^b,\\ E = e^e

with L-BFGS from a grid of initialisations (α, β ∈ {0, 0.5, ..., 2}, e ∈ {-1, -0.5, ..., 1},
a, b ∈ {0, 5, ..., 25}). The objective is evaluated on the whole grid at once and L-BFGS runs
from the best ``n_starts`` grid points (``n_starts=None`` runs all 4,500, as the papers do).
Bootstrap resamples are weight vectors over the runs (no copies), each fitted by L-BFGS
warm-started at the full-data optimum and at the best grid points.

References
----------
.. [1] J. Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022,
   arXiv:2203.15556, App. D.2.
.. [2] T. Besiroglu, E. Erdil, M. Barnett, J. You, "Chinchilla Scaling: A replication
   attempt", 2024, arXiv:2404.10102.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scalewall._errors import CatalogFileError, InvalidParameter, PlannerError
from scalewall._types import FloatArray
from scalewall.catalog import CATALOG_DIR

__all__ = [
    "MIN_RUNS",
    "FitDidNotConverge",
    "FitResult",
    "Runs",
    "chinchilla_figure4_runs",
    "fit_law",
    "read_runs_csv",
]

#: Fewest runs a fit accepts: two per fitted constant (E, A, B, α, β).
MIN_RUNS = 10
#: Fewest distinct model sizes and distinct token counts: a power law plus an offset needs 3.
MIN_DISTINCT = 3
#: Huber threshold on log-loss residuals (Hoffmann et al. 2022, App. D.2).
HUBER_DELTA = 1e-3
SHIPPED_RUNS = CATALOG_DIR / "data" / "chinchilla_figure4_epoch2024.csv"

_GRID = np.array(list(itertools.product(
    np.arange(0.0, 30.0, 5.0),  # a
    np.arange(0.0, 30.0, 5.0),  # b
    np.arange(-1.0, 1.5, 0.5),  # e
    np.arange(0.0, 2.5, 0.5),  # alpha
    np.arange(0.0, 2.5, 0.5),  # beta
)))  # (4500, 5)
_NAMES = ("E", "A", "B", "alpha", "beta")


class FitDidNotConverge(PlannerError):
    """The optimiser stopped without converging; ``best`` holds the best constants found."""

    def __init__(self, message: str, best: dict[str, float]) -> None:
        super().__init__(message)
        self.best = best


@dataclass(frozen=True)
class Runs:
    """Training runs: parameters, tokens and final loss, one element per run."""

    n_params: FloatArray
    n_tokens: FloatArray
    loss: FloatArray
    source: str = ""

    def __len__(self) -> int:
        return int(self.n_params.size)


@dataclass(frozen=True)
class FitResult:
    """Fitted constants, their bootstrap intervals and the residuals of the fit."""

    e: float
    a: float
    b: float
    alpha: float
    beta: float
    objective: float
    converged: bool
    n_runs: int
    n_starts: int
    n_bootstrap: int
    ci95: dict[str, tuple[float, float]]
    bootstrap: FloatArray  # (n_bootstrap, 5): E, A, B, alpha, beta
    runs: Runs
    message: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(_NAMES, (self.e, self.a, self.b, self.alpha, self.beta), strict=True))

    def predict(self, n_params: Any, n_tokens: Any) -> Any:
        n = np.asarray(n_params, dtype=float)
        d = np.asarray(n_tokens, dtype=float)
        return self.e + self.a / n**self.alpha + self.b / d**self.beta

    @property
    def log_residuals(self) -> FloatArray:
        """log(observed) - log(predicted) per run."""
        pred = self.predict(self.runs.n_params, self.runs.n_tokens)
        out: FloatArray = np.log(self.runs.loss) - np.log(pred)
        return out

    @property
    def tokens_per_param_exponent(self) -> float:
        """Exponent a of N_opt ∝ C^a: β / (α + β)."""
        return self.beta / (self.alpha + self.beta)

    def to_dict(self) -> dict[str, Any]:
        res = self.log_residuals
        return {
            **self.params,
            "ci95": {k: list(v) for k, v in self.ci95.items()},
            "objective": self.objective, "converged": self.converged,
            "n_runs": self.n_runs, "n_starts": self.n_starts, "n_bootstrap": self.n_bootstrap,
            "n_opt_exponent": self.tokens_per_param_exponent,
            "rms_log_residual": float(np.sqrt(np.mean(res**2))),
            "huber_delta": HUBER_DELTA, "message": self.message,
        }


# --- objective -------------------------------------------------------------------------------

def _objective_grid(theta: FloatArray, log_n: FloatArray, log_d: FloatArray,
                    log_l: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted Huber objective for many parameter vectors at once: theta (K, 5) -> (K,)."""
    a, b, e, alpha, beta = (theta[:, i:i + 1] for i in range(5))  # each (K, 1)
    u1 = a - alpha * log_n  # (K, R)
    u2 = b - beta * log_d
    u3 = np.broadcast_to(e, u1.shape)
    pred = np.logaddexp(np.logaddexp(u1, u2), u3)
    r = np.abs(pred - log_l)
    h = np.where(r <= HUBER_DELTA, 0.5 * r**2, HUBER_DELTA * (r - 0.5 * HUBER_DELTA))
    out: FloatArray = h @ weights
    return out


def _objective(theta: FloatArray, log_n: FloatArray, log_d: FloatArray, log_l: FloatArray,
               weights: FloatArray) -> tuple[float, FloatArray]:
    """Weighted Huber objective and its gradient for one parameter vector (5,)."""
    a, b, e, alpha, beta = theta
    u1 = a - alpha * log_n  # (R,)
    u2 = b - beta * log_d
    m = np.maximum(np.maximum(u1, u2), e)
    x1, x2, x3 = np.exp(u1 - m), np.exp(u2 - m), np.exp(e - m)
    s = x1 + x2 + x3
    r = m + np.log(s) - log_l
    absr = np.abs(r)
    h = np.where(absr <= HUBER_DELTA, 0.5 * r**2, HUBER_DELTA * (absr - 0.5 * HUBER_DELTA))
    g = weights * np.clip(r, -HUBER_DELTA, HUBER_DELTA) / s  # dH/dpred * softmax denominators
    g1, g2 = g * x1, g * x2
    grad = np.array([g1.sum(), g2.sum(), (g * x3).sum(), -(g1 @ log_n), -(g2 @ log_d)])
    return float(h @ weights), grad


def _lbfgs(theta0: FloatArray, args: tuple[FloatArray, ...]) -> tuple[FloatArray, float, bool]:
    from scipy.optimize import minimize

    # Tolerances far below scipy's defaults: with δ = 1e-3 the objective and its gradient are
    # tiny, and the default stopping rule ends early (Besiroglu et al. 2024 trace part of the
    # gap to Hoffmann et al.'s estimates to such a premature stop).
    res = minimize(_objective, theta0, args=args, jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-9})
    return np.asarray(res.x, dtype=float), float(res.fun), bool(res.success)


def _natural(theta: FloatArray) -> FloatArray:
    """(a, b, e, alpha, beta) -> (E, A, B, alpha, beta)."""
    out: FloatArray = np.array([np.exp(theta[2]), np.exp(theta[0]), np.exp(theta[1]),
                                theta[3], theta[4]])
    return out


def _fit_once(args: tuple[FloatArray, ...], starts: FloatArray,
              ) -> tuple[FloatArray, float, bool, int]:
    """L-BFGS from each start; the best optimum, its objective, whether it converged."""
    results = [_lbfgs(s, args) for s in starts]
    values = np.array([r[1] for r in results])
    best = int(np.nanargmin(values))
    theta, value, success = results[best]
    # Huber's kink makes L-BFGS-B end in a line-search warning at a true optimum; accept the
    # best point when it reported success, or when another start reached the same optimum.
    agree = np.isclose(values, value, rtol=1e-5, atol=1e-12)
    converged = bool(np.isfinite(value)) and (success or int(agree.sum()) >= 2)
    return theta, value, converged, len(results)


# --- public API ------------------------------------------------------------------------------

def fit_law(
    runs: Runs, *, n_bootstrap: int = 100, n_starts: int | None = 32, seed: int = 0,
    drop_highest: int = 0,
) -> FitResult:
    """Fit the Chinchilla form to ``runs`` and bootstrap 95% intervals of its constants.

    Parameters
    ----------
    runs : Runs
        Parameters [count], tokens [count] and final loss [nats/token] of each run.
    n_bootstrap : resamples of the runs (with replacement) for the intervals; 0 for none.
    n_starts : L-BFGS starts taken from the best points of Hoffmann et al.'s 4,500-point grid;
        ``None`` runs from every grid point.
    seed : random seed of the resampling.
    drop_highest : leave out the runs with the highest loss first (Besiroglu et al. drop 5).

    Returns
    -------
    FitResult
        E [nats/token], A, B, α, β, the 2.5th and 97.5th bootstrap percentiles, residuals.

    Raises
    ------
    InvalidParameter
        Fewer than ``MIN_RUNS`` runs or fewer than 3 distinct sizes or token counts (the
        message says how many are needed), non-positive values, bad options.
    FitDidNotConverge
        No start converged; the message and ``.best`` give the best constants found.

    Notes
    -----
    Objective: :math:`\\sum_i \\mathrm{Huber}_\\delta(\\mathrm{LSE}(a - \\alpha\\log N_i,
    b - \\beta\\log D_i, e) - \\log L_i)`, eq. 5 and App. D.2 of Hoffmann et al. 2022
    (arXiv:2203.15556), as in Sec. 2 of Besiroglu et al. 2024 (arXiv:2404.10102).
    """
    if n_bootstrap < 0 or (n_starts is not None and n_starts < 1) or drop_highest < 0:
        raise InvalidParameter(
            f"fit_law: n_bootstrap and drop_highest must be >= 0 and n_starts >= 1, got "
            f"n_bootstrap={n_bootstrap}, n_starts={n_starts}, drop_highest={drop_highest}"
        )
    for name in ("n_params", "n_tokens", "loss"):
        values = getattr(runs, name)
        bad = ~np.isfinite(values) | (values <= 0)
        if np.any(bad):
            raise InvalidParameter(
                f"fit_law: {name} must be finite and > 0 in every run, got {values[bad][0]!r} "
                f"(run {int(np.flatnonzero(bad)[0]) + 1})"
            )
    if drop_highest:
        keep = np.argsort(runs.loss, kind="stable")[: max(len(runs) - drop_highest, 0)]
        keep.sort()
        runs = Runs(runs.n_params[keep], runs.n_tokens[keep], runs.loss[keep], runs.source)
    n_distinct = min(np.unique(runs.n_params).size, np.unique(runs.n_tokens).size)
    if len(runs) < MIN_RUNS or n_distinct < MIN_DISTINCT:
        raise InvalidParameter(
            f"fit_law: too few runs to fit 5 constants (E, A, B, alpha, beta): need at least "
            f"{MIN_RUNS} runs with at least {MIN_DISTINCT} distinct model sizes and "
            f"{MIN_DISTINCT} distinct token counts, got {len(runs)} runs, "
            f"{np.unique(runs.n_params).size} sizes, {np.unique(runs.n_tokens).size} token "
            f"counts"
        )
    log_n, log_d, log_l = np.log(runs.n_params), np.log(runs.n_tokens), np.log(runs.loss)
    ones = np.ones(len(runs))
    grid_values = _objective_grid(_GRID, log_n, log_d, log_l, ones)  # (4500,)
    order = np.argsort(grid_values, kind="stable")
    starts = _GRID[order if n_starts is None else order[:n_starts]]
    theta, value, converged, n_run = _fit_once((log_n, log_d, log_l, ones), starts)
    best = dict(zip(_NAMES, (float(v) for v in _natural(theta)), strict=True))
    if not converged:
        shown = ", ".join(f"{k}={v:.6g}" for k, v in best.items())
        raise FitDidNotConverge(
            f"fit_law: L-BFGS did not converge from {n_run} starts; best found {shown} "
            f"(objective {value:.6g}); try n_starts=None (the full grid) or check the runs",
            best,
        )

    rng = np.random.default_rng(seed)
    samples = np.empty((n_bootstrap, 5))
    boot_starts = np.vstack([theta, starts[:2]])  # warm start plus the two best grid points
    for i in range(n_bootstrap):
        idx = rng.integers(0, len(runs), len(runs))
        weights = np.bincount(idx, minlength=len(runs)).astype(float)
        bt, _, _, _ = _fit_once((log_n, log_d, log_l, weights), boot_starts)
        samples[i] = _natural(bt)
    ci: dict[str, tuple[float, float]] = {}
    if n_bootstrap:
        lo, hi = np.percentile(samples, [2.5, 97.5], axis=0)
        ci = {k: (float(lo[j]), float(hi[j])) for j, k in enumerate(_NAMES)}
    return FitResult(
        e=best["E"], a=best["A"], b=best["B"], alpha=best["alpha"], beta=best["beta"],
        objective=value, converged=converged, n_runs=len(runs), n_starts=n_run,
        n_bootstrap=n_bootstrap, ci95=ci, bootstrap=samples, runs=runs,
        message="converged",
    )


_ALIASES = {
    "n_params": ("n_params", "params", "parameters", "model size", "n"),
    "n_tokens": ("n_tokens", "tokens", "training tokens", "d"),
    "train_flop": ("train_flop", "training flop", "flop", "compute"),
    "loss": ("loss", "final loss", "l"),
}


def read_runs_csv(path: str | Path) -> Runs:
    """Read runs from a CSV with columns ``n_params``, ``n_tokens`` (or ``train_flop``, from
    which tokens are ``C / 6N``) and ``loss``; Epoch AI's column names also work.

    Raises
    ------
    CatalogFileError
        The file is unreadable, a column is missing or a value is not a number.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
            rows = list(reader)
    except OSError as exc:
        raise CatalogFileError(f"{p}: cannot read runs file ({exc.strerror})") from None
    cols: dict[str, str] = {}
    for key, names in _ALIASES.items():
        for name in names:
            if name in header:
                cols[key] = header[name]
                break
    missing = [k for k in ("n_params", "loss") if k not in cols]
    if "n_tokens" not in cols and "train_flop" not in cols:
        missing.append("n_tokens (or train_flop)")
    if missing:
        raise CatalogFileError(
            f"{p}: missing columns {missing}; a runs file needs n_params, n_tokens (or "
            f"train_flop) and loss, got {sorted(header)}"
        )

    def column(key: str) -> npt.NDArray[np.float64]:
        out = np.empty(len(rows))
        for i, row in enumerate(rows):
            raw = (row.get(cols[key]) or "").strip()
            try:
                out[i] = float(raw)
            except ValueError:
                raise CatalogFileError(
                    f"{p}: row {i + 2}: column {cols[key]!r} must be a number, got {raw!r}"
                ) from None
        return out

    n = column("n_params")
    d = column("n_tokens") if "n_tokens" in cols else column("train_flop") / (6.0 * n)
    return Runs(n_params=n, n_tokens=d, loss=column("loss"), source=str(p))


def chinchilla_figure4_runs(*, drop_highest: int = 0) -> Runs:
    """Epoch AI's 245 runs reconstructed from Hoffmann et al.'s Figure 4 (shipped data).

    ``drop_highest=5`` leaves the 240 runs Besiroglu et al. fit. Source and license:
    ``catalog/data/README.md``.
    """
    runs = read_runs_csv(SHIPPED_RUNS)
    if drop_highest:
        keep = np.sort(np.argsort(runs.loss, kind="stable")[: len(runs) - drop_highest])
        runs = Runs(runs.n_params[keep], runs.n_tokens[keep], runs.loss[keep], runs.source)
    return runs
