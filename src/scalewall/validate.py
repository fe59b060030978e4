"""Predict every row of a CSV of published or measured figures and report the errors.

The CSV schema is DESIGN.md's validation contract. Optional extra columns, when present:
``vpp`` (interleaved stages), ``flash_attention`` and ``dropout`` (0/1), ``recipe``
(megatron or pytorch), ``overlap_grad_reduce``, ``prefetch_params`` (ZeRO-3) and
``overlap_moe_comm`` (0/1), ``goodput`` (1 where the source's figure is a failure-free
estimate from throughput). Blank options take the planner's defaults, except that the year in
the ``source`` column sets what software existed (no FlashAttention before 2023, no sequence
parallelism or selective recomputation before 2022, no gradient reduction or ZeRO-3 gathers
overlapped with compute before 2023), and learned-position GPT-style models before 2023
trained with dropout. A row that cannot be predicted gets
``error: null`` and a ``reason``; it does not stop the others.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalewall._errors import CatalogFileError, PlannerError
from scalewall.arch.model import Architecture
from scalewall.catalog import CATALOG_DIR, Catalog, get_catalog
from scalewall.train.layout import Layout
from scalewall.train.plan import TrainingPlan, plan_training
from scalewall.units import DAY_S, GIB, MWH_J, TFLOP, TONNE_G

__all__ = [
    "GROUPS",
    "METRICS",
    "SHIPPED_VALIDATION",
    "SHIPPED_VALIDATION_FILES",
    "ValidationResult",
    "by_source",
    "read_shipped_rows",
    "source_label",
    "validate_csv",
    "validate_rows",
]

SHIPPED_VALIDATION = CATALOG_DIR / "validation" / "train.csv"
#: Every shipped validation file: training rows, then serving rows.
SHIPPED_VALIDATION_FILES = (SHIPPED_VALIDATION, CATALOG_DIR / "validation" / "infer.csv")

REQUIRED_COLUMNS = ("id", "task", "metric", "value")
_TRAIN_METRICS: dict[str, Callable[[TrainingPlan], float]] = {
    "model_tflops_per_device": lambda p: float(p.step.model_flop_per_s_per_device) / TFLOP,
    "hardware_tflops_per_device": lambda p: float(p.step.hardware_flop_per_s_per_device) / TFLOP,
    "mfu": lambda p: float(p.step.mfu),
    "step_s": lambda p: float(p.step.step_s),
    "tokens_per_s": lambda p: float(p.step.tokens_per_s),
    "device_hours": lambda p: float(p.footprint.device_hours),
    "days": lambda p: float(p.footprint.duration_s) / DAY_S,
    "energy_mwh": lambda p: float(p.footprint.energy_j) / MWH_J,
    "co2_t": lambda p: float(p.footprint.co2_g) / TONNE_G,
    "peak_memory_gib": lambda p: float(p.memory.peak_allocated_bytes) / GIB,
}
_INFER_METRICS = ("ttft_s", "tpot_s", "decode_tokens_per_s", "energy_j_per_token",
                  "device_energy_j_per_token", "device_power_w", "speculative_speedup")
METRICS: tuple[str, ...] = (*_TRAIN_METRICS, *_INFER_METRICS, "loss")
_WHOLE_RUN = ("device_hours", "days", "energy_mwh", "co2_t")
#: Metric groups pooled as the project's accuracy targets state them: (metrics, target median
#: absolute error).
GROUPS: dict[str, tuple[tuple[str, ...], float]] = {
    "throughput": (("model_tflops_per_device", "hardware_tflops_per_device", "mfu", "step_s",
                    "tokens_per_s"), 0.10),
    "whole-run": (_WHOLE_RUN, 0.15),
    "peak memory": (("peak_memory_gib",), 0.10),
    "decode": (("tpot_s", "decode_tokens_per_s"), 0.10),
    "prefill": (("ttft_s",), 0.15),
    "serving energy": (("energy_j_per_token", "device_energy_j_per_token"), 0.15),
    # energy per token is power over throughput: the power half alone, held to the same target
    "serving power": (("device_power_w",), 0.15),
}


@dataclass(frozen=True)
class ValidationResult:
    rows: list[dict[str, Any]]
    summary: dict[str, dict[str, Any]]

    @property
    def groups(self) -> dict[str, dict[str, Any]]:
        """Median absolute error of each pooled group of :data:`GROUPS` that has rows, with
        its target and whether it is met."""
        out: dict[str, dict[str, Any]] = {}
        for name, (metrics, target) in GROUPS.items():
            errs = [abs(r["error"]) for r in self.rows
                    if r["metric"] in metrics and r["error"] is not None]
            if errs:
                median = float(np.median(errs))
                out[name] = {"n": len(errs), "median_abs_error": median, "target": target,
                             "met": median <= target}
        return out

    def to_dict(self) -> dict[str, Any]:
        """DESIGN.md's JSON contract: exactly ``rows`` and ``summary`` (groups derive from
        the rows)."""
        return {"rows": self.rows, "summary": self.summary}


def source_label(source: str) -> str:
    """A row's publication as a short label: its ``source`` up to the first comma or bracket
    ("NVIDIA TensorRT-LLM", "Patel et al.", "ML.ENERGY Leaderboard v3.0")."""
    head = re.split(r",|\s\(", source or "", maxsplit=1)[0].strip()
    return head[:48] or "(no source)"


def by_source(rows: Sequence[dict[str, str]], result: ValidationResult) -> list[dict[str, Any]]:
    """Median signed and absolute error per publication and metric group, for the rows of
    ``result`` (predicted from ``rows``, in order): where the model holds and where it does
    not, source by source. Groups with most rows first within each metric group."""
    cells: dict[tuple[str, str], list[float]] = {}
    for row, res in zip(rows, result.rows, strict=True):
        group = next((g for g, (metrics, _) in GROUPS.items() if res["metric"] in metrics),
                     res["metric"])
        if res["error"] is not None:
            cells.setdefault((group, source_label(row.get("source", ""))), []).append(
                res["error"])
    out = [{"group": g, "source": src, "n": len(e), "median_error": float(np.median(e)),
            "median_abs_error": float(np.median(np.abs(e)))}
           for (g, src), e in cells.items()]
    order = {g: i for i, g in enumerate(GROUPS)}
    return sorted(out, key=lambda c: (order.get(c["group"], len(order)), -c["n"], c["source"]))


def _num(row: dict[str, str], key: str, rownum: str, *, integer: bool = False) -> Any:
    raw = (row.get(key) or "").strip()
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise CatalogFileError(
            f"row {rownum}: column {key!r} must be a number, got {raw!r}"
        ) from None
    if not math.isfinite(value):
        raise CatalogFileError(f"row {rownum}: column {key!r} must be finite, got {raw!r}")
    if integer:
        if value != int(value) or value < 0:
            raise CatalogFileError(
                f"row {rownum}: column {key!r} must be a non-negative integer, got {raw!r}"
            )
        return int(value)
    return value


def _architecture(row: dict[str, str], cat: Catalog, rownum: str) -> Architecture:
    shape_given = (row.get("layers") or "").strip() != ""
    if (row.get("model") or "").strip() and not shape_given:
        return cat.model(row["model"])
    needed = ("layers", "hidden", "heads", "ffn", "vocab")
    missing = [k for k in needed if not (row.get(k) or "").strip()]
    if missing:
        raise CatalogFileError(
            f"row {rownum}: give a catalog model or the shape columns; missing {missing}"
        )
    seq = _num(row, "seq_len", rownum, integer=True) or 2048
    experts = _num(row, "experts", rownum, integer=True) or 0
    return Architecture(
        id=row.get("id", "custom"),
        n_layers=_num(row, "layers", rownum, integer=True),
        hidden_size=_num(row, "hidden", rownum, integer=True),
        n_heads=_num(row, "heads", rownum, integer=True),
        n_kv_heads=_num(row, "kv_heads", rownum, integer=True),
        ffn_size=_num(row, "ffn", rownum, integer=True),
        vocab_size=_num(row, "vocab", rownum, integer=True),
        mlp=(row.get("mlp") or "gelu").strip(),
        n_experts=experts,
        n_active_experts=_num(row, "active_experts", rownum, integer=True) or 0,
        tied_embeddings=(_num(row, "tied", rownum) or 0) == 1,
        # GPT-style rows (GELU) use learned positions and biases; SwiGLU rows are Llama-style
        position="learned" if (row.get("mlp") or "gelu").strip() == "gelu" else "rope",
        bias=(row.get("mlp") or "gelu").strip() == "gelu",
        norm="layernorm" if (row.get("mlp") or "gelu").strip() == "gelu" else "rmsnorm",
        max_seq_len=max(seq, 2048),
    )


def _source_year(source: str) -> int | None:
    """The publication year in a source citation (the first 19xx/20xx), if any."""
    match = re.search(r"\b(19[89]\d|20[0-4]\d)\b", source)
    return int(match.group(1)) if match else None


def _predict_train(row: dict[str, str], cat: Catalog, rownum: str) -> TrainingPlan:
    arch = _architecture(row, cat, rownum)
    hardware = (row.get("hardware") or "").strip()
    if not hardware:
        raise CatalogFileError(f"row {rownum}: column 'hardware' is required")
    fixed: dict[str, Any] = {}
    for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "zero", "vpp"):
        value = _num(row, key, rownum, integer=True)
        if value is not None:
            fixed[key] = value
    sp = _num(row, "sp", rownum)
    if sp is not None:
        fixed["sp"] = bool(sp)
    recompute = (row.get("recompute") or "").strip()
    if recompute:
        fixed["recompute"] = recompute
    # A published figure was produced with the software of its time. When a row leaves the
    # kernels unspecified, read the year from its source: FlashAttention (Dao et al. 2022)
    # reached Megatron-LM and PyTorch in 2023; sequence parallelism and selective
    # recomputation arrived with Korthikanti et al. (2022).
    year = _source_year(row.get("source") or "")
    if year is not None:
        if year < 2023 and not (row.get("flash_attention") or "").strip():
            fixed["flash_attention"] = False
        if year < 2023 and arch.position == "learned" and "dropout" not in fixed:
            fixed["dropout"] = True  # the GPT-2/GPT-3/Megatron/OPT recipes: dropout 0.1
        if year < 2023 and "overlap_grad_reduce" not in fixed:
            # Megatron-LM of 2021-22 reduced gradients after backward (Korthikanti et al.
            # 2022, Sec. 6.3)
            fixed["overlap_grad_reduce"] = False
        if year < 2023 and "prefetch_params" not in fixed:
            # DeepSpeed ZeRO-3 of 2021 did prefetch, but Narayanan et al.'s Table 2 rows sit
            # between no overlap and full prefetch overlap, nearer the former (README)
            fixed["prefetch_params"] = False
        if year < 2022:
            fixed.setdefault("sp", False)
            if "recompute" not in fixed:
                fixed["recompute"] = ("none", "full")
    for key in ("flash_attention", "dropout", "overlap_grad_reduce", "prefetch_params",
                "overlap_moe_comm"):
        value = _num(row, key, rownum)
        if value is not None:
            fixed[key] = bool(value)
    if (row.get("recipe") or "").strip():
        fixed["recipe"] = row["recipe"].strip()
    precision = (row.get("precision") or "bf16").strip()
    fixed["precision"] = precision
    layout_keys = ("tp", "pp", "dp", "cp", "micro_batch")
    seq = _num(row, "seq_len", rownum, integer=True)
    devices = _num(row, "devices", rownum, integer=True)
    global_batch = _num(row, "global_batch", rownum, integer=True)
    region_kwargs: dict[str, Any] = {}
    pue = _num(row, "pue", rownum)
    if pue is not None:
        region_kwargs["pue"] = pue
    plan_kwargs: dict[str, Any] = dict(
        n_devices=devices, n_tokens=_num(row, "tokens", rownum), seq_len=seq,
        global_batch=global_batch, goodput=_num(row, "goodput", rownum), catalog=cat,
        **region_kwargs,
    )
    if devices and all(k in fixed for k in layout_keys):
        fixed.setdefault("cp", 1)
        layout = Layout(**{k: v for k, v in fixed.items() if k in Layout.__dataclass_fields__})
        plan = plan_training(arch, hardware, layout=layout, **plan_kwargs)
    else:
        plan = plan_training(arch, hardware, fixed=fixed, **plan_kwargs)
    grid = _num(row, "grid_g_per_kwh", rownum)
    if grid is not None:
        from dataclasses import replace

        energy = plan.footprint.energy_j
        plan = replace(plan, footprint=replace(plan.footprint, co2_g=energy * grid / 3.6e6,
                                               grid_g_per_j=grid / 3.6e6))
    return plan


def _hook(module: str, function: str, row: dict[str, str], cat: Catalog, rownum: str) -> float:
    """Predict a row with the domain package that owns its metric (inference, laws)."""
    import importlib
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is not there
        found = False
    if not found:
        raise PlannerError(f"row {rownum}: {module} is not available to predict this metric")
    predict = getattr(importlib.import_module(module), function)
    return float(predict(row, cat, rownum))


def validate_rows(rows: Sequence[dict[str, str]], *, catalog: Catalog | None = None,
                  progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Predict each row; see the module docstring for the schema."""
    cat = catalog or get_catalog()
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        rownum = f"{i + 2} ({row.get('id', '?')})"
        metric = (row.get("metric") or "").strip()
        result: dict[str, Any] = {"id": row.get("id"), "metric": metric, "reported": None,
                                  "predicted": None, "error": None}
        try:
            if metric not in METRICS:
                raise CatalogFileError(
                    f"row {rownum}: metric must be one of {', '.join(METRICS)}, got {metric!r}"
                )
            reported = _num(row, "value", rownum)
            if reported is None or reported == 0:
                raise CatalogFileError(f"row {rownum}: value must be a non-zero number")
            result["reported"] = reported
            task = (row.get("task") or "").strip()
            if task == "train" and metric in _TRAIN_METRICS:
                plan = _predict_train(row, cat, rownum)
                predicted = _TRAIN_METRICS[metric](plan)
                result["predicted"] = predicted
                result["error"] = predicted / reported - 1.0
            elif task == "infer" or metric in _INFER_METRICS:
                predicted = _hook("scalewall.infer.validate", "predict_infer_row", row, cat,
                                  rownum)
                result["predicted"] = predicted
                result["error"] = predicted / reported - 1.0
            elif metric == "loss":
                predicted = _hook("scalewall.laws.validate", "predict_loss_row", row, cat,
                                  rownum)
                result["predicted"] = predicted
                result["error"] = predicted / reported - 1.0
            else:
                raise CatalogFileError(f"row {rownum}: task must be train or infer, got {task!r}")
        except PlannerError as exc:
            result["reason"] = str(exc)
        out.append(result)
        if progress:
            progress(i + 1)
    summary: dict[str, dict[str, Any]] = {}
    for metric in dict.fromkeys(r["metric"] for r in out):
        errs = [abs(r["error"]) for r in out if r["metric"] == metric and r["error"] is not None]
        if errs:
            summary[metric] = {"n": len(errs), "median_abs_error": float(np.median(errs)),
                               "max_abs_error": float(np.max(errs))}
        else:
            summary[metric] = {"n": 0, "median_abs_error": None, "max_abs_error": None}
    return ValidationResult(rows=out, summary=summary)


def read_validation_csv(path: str | Path) -> list[dict[str, str]]:
    """Read a validation CSV; errors name the file and the missing columns."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CatalogFileError(f"{p}: missing columns {missing}")
            return list(reader)
    except OSError as exc:
        raise CatalogFileError(f"{p}: cannot read ({exc.strerror})") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CatalogFileError(f"{p}: not readable as a UTF-8 CSV ({exc})") from None


def validate_csv(path: str | Path, *, catalog: Catalog | None = None,
                 progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Predict every row of the CSV at ``path``."""
    return validate_rows(read_validation_csv(path), catalog=catalog, progress=progress)


def read_shipped_rows() -> list[dict[str, str]]:
    """All rows of the shipped validation files (training and serving)."""
    rows: list[dict[str, str]] = []
    for path in SHIPPED_VALIDATION_FILES:
        if path.exists():
            rows.extend(read_validation_csv(path))
    return rows
