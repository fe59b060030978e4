"""scalewall against llm-analysis (PyPI ``llm-analysis==0.2.2``): Megatron-LM runs, Llama 2 serving.

Cases: the rows of the shipped validation CSV whose id starts with ``meg21-``, whose metric
is ``hardware_tflops_per_device`` and whose tp/pp/dp are given (Narayanan et al. 2021,
Table 1: 1.7B ... 1008B, and the Table 2 ZeRO-3 rows; the Table 2 PTD-P rows give no tp/pp
and are left out). The GPT-3-class 145.6B row and the 1T (1008B) row are always included.

scalewall: each row is predicted exactly as ``scalewall validate`` does
(``scalewall.validate.validate_rows``). Time per plan is one ``plan_training`` call with
the fully given layout that prediction used (model and accelerator objects already
resolved, catalog passed in), the median of N repetitions.

llm-analysis: ``LLMAnalysis(ModelConfig, GPUConfig "a100-sxm-80gb", DtypeConfig "w16a16e16",
ParallelismConfig(tp, pp, dp, sp=tp)).training(...)`` with the row's global batch, its
micro-batch (1 where the row gives none), full activation recomputation and the row's ZeRO
stage. llm-analysis models a step as compute only: latency = FLOP / (tp * pp *
peak * flops_efficiency), with no pipeline bubble and no data-/pipeline-parallel
communication, so its answer is set by the efficiency the user guesses. Two guesses are
shown: the library default (``flops_efficiency`` = 1.0, ``hbm_memory_efficiency`` = 1.0;
the primary comparison) and 0.5 (its ``constant.py`` note: "FLOPS efficiency achieved by
Megatron-LM is ~0.5"). Its own Megatron-LM example passes each row's *published*
``achieved_tflops``, i.e. the answer, so that is not used. Its predicted TFLOP/s per GPU is
derived from its ``latency_per_iter`` and the Megatron eq. (3) FLOP count with full
recomputation, 96 B s L h^2 (1 + s/6h + V/16hL) / (latency * n_gpus), the definition
behind the published figure (its own ``achieved_flops`` field is just peak * efficiency).
Time per plan: building the configs plus ``training()``, its logging silenced.

Inference cases: the rows of the shipped ``infer.csv`` for Llama 2 70B (``llama-2-70b``) on
``a100-sxm4-80gb`` and ``h100-sxm`` at batch 1 and batch 64 (TensorRT-LLM's published tables:
batch-1 TTFT on A100 FP16 and H100 FP8, and the H100 FP8 static-batch throughput at batch 64;
see ``INFER_SOURCES.md``). Where a chip has no row at exactly one of those batches, its rows
at the closest batch are used and marked ``*`` in the table (A100 has no row at batch 64; its
closest rows are the batch-1 ones, already listed). Measured values are the CSV's, unchanged.

scalewall: each row is predicted by ``scalewall.infer.validate.predict_infer_row``. Time per
plan is one ``plan_serving`` call with the arguments that prediction uses (model and
accelerator objects already resolved, catalog passed in), the median of N repetitions.

llm-analysis: ``LLMAnalysis(ModelConfig, GPUConfig, DtypeConfig, ParallelismConfig(tp,
pp)).inference(batch_size_per_gpu=batch, seq_len=prompt, num_tokens_to_generate=output)``,
KV cache on, its default efficiencies (``flops_efficiency`` = ``hbm_memory_efficiency`` =
intra-node = 1.0: numbers the user is expected to guess; it calibrates nothing). Model: 80
layers, hidden 8192, 64 heads, 8 KV heads (``num_key_value_heads``), vocab 32000, maximum
context 4096. Its ``inference()`` has no gated-MLP option (``mlp_gated_linear_units`` exists
only for training), so SwiGLU's three 8192 x 28672 matrices are entered as a two-matrix MLP
of ``ffn_embed_dim`` = 1.5 x 28672 = 43008 (``expansion_ratio`` 5.25): the same weights and
FLOPs. GPUs: its ``a100-sxm-80gb`` and ``h100-sxm-80gb`` configs. Precision: fp16/bf16 rows
run ``w16a16e16``; fp8 rows run ``w8a8e16`` (8-bit weights and activations at its
``peak_i8_TFLOPS``, which on H100 equals the FP8 dense rate; KV cache 8-bit, as the CSV's
convention). ``batch_size_per_gpu`` is the batch of one model replica (every GPU of a tensor-
parallel group sees the whole batch). Metrics: ``ttft_s`` = its ``prefill_latency`` (all the
batch's prompts); ``tpot_s`` = its ``decode_latency`` (one step, KV cache read at the final
context); ``decode_tokens_per_s`` = its ``total_tokens_per_sec`` (batch / ((prefill + output x
decode) / output), prefill included like the measured static-batch figure) x the replicas
``devices / (tp * pp)``. Time per plan: building the configs plus ``inference()``, its logging
silenced.

Prints the training table, then the inference table, and, as the last line, one JSON object
of figures. ``--smoke`` runs two training rows and two inference rows with few repetitions.
Without llm-analysis installed the scalewall side still runs and the llm-analysis figures are
null.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from scalewall.api import plan_training
from scalewall.catalog import Catalog, get_catalog
from scalewall.infer import plan_serving
from scalewall.infer.plan import ServingPlan
from scalewall.infer.validate import predict_infer_row, serving_inputs
from scalewall.validate import (
    SHIPPED_VALIDATION,
    SHIPPED_VALIDATION_FILES,
    _predict_train,
    read_validation_csv,
    validate_rows,
)

METRIC = "hardware_tflops_per_device"
MUST_HAVE = ("meg21-145.6B", "meg21-1008B")  # GPT-3-class 175B (Table 1) and 1T
SMOKE_IDS = MUST_HAVE
LA_GPU = "a100-sxm-80gb"
LA_DTYPE = "w16a16e16"
LA_DEFAULT_EFFICIENCY = 1.0  # llm_analysis.constant.FLOPS_EFFICIENCY
LA_GUESS_EFFICIENCY = 0.5  # llm_analysis.constant: "achieved by Megatron-LM is ~0.5"
LA_LOGGER = "__name__"  # llm_analysis.logger calls logging.getLogger("__name__")

INFER_CSV = SHIPPED_VALIDATION_FILES[1]
INFER_MODEL = "llama-2-70b"
INFER_CHIPS = {"a100-sxm4-80gb": "a100-sxm-80gb", "h100-sxm": "h100-sxm-80gb"}  # -> llm-a GPU
INFER_BATCHES = (1, 64)
INFER_METRICS = ("ttft_s", "tpot_s", "decode_tokens_per_s")
LA_INFER_DTYPE = {"bf16": "w16a16e16", "fp16": "w16a16e16", "fp8": "w8a8e16", "int8": "w8a8e16"}
# Llama 2 70B in llm-analysis's terms; SwiGLU (3 matrices of 8192 x 28672) as a 2-matrix MLP
# of the same weights and FLOPs, since its inference() has no gated-MLP option
LLAMA2_70B = dict(num_layers=80, n_head=64, hidden_dim=8192, vocab_size=32000, max_seq_len=4096,
                  num_key_value_heads=8, ffn_embed_dim=28672 * 3 // 2,
                  expansion_ratio=28672 * 3 / 2 / 8192)


@dataclass
class Row:
    id: str
    reported: float
    sw_pred: float | None = None
    sw_reason: str = ""
    la_pred: float | None = None
    la_guess_pred: float | None = None
    la_reason: str = ""
    sw_ms: float | None = None
    la_ms: float | None = None


def _cell(row: dict[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def select_rows(smoke: bool) -> list[dict[str, str]]:
    """The Megatron-LM rows with tp/pp/dp given (only the two must-haves in smoke mode)."""
    rows = [
        r for r in read_validation_csv(SHIPPED_VALIDATION)
        if r["id"].startswith("meg21-") and _cell(r, "metric") == METRIC
        and all(_cell(r, k) for k in ("tp", "pp", "dp"))
    ]
    missing = [i for i in MUST_HAVE if i not in {r["id"] for r in rows}]
    if missing:
        raise SystemExit(f"validation CSV lacks the rows {missing}")
    if smoke:
        rows = [r for r in rows if r["id"] in SMOKE_IDS]
    return rows


def median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def median_of(values: Iterable[float | None]) -> float | None:
    """Median of the values that exist (None where there are none)."""
    have = [v for v in values if v is not None]
    return statistics.median(have) if have else None


def megatron_flop_per_iter(row: dict[str, str]) -> float:
    """Narayanan et al. 2021 eq. (3): FLOP per iteration with full recomputation."""
    b, s = float(row["global_batch"]), float(row["seq_len"])
    n_layers, h, v = float(row["layers"]), float(row["hidden"]), float(row["vocab"])
    return 96 * b * s * n_layers * h * h * (1 + s / (6 * h) + v / (16 * h * n_layers))


# --- scalewall ---------------------------------------------------------------------------


def run_scalewall(rows: list[dict[str, str]], out: list[Row], cat: Catalog, reps: int) -> None:
    result = validate_rows(rows, catalog=cat)
    for raw, res, row in zip(rows, result.rows, out, strict=True):
        row.sw_pred = res["predicted"]
        row.sw_reason = res.get("reason", "")
        if row.sw_pred is None:
            continue
        plan = _predict_train(raw, cat, raw["id"])
        model, accel, layout = plan.model, plan.accelerator, plan.layout

        def one(plan: Any = plan, model: Any = model, accel: Any = accel,
                layout: Any = layout) -> object:
            return plan_training(model, accel, layout=layout, n_devices=plan.n_devices,
                                 seq_len=plan.seq_len, global_batch=layout.global_batch,
                                 catalog=cat)

        row.sw_ms = median_ms(one, reps)


# --- llm-analysis ------------------------------------------------------------------------


def import_llm_analysis() -> dict[str, Any] | None:
    """The llm-analysis names used here, or None when it is not installed."""
    logging.getLogger(LA_LOGGER).setLevel(logging.ERROR)  # silence its import-time warnings
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from llm_analysis.analysis import ActivationRecomputation, DSZeRO, LLMAnalysis
            from llm_analysis.config import (
                ModelConfig,
                ParallelismConfig,
                get_dtype_config_by_name,
                get_gpu_config_by_name,
            )
    except Exception:  # ImportError, or a broken install
        return None
    logging.getLogger(LA_LOGGER).setLevel(logging.ERROR)
    return {
        "LLMAnalysis": LLMAnalysis, "ModelConfig": ModelConfig,
        "ParallelismConfig": ParallelismConfig, "FULL": ActivationRecomputation.FULL,
        "DSZeRO": DSZeRO, "gpu": get_gpu_config_by_name(LA_GPU),
        "dtype": get_dtype_config_by_name(LA_DTYPE),
        "gpu_by_name": get_gpu_config_by_name, "dtype_by_name": get_dtype_config_by_name,
    }


def la_plan(la: dict[str, Any], row: dict[str, str], efficiency: float) -> dict[str, Any]:
    """One llm-analysis training analysis of a CSV row."""
    h, tp = int(row["hidden"]), int(row["tp"])
    seq = int(row["seq_len"])
    model = la["ModelConfig"](
        name=row["id"], num_layers=int(row["layers"]), n_head=int(row["heads"]), hidden_dim=h,
        vocab_size=int(row["vocab"]), max_seq_len=seq, ffn_embed_dim=int(row["ffn"]),
    )
    par = la["ParallelismConfig"](tp_size=tp, pp_size=int(row["pp"]), dp_size=int(row["dp"]),
                                  sp_size=tp)
    analysis = la["LLMAnalysis"](model, la["gpu"], la["dtype"], par, flops_efficiency=efficiency)
    summary: dict[str, Any] = analysis.training(
        batch_size_per_gpu=int(_cell(row, "micro_batch") or 1),
        global_batch_size=int(row["global_batch"]), seq_len=seq,
        activation_recomputation=la["FULL"], ds_zero=la["DSZeRO"](int(_cell(row, "zero") or 0)),
    )
    return summary


def la_tflops(la: dict[str, Any], row: dict[str, str], efficiency: float) -> float:
    summary = la_plan(la, row, efficiency)
    n_gpus = int(row["tp"]) * int(row["pp"]) * int(row["dp"])
    return megatron_flop_per_iter(row) / (float(summary["latency_per_iter"]) * n_gpus) / 1e12


def run_llm_analysis(la: dict[str, Any], rows: list[dict[str, str]], out: list[Row],
                     reps: int) -> None:
    for raw, row in zip(rows, out, strict=True):

        def one(raw: dict[str, str] = raw) -> object:
            return la_plan(la, raw, LA_DEFAULT_EFFICIENCY)

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                row.la_pred = la_tflops(la, raw, LA_DEFAULT_EFFICIENCY)
                row.la_guess_pred = la_tflops(la, raw, LA_GUESS_EFFICIENCY)
                row.la_ms = median_ms(one, reps)
        except Exception as exc:  # an assertion inside llm-analysis: report, keep going
            row.la_reason = f"{type(exc).__name__}: {exc}"[:80]


# --- inference cases ---------------------------------------------------------------------


@dataclass
class InferRow:
    id: str
    metric: str
    hardware: str
    batch: int
    measured: float
    target: int  # the batch (1 or 64) this row stands for
    exact: bool  # False: the chip has no row at ``target``; this is its closest
    sw_pred: float | None = None
    sw_reason: str = ""
    la_pred: float | None = None
    la_reason: str = ""
    sw_ms: float | None = None
    la_ms: float | None = None


def select_infer_rows(smoke: bool) -> tuple[list[dict[str, str]], list[InferRow], list[str]]:
    """Llama 2 70B rows on A100/H100 at batch 1 and 64 (else the chip's closest batch).

    Returns the CSV rows, their result records and lines saying what each batch has.
    """
    pool = [
        r for r in read_validation_csv(INFER_CSV)
        if _cell(r, "model") == INFER_MODEL and _cell(r, "hardware") in INFER_CHIPS
        and _cell(r, "metric") in INFER_METRICS
    ]
    chosen: list[tuple[dict[str, str], int, bool]] = []
    notes: list[str] = []
    for target in INFER_BATCHES:
        for chip in INFER_CHIPS:
            have = [r for r in pool if _cell(r, "hardware") == chip]
            if not have:
                notes.append(f"batch {target}, {chip}: no {INFER_MODEL} row in infer.csv")
                continue
            gap = min(abs(int(_cell(r, "batch") or 1) - target) for r in have)
            near = [r for r in have if abs(int(_cell(r, "batch") or 1) - target) == gap]
            batches = sorted({int(_cell(r, "batch") or 1) for r in near})
            new = [r for r in near if r["id"] not in {c[0]["id"] for c in chosen}]
            chosen += [(r, target, gap == 0) for r in new]
            if gap == 0:
                notes.append(f"batch {target}, {chip}: {len(near)} measured row(s) at exactly "
                             f"batch {target}")
            else:
                where = (f"{len(new)} row(s) added, marked *" if new
                         else "already listed above, not repeated")
                notes.append(f"batch {target}, {chip}: NO measured row at batch {target}; the "
                             f"closest are at batch {', '.join(map(str, batches))} ({where})")
    if smoke:  # one row of each target batch
        chosen = [next(c for c in chosen if c[1] == t) for t in INFER_BATCHES
                  if any(c[1] == t for c in chosen)][:2]
    rows = [c[0] for c in chosen]
    out = [InferRow(id=r["id"], metric=_cell(r, "metric"), hardware=_cell(r, "hardware"),
                    batch=int(_cell(r, "batch") or 1), measured=float(r["value"]),
                    target=t, exact=e) for r, t, e in chosen]
    return rows, out, notes


def serving_call(row: dict[str, str], cat: Catalog) -> Callable[[], ServingPlan]:
    """The ``plan_serving`` call ``predict_infer_row`` makes for ``row``, objects resolved."""
    arch, hardware, kwargs = serving_inputs(row, cat, row["id"])
    accel = cat.accelerator(hardware)

    def one() -> ServingPlan:
        return plan_serving(arch, accel, **kwargs)

    return one


def serving_metric(plan: ServingPlan, row: dict[str, str]) -> float:
    """The row's metric read off a plan, as ``predict_infer_row`` reads it."""
    m, metric = plan.metrics, _cell(row, "metric")
    if metric == "ttft_s":
        return float(m.ttft_s if plan.batch == 1 else m.batch_prefill_s)
    if metric == "tpot_s":
        return float(m.tpot_s if _cell(row, "context") else m.itl_s)
    return float(m.decode_tokens_per_s)


def run_scalewall_infer(rows: list[dict[str, str]], out: list[InferRow], cat: Catalog,
                        reps: int) -> None:
    for raw, row in zip(rows, out, strict=True):
        try:
            row.sw_pred = predict_infer_row(raw, cat, raw["id"])
        except Exception as exc:  # a planner error: report, keep going
            row.sw_reason = f"{type(exc).__name__}: {exc}"[:80]
            continue
        one = serving_call(raw, cat)
        timed = serving_metric(one(), raw)
        if abs(timed - row.sw_pred) > 1e-9 * abs(row.sw_pred):
            row.sw_reason = f"timed call gives {timed:.6g}, not the prediction"
        row.sw_ms = median_ms(one, reps)


def la_infer_plan(la: dict[str, Any], row: dict[str, str]) -> dict[str, Any]:
    """One llm-analysis inference analysis of an infer.csv row, default efficiencies."""
    precision = _cell(row, "precision") or "bf16"
    if precision not in LA_INFER_DTYPE:
        raise ValueError(f"no llm-analysis dtype config for {precision}")
    model = la["ModelConfig"](name=INFER_MODEL, **LLAMA2_70B)
    par = la["ParallelismConfig"](tp_size=int(_cell(row, "tp") or 1),
                                  pp_size=int(_cell(row, "pp") or 1))
    analysis = la["LLMAnalysis"](model, la["gpu_by_name"](INFER_CHIPS[_cell(row, "hardware")]),
                                 la["dtype_by_name"](LA_INFER_DTYPE[precision]), par)
    prompt = int(_cell(row, "prompt") or _cell(row, "context") or 1)
    summary: dict[str, Any] = analysis.inference(
        batch_size_per_gpu=int(_cell(row, "batch") or 1), seq_len=prompt,
        num_tokens_to_generate=int(_cell(row, "output") or 1),
    )
    return summary


def la_infer_metric(summary: dict[str, Any], row: dict[str, str]) -> float:
    metric = _cell(row, "metric")
    if metric == "ttft_s":
        return float(summary["prefill_latency"])
    if metric == "tpot_s":
        return float(summary["decode_latency"])
    tp, pp = int(_cell(row, "tp") or 1), int(_cell(row, "pp") or 1)
    replicas = int(_cell(row, "devices") or tp * pp) // (tp * pp)
    return float(summary["total_tokens_per_sec"]) * replicas


def run_llm_analysis_infer(la: dict[str, Any], rows: list[dict[str, str]],
                           out: list[InferRow], reps: int) -> None:
    for raw, row in zip(rows, out, strict=True):

        def one(raw: dict[str, str] = raw) -> object:
            return la_infer_plan(la, raw)

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                row.la_pred = la_infer_metric(la_infer_plan(la, raw), raw)
                row.la_ms = median_ms(one, reps)
        except Exception as exc:  # an assertion inside llm-analysis: report, keep going
            row.la_reason = f"{type(exc).__name__}: {exc}"[:80]


# --- report ------------------------------------------------------------------------------


def err(pred: float | None, reported: float) -> float | None:
    return None if pred is None else pred / reported - 1.0


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def closer(a: float | None, b: float | None) -> str | None:
    """'scalewall', 'llm-analysis' or 'tie' by absolute error; None if neither predicted."""
    if a is None and b is None:
        return None
    if b is None:
        return "scalewall"
    if a is None:
        return "llm-analysis"
    if abs(a) == abs(b):
        return "tie"
    return "scalewall" if abs(a) < abs(b) else "llm-analysis"


def median_abs(errors: list[float | None]) -> float | None:
    vals = [abs(e) for e in errors if e is not None]
    return statistics.median(vals) if vals else None


def report(out: list[Row], have_la: bool, reps: int, smoke: bool) -> dict[str, Any]:
    head = (f"{'id':<34} {'published':>9} | {'scalewall':>9} {'err':>7} | "
            f"{'llm-a fe=1':>10} {'err':>7} | {'llm-a fe=.5':>11} {'err':>7} | closer (fe=1, .5)")
    print(f"{METRIC} [TFLOP/s per GPU], Narayanan et al. 2021 (Megatron-LM), A100 80GB")
    print(head)
    print("-" * len(head))
    sw_errs, la_errs, guess_errs, wins, guess_wins = [], [], [], [], []
    for r in out:
        e_sw, e_la, e_g = (err(r.sw_pred, r.reported), err(r.la_pred, r.reported),
                           err(r.la_guess_pred, r.reported))
        sw_errs.append(e_sw)
        la_errs.append(e_la)
        guess_errs.append(e_g)
        c1, c2 = (closer(e_sw, e_la), closer(e_sw, e_g)) if have_la else (None, None)
        wins.append(c1)
        guess_wins.append(c2)
        verdict = f"{c1}, {c2}" if have_la else "(llm-analysis not installed)"
        print(f"{r.id:<34} {r.reported:>9.0f} | "
              f"{fmt(r.sw_pred, '.1f'):>9} {fmt(e_sw, '+.1%'):>7} | "
              f"{fmt(r.la_pred, '.1f'):>10} {fmt(e_la, '+.1%'):>7} | "
              f"{fmt(r.la_guess_pred, '.1f'):>11} {fmt(e_g, '+.1%'):>7} | {verdict}")
        for who, why in (("scalewall", r.sw_reason), ("llm-analysis", r.la_reason)):
            if why:
                print(f"{'':<34}   {who}: no prediction: {why}")
    sw_med, la_med, g_med = median_abs(sw_errs), median_abs(la_errs), median_abs(guess_errs)
    sw_ms, la_ms = median_of(r.sw_ms for r in out), median_of(r.la_ms for r in out)
    n_wins = sum(w == "scalewall" for w in wins) if have_la else None
    n_gwins = sum(w == "scalewall" for w in guess_wins) if have_la else None
    print()
    print(f"median |error|: scalewall {fmt(sw_med, '.1%')}" + (
        f", llm-analysis at its default efficiency 1.0 {fmt(la_med, '.1%')}, "
        f"at a guessed 0.5 {fmt(g_med, '.1%')}" if have_la else ""))
    if have_la:
        print(f"scalewall closer on {n_wins}/{len(out)} rows against the default, "
              f"{n_gwins}/{len(out)} against the 0.5 guess")
        print("llm-analysis efficiencies are the user's guesses (flops_efficiency 1.0 = its "
              "default, 0.5 = its docs' Megatron figure; hbm_memory_efficiency 1.0 default); "
              "it models no pipeline bubble and no data/pipeline communication.")
    speedup = la_ms / sw_ms if la_ms is not None and sw_ms else None
    print(f"time per plan (median of {reps} in-process calls, median over rows): scalewall "
          f"{fmt(sw_ms, '.3f')} ms" + (
              f", llm-analysis {fmt(la_ms, '.3f')} ms; llm-analysis/scalewall = "
              f"{fmt(speedup, '.2f')}x (> 1: scalewall faster)" if have_la else ""))
    if not have_la:
        print("llm-analysis is not installed (pip install llm-analysis==0.2.2, or the `bench` "
              "extra): its figures are null.")
    return {
        "benchmark": "vs_llm_analysis", "smoke": smoke, "rows": len(out),
        "ids": [r.id for r in out], "llm_analysis_available": have_la,
        "scalewall_predicted_rows": sum(r.sw_pred is not None for r in out),
        "llm_analysis_predicted_rows": sum(r.la_pred is not None for r in out) if have_la
        else None,
        "scalewall_median_abs_error": sw_med,
        "llm_analysis_median_abs_error": la_med,
        "llm_analysis_flops_efficiency": LA_DEFAULT_EFFICIENCY if have_la else None,
        "llm_analysis_guess_median_abs_error": g_med,
        "llm_analysis_guess_flops_efficiency": LA_GUESS_EFFICIENCY if have_la else None,
        "scalewall_wins": n_wins,
        "scalewall_wins_vs_guess": n_gwins,
        "scalewall_ms_per_plan": sw_ms,
        "llm_analysis_ms_per_plan": la_ms,
        "speedup": speedup,
        "timing_reps": reps,
    }


def report_infer(out: list[InferRow], notes: list[str], have_la: bool,
                 reps: int) -> dict[str, Any]:
    print()
    print(f"inference: Llama 2 70B ({INFER_MODEL}), measured rows of infer.csv (TensorRT-LLM "
          "tables); ttft_s [s], decode_tokens_per_s [output tok/s of the deployment]")
    for note in notes:
        print(f"  {note}")
    head = (f"{'id':<44} {'metric':<19} {'batch':>5} {'measured':>9} | {'scalewall':>9} "
            f"{'err':>7} | {'llm-a':>9} {'err':>7} | closer")
    print(head)
    print("-" * len(head))
    sw_errs, la_errs, wins = [], [], []
    for r in out:
        e_sw, e_la = err(r.sw_pred, r.measured), err(r.la_pred, r.measured)
        sw_errs.append(e_sw)
        la_errs.append(e_la)
        c = closer(e_sw, e_la) if have_la else None
        wins.append(c)
        mark = "" if r.exact else "*"
        print(f"{r.id + mark:<44} {r.metric:<19} {r.batch:>5} {r.measured:>9.4g} | "
              f"{fmt(r.sw_pred, '.4g'):>9} {fmt(e_sw, '+.1%'):>7} | "
              f"{fmt(r.la_pred, '.4g'):>9} {fmt(e_la, '+.1%'):>7} | "
              f"{c if have_la else '(llm-analysis not installed)'}")
        for who, why in (("scalewall", r.sw_reason), ("llm-analysis", r.la_reason)):
            if why:
                print(f"{'':<44}   {who}: {why}")
    if not all(r.exact for r in out):
        print("* not at batch 1 or 64: the closest measured batch for that chip")
    sw_med, la_med = median_abs(sw_errs), median_abs(la_errs)
    sw_ms, la_ms = median_of(r.sw_ms for r in out), median_of(r.la_ms for r in out)
    n_wins = sum(w == "scalewall" for w in wins) if have_la else None
    print()
    print(f"inference median |error|: scalewall {fmt(sw_med, '.1%')}" + (
        f", llm-analysis at its default efficiencies {fmt(la_med, '.1%')}; scalewall closer "
        f"on {n_wins}/{len(out)} rows" if have_la else ""))
    if have_la:
        print("llm-analysis efficiencies are the user's guesses (flops, HBM and intra-node "
              "efficiency 1.0 = its defaults); SwiGLU entered as a 2-matrix MLP of equal "
              "weights; fp8 rows as its w8a8e16.")
    speedup = la_ms / sw_ms if la_ms is not None and sw_ms else None
    print(f"inference time per plan (median of {reps} in-process calls, median over rows): "
          f"scalewall plan_serving {fmt(sw_ms, '.3f')} ms" + (
              f", llm-analysis inference() {fmt(la_ms, '.3f')} ms; llm-analysis/scalewall = "
              f"{fmt(speedup, '.2f')}x (> 1: scalewall faster)" if have_la else ""))
    return {
        "infer_rows": len(out),
        "infer_ids": [r.id for r in out],
        "infer_scalewall_median_abs_error": sw_med,
        "infer_llm_analysis_median_abs_error": la_med,
        "infer_scalewall_wins": n_wins,
        "infer_scalewall_ms_per_plan": sw_ms,
        "infer_llm_analysis_ms_per_plan": la_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="two training and two inference rows, few repetitions")
    parser.add_argument("--reps", type=int, default=None,
                        help="timing repetitions per row (default 200; 5 with --smoke)")
    args = parser.parse_args(argv)
    reps = args.reps or (5 if args.smoke else 200)
    rows = select_rows(args.smoke)
    out = [Row(id=r["id"], reported=float(r["value"])) for r in rows]
    run_scalewall(rows, out, get_catalog(), reps)
    infer_rows, infer_out, notes = select_infer_rows(args.smoke)
    run_scalewall_infer(infer_rows, infer_out, get_catalog(), reps)
    la = import_llm_analysis()
    if la is not None:
        run_llm_analysis(la, rows, out, reps)
        run_llm_analysis_infer(la, infer_rows, infer_out, reps)
    figures = report(out, la is not None, reps, args.smoke)
    figures.update(report_infer(infer_out, notes, la is not None, reps))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
