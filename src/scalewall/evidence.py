"""How well published measurements back a prediction on one accelerator.

Every plan says what stands behind it: the shipped validation rows (``scalewall validate`` on
``catalog/validation/*.csv``) grouped by accelerator and by the project's metric groups, with
their median errors; or, where no published figure for that chip is in the set, that the
prediction is the model's alone. The summary is precomputed into
``catalog/validation/evidence.json`` by ``python scripts/write_evidence.py`` (a test checks
that it matches a fresh validation), so a plan reads it instead of re-running 400 rows.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from scalewall.catalog import CATALOG_DIR, Catalog, get_catalog

__all__ = [
    "EVIDENCE_FILE",
    "SERVING_GROUPS",
    "TRAINING_GROUPS",
    "compute_evidence",
    "evidence_for",
]

EVIDENCE_FILE = CATALOG_DIR / "validation" / "evidence.json"
TRAINING_GROUPS = ("throughput", "whole-run", "peak memory")
SERVING_GROUPS = ("decode", "prefill", "serving energy", "serving power")


def compute_evidence(catalog: Catalog | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Validate the shipped rows and summarise them per accelerator id and metric group:
    ``{accelerator: {group: {n, median_abs_error, median_error}}}`` (errors as fractions,
    predicted / reported - 1)."""
    from scalewall.validate import GROUPS, read_shipped_rows, validate_rows

    cat = catalog or get_catalog()
    rows = read_shipped_rows()
    result = validate_rows(rows, catalog=cat)
    errors: dict[str, dict[str, list[float]]] = {}
    for row, res in zip(rows, result.rows, strict=True):
        name = (row.get("hardware") or "").strip()
        if res["error"] is None or not name:
            continue
        group = next((g for g, (metrics, _) in GROUPS.items() if res["metric"] in metrics),
                     None)
        if group is None:
            continue
        accel = cat.accelerator(name).id
        errors.setdefault(accel, {}).setdefault(group, []).append(float(res["error"]))
    return {
        accel: {group: {"n": len(e), "median_abs_error": round(float(np.median(np.abs(e))), 4),
                        "median_error": round(float(np.median(e)), 4)}
                for group, e in sorted(groups.items())}
        for accel, groups in sorted(errors.items())
    }


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, dict[str, Any]]]:
    if not EVIDENCE_FILE.exists():
        return {}
    data: dict[str, dict[str, dict[str, Any]]] = json.loads(EVIDENCE_FILE.read_text())
    return data


def evidence_for(accelerator: str, task: Literal["serving", "training"]) -> dict[str, Any]:
    """What the shipped validation says about ``accelerator`` for one task's metric groups
    (:data:`SERVING_GROUPS` or :data:`TRAINING_GROUPS`): ``{"groups": {group: {n,
    median_abs_error, median_error}}, "note": one sentence}``.

    Examples
    --------
    >>> evidence_for("h100-sxm", "serving")["groups"]["decode"]["n"] > 20
    True
    >>> evidence_for("tpu-v5e", "serving")["note"][:44]
    'no published or measured serving figure on t'
    """
    groups = SERVING_GROUPS if task == "serving" else TRAINING_GROUPS
    found = {g: s for g, s in _load().get(accelerator, {}).items() if g in groups}
    if not found:
        return {"groups": {}, "note": (
            f"no published or measured {task} figure on {accelerator} is in the validation "
            f"set: this prediction is the model's alone, unchecked against a measurement")}
    parts = [f"{g} {s['n']} row{'' if s['n'] == 1 else 's'}, median |error| "
             f"{s['median_abs_error']:.0%}" for g, s in found.items()]
    return {"groups": found,
            "note": f"published or measured {task} figures on {accelerator} "
                    f"(`scalewall validate`): " + "; ".join(parts)}
