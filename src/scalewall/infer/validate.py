"""Predict one ``task = infer`` row of a validation CSV (DESIGN.md's validation contract).

Metrics and their meaning here:

- ``ttft_s``: prefill of ``prompt`` tokens (all ``batch`` prompts together when batch > 1).
- ``tpot_s``: with a ``context`` column, one decode step of ``batch`` sequences at that
  context (a measured step); without, the mean inter-token latency of a user under continuous
  batching at concurrency ``batch``, the other requests' prefills included (serving
  benchmarks' ITL/TPOT).
- ``decode_tokens_per_s``: output tokens per second of the whole deployment of ``devices``
  devices (``devices / (tp * pp)`` replicas), each running ``batch`` sequences of ``prompt``
  + ``output`` tokens, prefill included. Per-GPU figures are converted to this by the CSV.
  With a ``requests`` column the row is an offline run of that many identical requests,
  all queued at the start (``trtllm-bench throughput``, MLPerf Offline): ``batch`` is then
  the engine's maximum batch, each replica runs as many as fit in its memory, in waves, the
  last wave holding the remainder, and the figure is the run's output tokens over its
  duration (see :func:`offline_tokens_per_s`).
- ``energy_j_per_token``: facility energy per output token (devices, their hosts and PUE),
  the request's prefill included; ``device_energy_j_per_token``: the accelerator boards'
  share alone, as NVML-based meters (Zeus, ML.ENERGY) measure it; ``device_power_w``: the
  mean power of one accelerator board while serving [W].
- ``speculative_speedup``: a user's decode rate with speculative decoding over the same
  deployment's without (columns ``speculative_tokens``, the tokens drafted per step by a
  one-layer draft module, and ``accepted_tokens``, the mean tokens emitted per step, are
  required); it isolates the speculative model from the error of the plain decode step.

Optional column ``kv_precision``: the KV cache's precision (bf16, fp16, fp8, int8); blank, the
planner's default for the weights' precision (8-bit with 8- or 4-bit weights, else 16-bit).

Optional columns ``speculative_tokens`` and ``accepted_tokens``: tokens drafted per step by a
one-layer draft module and the mean tokens emitted per step (speculative decoding); blank,
plain decoding.

Optional column ``attention_dp`` (0/1): attention data-parallel across the replica's ``tp``
devices (engines' ``enable_attention_dp``, ``--enable-dp-attention``); blank, 0.

Optional column ``attention_dp_balance`` (0/1): under attention data parallelism, the engine
prefills every rank's prompts in the same forward passes (TensorRT-LLM's
``attention_dp_config.enable_balance``); blank, 0: each rank prefills in passes of its own.

Optional column ``first_token_in_decode`` (0/1): the engine prefills all of a prompt but its
last token and emits the first token from the next decode step (LMDeploy's TurboMind up to
v0.1); blank, 0.

Optional column ``moe_dispatch`` (``all-to-all`` or ``all-gather``): how a mixture-of-experts
layer reaches experts on ranks that do not hold the token under attention data parallelism;
blank, ``all-to-all``.

Optional column ``grouped_kv_reads`` (0/1): whether the decode attention kernel reads each
key/value head once per group of query heads; blank, the year in ``source`` decides (from
2024, as TensorRT-LLM's XQA kernel and FlashInfer do). Optional column
``request_overhead_ms``: the serving engine's host time per prefill; blank, the catalog's
(0.9 ms), except on rows whose ``source`` is a direct timing of the model's forward pass
("measured on ... PyTorch ...", as the H200 rows of ``shared/validation``), where no serving
engine runs: 0. Optional column ``host_us_per_sequence``: the engine's host time per running
sequence per decode step; blank, the catalog's (29.4 us), 0 on those same rows.

A blank ``tp`` (or ``pp``) lets the planner choose the layout: the fastest per token for
latency metrics, the highest throughput for ``decode_tokens_per_s``. A blank ``batch`` on a
``decode_tokens_per_s`` row (offline benchmarks such as MLPerf's publish none) is the
power-of-two batch, up to 4,096, with the highest throughput that still fits in memory; on
other rows it is 1.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from scalewall._errors import CatalogFileError, InvalidParameter
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog
from scalewall.infer.plan import check_moe_dispatch, plan_serving

__all__ = ["offline_tokens_per_s", "predict_infer_row", "serving_inputs"]

# a source that timed the model's forward pass itself, not a serving engine
_KERNEL_TIMING = re.compile(r"^\s*measured on\b.*\bPyTorch\b", re.IGNORECASE)


def serving_inputs(row: dict[str, str], catalog: Catalog, rownum: str
                   ) -> tuple[Architecture, str, dict[str, Any]]:
    """The model, accelerator and keyword arguments of the :func:`plan_serving` call that
    predicts ``row`` (benchmarks time this same call)."""
    from scalewall.validate import _architecture, _num, _source_year

    metric = (row.get("metric") or "").strip()
    arch = _architecture(row, catalog, rownum)
    hardware = (row.get("hardware") or "").strip()
    if not hardware:
        raise CatalogFileError(f"row {rownum}: column 'hardware' is required")
    output = _num(row, "output", rownum, integer=True) or 1
    prompt = _num(row, "prompt", rownum, integer=True)
    context = _num(row, "context", rownum)
    if prompt is None:
        prompt = int(context) if context is not None else 0
    shape_only = not (row.get("model") or "").strip() or (row.get("layers") or "").strip()
    if shape_only and not (row.get("seq_len") or "").strip():
        # a bare shape carries no maximum context: allow the row's own
        needed = int(max(prompt + output, context or 0))
        arch = arch.replace(max_seq_len=max(arch.max_seq_len, needed))
    # The software of the row's time: decode attention kernels read each key/value head once
    # per query group from 2024 (TensorRT-LLM's XQA, FlashInfer); a column may say otherwise.
    grouped = _num(row, "grouped_kv_reads", rownum)
    if grouped is None:
        year = _source_year(row.get("source") or "")
        grouped = 1.0 if year is None or year >= 2024 else 0.0
    kwargs: dict[str, Any] = dict(
        n_devices=_num(row, "devices", rownum, integer=True) or 1,
        batch=_num(row, "batch", rownum, integer=True), prompt=prompt, output=output,
        context=context if metric == "tpot_s" else None,
        precision=(row.get("precision") or "bf16").strip(),
        tp=_num(row, "tp", rownum, integer=True), pp=_num(row, "pp", rownum, integer=True),
        ep=_num(row, "ep", rownum, integer=True) or 1,
        objective="throughput" if metric == "decode_tokens_per_s" else "latency",
        pue=_num(row, "pue", rownum), grouped_kv_reads=bool(grouped), catalog=catalog,
        attention_dp=bool(_num(row, "attention_dp", rownum) or 0.0),
        attention_dp_balance=bool(_num(row, "attention_dp_balance", rownum) or 0.0),
        first_token_in_decode=bool(_num(row, "first_token_in_decode", rownum) or 0.0),
        kv_precision=(row.get("kv_precision") or "").strip() or None,
    )
    dispatch = (row.get("moe_dispatch") or "").strip()
    if dispatch:
        try:
            kwargs["moe_dispatch"] = check_moe_dispatch(dispatch)
        except InvalidParameter as exc:
            raise CatalogFileError(f"row {rownum}: column {exc}") from None
    spec = _num(row, "speculative_tokens", rownum, integer=True)
    accepted = _num(row, "accepted_tokens", rownum)
    if metric == "speculative_speedup" and (not spec or accepted is None):
        raise CatalogFileError(
            f"row {rownum}: metric 'speculative_speedup' needs speculative_tokens >= 1 and "
            f"accepted_tokens, got {row.get('speculative_tokens')!r} and "
            f"{row.get('accepted_tokens')!r}")
    if spec:
        kwargs["speculative_tokens"] = int(spec)
        kwargs["accepted_tokens"] = accepted
    overhead_ms = _num(row, "request_overhead_ms", rownum)
    host_us = _num(row, "host_us_per_sequence", rownum)
    for key, value, high in (("request_overhead_ms", overhead_ms, 10_000.0),
                             ("host_us_per_sequence", host_us, 10_000.0)):
        if value is not None and not 0.0 <= value <= high:
            raise CatalogFileError(
                f"row {rownum}: column {key!r} must be in [0, {high:g}], got {value:g}")
    if _KERNEL_TIMING.search(row.get("source") or ""):
        # the forward pass timed directly: no serving engine around it
        overhead_ms = 0.0 if overhead_ms is None else overhead_ms
        host_us = 0.0 if host_us is None else host_us
    if overhead_ms is not None:
        kwargs["request_overhead_s"] = overhead_ms * 1e-3
    if host_us is not None:
        kwargs["host_time_per_sequence_s"] = host_us * 1e-6
    if kwargs["batch"] is None and metric != "decode_tokens_per_s":
        kwargs["batch"] = 1
    return arch, hardware, kwargs


def offline_tokens_per_s(arch: Architecture, hardware: str, kwargs: dict[str, Any],
                         requests: int) -> float:
    r"""Output tokens/s of an offline run of ``requests`` identical requests queued at once
    (:func:`~scalewall.infer.plan.plan_serving` arguments ``kwargs``, whose ``batch`` is the
    engine's maximum, or ``None`` for the planner's choice): each replica admits up to that
    many, as many as fit in its memory, and, the requests being alike, they run in waves of
    that many, each a cycle (:func:`~scalewall.infer.plan.evaluate_serving`), the last wave
    holding the remainder at its own, smaller batch (:math:`N` requests, :math:`d` replicas,
    batch :math:`b`, :math:`s_o` output tokens each):

    .. math:: \frac{N s_o}{\lfloor n/b \rfloor\, t_{cycle}(b) + t_{cycle}(n - b\lfloor n/b
        \rfloor)}, \quad n = N/d
    """
    probe = plan_serving(arch, hardware, **{**kwargs, "batch": None})  # the layout, what fits
    fits = int(np.floor(float(np.asarray(probe.metrics.max_batch))))
    b = max(1, min(kwargs.get("batch") or probe.batch, fits))
    per_replica = requests / probe.dp
    waves = int(per_replica // b)
    rest = round(per_replica - waves * b)
    layout = {**kwargs, "tp": probe.tp, "pp": probe.pp}

    def cycle(batch: int) -> float:
        return float(np.asarray(plan_serving(arch, hardware, **{**layout, "batch": batch})
                                .metrics.cycle_s))

    total = waves * cycle(b) + (cycle(rest) if rest >= 1 else 0.0)
    return requests * float(kwargs["output"]) / total


def _requests(row: dict[str, str], metric: str, rownum: str) -> int | None:
    """The ``requests`` column: the size of an offline run (``decode_tokens_per_s`` only)."""
    from scalewall.validate import _num

    value = _num(row, "requests", rownum, integer=True)
    if value is None:
        return None
    if metric != "decode_tokens_per_s" or value < 1:
        raise CatalogFileError(
            f"row {rownum}: column 'requests' (an offline run's size) must be an integer >= 1 "
            f"on a decode_tokens_per_s row, got {value!r} on {metric!r}")
    return int(value)


def predict_infer_row(row: dict[str, str], catalog: Catalog, rownum: str) -> float:
    """Predicted value of ``row['metric']`` in the metric's unit."""
    metric = (row.get("metric") or "").strip()
    arch, hardware, kwargs = serving_inputs(row, catalog, rownum)
    requests = _requests(row, metric, rownum)
    if requests is not None:
        return offline_tokens_per_s(arch, hardware, kwargs, requests)
    plan = plan_serving(arch, hardware, **kwargs)
    batch, context = plan.batch, kwargs["context"]
    m = plan.metrics
    if metric == "ttft_s":
        return float(m.ttft_s if batch == 1 else m.batch_prefill_s)
    if metric == "tpot_s":
        return float(m.tpot_s if context is not None else m.itl_s)
    if metric == "decode_tokens_per_s":
        return float(m.decode_tokens_per_s)
    if metric == "speculative_speedup":
        plain = plan_serving(arch, hardware, **{
            **kwargs, "speculative_tokens": 0, "accepted_tokens": None,
            "batch": batch, "tp": plan.tp, "pp": plan.pp})
        return float(m.tokens_per_s_per_user / plain.metrics.tokens_per_s_per_user)
    if metric in ("energy_j_per_token", "device_energy_j_per_token", "device_power_w"):
        value = getattr(plan, metric)
        if value is None:
            raise CatalogFileError(f"row {rownum}: {hardware} has no TDP in the catalog")
        return float(value)
    raise CatalogFileError(
        f"row {rownum}: metric {metric!r} is not an inference metric (ttft_s, tpot_s, "
        f"decode_tokens_per_s, energy_j_per_token, device_energy_j_per_token, "
        f"device_power_w, speculative_speedup)")
