"""Sardana et al. 2024, inference and synthetic-data costs, budgets through the planner."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scalewall._errors import InvalidParameter
from scalewall.catalog import get_catalog
from scalewall.kernels import device_rates
from scalewall.laws import (
    chinchilla_tokens_for_params,
    data_budget,
    get_laws_catalog,
    inference_aware_optimal,
    inference_cost,
    loss_chinchilla,
    optimal_for_budget,
)
from tests.laws._reference import laws_reference


@pytest.mark.parametrize("case", laws_reference("sardana2024.toml"))
def test_sardana_worked_example(case: dict[str, float]) -> None:
    law = get_laws_catalog().chinchilla(str(case["law"]))
    n13 = case["like_params"]
    target = loss_chinchilla(n13, chinchilla_tokens_for_params(n13, law=law), e=law.e, a=law.a,
                             b=law.b, alpha=law.alpha, beta=law.beta)
    opt = inference_aware_optimal(target, case["inference_tokens"], law=law)
    assert_allclose(opt.chinchilla_n_params, n13, rtol=1e-6)
    assert_allclose(opt.n_params, case["n_params"], atol=case["n_params_atol"])
    saved = opt.chinchilla_total_cost - opt.total_cost
    assert_allclose(saved, case["flop_saved"], rtol=case["flop_saved_rtol"])
    assert_allclose(opt.saving, case["saving"], atol=case["saving_atol"])
    assert_allclose(loss_chinchilla(opt.n_params, opt.n_tokens, e=law.e, a=law.a, b=law.b,
                                    alpha=law.alpha, beta=law.beta), target, rtol=1e-9)


def test_no_demand_is_chinchilla_and_more_demand_is_smaller() -> None:
    opt = inference_aware_optimal(np.array([2.0, 2.0, 2.0]), np.array([0.0, 1e12, 1e14]))
    assert_allclose(opt.n_params[0], opt.chinchilla_n_params[0], rtol=2e-3)
    assert opt.n_params[0] > opt.n_params[1] > opt.n_params[2]
    with pytest.raises(InvalidParameter, match="irreducible loss"):
        inference_aware_optimal(1.5, 1e12)


def test_inference_cost_roofline() -> None:
    cat = get_catalog()
    accel = cat.accelerator("h100-sxm")
    rates = device_rates(accel, cat.defaults)
    cost = inference_cost(70e9, 1e9, hardware="h100-sxm", decode_batch=1.0, catalog=cat)
    # batch 1 is bandwidth bound: each token reads the 140 GB of bf16 weights once
    assert_allclose(cost.device_s, 1e9 * 70e9 * 2 / rates.memory_bandwidth_bytes_per_s,
                    rtol=1e-12)
    assert_allclose(cost.flop, 2 * 70e9 * 1e9)
    assert "inference planner" in cost.method
    big = inference_cost(70e9, 1e9, hardware="h100-sxm", decode_batch=4096.0, catalog=cat)
    assert_allclose(big.device_s, 2 * 70e9 * 1e9 / (rates.peak_flop_per_s
                                                    * rates.matmul_efficiency), rtol=1e-12)


def test_data_budget_gap_and_synthetic_cost() -> None:
    report = data_budget(4e12, 2e15, teacher_params=70e9, tokens_per_kept=4.0,
                         prompt_tokens_per_kept=0.0)
    # the Villalobos et al. 2024 stock: 100T / 300T / 1000T; 4 epochs allowed
    assert_allclose(report.epochs, [20.0, 2e15 / 3e14, 2.0])
    assert_allclose(report.gap_tokens, [4e14, 2e14, 0.0])
    assert_allclose(report.synthetic_generated_tokens, [1.6e15, 8e14, 0.0])
    assert report.loss_penalty[0] > report.loss_penalty[1] > 0.0
    cost = report.synthetic_cost
    assert cost is not None
    assert_allclose(cost.flop, 2 * 70e9 * np.array([1.6e15, 8e14, 0.0]))
    with pytest.raises(InvalidParameter, match="tokens_per_kept must be >= 1"):
        data_budget(1e9, 1e12, tokens_per_kept=0.5)


@pytest.mark.parametrize("kind,budget,field", [("usd", 1e7, "rental_cost_usd"),
                                                ("mwh", 1000.0, "energy_mwh"),
                                                ("days", 30.0, "days")])
def test_budget_through_planner(kind: str, budget: float, field: str) -> None:
    opt = optimal_for_budget(budget, kind=kind, hardware="h100-sxm", n_devices=1024)
    assert_allclose(opt.plan[field], budget, rtol=1e-9)
    assert 1e10 < opt.n_params < 3e11
    assert_allclose(opt.train_flop, 6 * opt.n_params * opt.n_tokens)


def test_budget_errors() -> None:
    with pytest.raises(InvalidParameter, match="budget must be finite and > 0"):
        optimal_for_budget(-1.0, kind="usd", hardware="h100-sxm", n_devices=8)
    with pytest.raises(InvalidParameter, match="kind must be one of usd, mwh, days"):
        optimal_for_budget(1.0, kind="eur", hardware="h100-sxm", n_devices=8)
