"""Serving planner: published and measured figures, physics limits, CLI."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from scalewall._errors import CatalogFileError, InvalidParameter, PlannerError
from scalewall.arch.counts import n_params
from scalewall.arch.model import Architecture
from scalewall.catalog import CATALOG_DIR, get_catalog
from scalewall.cli import app
from scalewall.infer import (
    InfeasibleServing,
    compare_state_space,
    evaluate_serving,
    plan_serving,
    search_serving,
)
from scalewall.infer.plan import serving_rates, speculative_acceptance
from scalewall.infer.step import decode_step, prefill
from scalewall.validate import validate_csv

INFER_CSV = CATALOG_DIR / "validation" / "infer.csv"
runner = CliRunner()


def _rows() -> list[dict[str, str]]:
    with INFER_CSV.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_infer_csv_has_sources_and_enough_rows() -> None:
    rows = _rows()
    assert len(rows) >= 23
    assert all(r["source"].strip() and r["task"] == "infer" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("row_id, tolerance", [
    # measured on one H200 (shared/validation/public.csv); 4-5 significant digits, so the
    # tolerance is the issue's: 10% for decode, 15% for prefill
    ("h200-llama-3-8b-shape-b1-c1024-tpot", 0.10),
    ("h200-llama-3-8b-shape-b32-c1024-tpot", 0.10),
    ("h200-llama-3-8b-shape-prefill2048", 0.15),
    # NVIDIA NIM 1.8.0 ITL at concurrency 25 (prefill stalls included), 4 digits
    ("nim18-h100x2-llama3.3-70b-c25-5000-500-tpot", 0.10),
    ("nim18-h100x2-llama3.3-70b-c1-5000-500-ttft", 0.15),
])
def test_rows_within_tolerance(row_id: str, tolerance: float) -> None:
    result = validate_csv(INFER_CSV)
    row = next(r for r in result.rows if r["id"] == row_id)
    assert row["error"] is not None, row
    assert abs(row["error"]) <= tolerance, row


def _decode_errors(neuron: bool) -> np.ndarray:
    return np.array([r["error"] for r in validate_csv(INFER_CSV).rows
                     if r["metric"] in ("tpot_s", "decode_tokens_per_s")
                     and r["error"] is not None and r["id"].startswith("neuron") == neuron])


def _is_fp4(row_id: str) -> bool:
    return row_id.endswith("-fp4") or row_id.startswith("mlperf50-b200")


def _moe_rows() -> set[str]:
    """Ids of the rows whose model is a mixture of experts (catalog models only)."""
    cat = get_catalog()
    with open(INFER_CSV, newline="") as f:
        return {r["id"] for r in csv.DictReader(f)
                if r["model"].strip() and cat.model(r["model"].strip()).is_moe}


def test_gpu_and_lpu_decode_rows_within_10_percent() -> None:
    """TPOT and decode tokens/s of dense models on GPUs and Groq at 16- and 8-bit weights: 10%
    median (issue 8's target; 8.1% over 94 rows, 7.8% without the two MI300X rows). The 42
    NVFP4 rows, +20% fast, the MI300X rows, +31% and +37%, and the mixture-of-experts rows
    have tests of their own."""
    moe = _moe_rows()
    err = np.array([r["error"] for r in validate_csv(INFER_CSV).rows
                    if r["metric"] in ("tpot_s", "decode_tokens_per_s")
                    and r["error"] is not None and not r["id"].startswith("neuron")
                    and not _is_fp4(r["id"]) and r["id"] not in moe])
    assert len(err) >= 90 and np.median(np.abs(err)) <= 0.10


def test_neuroncore_v2_decode_against_its_dma_engines() -> None:
    """AWS's Transformers NeuronX TPOT at batch 1 (Neuron 2.18): weights stream at the DMA
    engines' 544 GB/s per chip (AWS NKI DMA guide), not the HBM's 820 x 0.89. Inferentia2
    (12 chips, 17 rows): 18% fast at the HBM rate, within 10% at the engines' (the 70B rows
    within 8%). Trainium1 (16 chips, 10 rows, the same NeuronCore-v2 and engines, not used for
    any constant): 15% slow, as the ring all-reduce's latency grows with the 16-chip group
    while the measured time tracks the weights per chip; the bound keeps that documented gap
    from widening."""
    rows = validate_csv(INFER_CSV).rows
    decode = [r for r in rows if r["metric"] in ("tpot_s", "decode_tokens_per_s")
              and r["error"] is not None and r["id"].startswith("neuron")]
    inf2 = np.array([r["error"] for r in decode if "-inf2x12-" in r["id"]])
    trn1 = np.array([r["error"] for r in decode if "-trn1x16-" in r["id"]])
    assert len(inf2) == 17 and np.median(np.abs(inf2)) <= 0.10
    big = [r["error"] for r in decode if "-inf2x12-" in r["id"] and "70b" in r["id"]]
    assert len(big) == 12 and max(abs(e) for e in big) <= 0.08
    assert len(trn1) == 10 and 0.05 < np.median(trn1) < 0.25


def test_all_decode_rows_at_the_10_percent_target() -> None:
    """Issue 8's decode target: dense models 6.3% over the 122 rows at 16- and 8-bit weights
    (Neuron, MI300X and Gaudi 2 included) and 7.0% with the 42 NVFP4 rows (+10.5%, see
    below); with the 110 TensorRT-LLM mixture-of-experts rows, the 2 MLPerf Mixtral rows and
    the 407 DeepSeek-R1 rows (see their tests) the pooled group is at 11.6% over 684: the
    target is missed. The bounds keep each figure from drifting further."""
    moe = _moe_rows()
    rows = [r for r in validate_csv(INFER_CSV).rows
            if r["metric"] in ("tpot_s", "decode_tokens_per_s") and r["error"] is not None]
    dense = [r for r in rows if r["id"] not in moe]
    narrow = np.array([r["error"] for r in dense if not _is_fp4(r["id"])])
    assert len(narrow) >= 100 and np.median(np.abs(narrow)) <= 0.10
    assert np.median(np.abs([r["error"] for r in dense])) <= 0.105
    g = validate_csv(INFER_CSV).groups["decode"]
    assert g["n"] == len(rows) and g["median_abs_error"] <= 0.15


def test_serving_power_rows_within_15_percent() -> None:
    """Mean board power while serving, ML.ENERGY v3 (Zeus/NVML): the energy roofline with
    one calibrated constant holds 15% over the 68 rows it was not calibrated on."""
    g = validate_csv(INFER_CSV).groups["serving power"]
    assert g["n"] >= 60 and g["median_abs_error"] <= 0.15


def test_power_rises_from_memory_bound_to_the_power_limit() -> None:
    """An H100 serving Llama 3.1 8B draws 486 W at batch 8 and its 700 W limit from batch
    ~192 (ML.ENERGY v3); 70B on four H100s draws 441 W per GPU at batch 8 (out of sample)."""
    kw = dict(prompt=0, output=388, precision="bf16")
    small = plan_serving("llama-3.1-8b", "h100-sxm", batch=8, **kw)
    large = plan_serving("llama-3.1-8b", "h100-sxm", batch=256, **kw)
    assert small.device_power_w == pytest.approx(486.4, rel=0.05)
    assert large.device_power_w == pytest.approx(690.5, rel=0.05)
    assert large.device_power_w <= 700.0
    tp4 = plan_serving("llama-3.1-70b", "h100-sxm", n_devices=4, tp=4, batch=8, **kw)
    assert tp4.device_power_w == pytest.approx(441.4, rel=0.15)
    # facility energy adds the host share and PUE to the boards' energy
    assert small.energy_j_per_token > small.device_energy_j_per_token > 0


def test_groq_70b_needs_hundreds_of_chips_and_beats_a_gpu_per_user() -> None:
    """Groq serves Llama 2 70B on 576 chips at about 300 tokens/s per user (TechPowerUp,
    Feb 2024); a GPU server at batch 1 is bandwidth-bound well below that."""
    cat = get_catalog()
    accel = cat.accelerator("groq-lpu")
    # capacity-bound: 8-bit weights alone need ~69 GB of 230 MB chips
    with pytest.raises(InfeasibleServing, match="devices"):
        plan_serving("llama-2-70b", "groq-lpu", n_devices=64, precision="int8", catalog=cat)
    min_chips = 69e9 / accel.memory_bytes
    assert 200 < min_chips < 1000
    groq = plan_serving("llama-2-70b", "groq-lpu", n_devices=576, batch=1, prompt=512,
                        output=128, precision="int8", catalog=cat)
    gpu = plan_serving("llama-2-70b", "h100-sxm", n_devices=8, batch=1, prompt=512,
                       output=128, precision="bf16", catalog=cat)
    assert groq.feasible and groq.tp * groq.pp == 576
    assert float(groq.metrics.tokens_per_s_per_user) > float(gpu.metrics.tokens_per_s_per_user)


def test_decode_is_bandwidth_bound_then_compute_bound() -> None:
    cat = get_catalog()
    arch = cat.model("llama-3-8b")
    gemm, attn = serving_rates(cat.accelerator("h100-sxm"), cat, precision="bf16")
    b = np.array([1.0, 8.0, 64.0, 512.0, 4096.0])
    m = evaluate_serving(arch, gemm, attention_rates=attn, batch=b, prompt=128, output=1,
                         context=128, weight_bytes=2.0, kv_precision="bf16",
                         capacity_bytes=80 * 2**30)
    tpot = np.asarray(m.tpot_s)
    # nearly flat while bound by the weight read, then growing with the batch
    assert tpot[1] / tpot[0] < 1.1
    assert tpot[-1] / tpot[-2] > 3.0
    # scalar and array calls agree
    one = evaluate_serving(arch, gemm, attention_rates=attn, batch=64.0, prompt=128, output=1,
                           context=128, weight_bytes=2.0, kv_precision="bf16",
                           capacity_bytes=80 * 2**30)
    assert_allclose(float(one.tpot_s), tpot[2])


def test_batch_prefill_runs_a_forward_pass_per_token_budget() -> None:
    """An engine prefills a cycle's prompts a pass at a time, as many whole prompts as its
    token budget holds: 32 prompts of 2,048 tokens under TensorRT-LLM's 8,192 are 8 passes of
    4, each paying the host's per-iteration time and, for a mixture of experts, reading the
    touched experts again (Qwen3-235B-A22B on 8 H200s: one pass of 65,536 tokens would be
    faster). Under attention data parallelism each of the 8 ranks fills its own budget, so the
    32 prompts go in one pass."""
    cat = get_catalog()
    arch = cat.model("qwen3-235b-a22b")
    gemm, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    kw = dict(prompt=2048, output=128, tp=8, ep=8, weight_bytes=1.0, kv_precision="fp8",
              capacity_bytes=141e9, request_overhead_s=1e-3, max_tokens_per_iteration=8192)

    def prefill_s(batch: float, **extra: object) -> float:
        m = evaluate_serving(arch, gemm, attention_rates=attn, batch=batch, **{**kw, **extra})
        return float(m.batch_prefill_s)

    assert prefill_s(32) == pytest.approx(8 * prefill_s(4))
    assert prefill_s(32) > 1.05 * prefill_s(32, max_tokens_per_iteration=float("inf"))
    assert prefill_s(32, attention_dp=True) == pytest.approx(
        prefill_s(32, attention_dp=True, max_tokens_per_iteration=float("inf")))


def test_routed_tokens_are_permuted_and_summed_in_memory() -> None:
    """Qwen3-235B-A22B (h 4,096, 8 of 128 experts per token in all 94 layers) against its
    dense twin of equal active MLP width: a prefill token's memory-bound work per layer grows
    by the permute (read h, write 8 copies) and the finalize (read 8 outputs, write h),
    18 x 4,096 16-bit values = 147,456 bytes, on every tensor-parallel rank."""
    cat = get_catalog()
    moe = cat.model("qwen3-235b-a22b")
    dense = dataclasses.replace(moe, n_experts=0, n_active_experts=0,
                                ffn_size=moe.expert_ffn_size * moe.n_active_experts)
    gemm, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    T = 8192.0

    def elem_s(arch: Architecture) -> float:
        p = prefill(arch, gemm, batch=1, prompt=T, weight_bytes=1.0, tp=8, ep=1,
                    attention_rates=attn)
        return float(p.elementwise_s)

    bandwidth = gemm.memory_bandwidth_bytes_per_s
    extra_bytes = (elem_s(moe) - elem_s(dense)) / moe.n_layers * bandwidth
    assert extra_bytes / T == pytest.approx(18 * 4096 * 2, rel=1e-6)


def test_per_query_head_kernels_read_the_cache_once_per_query_head() -> None:
    """Llama 2 70B has 8 query heads per key/value head: a 2023 decode kernel that streams
    the cache per query head reads it 8 times, which is what TensorRT-LLM v0.6.1's static-batch
    throughput shows (its rows moved from +114% to within 11% with it)."""
    cat = get_catalog()
    arch = cat.model("llama-2-70b")
    gemm, attn = serving_rates(cat.accelerator("h100-sxm"), cat, precision="fp8")
    kw = dict(batch=64.0, prompt=2048, output=2048, tp=2, weight_bytes=1.0,
              kv_precision="fp8", capacity_bytes=80e9)
    grouped = evaluate_serving(arch, gemm, attention_rates=attn, **kw)
    per_head = evaluate_serving(arch, gemm, attention_rates=attn, grouped_kv_reads=False,
                                **kw)
    launches = attn.kernel_launch_s * arch.n_layers
    ratio = ((float(per_head.decode.attention_s) - launches)
             / (float(grouped.decode.attention_s) - launches))
    assert ratio == pytest.approx(64 / 8)
    assert float(per_head.decode.gemm_s) == float(grouped.decode.gemm_s)
    result = validate_csv(INFER_CSV)
    v061 = [r for r in result.rows if r["id"].startswith("trtllm061-h100-llama2-70b")]
    assert len(v061) == 4 and all(abs(r["error"]) < 0.15 for r in v061), v061


def test_blank_batch_throughput_row_uses_the_best_batch_that_fits() -> None:
    """Offline throughput rows (MLPerf style) publish no batch: the prediction is the
    highest-throughput power-of-two batch that fits, not batch 1."""
    from scalewall.infer.validate import predict_infer_row

    cat = get_catalog()
    row = {"id": "offline", "task": "infer", "model": "llama-2-70b", "hardware": "h100-sxm",
           "devices": "8", "prompt": "1024", "output": "1024", "precision": "fp8",
           "metric": "decode_tokens_per_s", "value": "1"}
    best = predict_infer_row(row, cat, "offline")
    by_batch = {}
    for b in (1, 64, 256, 1024, 4096):
        try:
            plan = plan_serving("llama-2-70b", "h100-sxm", n_devices=8, batch=b, prompt=1024,
                                output=1024, precision="fp8", objective="throughput")
        except InfeasibleServing:
            continue
        if plan.feasible:
            by_batch[b] = float(plan.metrics.decode_tokens_per_s)
    assert best >= max(by_batch.values()) * (1 - 1e-9)
    assert best > 20 * by_batch[1]
    assert predict_infer_row({**row, "batch": "1"}, cat, "one") == pytest.approx(by_batch[1])


def test_batch_none_picks_the_batch_with_the_layout() -> None:
    """``batch=None`` chooses batch and layout in one evaluation: for throughput the fitting
    power of two with the most tokens/s (a fixed layout included), for latency batch 1."""
    kw = dict(n_devices=4, prompt=2048, output=512, precision="bf16")
    best = plan_serving("llama-3.1-70b", "h100-sxm", batch=None, objective="throughput", **kw)
    assert best.feasible and 1 < best.batch <= 4096
    half = plan_serving("llama-3.1-70b", "h100-sxm", batch=best.batch // 2,
                        objective="throughput", **kw)
    assert float(half.metrics.decode_tokens_per_s) < float(best.metrics.decode_tokens_per_s)
    with pytest.raises(InfeasibleServing):  # twice the batch fits under no layout
        plan_serving("llama-3.1-70b", "h100-sxm", batch=best.batch * 2, **kw)
    fixed = plan_serving("llama-3.1-70b", "h100-sxm", batch=None, tp=4, pp=1,
                         objective="throughput", **kw)
    assert fixed.feasible and (fixed.tp, fixed.pp) == (4, 1) and fixed.batch > 1
    assert plan_serving("llama-3.1-70b", "h100-sxm", batch=None, **kw).batch == 1


def test_mla_decode_attends_in_the_latent_space() -> None:
    """DeepSeek-V3 decode with absorbed W_UK/W_UV: each of 128 heads does 2 x (512 + 64) +
    2 x 512 FLOP per cached token (DeepSeek-AI 2024, arXiv:2405.04434, Sec. 2.1.3)."""
    from scalewall.infer.step import decode_step

    cat = get_catalog()
    arch = cat.model("deepseek-v3")
    gemm, _ = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    kw = dict(batch=64.0, weight_bytes=1.0, kv_precision="fp8", tp=8.0)
    short, long_ = (decode_step(arch, gemm, context=c, **kw) for c in (1024.0, 33792.0))
    per_token = float(np.asarray(long_.flop - short.flop)) / (64 * 32768)
    assert per_token == pytest.approx(61 * 128 * 2 * (512 + 64 + 512))


def test_lower_precision_decodes_faster_and_fits_more() -> None:
    plans = {p: plan_serving("llama-3.1-70b", "h100-sxm", n_devices=4, batch=16, prompt=1024,
                             output=128, precision=p, tp=4, pp=1)
             for p in ("bf16", "fp8", "int4")}
    tpot = {p: float(v.metrics.tpot_s) for p, v in plans.items()}
    assert tpot["int4"] < tpot["fp8"] < tpot["bf16"]
    assert plans["fp8"].metrics.max_batch > plans["bf16"].metrics.max_batch


def test_moe_reads_only_touched_experts() -> None:
    moe = plan_serving("mixtral-8x7b", "h100-sxm", n_devices=2, batch=1, prompt=128, output=64)
    big = plan_serving("mixtral-8x7b", "h100-sxm", n_devices=2, batch=256, prompt=128,
                       output=64)
    d = moe.to_dict()
    assert d["n_active_params"] < 0.35 * d["n_params"]
    # at batch 1 two of eight experts are read; at 256 all are: the step grows, but far less
    # than 256 times
    ratio = float(big.metrics.tpot_s) / float(moe.metrics.tpot_s)
    assert 1.5 < ratio < 10


def test_attention_data_parallelism_holds_no_cache_twice() -> None:
    """Under attention data parallelism each device attends its own sequences with every head:
    Qwen3-235B's 4 KV heads are no longer copied across TP 8 (half the cache per sequence per
    device), DeepSeek-V3's MLA latent no longer held by all 8 (an eighth), and every device
    keeps a whole copy of the attention weights (7/8 of them more per device)."""
    from scalewall.arch.counts import param_breakdown
    from scalewall.infer.step import kv_bytes_per_sequence_per_device, weight_bytes_per_device

    cat = get_catalog()
    for name, ratio in (("qwen3-235b-a22b", 0.5), ("deepseek-v3", 0.125)):
        arch = cat.model(name)
        tp_kv, dp_kv = (float(kv_bytes_per_sequence_per_device(
            arch, context=4096, kv_precision="fp8", tp=8, attention_dp=dp)) for dp in (0, 1))
        assert dp_kv / tp_kv == pytest.approx(ratio)
        extra = (weight_bytes_per_device(arch, weight_bytes=1.0, tp=8, attention_dp=True)
                 - weight_bytes_per_device(arch, weight_bytes=1.0, tp=8))
        assert float(extra) == pytest.approx(param_breakdown(arch).attention * 7 / 8)
    tp = plan_serving("deepseek-v3", "h200-sxm", n_devices=8, tp=8, batch=256, prompt=1024,
                      output=1024, precision="fp8")
    dp = plan_serving("deepseek-v3", "h200-sxm", n_devices=8, tp=8, batch=256, prompt=1024,
                      output=1024, precision="fp8", attention_dp=True)
    # eight times the sequences per byte of cache, in the memory the copied attention
    # weights (10 GB per device in fp8) leave: 680 -> 4,330
    m_tp, m_dp = tp.metrics, dp.metrics
    free = [float(m.capacity_bytes * 0.95 - m.weights_bytes_per_device) for m in (m_tp, m_dp)]
    assert float(m_dp.max_batch) / float(m_tp.max_batch) == pytest.approx(
        8 * free[1] / free[0], rel=0.05)
    # the latent cache read per step per device drops eightfold (the FLOP per device stay:
    # an eighth of the sequences at every head instead of every sequence at an eighth of them)
    assert float(m_dp.decode.attention_bytes) == pytest.approx(
        float(m_tp.decode.attention_bytes) / 8)
    assert float(m_dp.decode.attention_flop) == pytest.approx(float(m_tp.decode.attention_flop))
    assert float(m_dp.decode.attention_s) < float(m_tp.decode.attention_s)
    assert float(dp.metrics.tpot_s) < float(tp.metrics.tpot_s)
    assert dp.to_dict()["attention_dp"] is True
    with pytest.raises(PlannerError, match="needs a mixture-of-experts model"):
        plan_serving("llama-3.1-8b", "h100-sxm", n_devices=2, ep=2)


def test_search_tries_both_attention_layouts_for_moe() -> None:
    """For a mixture-of-experts model the search also tries attention data-parallel over the
    TP group (twice the candidates of a dense model on the same grid) and says which won."""
    kw = dict(hardware=["h200-sxm"], requests_per_s=2.0, prompt=1024, output=256,
              ttft_s=5.0, tpot_s=0.2, precisions=("fp8",))
    moe = search_serving("deepseek-v3", **kw)
    dense = search_serving("llama-3.1-70b", **kw)
    assert moe.n_candidates == 2 * dense.n_candidates
    assert moe.feasible and moe.best is not None and isinstance(moe.best["attention_dp"], bool)
    assert dense.best is not None and dense.best["attention_dp"] is False


def test_routed_experts_run_as_one_grouped_gemm() -> None:
    """DeepSeek-V3 on 8 H200s (TP 8, fp8) at 64 sequences: 64 x 8 picks touch about 222 of
    256 experts per layer, and a fused MoE kernel streams their weights in one launch, so the
    decode step is bound below by those bytes over the achievable bandwidth and stays within
    twice that; one launch per expert, 4 us each, would add 58 x 222 x 2 x 4 us = 103 ms."""
    cat = get_catalog()
    arch = cat.model("deepseek-v3")
    plan = plan_serving(arch, "h200-sxm", n_devices=8, tp=8, batch=64, prompt=1024,
                        output=1024, precision="fp8")
    gemm, _ = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    touched = 256 * (1 - (1 - 8 / 256) ** 64)
    expert_bytes = 3 * arch.hidden_size * arch.expert_ffn_size / 8  # fp8, one TP shard
    floor = arch.n_moe_layers * touched * expert_bytes / gemm.memory_bandwidth_bytes_per_s
    tpot = float(plan.metrics.tpot_s)
    assert floor < tpot < 2.0 * floor


@pytest.mark.parametrize("model", ["gpt-3-175b", "llama-3.1-405b", "mixtral-8x7b",
                                   "deepseek-v3"])
@pytest.mark.parametrize("every", [0, 4, 8])
def test_equal_size_hybrid_is_the_closest_depth(model: str, every: int) -> None:
    """``hybrid_of`` scores every depth in one array evaluation; it must pick the depth a
    layer-by-layer search picks (dense, MoE and MLA shapes; pure SSM and two hybrids)."""
    from scalewall.arch.counts import n_params
    from scalewall.infer.ssm import hybrid_of

    base = get_catalog().model(model)

    def size(n: int) -> int:
        n_attn = 0 if every == 0 else max(n // every, 1)
        return n_params(base.replace(n_layers=n, n_ssm_layers=n - n_attn))

    best = min(range(1, base.n_layers + 1), key=lambda n: abs(size(n) - n_params(base)))
    assert hybrid_of(base, attention_every=every).n_layers == best


def test_hybrid_is_cheaper_at_long_context() -> None:
    """A Jamba-style hybrid (1 attention layer in 8) of Llama 3.1 8B's width and size on one
    H100: 26 layers (3 attention, 23 Mamba-2) hold 8.1B parameters against 8.0B. At 128k tokens
    its cache per sequence is 3/32 of the transformer's 17.18 GB plus 23 x 2.15 MB of state,
    1.66 GB (0.0966 of it), and it decodes ~10x more tokens/s; at 256 tokens the transformer,
    whose few-KB cache is no burden, is faster."""
    from scalewall.arch.counts import n_params
    from scalewall.infer.ssm import hybrid_of

    base = get_catalog().model("llama-3.1-8b")
    hyb = hybrid_of(base)
    assert (hyb.n_layers, hyb.n_attention_layers) == (26, 3)
    assert n_params(hyb) == pytest.approx(n_params(base), rel=0.02)
    c = compare_state_space("llama-3.1-8b", "h100-sxm",
                            context=[256.0, 4096.0, 32768.0, 131072.0])
    assert float(np.asarray(c.memory_ratio)[-1]) == pytest.approx(0.0966, rel=0.01)
    ratio = np.asarray(c.throughput_ratio)
    assert ratio[0] < 1.0 and np.all(ratio[1:] > 2.0) and ratio[-1] > 8.0
    assert c.cheaper_from == 4096.0
    assert float(np.asarray(c.hybrid_tpot_s)[-1]) < 0.3 * float(
        np.asarray(c.transformer_tpot_s)[-1])


def test_hybrid_comparison_takes_the_fewest_devices_that_hold_the_weights() -> None:
    """Llama 3.1 70B in bf16 (141 GB) fits on one H200 (142 GB usable of its 143,771 MiB) with
    about a gigabyte to spare, too little for one sequence: both models are served
    tensor-parallel on two, the fewest that hold the weights and a sequence. Given one, the
    comparison says no sequence fits, with no ratio. DeepSeek-V3 in bf16 (1,342 GB) fits on no
    replica of up to 8 H200s (1,137 GB): a clear error, not a comparison of deployments that
    cannot run."""
    c = compare_state_space("llama-3.1-70b", "h200-sxm", context=[1024.0, 131072.0])
    assert c.n_devices == 2 and c.to_dict()["n_devices"] == 2
    assert float(np.asarray(c.throughput_ratio)[-1]) > 5.0
    one = compare_state_space("llama-3.1-70b", "h200-sxm", context=[1024.0, 131072.0],
                              n_devices=1)
    assert int(one.transformer_max_batch[0]) == 0
    assert one.to_dict()["throughput_ratio"] == [None, None]
    with pytest.raises(InvalidParameter,
                       match=r"need 1342\.1 GB, more than the 1137\.1 GB usable on 8 x h200"):
        compare_state_space("deepseek-v3", "h200-sxm", context=[1024.0])
    with pytest.raises(InvalidParameter, match=r"n_devices must be in \[1, 8\]"):
        compare_state_space("llama-3.1-8b", "h200-sxm", context=[1024.0], n_devices=16)


@pytest.mark.parametrize("kwargs, match", [
    (dict(prompt=200_000, output=10), "maximum context"),
    (dict(precision="fp8", hardware="a100-sxm4-80gb"), "not supported by a100"),
    (dict(n_devices=1, hardware="a100-sxm4-80gb"), "does not fit"),
    (dict(precision="int3"), "precision must be one of"),
    (dict(request_overhead_s=float("nan")), "request_overhead_s must be in"),
    (dict(request_overhead_s=-1e-3), "request_overhead_s must be in"),
    (dict(host_time_per_sequence_s=-1e-6), "host_time_per_sequence_s must be in"),
    (dict(host_time_per_sequence_s=float("nan")), "host_time_per_sequence_s must be in"),
])
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = dict(hardware="h100-sxm", n_devices=8, batch=1, prompt=128,
                                   output=16)
    args.update(kwargs)
    hw = args.pop("hardware")
    with pytest.raises(PlannerError, match=match):
        plan_serving("llama-3.1-70b", str(hw), **args)  # type: ignore[arg-type]
    assert issubclass(InvalidParameter, PlannerError)


def test_request_overhead_is_charged_once_per_prefill() -> None:
    """The engine's host time per request (0.9 ms, Vidur's vLLM profile) lands on the time to
    first token and on each cycle's batched prefill; decode steps are untouched."""
    kw = dict(n_devices=1, batch=8, prompt=128, output=64)
    engine = plan_serving("llama-3-8b", "h100-sxm", **kw)  # type: ignore[arg-type]
    kernels = plan_serving("llama-3-8b", "h100-sxm", request_overhead_s=0.0,
                           **kw)  # type: ignore[arg-type]
    assert engine.request_overhead_s == pytest.approx(0.9e-3)
    assert engine.to_dict()["request_overhead_s"] == pytest.approx(0.9e-3)
    m, k = engine.metrics, kernels.metrics
    assert float(m.ttft_s) - float(k.ttft_s) == pytest.approx(0.9e-3, rel=1e-9)
    assert float(m.batch_prefill_s) - float(k.batch_prefill_s) == pytest.approx(0.9e-3)
    assert float(m.tpot_s) == float(k.tpot_s)
    assert float(m.cycle_s) - float(k.cycle_s) == pytest.approx(0.9e-3)
    # a validation row timed on the kernels alone says so with request_overhead_ms = 0
    row = next(r for r in validate_csv(INFER_CSV).rows
               if r["id"] == "h200-llama-3-8b-shape-prefill2048")
    assert row["predicted"] == pytest.approx(
        float(plan_serving("llama-3-8b", "h200-sxm", prompt=2048, output=1,
                           request_overhead_s=0.0).metrics.ttft_s), rel=1e-9)


def test_host_work_bounds_decode_from_below() -> None:
    """A decode step takes the larger of the devices' time and the engine's host time, 29.4 us
    per running sequence (TensorRT-LLM's measured host step): a small-active MoE model at
    batch 4,096 on one B200 is host-bound, 4,096 x 29.4 us = 120 ms per step, at most
    34,000 tokens/s whatever the chip (TensorRT-LLM v1.0 measured 39,827 for Qwen3-30B-A3B
    at 128/128 on one B200, 24,107 on one GB200); the devices' own time is unchanged and their
    power falls as they wait. A dense 70B model at batch 64 is not host-bound."""
    kw = dict(n_devices=1, batch=4096, prompt=128, output=128, precision="fp4")
    host = plan_serving("qwen3-30b-a3b", "b200", **kw)  # type: ignore[arg-type]
    kernels = plan_serving("qwen3-30b-a3b", "b200", host_time_per_sequence_s=0.0,
                           **kw)  # type: ignore[arg-type]
    m, k = host.metrics, kernels.metrics
    assert host.host_bound and not kernels.host_bound
    assert float(m.tpot_s) == pytest.approx(4096 * 29.4e-6, rel=1e-9)
    assert float(m.decode.step_s) == pytest.approx(float(k.decode.step_s), rel=1e-12)
    assert float(k.tpot_s) < 0.2 * float(m.tpot_s)
    assert 30_000 < float(m.decode_tokens_per_s) < 34_013
    assert float(m.power_activity) < float(k.power_activity)
    assert host.to_dict()["host_bound"] is True
    dense = plan_serving("llama-3.1-70b", "h200-sxm", n_devices=4, batch=64)
    assert not dense.host_bound
    assert float(dense.metrics.decode_host_s) == pytest.approx(64 * 29.4e-6)


def test_attention_data_parallel_ranks_schedule_their_own_sequences() -> None:
    """Under attention data parallelism each of the tp ranks runs its own scheduler over its
    own share of the batch, so the host bound is that of ceil(b / tp) sequences."""
    kw = dict(n_devices=8, tp=8, ep=8, batch=4096, prompt=128, output=128, precision="fp8")
    one = plan_serving("qwen3-235b-a22b", "h200-sxm", **kw)  # type: ignore[arg-type]
    split = plan_serving("qwen3-235b-a22b", "h200-sxm", attention_dp=True,
                         **kw)  # type: ignore[arg-type]
    assert float(one.metrics.decode_host_s) == pytest.approx(4096 * 29.4e-6)
    assert float(split.metrics.decode_host_s) == pytest.approx(512 * 29.4e-6)


def test_chunked_attention_caps_the_cache_and_its_reads() -> None:
    """Llama 4 Scout at a 20,000-token prompt and 2,000 output tokens: three layers in four keep
    and read only their 8,192-token chunk, so the cache per sequence is (0.75 x 8,192 + 0.25 x
    22,000) / 22,000 of full attention's and a decode step at the mean context of 21,000 reads
    (0.75 x (21,000 mod 8,192) + 0.25 x 21,000) / 21,000 of it."""
    from scalewall.catalog import get_catalog

    scout = get_catalog().model("llama-4-scout")
    full = scout.replace(attention_chunk_size=None, global_attention_every=0)
    kw = dict(n_devices=4, tp=4, batch=8, prompt=20_000, output=2000, precision="fp8")
    chunked = plan_serving(scout, "h200-sxm", **kw).metrics  # type: ignore[arg-type]
    whole = plan_serving(full, "h200-sxm", **kw).metrics  # type: ignore[arg-type]
    assert float(chunked.kv_bytes_per_device / whole.kv_bytes_per_device) == pytest.approx(
        (0.75 * 8192 + 0.25 * 22_000) / 22_000)
    reads = float(chunked.decode.attention_bytes / whole.decode.attention_bytes)
    assert reads == pytest.approx((0.75 * (21_000 % 8192) + 0.25 * 21_000) / 21_000)
    assert float(chunked.ttft_s) < float(whole.ttft_s)


def test_skewed_router_slows_the_busiest_expert_rank() -> None:
    """DeepSeek-V3 at batch 4,096 on 8 H200s (attention data-parallel) with its experts split 8
    ways: the busiest rank's 1.34x the mean routed tokens lengthens the expert GEMMs, which are
    compute-bound at that batch, and the all-to-alls of a decode step (not the all-gather an
    engine may use instead); with the experts sliced across the 8 GPUs instead (ep 1) every
    GPU sees every token and nothing changes."""
    from scalewall.catalog import get_catalog

    v3 = get_catalog().model("deepseek-v3")
    even = v3.replace(expert_load_cv=0.0)
    kw = dict(n_devices=8, tp=8, batch=4096, prompt=1024, output=1024, precision="fp8",
              attention_dp=True)
    skew = plan_serving(v3, "h200-sxm", ep=8, **kw).metrics.decode  # type: ignore[arg-type]
    flat = plan_serving(even, "h200-sxm", ep=8, **kw).metrics.decode  # type: ignore[arg-type]
    assert float(skew.gemm_s) > 1.05 * float(flat.gemm_s)
    assert float(skew.comm_s) > float(flat.comm_s)
    assert float(skew.attention_s) == float(flat.attention_s)
    gather = dict(kw, moe_dispatch="all-gather")
    skew_g = plan_serving(v3, "h200-sxm", ep=8, **gather).metrics.decode  # type: ignore[arg-type]
    flat_g = plan_serving(even, "h200-sxm", ep=8, **gather).metrics.decode  # type: ignore[arg-type]
    assert float(skew_g.comm_s) == float(flat_g.comm_s)
    sliced = plan_serving(v3, "h200-sxm", ep=1, **kw).metrics.decode  # type: ignore[arg-type]
    even_sliced = plan_serving(even, "h200-sxm", ep=1, **kw).metrics.decode  # type: ignore[arg-type]
    assert float(sliced.step_s) == float(even_sliced.step_s)


def test_mxfp4_weights_on_cdna4_and_blackwell() -> None:
    """MXFP4 (OCP MX: 4-bit values, one E8M0 scale per 32) stores 4.25 bits per weight against
    NVFP4's 4.5, runs at each chip's 4-bit rate, and keeps an FP8 cache; MI355X runs MXFP4 but
    not NVFP4, Hopper neither."""
    kw = dict(n_devices=8, tp=8, batch=16, prompt=1024, output=256)
    mx = plan_serving("deepseek-v3", "mi355x", precision="mxfp4", **kw)  # type: ignore[arg-type]
    fp8 = plan_serving("deepseek-v3", "mi355x", precision="fp8", **kw)  # type: ignore[arg-type]
    ratio = float(mx.metrics.weights_bytes_per_device / fp8.metrics.weights_bytes_per_device)
    assert ratio == pytest.approx(4.25 / 8, rel=0.01)
    assert mx.kv_precision == "fp8"
    nv = plan_serving("deepseek-v3", "b200", precision="fp4", **kw)  # type: ignore[arg-type]
    bmx = plan_serving("deepseek-v3", "b200", precision="mxfp4", **kw)  # type: ignore[arg-type]
    assert float(bmx.metrics.weights_bytes_per_device / nv.metrics.weights_bytes_per_device) == (
        pytest.approx(4.25 / 4.5, rel=0.01))
    with pytest.raises(InvalidParameter, match="'fp4' is not supported by mi355x"):
        plan_serving("deepseek-v3", "mi355x", precision="fp4", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="'mxfp4' is not supported by h200-sxm"):
        plan_serving("deepseek-v3", "h200-sxm", precision="mxfp4", **kw)  # type: ignore[arg-type]


def test_engine_time_columns_out_of_range_name_the_column() -> None:
    """A validation row with a negative engine time is refused for that row, with the column
    and the allowed range; the rest of the set is still predicted."""
    from scalewall.validate import validate_rows

    row = next(r for r in _rows() if r["id"] == "h200-llama-3-8b-shape-b1-c1024-tpot")
    bad = {**row, "host_us_per_sequence": "-5"}
    worse = {**row, "request_overhead_ms": "20000"}
    got = validate_rows([bad, worse, row]).rows
    assert "column 'host_us_per_sequence' must be in [0, 10000], got -5" in got[0]["reason"]
    assert "column 'request_overhead_ms' must be in [0, 10000], got 20000" in got[1]["reason"]
    assert got[2]["error"] is not None
    spec = next(r for r in _rows() if r["id"].endswith("-mtp3-speedup"))
    got = validate_rows([{**spec, "accepted_tokens": ""}, {**spec, "accepted_tokens": "9"}]).rows
    assert "'speculative_speedup' needs speculative_tokens >= 1 and accepted_tokens" in (
        got[0]["reason"])
    assert "accepted_tokens must be in [1, 4] with speculative_tokens=3, got 9.0" in (
        got[1]["reason"])


def test_a_direct_forward_timing_gets_no_engine_overhead() -> None:
    """shared/validation's H200 rows carry no request_overhead_ms column: their source (a
    PyTorch forward pass timed directly) says no serving engine ran."""
    from scalewall.validate import validate_rows

    row = next(r for r in _rows() if r["id"] == "h200-llama-3-8b-shape-prefill2048")
    bare = {k: v for k, v in row.items() if k != "request_overhead_ms"}
    engine = {**bare, "source": "a serving benchmark"}
    got = {r["id"] + str(i): r["predicted"]
           for i, r in enumerate(validate_rows([bare, engine]).rows)}
    kernels, served = got[row["id"] + "0"], got[row["id"] + "1"]
    assert served - kernels == pytest.approx(0.9e-3, rel=1e-9)


def test_batch_over_memory_is_explicitly_infeasible() -> None:
    plan = plan_serving("llama-3.1-70b", "h100-sxm", n_devices=2, batch=4096, prompt=4096,
                        output=512, precision="fp8", tp=2, pp=1)
    assert not plan.feasible and "memory" in plan.reasons[0]


def test_search_meets_targets_or_says_by_how_much() -> None:
    ok = search_serving("llama-3.1-70b", hardware=["h100-sxm", "h200-sxm"], requests_per_s=5,
                        prompt=1024, output=256, ttft_s=1.0, tpot_s=0.05)
    assert ok.feasible and ok.best is not None
    assert ok.best["tpot_s"] <= 0.05 and ok.best["ttft_s"] <= 1.0
    assert ok.n_candidates > 1000
    bad = search_serving("llama-3.1-70b", hardware=["h100-sxm"], requests_per_s=5,
                         prompt=1024, output=256, ttft_s=1.0, tpot_s=0.001)
    assert not bad.feasible and "TPOT target 1 ms not met" in bad.reason


def test_cli_json_table_all_and_search() -> None:
    r = runner.invoke(app, ["infer", "--model", "llama-3.1-70b", "--hardware", "h200-sxm",
                            "--devices", "8", "--batch", "64", "--prompt", "2048", "--output",
                            "256", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["tp"] * d["pp"] * d["dp"] == 8 and d["ttft_s"] > 0 and d["feasible"]
    r = runner.invoke(app, ["infer", "--hardware", "all", "--devices", "8", "--batch", "8"])
    assert r.exit_code == 0, r.output
    assert "h100-sxm" in r.stdout and "$/M out" in r.stdout
    r = runner.invoke(app, ["infer", "--search", "--hardware", "h100-sxm", "--tpot", "1",
                            "--rps", "2"])
    assert r.exit_code == 1 and "TPOT target" in r.output
    r = runner.invoke(app, ["infer", "--precision", "fp8", "--hardware", "a100-sxm4-80gb"])
    assert r.exit_code == 1 and "InvalidParameter" in r.output
    r = runner.invoke(app, ["infer", "--hardware", "h100-sxm", "--request-overhead-ms", "0",
                            "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["request_overhead_s"] == 0.0
    r = runner.invoke(app, ["infer", "--request-overhead-ms", "-1"])
    assert r.exit_code == 2 and "request-overhead-ms" in r.output


def test_cli_hybrid_comparison() -> None:
    """`--hybrid 8` prints the equal-size comparison and says from which context the hybrid is
    cheaper; --json carries the same figures; 'all' and weights that do not fit are errors."""
    r = runner.invoke(app, ["infer", "--model", "llama-3.1-8b", "--hardware", "h100-sxm",
                            "--hybrid", "8"])
    assert r.exit_code == 0, r.output
    assert "131,072" in r.stdout and "costs less per output token from 1,024" in r.stdout
    r = runner.invoke(app, ["infer", "--model", "llama-3.1-8b", "--hardware", "h100-sxm",
                            "--hybrid", "8", "--json"])
    d = json.loads(r.stdout)
    assert d["cheaper_from"] == 1024.0 and len(d["hybrid_usd_per_million_tokens"]) == 7
    assert d["hybrid_usd_per_million_tokens"][-1] < d["transformer_usd_per_million_tokens"][-1]
    r = runner.invoke(app, ["infer", "--hardware", "all", "--hybrid", "8"])
    assert r.exit_code == 1 and "one accelerator" in r.output
    r = runner.invoke(app, ["infer", "--model", "llama-3.1-70b", "--hardware", "h200-sxm",
                            "--hybrid", "8"])
    assert r.exit_code == 0 and "2 x h200-sxm" in r.stdout
    r = runner.invoke(app, ["infer", "--model", "deepseek-v3", "--hardware", "h200-sxm",
                            "--hybrid", "8"])
    assert r.exit_code == 1 and "lower precision" in r.output


def test_mlperf_llama2_70b_offline_rows() -> None:
    """MLPerf Inference v4.1/v5.0 Llama 2 70B Offline on 8 H100s and 8 H200s in FP8 (6
    significant figures): whole-system output tokens/s at the published layout, batch and
    precision, the mean OpenOrca prompt (222 tokens) and the run's own output length. The
    same 8 x H100 system ran 24,134 tokens/s in v4.1 and 31,307 in v5.0: software moved it
    30%, so one row can be 25% off; the median of the four holds 15%."""
    rows = [r for r in validate_csv(INFER_CSV).rows if r["id"].startswith("mlperf")]
    err = np.array([r["error"] for r in rows if "llama2" in r["id"] and not _is_fp4(r["id"])
                    and "mi300x" not in r["id"] and "gaudi2" not in r["id"]])
    assert len(err) == 4
    assert np.median(np.abs(err)) <= 0.15 and np.max(np.abs(err)) <= 0.25
    # Intel's 8 x Gaudi 2 (v4.0, TGI-Gaudi, FP8 weights, 16-bit cache): +13%
    gaudi = [r["error"] for r in rows if "gaudi2" in r["id"]]
    assert len(gaudi) == 1 and abs(gaudi[0]) <= 0.20
    # the same harness's Mixtral 8x7B (FP8, TP 1 per GPU): +35% and +40% fast, the gap
    # INFER_SOURCES.md documents (TensorRT-LLM's 2024 FP8 expert GEMMs on Hopper); the bound
    # keeps it from widening
    moe = np.array([r["error"] for r in rows if "mixtral" in r["id"]])
    assert len(moe) == 2 and 0.0 < moe.min() and moe.max() <= 0.5


def test_mixture_of_experts_throughput_rows() -> None:
    """TensorRT-LLM v1.0 offline throughput of every MoE model in its table that the catalog
    has (110 rows), the multi-GPU ones with attention data parallelism as the page's MoE options
    set it (tokens all-gathered to the experts, each rank prefilling in passes of its own, as
    that version ran without multi-node NVLink or the balance option), every run bounded by
    the engine's host time per sequence, its prompts prefilled a forward pass per 8,192-token
    budget and its routed tokens permuted and summed in memory. The four models are fast by
    6-40% (median), as offline runs of the page's request counts at trtllm-bench's batch:
    Qwen3-235B-A22B +6%, Qwen3-30B-A3B +40%, Llama 4 Maverick +10% and Scout +39%. Before the
    host bound, Qwen3-30B-A3B on one Blackwell GPU was +104% (159,000 tokens/s predicted
    against 39,827 measured); its rows still show GB200 (Grace host) below
    B200, which one host figure for every CPU does not capture. The bounds keep the
    documented gap from widening and catch a return of the unbounded predictions."""
    rows = {r["id"]: r["error"] for r in validate_csv(INFER_CSV).rows
            if r["id"] in _moe_rows() and r["error"] is not None}

    def errors(key: str) -> np.ndarray:
        return np.array([e for i, e in rows.items() if key in i])

    q235, q30 = errors("qwen3-235b"), errors("qwen3-30b")
    maverick, scout = errors("llama4-maverick"), errors("llama4-scout")
    assert (len(q235), len(q30), len(maverick), len(scout)) == (27, 20, 25, 38)
    for model in (q235, q30, maverick, scout):
        assert 0.0 < np.median(model) < 0.5 and np.median(np.abs(model)) < 0.45
    assert np.max(q30) < 1.4  # +5.8 (GB200, 128/128) without the host bound


def test_deepseek_r1_serving_rows() -> None:
    """SemiAnalysis InferenceX, DeepSeek-R1 (the DeepSeek-V3 shape) served by SGLang and
    TensorRT-LLM at concurrency 4-256 (407 rows of mean TPOT, every single-node record without
    speculative decoding on a catalog GPU). H200 and B200: 10.1% median over
    242 rows (9.6% before the Blackwell NVFP4 GEMMs were given their measured share of peak,
    0.58: FP4 decode at low concurrency, where the planner was already slow, slowed with the
    rest). B300 is fast by 24% (median, 31 rows) and MI300X and MI325X by 44% (30 rows): their
    engines reach well under the chips' rates on this model (ROCm's MLA and MoE kernels), which
    the planner does not know. MI355X (SGLang and ROCm ATOM, FP8, 35 rows, added once its
    Infinity Fabric bandwidth was in the catalog): 6.8% median |error|, -3% median; its 54
    MXFP4 rows (added with the mxfp4 precision) are fast by 17% (median), by 4-11% at TP 8 but
    20-60% at TP 4, worst with 8k-token prompts or outputs, where those engines' long-context
    work costs more than the planner's. The 15
    TensorRT-LLM records with attention data parallelism (B200 and H200, concurrency 64-256,
    added once the planner modelled it; their launch scripts balance the ranks' prefills) are
    fast by 11%: the planner's mixture-of-experts serving at scale (see the TensorRT-LLM MoE
    rows above).
    The bounds keep each documented gap from widening; before the routed experts were one
    grouped GEMM, these rows would have been several times too slow."""
    rows = {r["id"]: r["error"] for r in validate_csv(INFER_CSV).rows
            if r["id"].startswith("ix-") and r["error"] is not None}
    adp = np.array([e for i, e in rows.items() if "-adp-" in i])
    nvidia = np.array([e for i, e in rows.items()
                       if i.startswith(("ix-h200", "ix-b200")) and "-adp-" not in i])
    b300 = np.array([e for i, e in rows.items() if i.startswith("ix-b300")])
    amd = np.array([e for i, e in rows.items() if i.startswith(("ix-mi300x", "ix-mi325x"))])
    mi355x = np.array([e for i, e in rows.items() if i.startswith("ix-mi355x")
                       and "-mxfp4-" not in i])
    mxfp4 = np.array([e for i, e in rows.items() if "-mxfp4-" in i])
    assert (len(rows), len(nvidia), len(b300), len(amd), len(adp), len(mi355x), len(mxfp4)) == (
        407, 242, 31, 30, 15, 35, 54)
    assert np.median(np.abs(nvidia)) <= 0.11
    assert -0.35 < np.median(b300) < -0.15
    assert -0.55 < np.median(amd) < -0.35
    assert np.median(np.abs(mi355x)) <= 0.10
    assert -0.30 < np.median(mxfp4) < -0.05
    assert -0.25 < np.median(adp) < -0.05


def test_mi300x_fp8_offline_is_fast_by_a_known_margin() -> None:
    """AMD's MLPerf v4.1 Llama 2 70B Offline on 1 and 8 MI300X (vLLM, FP8 weights,
    activations and KV cache, TP 1): the planner is 31% and 37% fast. The batch is
    compute-bound and the chip's FP8 GEMM efficiency is taken from its BF16 one (no FP8
    measurement in the MAMF table); the bound keeps that documented gap from widening."""
    err = np.array([r["error"] for r in validate_csv(INFER_CSV).rows
                    if r["id"].startswith("mlperf41-mi300x")])
    assert len(err) == 2
    assert np.all((err > 0.20) & (err < 0.45))


def test_fp4_is_nvfp4_w4a4_on_chips_with_a_4_bit_rate() -> None:
    """NVFP4 weights: 4-bit values plus one FP8 scale per 16, 0.5625 B per parameter; the
    GEMMs run at the chip's FP4 rate (B200: 9,000 dense TFLOP/s), the KV cache in fp8. A chip
    without an FP4 rate gets an error that names it and the precisions it has."""
    plan = plan_serving("llama-3.1-70b", "b200", batch=8, prompt=128, output=128,
                        precision="fp4")
    bf16 = plan_serving("llama-3.1-70b", "b200", batch=8, prompt=128, output=128,
                        precision="bf16")
    assert plan.kv_precision == "fp8"
    ratio = plan.metrics.weights_bytes_per_device / bf16.metrics.weights_bytes_per_device
    assert float(ratio) == pytest.approx(0.5625 / 2.0, rel=1e-9)
    with pytest.raises(InvalidParameter, match=r"'fp4' is not supported by h100-sxm.*int4"):
        plan_serving("llama-3.1-70b", "h100-sxm", precision="fp4")


def test_blackwell_fp4_throughput_is_fast_by_a_known_margin() -> None:
    """TensorRT-LLM v1.0 (Llama 3.3 70B at TP 1 and Llama 3.1 405B at TP 4 on B200 and GB200,
    40 rows) and MLPerf v5.0 (Llama 2 70B on 1 and 8 B200s) in NVFP4: +10.5% (median; +20%
    while NVFP4 GEMMs ran at the BF16 share of peak: B200's 0.58 comes from vLLM's measured
    NVFP4-to-BF16 GEMM ratio, not from these rows). The bound keeps the gap from widening and
    fails if the FP4 efficiency is dropped."""
    moe = _moe_rows()
    err = np.array([r["error"] for r in validate_csv(INFER_CSV).rows
                    if r["error"] is not None and _is_fp4(r["id"]) and r["id"] not in moe])
    assert len(err) == 42
    assert 0.0 < np.median(err) < 0.15


def test_speculative_verification_reads_the_cache_once() -> None:
    """Verifying k drafted tokens runs k + 1 query tokens per sequence through the GEMMs and
    attention's FLOP, but each sequence's cache is read once for all of them."""
    cat = get_catalog()
    arch = cat.model("llama-3.1-70b")
    gemm, _ = serving_rates(cat.accelerator("h100-sxm"), cat, precision="fp8")
    kw = dict(batch=8.0, context=4096.0, weight_bytes=1.0, kv_precision="fp8", tp=4)
    one = decode_step(arch, gemm, **kw)  # type: ignore[arg-type]
    four = decode_step(arch, gemm, query_tokens=4, **kw)  # type: ignore[arg-type]
    assert float(four.attention_bytes) == pytest.approx(float(one.attention_bytes))
    assert float(four.flop) == pytest.approx(4 * float(one.flop))
    assert float(four.tokens) == 32
    # bound by the weight read at 8 sequences: four tokens each cost far less than 4 steps
    assert float(one.step_s) < float(four.step_s) < 1.5 * float(one.step_s)


def test_acceptance_rate_gives_leviathans_expected_tokens_per_step() -> None:
    """Leviathan et al. 2023, Eq. 1: with each drafted token accepted with probability a,
    a step of k drafts emits (1 - a^(k+1)) / (1 - a) tokens: 3.3616 for a = 0.8, k = 4."""
    assert speculative_acceptance(4, acceptance_rate=0.8) == (4, pytest.approx(3.3616))
    assert speculative_acceptance(3, accepted_tokens=2.82) == (3, 2.82)
    assert speculative_acceptance(0) == (0, 1.0)
    for bad, match in (((3,), "needs accepted_tokens"),
                       ((3, 4.5), r"\[1, 4\].*4\.5"),
                       ((2, None, 1.0), r"acceptance_rate must be in \[0, 1\)"),
                       ((0, 2.0), "need speculative_tokens >= 1"),
                       ((17, 2.0), r"\[0, 16\]")):
        with pytest.raises(InvalidParameter, match=match):
            speculative_acceptance(*bad)


def test_multi_token_prediction_speedups_match_tensorrt_llm() -> None:
    """TensorRT-LLM's DeepSeek-R1 on 8 B200s at batch 1 with 1-5 autoregressive MTP layers
    (tech blog 1): measured speedups 1.78, 2.25, 2.28, 2.21, 2.15 at 1.92-3.01 tokens per
    step. The planner's 1.84, 2.34, 2.46, 2.48, 2.41 (+3% to +12%): each draft and the wider
    verification cost more than it counts, most with the most drafts, but the gain flattens
    past three drafts as measured (verifying 4-6 tokens touches up to 6 x 8 experts per layer
    where one token touches 8). The plain step, 9.0 ms measured, is 8.7 ms."""
    rows = {r["id"]: r for r in validate_csv(INFER_CSV).rows if r["id"].startswith("trtllmblog1")}
    err = np.array([r["error"] for i, r in rows.items() if i.endswith("-speedup")])
    assert len(err) == 5
    assert np.median(np.abs(err)) <= 0.09 and np.max(np.abs(err)) <= 0.13
    pred = [rows[f"trtllmblog1-b200-dsr1-fp4-tp8-ep4-b1-mtp{k}-speedup"]["predicted"]
            for k in (1, 2, 3, 4, 5)]
    assert pred[0] < pred[1] < pred[2] and max(pred[3:]) < pred[2] * 1.03
    assert abs(rows["trtllmblog1-b200-dsr1-fp4-tp8-ep4-b1-mtp0-tpot"]["error"]) <= 0.10


def test_infer_cli_speculative_decoding() -> None:
    r = runner.invoke(app, ["infer", "--model", "deepseek-v3", "--hardware", "b200",
                            "--devices", "8", "--tp", "8", "--ep", "4", "--precision", "fp4",
                            "--batch", "1", "--output", "2048", "--speculative-tokens", "3",
                            "--accepted-tokens", "2.82", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["speculative_tokens"], d["accepted_tokens"]) == (3, 2.82)
    # a step is the drafts and the verification of 4 tokens; it emits 2.82 of them
    assert d["decode_step"]["tokens"] == 4
    assert d["tpot_s"] > d["decode_step"]["step_s"] / 2.82
    r = runner.invoke(app, ["infer", "--model", "deepseek-v3", "--hardware", "b200",
                            "--devices", "8", "--speculative-tokens", "3"])
    assert r.exit_code == 1 and "needs accepted_tokens" in r.output
    r = runner.invoke(app, ["infer", "--hybrid", "8", "--speculative-tokens", "3",
                            "--accepted-tokens", "2"])
    assert r.exit_code == 1 and "without --hybrid" in r.output


def test_attention_layouts_evaluate_together_as_apart() -> None:
    """attention_dp may be an array over the candidates: one call with both layouts gives
    what two calls with a bool each give (the search relies on it)."""
    cat = get_catalog()
    arch = cat.model("deepseek-v3")
    gemm, attn = serving_rates(cat.accelerator("h200-sxm"), cat, precision="fp8")
    kw = dict(prompt=2048, output=256, tp=8, ep=8, weight_bytes=1.0, kv_precision="fp8",
              capacity_bytes=141e9, max_tokens_per_iteration=8192)
    both = evaluate_serving(arch, gemm, attention_rates=attn, batch=np.array([64.0, 64.0]),
                            attention_dp=np.array([False, True]), **kw)  # type: ignore[arg-type]
    for i, flag in enumerate((False, True)):
        one = evaluate_serving(arch, gemm, attention_rates=attn, batch=64.0, attention_dp=flag,
                               **kw)  # type: ignore[arg-type]
        for name in ("tpot_s", "ttft_s", "batch_prefill_s", "max_batch",
                     "weights_bytes_per_device", "kv_bytes_per_device"):
            assert float(np.asarray(getattr(both, name))[i]) == pytest.approx(
                float(getattr(one, name)), rel=1e-12), (name, flag)
    assert float(both.tpot_s[0]) != pytest.approx(float(both.tpot_s[1]), rel=1e-3)


def test_speculative_drafters_module_ngram_and_draft_model() -> None:
    """Prompt lookup (n-gram) drafts for free, so its step is the verification alone; a draft
    model (Llama 3.2 1B for Llama 3.1 70B, one tokenizer) costs k of its own decode steps at
    the same batch and layout, and its weights and cache sit beside the target's."""
    cat = get_catalog()
    kw = dict(n_devices=4, tp=4, batch=8, prompt=1024, output=256, precision="fp8",
              speculative_tokens=4, acceptance_rate=0.75, catalog=cat)
    tau = (1 - 0.75**5) / 0.25
    ngram = plan_serving("llama-3.1-70b", "h100-sxm", draft="ngram", **kw)  # type: ignore[arg-type]
    assert ngram.draft == "ngram"
    assert float(ngram.metrics.tpot_s) == pytest.approx(
        float(ngram.metrics.decode.step_s) / tau, rel=1e-12)
    module = plan_serving("llama-3.1-70b", "h100-sxm", **kw)  # type: ignore[arg-type]
    small = plan_serving("llama-3.1-70b", "h100-sxm", draft="llama-3.2-1b",
                         **kw)  # type: ignore[arg-type]
    gemm, _ = serving_rates(cat.accelerator("h100-sxm"), cat, precision="fp8")
    one_b = cat.model("llama-3.2-1b")
    draft_step = decode_step(one_b, gemm, batch=8.0, context=1024 + 128, weight_bytes=1.0,
                             kv_precision="fp8", tp=4)
    assert float(small.metrics.tpot_s) == pytest.approx(
        (float(small.metrics.decode.step_s) + 4 * float(draft_step.step_s)) / tau, rel=1e-9)
    extra = float(small.metrics.weights_bytes_per_device) - float(
        ngram.metrics.weights_bytes_per_device)
    assert extra == pytest.approx(n_params(one_b) * 1.0 / 4, rel=1e-9)
    assert float(ngram.metrics.tpot_s) < float(module.metrics.tpot_s) < float(
        small.metrics.tpot_s)
    with pytest.raises(InvalidParameter, match="share the target's tokenizer"):
        plan_serving("llama-3.1-70b", "h100-sxm", draft="mistral-7b",
                     **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="needs speculative_tokens >= 1"):
        plan_serving("llama-3.1-70b", "h100-sxm", draft="ngram", catalog=cat)


def test_unbalanced_attention_dp_prefills_rank_by_rank() -> None:
    """Under attention data parallelism each rank prefills in passes of its own that the others
    wait for (TensorRT-LLM tech blog 10). Rare prompts (decode-heavy) are met one rank at a
    time, t x as many passes as balanced; when every iteration holds a prompt on every rank
    (prefill-heavy) they coincide and cost what balanced passes cost. The blog's DeepSeek-V3 on
    8 GB200 (803/3,653 tokens) ran 1.33x faster balanced, within the 1.54x its
    speed-of-light analysis allowed; the planner puts balancing between 1.0x and that."""
    from scalewall.infer.plan import _prefill_passes

    t = np.array(8.0)
    rare, spread = _prefill_passes(np.array(2.0), t, np.array(4000.0), True, False)
    assert float(rare) == pytest.approx(16.0, rel=0.01) and float(spread) == pytest.approx(
        1.0, rel=0.01)
    busy, spread = _prefill_passes(np.array(500.0), t, np.array(100.0), True, False)
    assert float(busy) == pytest.approx(500.0) and float(spread) == pytest.approx(8.0)
    even, spread = _prefill_passes(np.array(2.0), t, np.array(4000.0), True, True)
    assert (float(even), float(spread)) == (2.0, 8.0)
    plain, spread = _prefill_passes(np.array(2.0), t, np.array(4000.0), False, False)
    assert (float(plain), float(spread)) == (2.0, 1.0)
    kw = dict(n_devices=8, tp=8, ep=8, attention_dp=True, precision="fp8", batch=1024,
              prompt=803, output=3653)
    rate = [float(plan_serving("deepseek-v3", "gb200", attention_dp_balance=b,  # type: ignore[arg-type]
                               **kw).metrics.decode_tokens_per_s) for b in (False, True)]
    assert 1.0 < rate[1] / rate[0] < 1.54


def test_attention_dp_keeps_each_ranks_norms_and_moe_dispatch_sets_the_routed_copies() -> None:
    """Norms and residual adds run on the tokens a rank holds: its own sequences under
    attention data parallelism, a tp-th of them. The MoE permute writes, and the finalize
    reads, the copies for the rank's own experts when every rank holds every token (k/ep per
    token), all k per own token when the tokens are sent by all-to-all: gathering costs each
    rank more memory traffic, and the more so the fewer experts a token picks (Llama 4 Scout's one
    against DeepSeek-V3's eight)."""
    from scalewall.catalog import get_catalog
    from scalewall.infer.step import _elementwise_bytes

    cat = get_catalog()
    dense = cat.model("llama-3.1-70b")
    T, t, e = np.array(4096.0), np.array(8.0), np.array(8.0)
    tp_heads = _elementwise_bytes(dense, T, T, t, e, False)
    adp = _elementwise_bytes(dense, T, T / t, t, e, False)
    h = dense.hidden_size
    assert float(tp_heads - adp) == pytest.approx(float(T - T / t) * 10 * h * 2.0)
    ratio = {}
    for name in ("llama-4-scout", "deepseek-v3"):
        arch = cat.model(name)
        gathered = _elementwise_bytes(arch, T, T / t, t, e, False)
        sent = _elementwise_bytes(arch, T, T / t, t, e, True)
        ratio[name] = float(gathered / sent)
    assert ratio["llama-4-scout"] > ratio["deepseek-v3"] > 1.0


def test_offline_runs_are_timed_in_waves_at_the_engines_batch() -> None:
    """An offline benchmark of N identical requests queued at once (trtllm-bench, MLPerf
    Offline) runs them in waves of the engine's batch, or of as many as fit; the last wave
    holds the remainder. Whole waves give the steady-state rate; a part wave runs below it.
    TensorRT-LLM v1.0's dense rows at the batch trtllm-bench sets and the page's request
    counts: 6.3% (median, 100 rows; 7.5% in steady state at the planner's power-of-two
    batch)."""
    from scalewall.infer.validate import offline_tokens_per_s, predict_infer_row, serving_inputs

    cat = get_catalog()
    kw = dict(n_devices=1, tp=1, pp=1, batch=64, prompt=1000, output=1000, precision="fp8",
              catalog=cat)
    plan = plan_serving("llama-3.1-8b", "h100-sxm", **kw)  # type: ignore[arg-type]
    steady = float(plan.metrics.decode_tokens_per_s)
    assert offline_tokens_per_s(plan.model, "h100-sxm", kw, 640) == pytest.approx(steady)
    c64, c10 = (float(plan_serving("llama-3.1-8b", "h100-sxm",  # type: ignore[arg-type]
                                   **{**kw, "batch": b}).metrics.cycle_s) for b in (64, 10))
    part = offline_tokens_per_s(plan.model, "h100-sxm", kw, 650)
    assert part == pytest.approx(650 * 1000 / (10 * c64 + c10)) and part < 0.97 * steady
    row = {"id": "x", "task": "infer", "model": "llama-3.1-8b", "hardware": "h100-sxm",
           "devices": "1", "tp": "1", "batch": "100000", "requests": "3000", "prompt": "1000",
           "output": "1000", "precision": "fp8", "metric": "decode_tokens_per_s"}
    arch, hw, args = serving_inputs(row, cat, "2")
    fits = int(plan_serving(arch, hw, **{**args, "batch": None}).metrics.max_batch)
    capped = {**row, "batch": str(fits)}
    # the engine's batch is capped by what fits
    assert predict_infer_row(row, cat, "2") == pytest.approx(predict_infer_row(capped, cat, "2"))
    with pytest.raises(CatalogFileError, match="requests"):
        predict_infer_row({**row, "metric": "tpot_s", "context": "1500"}, cat, "2")
    dense = [r["error"] for r in validate_csv(INFER_CSV).rows
             if r["id"].startswith("trtllm10-") and r["id"] not in _moe_rows()]
    assert len(dense) == 100 and np.median(np.abs(dense)) <= 0.075


def test_turbomind_emits_the_first_token_from_a_decode_step() -> None:
    """With ``first_token_in_decode`` the prefill runs all but the prompt's last token and a
    decode step emits the first token: a one-token prompt has no prefill at all. LMDeploy
    v0.1.0a1's first-token latencies (three digits, A100) show it: a 128-token prompt takes
    about twice a one-token one (22 vs 11 ms for Llama 2 7B, 40 vs 18 ms for 13B), which a
    prefill alone (memory-bound at 128 tokens) cannot."""
    kw = dict(n_devices=1, batch=1, output=128, request_overhead_s=0.0)
    for prompt in (1, 128, 2048):
        fed = plan_serving("llama-2-7b", "a100-sxm4-80gb", prompt=prompt,
                           first_token_in_decode=True, **kw)  # type: ignore[arg-type]
        step = float(fed.metrics.tpot_s)
        prefilled = 0.0 if prompt == 1 else float(plan_serving(
            "llama-2-7b", "a100-sxm4-80gb", prompt=prompt - 1,
            **kw).metrics.ttft_s)  # type: ignore[arg-type]
        assert float(fed.metrics.ttft_s) == pytest.approx(prefilled + step, rel=1e-9)
        assert fed.to_dict()["first_token_in_decode"] is True
    # the cycle's decode steps are the same: only the prefill lost a token
    plain = plan_serving("llama-2-7b", "a100-sxm4-80gb", prompt=128, **kw)  # type: ignore[arg-type]
    fed = plan_serving("llama-2-7b", "a100-sxm4-80gb", prompt=128, first_token_in_decode=True,
                       **kw)  # type: ignore[arg-type]
    assert float(fed.metrics.tpot_s) == float(plain.metrics.tpot_s)
    assert float(fed.metrics.cycle_s) < float(plain.metrics.cycle_s)
    # running sequences stall for the others' prefills, not for the decode step they share
    many = plan_serving("llama-2-7b", "a100-sxm4-80gb", prompt=128, batch=8, output=128,
                        first_token_in_decode=True, request_overhead_s=0.0)
    m = many.metrics
    stall = float(m.batch_prefill_s) - float(m.tpot_s)
    assert float(m.cycle_s) == pytest.approx(stall + 128 * float(m.tpot_s), rel=1e-12)
    assert float(m.itl_s) == pytest.approx((stall * 7 / 8 + 128 * float(m.tpot_s)) / 128,
                                           rel=1e-12)
    # the rows (3 digits: the ratios are known to about 5%) against a prefill alone, which
    # puts 128 tokens at 1.3x one token
    rows = {r["id"]: r for r in validate_csv(INFER_CSV).rows}
    for model, ratio in (("7b", 22 / 11), ("13b", 40 / 18)):
        one = rows[f"lmdeploy010a1-a100-llama-2-{model}-tp1-b1-1-128-ttft"]
        long = rows[f"lmdeploy010a1-a100-llama-2-{model}-tp1-b1-128-128-ttft"]
        assert long["predicted"] / one["predicted"] == pytest.approx(ratio, rel=0.15)
        assert abs(one["error"]) < 0.15 and abs(long["error"]) < 0.15
    # the CLI and the web API take it too
    r = runner.invoke(app, ["infer", "--model", "llama-2-7b", "--hardware", "a100-sxm4-80gb",
                            "--prompt", "1", "--output", "8", "--first-token-in-decode",
                            "--request-overhead-ms", "0", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["first_token_in_decode"] is True and d["ttft_s"] == pytest.approx(d["tpot_s"])
