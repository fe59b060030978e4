"""Data-constrained scaling (Muennighoff et al. 2023): repeated epochs and excess parameters.

Repeated tokens are worth less than fresh ones and parameters beyond the compute-optimal size
for the unique data are worth less than fresh parameters; both decay exponentially with the
number of repetitions, with constants R_D* and R_N* (``catalog/laws.toml``,
``[repetition.muennighoff2023]``). Vectorized; a scalar in gives a scalar out.

References
----------
.. [1] N. Muennighoff, A. M. Rush, B. Barak, T. Le Scao, A. Piktus, N. Tazi, S. Pyysalo,
   T. Wolf, C. Raffel, "Scaling Data-Constrained Language Models", NeurIPS 2023,
   arXiv:2305.16264.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scalewall._types import ArrayLike
from scalewall.laws._checks import as_float, check_positive
from scalewall.laws.constants import ChinchillaLaw, LawCatalog, get_laws_catalog
from scalewall.laws.parametric import FLOP_PER_PARAM_TOKEN, compute_optimal_chinchilla

__all__ = [
    "DataConstrainedOptimum",
    "effective_params_muennighoff2023",
    "effective_tokens_muennighoff2023",
    "epoch_multiplier_muennighoff2023",
    "loss_data_constrained",
    "optimal_data_constrained",
]


def effective_tokens_muennighoff2023(
    n_tokens: ArrayLike, unique_tokens: ArrayLike, *, r_d_star: float,
) -> Any:
    """Effective data D' of ``n_tokens`` drawn from ``unique_tokens`` [tokens].

    Notes
    -----
    .. math:: D' = U_D + U_D R_D^* \\left(1 - e^{-R_D / R_D^*}\\right),\\quad
              U_D = \\min(U, D),\\quad R_D = D / U_D - 1

    Eq. 5 of [1]_ (R_D* = 15.387756, App. A).

    References
    ----------
    .. [1] Muennighoff et al. 2023, arXiv:2305.16264.

    Examples
    --------
    Four epochs of 100B unique tokens are worth about 373B fresh ones:

    >>> round(effective_tokens_muennighoff2023(400e9, 100e9, r_d_star=15.387756) / 1e9, 1)
    372.6
    """
    d = np.asarray(n_tokens, dtype=float)
    u = np.minimum(np.asarray(unique_tokens, dtype=float), d)
    r_d = d / u - 1.0
    return as_float(u + u * r_d_star * -np.expm1(-r_d / r_d_star))


def epoch_multiplier_muennighoff2023(epochs: ArrayLike, *, r_d_star: float) -> Any:
    """D'/U after ``epochs`` passes over the unique data (>= 1): the effective-data multiplier.

    Examples
    --------
    >>> [round(epoch_multiplier_muennighoff2023(e, r_d_star=15.387756), 2) for e in (1, 4, 40)]
    [1.0, 3.73, 15.17]
    """
    r_d = np.maximum(np.asarray(epochs, dtype=float) - 1.0, 0.0)
    return as_float(1.0 + r_d_star * -np.expm1(-r_d / r_d_star))


def _params_for_tokens(n_tokens: Any, law: ChinchillaLaw) -> Any:
    """The compute-optimal parameter count whose optimal data is ``n_tokens``:
    N = G^((α+β)/α) D^(β/α) (datablations README, ``D_to_N``)."""
    g = (law.alpha * law.a / (law.beta * law.b)) ** (1.0 / (law.alpha + law.beta))
    return g ** ((law.alpha + law.beta) / law.alpha) * np.asarray(n_tokens) ** (
        law.beta / law.alpha)


def effective_params_muennighoff2023(
    n_params: ArrayLike, unique_tokens: ArrayLike, *, r_n_star: float, law: ChinchillaLaw,
) -> Any:
    """Effective parameters N' when ``n_params`` exceeds the compute-optimal size for the
    unique data [parameters].

    Notes
    -----
    .. math:: N' = U_N + U_N R_N^* \\left(1 - e^{-R_N / R_N^*}\\right),\\quad
              U_N = \\min(N, N_{opt}(U_D)),\\quad R_N = N / U_N - 1

    Eq. 6 of Muennighoff et al. 2023 (arXiv:2305.16264), R_N* = 5.309743; N_opt from ``law``.
    """
    n = np.asarray(n_params, dtype=float)
    u_n = np.minimum(n, _params_for_tokens(np.asarray(unique_tokens, dtype=float), law))
    r_n = n / u_n - 1.0
    return as_float(u_n + u_n * r_n_star * -np.expm1(-r_n / r_n_star))


def loss_data_constrained(
    n_params: ArrayLike, n_tokens: ArrayLike, unique_tokens: ArrayLike, *,
    law: str | ChinchillaLaw = "hoffmann2022", repeat_params: bool = True,
    catalog: LawCatalog | None = None,
) -> Any:
    """Loss [nats/token] of ``n_params`` trained on ``n_tokens`` from ``unique_tokens``.

    The law's form with D' (and N' when ``repeat_params``) in place of D and N: eq. 7 of
    Muennighoff et al. 2023. With ``unique_tokens >= n_tokens`` it equals the plain law.

    Examples
    --------
    >>> fresh = loss_data_constrained(7e9, 1.4e12, 1.4e12)
    >>> repeated = loss_data_constrained(7e9, 1.4e12, 0.14e12)  # 10 epochs
    >>> round(repeated - fresh, 4)
    0.0177
    """
    for name, value in (("n_params", n_params), ("n_tokens", n_tokens),
                        ("unique_tokens", unique_tokens)):
        check_positive("loss_data_constrained", name, value)
    cat = catalog or get_laws_catalog()
    c = law if isinstance(law, ChinchillaLaw) else cat.chinchilla(law)
    rep = cat.repeat()
    u = np.minimum(np.asarray(unique_tokens, dtype=float), np.asarray(n_tokens, dtype=float))
    d_eff = effective_tokens_muennighoff2023(n_tokens, u, r_d_star=rep.r_d_star)
    n = np.asarray(n_params, dtype=float)
    # Excess parameters decay only when data repeat, so one epoch gives the plain law (the
    # plain law already prices a model that is large for its fresh data).
    repeated = np.asarray(n_tokens, dtype=float) > u
    n_eff = (np.where(repeated, effective_params_muennighoff2023(n, u, r_n_star=rep.r_n_star,
                                                                 law=c), n)
             if repeat_params else n)
    return as_float(c.e + c.a / np.asarray(n_eff) ** c.alpha + c.b / np.asarray(d_eff) ** c.beta)


@dataclass(frozen=True)
class DataConstrainedOptimum:
    """The best model for a FLOP budget when only ``unique_tokens`` exist."""

    law: str
    train_flop: Any
    unique_tokens: Any
    n_params: Any
    n_tokens: Any
    epochs: Any
    loss: Any
    unconstrained_n_params: Any
    unconstrained_n_tokens: Any
    unconstrained_loss: Any

    def to_dict(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, str) else np.asarray(v).tolist())
                for k, v in self.__dict__.items()}


def optimal_data_constrained(
    train_flop: ArrayLike, unique_tokens: ArrayLike, *,
    law: str | ChinchillaLaw = "hoffmann2022", catalog: LawCatalog | None = None,
) -> DataConstrainedOptimum:
    """The parameter count and epoch count that minimise the data-constrained loss at a budget.

    Searches N on a log grid from 1/100 to 10x the unconstrained optimum (then refines around
    the best cell), with D = C / 6N and epochs = D / U; vectorized over budgets and stocks.

    Notes
    -----
    :math:`\\min_N L(N', D')` subject to :math:`6 N D = C`, :math:`U_D = \\min(U, D)`; the
    data-constrained efficient frontier of Muennighoff et al. 2023, Sec. 5 and Fig. 3.

    Examples
    --------
    Chinchilla's budget with only 300B unique tokens: a smaller model, about 12 epochs.

    >>> opt = optimal_data_constrained(5.76e23, 300e9)
    >>> round(opt.n_params / 1e9), round(opt.epochs, 1)
    (27, 11.9)
    """
    check_positive("optimal_data_constrained", "train_flop", train_flop)
    check_positive("optimal_data_constrained", "unique_tokens", unique_tokens)
    cat = catalog or get_laws_catalog()
    c = law if isinstance(law, ChinchillaLaw) else cat.chinchilla(law)
    flop = np.asarray(train_flop, dtype=float)[..., None]  # (..., 1)
    u = np.asarray(unique_tokens, dtype=float)[..., None]
    n0, d0 = compute_optimal_chinchilla(flop, a=c.a, b=c.b, alpha=c.alpha, beta=c.beta)
    span = np.logspace(-2.0, 1.0, 601)  # (601,), 0.5% steps in N

    def best(n_grid: Any) -> Any:
        d = flop / (FLOP_PER_PARAM_TOKEN * n_grid)
        loss = loss_data_constrained(n_grid, d, u, law=c, catalog=cat)
        i = np.argmin(loss, axis=-1)[..., None]
        return np.take_along_axis(n_grid, i, axis=-1)

    n0 = np.asarray(n0)  # (..., 1)
    n1 = best(n0 * span)
    n2 = best(n1 * np.logspace(-0.01, 0.01, 201))[..., 0]  # refine to 0.01%
    d2 = flop[..., 0] / (FLOP_PER_PARAM_TOKEN * n2)
    n0, d0 = n0[..., 0], np.asarray(d0)[..., 0]
    return DataConstrainedOptimum(
        law=c.id, train_flop=as_float(flop[..., 0]), unique_tokens=as_float(u[..., 0]),
        n_params=as_float(n2), n_tokens=as_float(d2), epochs=as_float(d2 / u[..., 0]),
        loss=as_float(loss_data_constrained(n2, d2, u[..., 0], law=c, catalog=cat)),
        unconstrained_n_params=as_float(n0), unconstrained_n_tokens=as_float(d0),
        unconstrained_loss=as_float(c.e + c.a / n0**c.alpha + c.b / d0**c.beta),
    )
