"""The data budget of a planned run: tokens needed against a stock, the epochs that implies and
their loss penalty, and the cost of filling the gap with synthetic data from a teacher model.

References
----------
.. [1] P. Villalobos et al., "Will we run out of data? Limits of LLM scaling based on
   human-generated data", ICML 2024, arXiv:2211.04325.
.. [2] N. Muennighoff et al., "Scaling Data-Constrained Language Models", NeurIPS 2023,
   arXiv:2305.16264.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter
from scalewall.catalog import Catalog
from scalewall.laws._checks import check_positive
from scalewall.laws.constants import LawCatalog, get_laws_catalog
from scalewall.laws.costs import InferenceCost, inference_cost
from scalewall.laws.parametric import loss_chinchilla
from scalewall.laws.repetition import effective_tokens_muennighoff2023, loss_data_constrained

__all__ = ["DataBudgetReport", "data_budget"]


@dataclass(frozen=True)
class DataBudgetReport:
    """Tokens needed against the unique tokens available, at the stock's low, median and high
    estimates (arrays of 3), and the synthetic data that would close the gap."""

    law: str
    n_params: float
    n_tokens: float
    stock: str
    stock_interval: str
    public_tokens: list[float]  # low, median, high
    private_tokens: float
    unique_tokens: list[float]
    epochs: list[float]
    effective_tokens: list[float]
    loss_fresh: float
    loss_repeated: list[float]
    loss_penalty: list[float]
    max_epochs: float
    gap_tokens: list[float]  # unique tokens to add so that epochs <= max_epochs
    teacher_params: float | None
    tokens_per_kept: float
    prompt_tokens_per_kept: float
    synthetic_generated_tokens: list[float]
    synthetic_cost: InferenceCost | None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "synthetic_cost"}
        out["synthetic_cost"] = None if self.synthetic_cost is None else \
            self.synthetic_cost.to_dict()
        out["estimates"] = ["low", "median", "high"]
        return out


def data_budget(
    n_params: float, n_tokens: float, *, stock: str = "villalobos2024",
    private_tokens: Sequence[float] = (), max_epochs: float | None = None,
    law: str = "hoffmann2022", teacher_params: float | None = None,
    tokens_per_kept: float | None = None, prompt_tokens_per_kept: float | None = None,
    hardware: str = "h100-sxm", catalog: Catalog | None = None,
    laws_catalog: LawCatalog | None = None,
) -> DataBudgetReport:
    """Data budget of training ``n_params`` on ``n_tokens``.

    Parameters
    ----------
    n_params : [parameters]; n_tokens : [tokens] planned training tokens.
    stock : catalog stock of public text (low, median and high estimates are all reported).
    private_tokens : [tokens] the user's own corpora, added to the public stock.
    max_epochs : passes allowed over the unique data before the rest counts as a gap; default
        the catalog's ``max_free_epochs`` (4, Muennighoff et al. 2023).
    law : Chinchilla-form law for the loss penalty of repetition.
    teacher_params : [parameters] model that generates synthetic data for the gap; None
        skips the synthetic-data cost.
    tokens_per_kept, prompt_tokens_per_kept : generated and prompt tokens per synthetic token
        kept after filtering (defaults from the catalog's assumptions).
    hardware : accelerator that runs the teacher.

    Notes
    -----
    Epochs :math:`= D / U`; penalty :math:`= L(N', D') - L(N, D)` with D' and N' from eqs. 5-6
    of Muennighoff et al. 2023; gap :math:`= \\max(D / e_{max} - U, 0)`; generated tokens
    = gap x tokens per kept token, priced by :func:`scalewall.laws.costs.inference_cost`.
    """
    check_positive("data_budget", "n_params", n_params)
    check_positive("data_budget", "n_tokens", n_tokens)
    for value in private_tokens:
        check_positive("data_budget", "private_tokens", value)
    lcat = laws_catalog or get_laws_catalog()
    entry = lcat.stock(stock)
    c = lcat.chinchilla(law)
    rep = lcat.repeat()
    cap = max_epochs if max_epochs is not None else lcat.assumption("max_free_epochs")
    if not cap >= 1:
        raise InvalidParameter(f"data_budget: max_epochs must be >= 1, got {cap!r}")
    per_kept = tokens_per_kept if tokens_per_kept is not None else \
        lcat.assumption("synthetic_tokens_per_kept")
    prompt_per_kept = prompt_tokens_per_kept if prompt_tokens_per_kept is not None else \
        lcat.assumption("synthetic_prompt_tokens_per_kept")
    if not per_kept >= 1:
        raise InvalidParameter(
            f"data_budget: tokens_per_kept must be >= 1 (a filter cannot keep more tokens than "
            f"were generated), got {per_kept!r}"
        )
    check_positive("data_budget", "prompt_tokens_per_kept", prompt_per_kept, allow_zero=True)
    public = np.array([entry.tokens_low, entry.tokens, entry.tokens_high])  # (3,)
    private = float(sum(private_tokens))
    unique = public + private
    d = float(n_tokens)
    epochs = d / unique
    d_eff = effective_tokens_muennighoff2023(d, unique, r_d_star=rep.r_d_star)
    fresh = float(loss_chinchilla(n_params, d, e=c.e, a=c.a, b=c.b, alpha=c.alpha,
                                  beta=c.beta))
    repeated = np.asarray(loss_data_constrained(n_params, d, unique, law=c, catalog=lcat))
    gap = np.maximum(d / cap - unique, 0.0)
    generated = gap * per_kept
    cost = None
    if teacher_params is not None:
        check_positive("data_budget", "teacher_params", teacher_params)
        cost = inference_cost(teacher_params, generated, gap * prompt_per_kept,
                              hardware=hardware, decode_batch=lcat.assumption("decode_batch"),
                              catalog=catalog)
    return DataBudgetReport(
        law=c.id, n_params=float(n_params), n_tokens=d, stock=entry.id,
        stock_interval=entry.interval, public_tokens=public.tolist(), private_tokens=private,
        unique_tokens=unique.tolist(), epochs=epochs.tolist(),
        effective_tokens=np.asarray(d_eff).tolist(), loss_fresh=fresh,
        loss_repeated=repeated.tolist(), loss_penalty=(repeated - fresh).tolist(),
        max_epochs=float(cap), gap_tokens=gap.tolist(), teacher_params=teacher_params,
        tokens_per_kept=float(per_kept), prompt_tokens_per_kept=float(prompt_per_kept),
        synthetic_generated_tokens=generated.tolist(), synthetic_cost=cost,
    )
