from __future__ import annotations

import numpy as np
import pytest

from scalewall._errors import InvalidLayout, InvalidParameter
from scalewall.api import plan_training
from scalewall.catalog import load_catalog
from scalewall.kernels import device_rates
from scalewall.train.layout import Layout
from scalewall.train.search import search_layouts


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture(scope="module")
def llama3(cat):
    """Llama 3.1 405B on 16,384 H100, 16M-token batch (Llama Team 2024, Table 4)."""
    h100 = cat.accelerator("h100-sxm")
    return search_layouts(cat.model("llama-3.1-405b"), h100, device_rates(h100, cat.defaults),
                          cat.defaults, n_devices=16384, seq_len=8192, global_batch=2048,
                          base=Layout(), recipe="auto")


def test_search_matches_single_plan_evaluation(cat, llama3):
    """One model: candidates re-evaluated as single plans (the scalar fast paths) give the
    times and memory of the vectorized search, on a dense model and on an MLA/MoE one."""
    h800 = cat.accelerator("h800")
    dsv3 = search_layouts(cat.model("deepseek-v3"), h800, device_rates(h800, cat.defaults,
                          precision="fp8"), cat.defaults, n_devices=2048, seq_len=4096,
                          global_batch=15360, base=Layout(precision="fp8"), recipe="auto",
                          fixed={"pp": 16, "ep": 64, "tp": 1})
    cases = [("llama-3.1-405b", "h100-sxm", 16384, 8192, llama3),
             ("deepseek-v3", "h800", 2048, 4096, dsv3)]
    for model, hw, n, seq, result in cases:
        for i in range(0, len(result), max(1, len(result) // 25)):
            plan = plan_training(model, hw, n_devices=n, seq_len=seq, layout=result.layout(i),
                                 catalog=cat)
            assert float(plan.step.step_s) == pytest.approx(float(result.step.step_s[i]),
                                                            rel=1e-9)
            assert float(plan.memory.total_bytes) == pytest.approx(
                float(result.memory.total_bytes[i]), rel=1e-9)


def test_best_is_at_least_as_fast_as_the_published_layout(llama3):
    rank = llama3.rank_of(dict(tp=8, cp=1, pp=16, dp=128))
    assert rank is not None
    assert llama3.step.step_s[0] <= llama3.step.step_s[rank[0] - 1]
    assert np.all(np.diff(llama3.step.step_s) >= 0)  # ranked by time
    assert np.all(llama3.memory.total_bytes <= llama3.memory.capacity_bytes)


def test_pareto_fronts_are_non_dominated(llama3):
    front = llama3.pareto("memory")
    t = llama3.step.step_s
    headroom = llama3.memory.capacity_bytes - llama3.memory.total_bytes
    for i in front:
        dominated = (t <= t[i]) & (headroom >= headroom[i]) & (
            (t < t[i]) | (headroom > headroom[i]))
        assert not dominated.any()
    assert front[0] == 0 or t[front[0]] == t[0]
    assert "runner-up" in llama3.explain()


def test_objectives_rank_differently(cat):
    h100 = cat.accelerator("h100-sxm")
    kw = dict(n_devices=64, seq_len=4096, global_batch=512, base=Layout(), recipe="auto")
    rates = device_rates(h100, cat.defaults)
    arch = cat.model("llama-2-13b")
    by_time = search_layouts(arch, h100, rates, cat.defaults, objective="time", **kw)
    by_energy = search_layouts(arch, h100, rates, cat.defaults, objective="energy", **kw)
    assert by_energy.energy_j_per_step[0] <= by_time.energy_j_per_step[0]
    assert by_time.step.step_s[0] <= by_energy.step.step_s[0]
    with pytest.raises(InvalidParameter, match="objective must be one of time, cost, energy"):
        search_layouts(arch, h100, rates, cat.defaults, objective="speed", **kw)


def test_no_valid_layout_names_the_rule_and_a_fix(cat):
    with pytest.raises(InvalidLayout, match=r"global batch divisible.*multiple of"):
        plan_training("llama-2-7b", "h100-sxm", n_devices=64, global_batch=3,
                      fixed=dict(tp=1, pp=1, cp=1), catalog=cat)
    with pytest.raises(InvalidLayout, match=r"smallest needs .* GiB.*devices or more"):
        plan_training("llama-3.1-405b", "h100-sxm", n_devices=8, global_batch=8, catalog=cat)
