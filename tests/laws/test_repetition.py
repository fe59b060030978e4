"""Muennighoff et al. 2023: effective data and the data-constrained optimum."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scalewall.laws import (
    effective_tokens_muennighoff2023,
    epoch_multiplier_muennighoff2023,
    get_compute_optimal,
    get_laws_catalog,
    get_loss,
    loss_data_constrained,
    optimal_data_constrained,
)
from tests.laws._reference import laws_reference

R_D_STAR = get_laws_catalog().repeat().r_d_star


@pytest.mark.parametrize("case", laws_reference("muennighoff2023_multipliers.toml"),
                         ids=lambda c: f"{c['epochs']}ep")
def test_multiplier_table(case: dict[str, float]) -> None:
    value = epoch_multiplier_muennighoff2023(case["epochs"], r_d_star=R_D_STAR)
    assert_allclose(value, case["multiplier"], atol=0.006 if value < 10 else 0.06)
    # the multiplier is D'/U of eq. 5
    u = 1e11
    assert_allclose(effective_tokens_muennighoff2023(case["epochs"] * u, u, r_d_star=R_D_STAR)
                    / u, value, rtol=1e-12)


def test_multiplier_limits() -> None:
    assert R_D_STAR == pytest.approx(15.387756)
    assert_allclose(epoch_multiplier_muennighoff2023(1e6, r_d_star=R_D_STAR), 1 + R_D_STAR)
    # "up to 4 epochs ... negligible": 4 epochs are worth more than 93% of fresh tokens
    assert epoch_multiplier_muennighoff2023(4, r_d_star=R_D_STAR) / 4 > 0.93


def test_one_epoch_is_plain_law() -> None:
    assert_allclose(loss_data_constrained(405e9, 15.6e12, 3e14), get_loss(405e9, 15.6e12),
                    rtol=1e-12)


def test_data_constrained_optimum() -> None:
    plenty = optimal_data_constrained(1e23, 1e16)
    assert_allclose(plenty.n_params, get_compute_optimal(1e23).n_params, rtol=2e-3)
    scarce = optimal_data_constrained(1e23, 1e11)
    assert scarce.epochs > 1.0
    assert scarce.n_params < plenty.n_params  # fewer parameters, more epochs (Sec. 5)
    assert scarce.loss > plenty.loss
    arr = optimal_data_constrained(np.array([1e23, 1e23]), np.array([1e16, 1e11]))
    assert_allclose(arr.n_params, [plenty.n_params, scarce.n_params], rtol=1e-12)
