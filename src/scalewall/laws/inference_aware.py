"""Inference-aware sizing (Sardana et al. 2024): the model that reaches a target loss at the
least training-plus-lifetime-inference cost.

References
----------
.. [1] N. Sardana, J. Portes, S. Doubov, J. Frankle, "Beyond Chinchilla-Optimal: Accounting
   for Inference in Language Model Scaling Laws", ICML 2024, arXiv:2401.00448.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter
from scalewall._types import ArrayLike
from scalewall.laws._checks import as_float, check_positive
from scalewall.laws.constants import ChinchillaLaw, LawCatalog, get_laws_catalog
from scalewall.laws.parametric import FLOP_PER_PARAM_TOKEN

__all__ = [
    "InferenceAwareOptimum",
    "chinchilla_tokens_for_params",
    "inference_aware_optimal",
    "tokens_for_loss",
]

#: Inference FLOP per parameter per token (forward pass only; Sardana et al. 2024, eq. 2).
INFER_FLOP_PER_PARAM_TOKEN = 2.0


def tokens_for_loss(n_params: ArrayLike, target_loss: ArrayLike, *, law: ChinchillaLaw) -> Any:
    """Training tokens at which a model of ``n_params`` reaches ``target_loss`` (inf where it
    never does).

    Notes
    -----
    .. math:: D(N) = \\left(\\frac{B}{\\ell - E - A N^{-\\alpha}}\\right)^{1/\\beta}

    The constraint of eq. 2 of Sardana et al. 2024 solved for D.
    """
    n = np.asarray(n_params, dtype=float)
    gap = np.asarray(target_loss, dtype=float) - law.e - law.a / n**law.alpha
    ok = gap > 0
    return as_float(np.where(ok, (law.b / np.where(ok, gap, 1.0)) ** (1.0 / law.beta), np.inf))


def chinchilla_tokens_for_params(n_params: ArrayLike, *, law: ChinchillaLaw) -> Any:
    """Tokens for which ``n_params`` is compute-optimal under ``law``: D = (N/G)^(1/a) / N."""
    n = np.asarray(n_params, dtype=float)
    g = (law.alpha * law.a / (law.beta * law.b)) ** (1.0 / (law.alpha + law.beta))
    c6 = (n / g) ** ((law.alpha + law.beta) / law.beta)
    return as_float(c6 / n)


@dataclass(frozen=True)
class InferenceAwareOptimum:
    """The cheapest model reaching ``target_loss`` for a lifetime inference demand, and the
    Chinchilla-optimal model of the same loss for comparison (costs in the caller's unit:
    FLOP by default)."""

    law: str
    target_loss: Any
    inference_tokens: Any
    n_params: Any
    n_tokens: Any
    total_cost: Any
    train_cost: Any
    inference_cost: Any
    chinchilla_n_params: Any
    chinchilla_n_tokens: Any
    chinchilla_total_cost: Any

    @property
    def saving(self) -> Any:
        """Fraction of the Chinchilla-optimal model's total cost saved."""
        return as_float(1.0 - np.asarray(self.total_cost) / np.asarray(self.chinchilla_total_cost))

    def to_dict(self) -> dict[str, Any]:
        out = {k: (v if isinstance(v, str) else np.asarray(v).tolist())
               for k, v in self.__dict__.items()}
        out["saving"] = np.asarray(self.saving).tolist()
        out["tokens_per_param"] = np.asarray(
            np.asarray(self.n_tokens) / np.asarray(self.n_params)).tolist()
        return out


def inference_aware_optimal(
    target_loss: ArrayLike, inference_tokens: ArrayLike, *,
    law: str | ChinchillaLaw = "hoffmann2022-unrounded",
    train_cost_per_param_token: float = FLOP_PER_PARAM_TOKEN,
    inference_cost_per_param_token: float = INFER_FLOP_PER_PARAM_TOKEN,
    catalog: LawCatalog | None = None,
) -> InferenceAwareOptimum:
    """Minimise training plus lifetime-inference cost subject to reaching ``target_loss``.

    Parameters
    ----------
    target_loss : [nats/token] the quality to reach, above the law's E.
    inference_tokens : [tokens] lifetime inference demand (prompt plus output).
    law : Chinchilla-form law (default the unrounded Hoffmann et al. Approach 3 constants).
    train_cost_per_param_token, inference_cost_per_param_token : cost per parameter per token
        of training and of inference; the defaults 6 and 2 give FLOP. Pass dollars or joules
        per parameter-token (from :func:`scalewall.laws.costs.inference_cost`) for the
        real-cost version.

    Returns
    -------
    InferenceAwareOptimum

    Notes
    -----
    .. math:: N^*, D_{tr}^* = \\arg\\min_{N, D_{tr}} 6 N D_{tr} + 2 N D_{inf}
              \\quad \\text{s.t.}\\quad L(N, D_{tr}) = \\ell

    Eq. 2 of [1]_, solved on a log grid in N (0.1% steps over six decades above the smallest
    N that can reach the loss, then refined to 0.001%), vectorized over losses and demands.

    References
    ----------
    .. [1] Sardana et al. 2024, arXiv:2401.00448.

    Examples
    --------
    Sardana et al.'s example: a Chinchilla-quality 13B model served for 2T tokens is beaten
    by a model of about 7B trained longer, saving about 17% of the FLOP:

    >>> from scalewall.laws.constants import get_laws_catalog
    >>> law = get_laws_catalog().chinchilla("hoffmann2022-unrounded")
    >>> from scalewall.laws.parametric import loss_chinchilla
    >>> d13 = chinchilla_tokens_for_params(13e9, law=law)
    >>> target = loss_chinchilla(13e9, d13, e=law.e, a=law.a, b=law.b, alpha=law.alpha,
    ...                          beta=law.beta)
    >>> opt = inference_aware_optimal(target, 2e12, law=law)
    >>> round(opt.n_params / 1e9, 1), round(opt.saving, 3)
    (7.1, 0.163)
    """
    check_positive("inference_aware_optimal", "inference_tokens", inference_tokens,
                   allow_zero=True)
    check_positive("inference_aware_optimal", "target_loss", target_loss)
    c = law if isinstance(law, ChinchillaLaw) else (catalog or get_laws_catalog()).chinchilla(law)
    loss = np.asarray(target_loss, dtype=float)
    if np.any(loss <= c.e):
        raise InvalidParameter(
            f"inference_aware_optimal: target_loss must exceed the law's irreducible loss "
            f"E={c.e} ({c.id}), got {as_float(loss)!r}"
        )
    loss = loss[..., None]  # (..., 1)
    demand = np.asarray(inference_tokens, dtype=float)[..., None]
    n_min = (c.a / (loss - c.e)) ** (1.0 / c.alpha)  # below this N the loss is unreachable
    k_tr, k_inf = train_cost_per_param_token, inference_cost_per_param_token

    def cost(n: Any) -> Any:
        d = tokens_for_loss(n, loss, law=c)
        return k_tr * n * d + k_inf * n * demand

    def best(n: Any) -> Any:
        i = np.argmin(cost(n), axis=-1)[..., None]
        return np.take_along_axis(n, i, axis=-1)

    n1 = best(n_min * np.logspace(0.0005, 6.0, 6000))
    n2 = best(n1 * np.logspace(-0.001, 0.001, 201))  # (..., 1)
    d2 = tokens_for_loss(n2, loss, law=c)
    n_ch = _chinchilla_params_for_loss(loss, c)
    d_ch = chinchilla_tokens_for_params(n_ch, law=c)

    def squeeze(x: Any) -> Any:
        return as_float(np.asarray(x)[..., 0])

    return InferenceAwareOptimum(
        law=c.id, target_loss=squeeze(loss), inference_tokens=squeeze(demand),
        n_params=squeeze(n2), n_tokens=squeeze(d2),
        total_cost=squeeze(k_tr * n2 * d2 + k_inf * n2 * demand),
        train_cost=squeeze(k_tr * n2 * d2), inference_cost=squeeze(k_inf * n2 * demand),
        chinchilla_n_params=squeeze(n_ch), chinchilla_n_tokens=squeeze(d_ch),
        chinchilla_total_cost=squeeze(k_tr * n_ch * d_ch + k_inf * n_ch * demand),
    )


def _chinchilla_params_for_loss(loss: Any, law: ChinchillaLaw) -> Any:
    """The compute-optimal N whose optimal loss is ``loss`` (bisection in log N; the optimal
    loss falls monotonically with N)."""
    lo = np.log((law.a / (loss - law.e)) ** (1.0 / law.alpha))  # loss unreachable below
    hi = lo + np.log(1e8)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        n = np.exp(mid)
        d = chinchilla_tokens_for_params(n, law=law)
        too_high = law.e + law.a / n**law.alpha + law.b / np.asarray(d) ** law.beta > loss
        lo = np.where(too_high, mid, lo)
        hi = np.where(too_high, hi, mid)
    return np.exp(0.5 * (lo + hi))
