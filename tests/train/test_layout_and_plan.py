from __future__ import annotations

import dataclasses

import pytest

from scalewall._errors import InvalidLayout, InvalidParameter, UnknownCatalogEntry
from scalewall.api import plan_training
from scalewall.catalog import load_catalog
from scalewall.train.layout import Layout, check_layout


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.mark.parametrize(
    ("layout", "devices", "message"),
    [
        (Layout(tp=3, pp=1, dp=1), 3, "tp=3 must divide the attention heads"),
        (Layout(tp=1, pp=7, dp=1), 7, "pp\\*vpp=7 must divide the layers"),
        (Layout(tp=2, pp=2, dp=2), 16, "devices must equal tp\\*pp\\*dp\\*cp"),
        (Layout(tp=1, pp=1, dp=4, micro_batch=3, global_batch=16), 4,
         "global_batch=16 must be divisible by micro_batch\\*dp"),
        (Layout(recompute="sometimes"), 1, "recompute must be one of none, selective, full"),
        (Layout(tp=0), 1, "layout.tp must be a positive integer, got 0"),
    ],
)
def test_impossible_layouts_are_named(cat, layout, devices, message):
    with pytest.raises((InvalidLayout, InvalidParameter), match=message):
        check_layout(cat.model("llama-2-7b"), layout, n_devices=devices, seq_len=4096)


def test_llama3_uneven_pipeline_is_allowed(cat):
    """126 layers on 16 stages (Llama Team 2024): the embedding and the loss count as layers."""
    lay = check_layout(cat.model("llama-3.1-405b"), Layout(tp=8, pp=16, dp=64),
                       n_devices=8192, seq_len=8192)
    assert lay.pp == 16


def test_plan_units_and_consistency(cat):
    plan = plan_training("llama-2-7b", "a100-sxm4-80gb", n_devices=64, n_tokens=2e12,
                         catalog=cat)
    st, fp = plan.step, plan.footprint
    assert float(fp.duration_s) == pytest.approx(
        2e12 / float(st.tokens_per_s) / cat.defaults.goodput)
    assert float(fp.device_hours) == pytest.approx(64 * float(fp.duration_s) / 3600)
    # MFU = model FLOP/s per device over the bf16 peak
    assert float(st.mfu) == pytest.approx(float(st.model_flop_per_s_per_device) / 312e12)
    assert 0.2 < float(st.mfu) < 0.8
    assert bool(plan.memory.feasible)
    # the failure-free estimate of Narayanan et al. 2021 eq. 4 is goodput 1
    ideal = plan_training("llama-2-7b", "a100-sxm4-80gb", n_devices=64, n_tokens=2e12,
                          goodput=1.0, catalog=cat)
    assert float(ideal.footprint.duration_s) == pytest.approx(2e12 / float(st.tokens_per_s))
    assert ideal.to_dict()["goodput"] == 1.0


def test_full_recomputation_costs_a_forward_pass(cat):
    kw = dict(n_devices=8, n_tokens=1e9, global_batch=64, catalog=cat)
    none = plan_training("llama-2-7b", "h100-sxm", layout=Layout(tp=8, micro_batch=1), **kw)
    full = plan_training("llama-2-7b", "h100-sxm",
                         layout=Layout(tp=8, micro_batch=1, recompute="full"), **kw)
    ratio = float(full.step.hardware_flop_per_step) / float(none.step.hardware_flop_per_step)
    assert 1.25 < ratio < 1.34  # 8/6 of the layer FLOP; the output head is not recomputed
    assert float(full.step.step_s) > float(none.step.step_s)
    assert float(full.memory.activations_bytes) < float(none.memory.activations_bytes)


def test_zero3_prefetch_and_gradient_overlap_are_separate_switches(cat):
    """ZeRO-3's weight gathers hide behind compute when prefetched, whether or not gradient
    reduction overlaps backward; without prefetch they are exposed."""
    kw = dict(n_devices=64, n_tokens=1e9, global_batch=64, catalog=cat)

    def step(**opts: bool) -> float:
        layout = Layout(dp=64, micro_batch=1, zero=3, **opts)
        return float(plan_training("llama-2-13b", "a100-sxm4-80gb", layout=layout,
                                   **kw).step.step_s)

    prefetched = step(overlap_grad_reduce=False)
    assert prefetched == pytest.approx(step())
    assert step(prefetch_params=False, overlap_grad_reduce=False) > 1.05 * prefetched


def test_pipeline_bubble_follows_1f1b(cat):
    plan = plan_training("gpt-3-175b", "a100-sxm4-80gb", n_devices=64, global_batch=64,
                         layout=Layout(tp=8, pp=8, dp=1, micro_batch=1), n_tokens=1e9,
                         seq_len=2048, catalog=cat)
    st = plan.step
    compute = float(st.step_s - st.bubble_s - st.pp_comm_s - st.dp_comm_s - st.optimizer_s)
    assert float(st.bubble_s) == pytest.approx(compute * 7 / 64, rel=1e-6)  # (p-1)/m


def test_infeasible_layout_reports_the_overflow(cat):
    plan = plan_training("llama-3.1-70b", "a100-sxm4-40gb", n_devices=8,
                         layout=Layout(tp=8, micro_batch=1), n_tokens=1e9, catalog=cat)
    assert not bool(plan.memory.feasible)
    assert float(plan.memory.total_bytes) > plan.memory.capacity_bytes


def test_search_finds_a_fitting_layout_for_405b(cat):
    plan = plan_training("llama-3.1-405b", "h100-sxm", n_devices=16384, n_tokens=15.6e12,
                         catalog=cat)
    assert bool(plan.memory.feasible)
    assert plan.layout.tp * plan.layout.pp * plan.layout.dp * plan.layout.cp == 16384
    # Llama Team 2024, Table 4: 38-43% MFU on this scale; a searched layout may do better
    assert 0.3 < float(plan.step.mfu) < 0.65


def test_bad_inputs(cat):
    with pytest.raises(UnknownCatalogEntry, match="did you mean 'h100-sxm'"):
        plan_training("llama-2-7b", "h100-sx", n_devices=8, catalog=cat)
    with pytest.raises(InvalidParameter, match="tokens must be a positive number, got -1"):
        plan_training("llama-2-7b", "h100-sxm", n_devices=8, n_tokens=-1, catalog=cat)
    with pytest.raises(InvalidParameter, match=r"goodput must be in \(0, 1\], got 1.5"):
        plan_training("llama-2-7b", "h100-sxm", n_devices=8, goodput=1.5, catalog=cat)
    with pytest.raises(InvalidParameter, match="goodput must be a positive number, got 0"):
        plan_training("llama-2-7b", "h100-sxm", n_devices=8, goodput=0, catalog=cat)
    with pytest.raises(InvalidParameter, match="exceeds the model's maximum context"):
        plan_training("llama-2-7b", "h100-sxm", n_devices=8, seq_len=100_000, catalog=cat)
    unlinked = dataclasses.replace(cat.accelerator("mi355x"), id="unlinked",
                                   scale_up_bytes_per_s=0.0, scale_out_bytes_per_s=0.0)
    with pytest.raises(InvalidParameter, match="no published scale-up or scale-out"):
        plan_training("llama-2-7b", unlinked, n_devices=8, catalog=cat)
    with pytest.raises(InvalidParameter, match=r"precision .bf16. is not supported by groq-lpu"):
        plan_training("llama-2-7b", "groq-lpu", n_devices=1, catalog=cat)


def test_stage_layers_scalar_and_vector_agree():
    import numpy as np

    from scalewall.train.layout import stage_layers

    pp = np.arange(1.0, 21.0)
    for L in range(1, 131):
        vec = stage_layers(L, pp)
        for i, p in enumerate(pp):
            assert stage_layers(L, float(p)) == tuple(float(v[i]) for v in vec), (L, p)
    # Llama 3 405B: 126 layers on 16 stages, the embedding and loss each take a layer's slot
    assert stage_layers(126, 16.0) == (7.0, 8.0, 7.0)
