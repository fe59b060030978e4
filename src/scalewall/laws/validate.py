"""Predict ``loss`` rows of a validation CSV (called by :mod:`scalewall.validate`)."""

from __future__ import annotations

import math

from scalewall._errors import InvalidParameter, PlannerError
from scalewall.arch.counts import n_params
from scalewall.catalog import Catalog
from scalewall.laws.parametric import get_loss

__all__ = ["DEFAULT_LAW", "predict_loss_row"]

#: Law used for validation rows: Hoffmann et al. 2022, Approach 3 (eq. 10).
DEFAULT_LAW = "hoffmann2022"


def predict_loss_row(row: dict[str, str], catalog: Catalog, rownum: str) -> float:
    """Predicted final training loss [nats/token] of a row giving ``model`` (a catalog id) or
    the shape columns, and ``tokens``; Hoffmann et al. 2022 Approach 3 on all parameters.

    Raises
    ------
    InvalidParameter
        No usable model or shape, or ``tokens`` missing or not a positive number.
    """
    from scalewall.validate import _architecture  # the row-shape reader of the validator

    raw = (row.get("tokens") or "").strip()
    try:
        tokens = float(raw)
    except ValueError:
        tokens = math.nan
    if not (math.isfinite(tokens) and tokens > 0):
        raise InvalidParameter(
            f"row {rownum}: a loss row needs column 'tokens' (training tokens, a positive "
            f"number), got {raw!r}"
        )
    try:
        arch = _architecture(row, catalog, rownum)
    except PlannerError as exc:
        raise InvalidParameter(f"row {rownum}: cannot size the model for a loss row: {exc}") \
            from None
    return float(get_loss(float(n_params(arch)), tokens, law=DEFAULT_LAW))
