"""A measured run beside the planner's prediction for the same shape, with the error.

The error is ``predicted / measured - 1``, as in ``scalewall validate``. The shape comes from
the run's stored configuration:

* training (``kind = "train"``): ``arch`` (the architecture's fields) or ``model`` (a catalog
  name), ``seq_len``, ``micro_batch``, ``global_batch`` (default the micro-batch),
  ``recompute`` (none, selective, full), ``recipe`` (default ``pytorch``: fp32 weights under
  autocast), ``precision``, ``flash_attention``, ``dropout``;
* decoding (``kind = "infer"``): ``arch`` or ``model``, ``phase`` (``decode``, the default,
  whose step is one token per sequence, or ``prefill``), ``batch``, ``context`` (decode: tokens
  already in the KV cache), ``prompt`` (prefill), ``precision``.

Training is predicted by :func:`scalewall.train.plan.plan_training` on one device with the
layout given; decoding by :func:`scalewall.infer.plan.evaluate_serving` on one device (the
serving planner's kernel), each with the named calibration's rates when one is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scalewall.arch.model import Architecture, Provenance
from scalewall.catalog import Catalog, get_catalog
from scalewall.infer.plan import (
    calibrated_serving_rates,
    evaluate_serving,
    kv_precision_for,
    serving_rates,
)
from scalewall.kernels import DeviceRates
from scalewall.measure._common import MeasureError
from scalewall.measure.calibrate import load_calibration
from scalewall.measure.registry import Registry, open_registry
from scalewall.train.layout import Layout
from scalewall.train.plan import plan_training
from scalewall.units import BYTES_PER_ELEMENT

__all__ = ["arch_from_config", "compare_run", "predict_run"]


def arch_from_config(config: Mapping[str, Any], *, catalog: Catalog | None = None
                     ) -> Architecture:
    """The architecture a run's configuration names (``arch`` fields or a ``model`` name)."""
    if config.get("arch"):
        fields = dict(config["arch"])
        prov = fields.pop("provenance", None) or {}
        fields["aliases"] = tuple(fields.get("aliases") or ())
        known = {f.name for f in dataclasses.fields(Architecture)}
        return Architecture(provenance=Provenance(**prov),
                            **{k: v for k, v in fields.items() if k in known})
    if config.get("model"):
        return (catalog or get_catalog()).model(str(config["model"]))
    raise MeasureError("the run's configuration has neither 'arch' nor 'model': the planner "
                       "cannot predict it")


def _f(x: Any) -> float:
    return float(np.asarray(x))


def predict_run(run: Mapping[str, Any], *, rates: DeviceRates | None = None,
                catalog: Catalog | None = None) -> dict[str, float | None]:
    """The planner's figures for a stored run's shape, keyed like the measured ones."""
    cat = catalog or get_catalog()
    cfg = run["config"]
    if run["kind"] not in ("train", "infer"):
        raise MeasureError(f"run {run.get('id')} is a {run['kind']!r} run; only train and "
                           f"infer runs have a planner prediction")
    hardware = run.get("hardware")
    if not hardware:
        raise MeasureError(f"run {run.get('id')} names no catalog accelerator; the planner "
                           f"cannot predict it")
    arch = arch_from_config(cfg, catalog=cat)
    accel = cat.accelerator(str(hardware))
    precision = str(cfg.get("precision") or "bf16")
    if run["kind"] == "train":
        mb = int(cfg.get("micro_batch", 1))
        layout = Layout(micro_batch=mb, global_batch=int(cfg.get("global_batch") or mb),
                        recompute=str(cfg.get("recompute") or "none"),
                        recipe=str(cfg.get("recipe") or "pytorch"), precision=precision,
                        flash_attention=bool(cfg.get("flash_attention", True)),
                        dropout=bool(cfg.get("dropout", False)))
        plan = plan_training(arch, accel, n_devices=1, n_tokens=1e9,
                             seq_len=int(cfg["seq_len"]), layout=layout, rates=rates,
                             catalog=cat)
        step_s = _f(plan.step.step_s)
        tokens = _f(plan.step.tokens_per_step)
        power = _f(plan.footprint.device_power_w)
        return {"step_s": step_s, "tokens_per_s": _f(plan.step.tokens_per_s),
                "mfu": _f(plan.step.mfu),
                "peak_memory_bytes": _f(plan.memory.peak_allocated_bytes),
                "energy_j_per_token": power * step_s / tokens,
                "calibrated": float(plan.rates.calibrated)}
    # decoding or prefill
    gemm, attn = serving_rates(accel, cat, precision=precision)
    if rates is not None:
        gemm, attn = calibrated_serving_rates(attn, rates)
    batch = int(cfg.get("batch", 1))
    prefill = cfg.get("phase") == "prefill"
    prompt = int(cfg.get("prompt", 0) if prefill else cfg.get("context", 0))
    m = evaluate_serving(
        arch, gemm, attention_rates=attn, batch=batch, prompt=prompt, output=1,
        context=None if prefill else float(cfg.get("context", 0)), n_devices=1,
        weight_bytes=BYTES_PER_ELEMENT[precision],
        kv_precision=str(cfg.get("kv_precision") or kv_precision_for(precision, accel)),
        capacity_bytes=accel.memory_bytes)
    step_s = _f(m.ttft_s if prefill else m.tpot_s)
    out_tokens = batch * (prompt if prefill else 1)
    return {"step_s": step_s, "tokens_per_s": out_tokens / step_s, "mfu": None,
            "peak_memory_bytes": None, "energy_j_per_token": None,
            "calibrated": float(rates is not None)}


_METRICS = ("step_s", "tokens_per_s", "mfu", "peak_memory_bytes", "energy_j_per_token")


def compare_run(ref: int | str, *, registry: Registry | str | Path | None = None,
                calibration: str | None = None, catalog: Catalog | None = None
                ) -> dict[str, Any]:
    """Measured against predicted for run ``ref``: per metric ``{measured, predicted,
    error}`` with ``error = predicted / measured - 1``, and whether the prediction is
    calibrated."""
    reg = registry if isinstance(registry, Registry) else open_registry(registry, must_exist=True)
    try:
        run = reg.get_run(ref)
        rates = (load_calibration(calibration, registry=reg, catalog=catalog)
                 if calibration else None)
    finally:
        if not isinstance(registry, Registry):
            reg.close()
    predicted = predict_run(run, rates=rates, catalog=catalog)
    measured = run["summary"]
    rows = []
    for metric in _METRICS:
        meas, pred = measured.get(metric), predicted.get(metric)
        error = (pred / meas - 1.0) if meas and pred is not None else None
        rows.append({"metric": metric, "measured": meas, "predicted": pred, "error": error})
    return {"run": {k: run[k] for k in ("id", "uid", "kind", "name", "hardware", "created_at")},
            "calibration": calibration, "calibrated": bool(predicted["calibrated"]),
            "metrics": rows}
