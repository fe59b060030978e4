"""How well published measurements back a prediction on one accelerator.

Every plan says what stands behind it: the shipped validation rows (``scalewall validate`` on
``catalog/validation/*.csv``) grouped by accelerator, by kind of model (dense or mixture of
experts: the two have different errors, MoE serving being the least certain) and by the
project's metric groups, with their median errors and how many predictions were optimistic
(faster, cheaper or smaller than measured); or, where no published figure for that chip and
kind of model is in the set, that the prediction is the model's alone. The summary is
precomputed into ``catalog/validation/evidence.json`` by ``python scripts/write_evidence.py``
(a test checks that it matches a fresh validation), so a plan reads it instead of re-running
a thousand rows.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from scalewall.catalog import CATALOG_DIR, Catalog, get_catalog

__all__ = [
    "EVIDENCE_FILE",
    "KINDS",
    "SERVING_GROUPS",
    "TRAINING_GROUPS",
    "compute_evidence",
    "evidence_for",
]

EVIDENCE_FILE = CATALOG_DIR / "validation" / "evidence.json"
TRAINING_GROUPS = ("throughput", "whole-run", "peak memory")
SERVING_GROUPS = ("decode", "prefill", "serving energy", "serving power")
#: kinds of model the evidence is split by, with the words a note uses for them
KINDS = {"dense": "dense models", "moe": "mixture-of-experts models"}
# metrics where a prediction above the measurement is the optimistic one (rates); on every
# other metric (times, energies, memory, power) the optimistic prediction is the lower one
_RATES = frozenset({"decode_tokens_per_s", "tokens_per_s", "model_tflops_per_device",
                    "hardware_tflops_per_device", "mfu", "speculative_speedup"})


def compute_evidence(catalog: Catalog | None = None
                     ) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Validate the shipped rows and summarise them per accelerator id, kind of model
    (``dense`` or ``moe``) and metric group: ``{accelerator: {kind: {group: {n,
    median_abs_error, median_error, optimistic}}}}``, errors as fractions (predicted /
    reported - 1) and ``optimistic`` the number of rows predicted faster, cheaper or smaller
    than measured."""
    from scalewall.validate import GROUPS, _architecture, read_shipped_rows, validate_rows

    cat = catalog or get_catalog()
    rows = read_shipped_rows()
    result = validate_rows(rows, catalog=cat)
    errors: dict[str, dict[str, dict[str, list[tuple[float, bool]]]]] = {}
    for i, (row, res) in enumerate(zip(rows, result.rows, strict=True)):
        name = (row.get("hardware") or "").strip()
        if res["error"] is None or not name:
            continue
        group = next((g for g, (metrics, _) in GROUPS.items() if res["metric"] in metrics),
                     None)
        if group is None:
            continue
        kind = "moe" if _architecture(row, cat, str(i)).is_moe else "dense"
        error = float(res["error"])
        optimistic = error > 0 if res["metric"] in _RATES else error < 0
        (errors.setdefault(cat.accelerator(name).id, {}).setdefault(kind, {})
         .setdefault(group, []).append((error, optimistic)))
    return {accel: {kind: {group: _summary(e) for group, e in sorted(groups.items())}
                    for kind, groups in sorted(kinds.items())}
            for accel, kinds in sorted(errors.items())}


def _summary(rows: list[tuple[float, bool]]) -> dict[str, Any]:
    e = np.array([error for error, _ in rows])
    return {"n": len(rows), "median_abs_error": round(float(np.median(np.abs(e))), 4),
            "median_error": round(float(np.median(e)), 4),
            "optimistic": sum(opt for _, opt in rows)}


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    if not EVIDENCE_FILE.exists():
        return {}
    data: dict[str, dict[str, dict[str, dict[str, Any]]]] = json.loads(
        EVIDENCE_FILE.read_text())
    return data


def evidence_for(accelerator: str, task: Literal["serving", "training"], *,
                 moe: bool = False) -> dict[str, Any]:
    """What the shipped validation says about ``accelerator`` for one task's metric groups
    (:data:`SERVING_GROUPS` or :data:`TRAINING_GROUPS`) on the plan's kind of model (``moe``:
    a mixture of experts, else dense): ``{"kind": "dense" | "moe", "groups": {group: {n,
    median_abs_error, median_error, optimistic}}, "note": one sentence}``. Where the chip has
    figures only for the other kind of model, ``groups`` is empty and the note says so and
    quotes them.

    Examples
    --------
    >>> evidence_for("h100-sxm", "serving")["groups"]["decode"]["n"] > 20
    True
    >>> evidence_for("tpu-v5e", "serving")["note"][:44]
    'no published or measured serving figure on t'
    """
    groups = SERVING_GROUPS if task == "serving" else TRAINING_GROUPS
    kind, other = ("moe", "dense") if moe else ("dense", "moe")
    kinds = _load().get(accelerator, {})
    found, elsewhere = ({g: s for g, s in kinds.get(k, {}).items() if g in groups}
                        for k in (kind, other))
    if found:
        return {"kind": kind, "groups": found, "note": (
            f"published or measured {task} figures on {accelerator} for {KINDS[kind]} "
            f"(`scalewall validate`): {_quote(found)}")}
    note = (f"no published or measured {task} figure on {accelerator} for {KINDS[kind]} is in "
            f"the validation set: this prediction is the model's alone, unchecked against a "
            f"measurement")
    if elsewhere:
        note += f"; for {KINDS[other]} there: {_quote(elsewhere)}"
    return {"kind": kind, "groups": {}, "note": note}


def _quote(found: dict[str, dict[str, Any]]) -> str:
    """``decode 68 rows, median |error| 11%, 30 optimistic; ...`` (optimistic: predicted
    faster, cheaper or smaller than measured)."""
    return "; ".join(
        f"{g} {s['n']} row{'' if s['n'] == 1 else 's'}, median |error| "
        f"{s['median_abs_error']:.0%}, {s['optimistic']} of {s['n']} optimistic"
        for g, s in found.items()) + " (optimistic: predicted faster, cheaper or smaller " \
        "than measured)"
