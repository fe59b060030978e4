"""Fitting a law: recover Besiroglu et al.'s constants from Epoch AI's reconstructed runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scalewall._errors import CatalogFileError, InvalidParameter
from scalewall.laws import FitDidNotConverge, Runs, chinchilla_figure4_runs, fit_law, read_runs_csv
from scalewall.laws import fitting as fitting_module
from tests.laws._reference import laws_reference

PUBLISHED = {c["name"]: c for c in laws_reference("besiroglu2024.toml")}


def test_shipped_data() -> None:
    runs = chinchilla_figure4_runs()
    assert len(runs) == 245
    assert len(chinchilla_figure4_runs(drop_highest=5)) == 240
    # tokens are C / 6N as Epoch AI derive them; first row of their table
    assert_allclose(runs.n_tokens[0], 2.451060e8, rtol=1e-6)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_recovers_published_constants(refit: fitting_module.FitResult, name: str) -> None:
    """Our estimate lies in Besiroglu et al.'s 95% interval, and their estimate in ours."""
    case = PUBLISHED[name]
    ours = refit.params[name]
    assert case["low"] <= ours <= case["high"]
    lo, hi = refit.ci95[name]
    assert lo <= case["value"] <= hi
    assert refit.converged and refit.n_runs == 240


def test_matches_epoch_grid_fit(refit: fitting_module.FitResult) -> None:
    # Epoch AI's notebook, "Replicate exactly" (the same Huber objective, L-BFGS-B from the
    # full grid): A=477.84, B=2143.86, E=1.81724, alpha=0.347313, beta=0.367183; the optimum
    # is flat in A and B, so 1% there, 1e-3 on E and the exponents
    p = refit.params
    assert_allclose([p["A"], p["B"]], [477.84, 2143.86], rtol=0.01)
    assert_allclose([p["E"], p["alpha"], p["beta"]], [1.81724, 0.347313, 0.367183], rtol=1e-3)


def test_recovers_noise_free_law() -> None:
    n, d = np.meshgrid(np.logspace(8, 10, 5), np.logspace(9, 11.5, 5))
    loss = 1.8 + 500.0 / n**0.34 + 2000.0 / d**0.37
    fit = fit_law(Runs(n.ravel(), d.ravel(), loss.ravel()), n_bootstrap=0)
    assert_allclose([fit.e, fit.alpha, fit.beta], [1.8, 0.34, 0.37], rtol=2e-3)


def test_too_few_runs_says_how_many() -> None:
    runs = Runs(np.array([1e8, 2e8, 4e8]), np.array([1e9, 2e9, 4e9]), np.array([3.0, 2.9, 2.8]))
    with pytest.raises(InvalidParameter, match=r"need at least 10 runs.*got 3 runs"):
        fit_law(runs)


def test_non_positive_loss_rejected() -> None:
    runs = chinchilla_figure4_runs()
    bad = Runs(runs.n_params, runs.n_tokens, np.where(np.arange(len(runs)) == 3, 0.0, runs.loss))
    with pytest.raises(InvalidParameter, match=r"loss must be finite and > 0.*run 4"):
        fit_law(bad, n_bootstrap=0)


def test_not_converged_reports_best(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = iter(range(10_000))

    def fake(theta0: np.ndarray, args: tuple[np.ndarray, ...]) -> tuple[np.ndarray, float, bool]:
        return theta0, 1.0 + next(calls), False  # every start stops at a different point

    monkeypatch.setattr(fitting_module, "_lbfgs", fake)
    with pytest.raises(FitDidNotConverge, match=r"did not converge from 4 starts; best found E=")\
            as info:
        fit_law(chinchilla_figure4_runs(), n_starts=4, n_bootstrap=0)
    assert set(info.value.best) == {"E", "A", "B", "alpha", "beta"}


def test_missing_columns(tmp_path: Path) -> None:
    f = tmp_path / "runs.csv"
    f.write_text("n_params,loss\n1e9,2.5\n")
    with pytest.raises(CatalogFileError, match=r"missing columns \['n_tokens \(or train_flop\)'\]"):
        read_runs_csv(f)
    f.write_text("n_params,n_tokens,loss\n1e9,abc,2.5\n")
    with pytest.raises(CatalogFileError, match="row 2: column 'n_tokens' must be a number"):
        read_runs_csv(f)
