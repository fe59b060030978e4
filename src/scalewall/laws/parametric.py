"""Parametric scaling laws: predicted loss L(N, D) and the compute-optimal N and D for a budget.

Every function is vectorized: numeric arguments broadcast, a scalar in gives a scalar out.
Constants come from ``catalog/laws.toml`` through :func:`get_loss` and
:func:`get_compute_optimal` (``law='hoffmann2022'``, ``'hoffmann2022-unrounded'``,
``'besiroglu2024'``, ``'muennighoff2023'``, ``'kaplan2020'``), or are passed explicitly.

References
----------
.. [1] J. Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022,
   arXiv:2203.15556.
.. [2] T. Besiroglu, E. Erdil, M. Barnett, J. You, "Chinchilla Scaling: A replication
   attempt", 2024, arXiv:2404.10102.
.. [3] J. Kaplan et al., "Scaling Laws for Neural Language Models", 2020, arXiv:2001.08361.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalewall._types import ArrayLike
from scalewall.laws._checks import as_float, check_positive
from scalewall.laws.constants import ChinchillaLaw, KaplanLaw, LawCatalog, get_laws_catalog

__all__ = [
    "FLOP_PER_PARAM_TOKEN",
    "OptimalAllocation",
    "compute_optimal_chinchilla",
    "compute_optimal_kaplan2020",
    "get_compute_optimal",
    "get_loss",
    "loss_chinchilla",
    "loss_kaplan2020",
]

#: Training FLOP per parameter per token, C = 6 N D (Kaplan et al. 2020, eq. 2.1; Hoffmann et
#: al. 2022, Sec. 3): 2 for the forward pass, 4 for the backward pass.
FLOP_PER_PARAM_TOKEN = 6.0
#: One petaFLOP/s-day [FLOP], Kaplan et al.'s unit of compute.
PF_DAY_FLOP = 1e15 * 86400.0


def loss_chinchilla(
    n_params: ArrayLike, n_tokens: ArrayLike, *, e: float, a: float, b: float, alpha: float,
    beta: float,
) -> Any:
    """Loss of the Chinchilla parametric form [nats/token].

    Parameters
    ----------
    n_params : [parameters] all parameters, scalar or array.
    n_tokens : [tokens] training tokens, broadcast against ``n_params``.
    e, a, b, alpha, beta : the law's constants (``catalog/laws.toml``).

    Returns
    -------
    loss [nats/token], the broadcast shape (a float for scalar inputs).

    Notes
    -----
    .. math:: L(N, D) = E + \\frac{A}{N^\\alpha} + \\frac{B}{D^\\beta}

    Eq. 2 of [1]_ (constants of Approach 3 in eq. 10); refit in Table 1 of [2]_.

    References
    ----------
    .. [1] Hoffmann et al. 2022, arXiv:2203.15556.
    .. [2] Besiroglu et al. 2024, arXiv:2404.10102.

    Examples
    --------
    Chinchilla (70B parameters, 1.4T tokens) under Approach 3:

    >>> round(loss_chinchilla(70e9, 1.4e12, e=1.69, a=406.4, b=410.7, alpha=0.34, beta=0.28), 4)
    1.9366
    """
    n = np.asarray(n_params, dtype=float)
    d = np.asarray(n_tokens, dtype=float)
    return as_float(e + a / n**alpha + b / d**beta)


def loss_kaplan2020(
    n_params: ArrayLike, n_tokens: ArrayLike, *, n_c: float, alpha_n: float, d_c: float,
    alpha_d: float,
) -> Any:
    """Loss of Kaplan et al.'s joint fit [nats/token] (N non-embedding parameters).

    Notes
    -----
    .. math:: L(N, D) = \\left[\\left(\\frac{N_c}{N}\\right)^{\\alpha_N/\\alpha_D}
              + \\frac{D_c}{D}\\right]^{\\alpha_D}

    Eq. 1.5 of [1]_ with the fit of its Table 2 (``catalog/laws.toml``, ``kaplan2020``).

    References
    ----------
    .. [1] Kaplan et al. 2020, arXiv:2001.08361.

    Examples
    --------
    >>> round(loss_kaplan2020(1.5e9, 2.3e10, n_c=6.4e13, alpha_n=0.076, d_c=1.8e13,
    ...                       alpha_d=0.103), 3)
    2.31
    """
    n = np.asarray(n_params, dtype=float)
    d = np.asarray(n_tokens, dtype=float)
    return as_float(((n_c / n) ** (alpha_n / alpha_d) + d_c / d) ** alpha_d)


def compute_optimal_chinchilla(
    train_flop: ArrayLike, *, a: float, b: float, alpha: float, beta: float,
) -> tuple[Any, Any]:
    """Parameters and tokens that minimise the Chinchilla-form loss at ``C = 6 N D``.

    Parameters
    ----------
    train_flop : [FLOP] training compute budget.
    a, b, alpha, beta : the law's constants.

    Returns
    -------
    n_params [parameters], n_tokens [tokens]

    Notes
    -----
    .. math:: N_{opt}(C) = G \\left(\\frac{C}{6}\\right)^{\\frac{\\beta}{\\alpha+\\beta}},\\quad
              D_{opt}(C) = G^{-1} \\left(\\frac{C}{6}\\right)^{\\frac{\\alpha}{\\alpha+\\beta}},
              \\quad G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{\\frac{1}{\\alpha+\\beta}}

    Eq. 4 of Hoffmann et al. 2022 (arXiv:2203.15556).

    Examples
    --------
    The Besiroglu et al. 2024 refit at Chinchilla's budget, 5.76e23 FLOP:

    >>> n, d = compute_optimal_chinchilla(5.76e23, a=482.01, b=2085.43, alpha=0.3478,
    ...                                   beta=0.3658)
    >>> round(n / 1e9, 1), round(d / n, 1)
    (72.2, 18.4)
    """
    c6 = np.asarray(train_flop, dtype=float) / FLOP_PER_PARAM_TOKEN
    g = (alpha * a / (beta * b)) ** (1.0 / (alpha + beta))
    n = g * c6 ** (beta / (alpha + beta))
    return as_float(n), as_float(c6 / n)


def compute_optimal_kaplan2020(
    train_flop: ArrayLike, *, opt_n_prefactor: float, opt_n_exponent: float,
) -> tuple[Any, Any]:
    """Kaplan et al.'s compute-efficient model size, and the tokens ``C / 6N`` it implies.

    Notes
    -----
    .. math:: N_{opt} = 1.3\\times10^9\\, C_{min}^{0.73}\\quad (C\\ \\text{in PF-days})

    Fig. 14 and Sec. 6 of Kaplan et al. 2020 (arXiv:2001.08361); N is non-embedding.
    """
    c = np.asarray(train_flop, dtype=float)
    n = opt_n_prefactor * (c / PF_DAY_FLOP) ** opt_n_exponent
    return as_float(n), as_float(c / (FLOP_PER_PARAM_TOKEN * n))


@dataclass(frozen=True)
class OptimalAllocation:
    """A compute-optimal model: parameters, tokens and predicted loss for a FLOP budget."""

    law: str
    train_flop: Any
    n_params: Any
    n_tokens: Any
    loss: Any

    @property
    def tokens_per_param(self) -> Any:
        return as_float(np.asarray(self.n_tokens) / np.asarray(self.n_params))

    def to_dict(self) -> dict[str, Any]:
        return {k: (np.asarray(v).tolist() if not isinstance(v, str) else v)
                for k, v in dict(law=self.law, train_flop=self.train_flop,
                                 n_params=self.n_params, n_tokens=self.n_tokens,
                                 loss=self.loss, tokens_per_param=self.tokens_per_param).items()}


def _law(law: str | ChinchillaLaw | KaplanLaw,
         catalog: LawCatalog | None) -> ChinchillaLaw | KaplanLaw:
    if isinstance(law, ChinchillaLaw | KaplanLaw):
        return law
    return (catalog or get_laws_catalog()).law(law)


def get_loss(
    n_params: ArrayLike, n_tokens: ArrayLike, *, law: str | ChinchillaLaw | KaplanLaw =
    "hoffmann2022", catalog: LawCatalog | None = None,
) -> Any:
    """Predicted loss [nats/token] of a model of ``n_params`` trained on ``n_tokens``.

    Dispatches on ``law`` (a catalog id) to :func:`loss_chinchilla` or :func:`loss_kaplan2020`.

    Raises
    ------
    InvalidParameter
        A size that is not finite and positive.
    UnknownCatalogEntry
        An unknown law; the message lists close matches.

    Examples
    --------
    >>> round(get_loss(70e9, 1.4e12, law="besiroglu2024"), 4)
    1.9739
    """
    check_positive("get_loss", "n_params", n_params)
    check_positive("get_loss", "n_tokens", n_tokens)
    c = _law(law, catalog)
    if isinstance(c, KaplanLaw):
        return loss_kaplan2020(n_params, n_tokens, n_c=c.n_c, alpha_n=c.alpha_n, d_c=c.d_c,
                               alpha_d=c.alpha_d)
    return loss_chinchilla(n_params, n_tokens, e=c.e, a=c.a, b=c.b, alpha=c.alpha, beta=c.beta)


def get_compute_optimal(
    train_flop: ArrayLike, *, law: str | ChinchillaLaw | KaplanLaw = "hoffmann2022",
    catalog: LawCatalog | None = None,
) -> OptimalAllocation:
    """The compute-optimal model for a budget of ``train_flop`` [FLOP], with its loss.

    Examples
    --------
    >>> opt = get_compute_optimal(5.76e23, law="besiroglu2024")
    >>> round(opt.tokens_per_param, 1)
    18.4
    """
    check_positive("get_compute_optimal", "train_flop", train_flop)
    c = _law(law, catalog)
    if isinstance(c, KaplanLaw):
        n, d = compute_optimal_kaplan2020(train_flop, opt_n_prefactor=c.opt_n_prefactor,
                                          opt_n_exponent=c.opt_n_exponent)
        loss = loss_kaplan2020(n, d, n_c=c.n_c, alpha_n=c.alpha_n, d_c=c.d_c, alpha_d=c.alpha_d)
    else:
        n, d = compute_optimal_chinchilla(train_flop, a=c.a, b=c.b, alpha=c.alpha, beta=c.beta)
        loss = loss_chinchilla(n, d, e=c.e, a=c.a, b=c.b, alpha=c.alpha, beta=c.beta)
    return OptimalAllocation(law=c.id, train_flop=as_float(train_flop), n_params=n, n_tokens=d,
                             loss=loss)
