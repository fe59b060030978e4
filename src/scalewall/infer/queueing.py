"""Waiting time of requests at a serving replica under load (multi-server queue).

A replica with continuous batching holds ``batch`` requests at once: each occupies a slot from
its admission to its last token, one cycle (its prefill and ``output`` decode steps). Requests
that arrive while every slot is busy wait. The replica is an M/G/c queue with c = ``batch``
slots, Poisson arrivals and a service time that barely varies (the same prompt and output
lengths), whose mean wait follows the Allen-Cunneen approximation: the M/M/c wait (Erlang C)
scaled by :math:`(1 + c_s^2)/2`, half of it for a deterministic service. For one slot it is the
exact Pollaczek-Khinchine M/D/1 wait. Vectorized; every argument may be an array.

References
----------
.. [1] D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, "Fundamentals of Queueing
   Theory", 4th ed., Wiley 2008: Erlang C (Sec. 2.3), Pollaczek-Khinchine (Sec. 5.1), and the
   Allen-Cunneen approximation for G/G/c (Sec. 7.2).
.. [2] A. O. Allen, "Probability, Statistics, and Queueing Theory with Computer Science
   Applications", 2nd ed., Academic Press 1990, Sec. 6.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincc, gammaln

from scalewall._types import ArrayLike, FloatArray

__all__ = ["erlang_c", "queue_wait_s", "ttft_under_load_s"]


def erlang_c(servers: ArrayLike, offered_load: ArrayLike) -> FloatArray:
    """Probability that an arriving request waits in an M/M/c queue (Erlang C).

    Parameters
    ----------
    servers : c, the slots (integers >= 1).
    offered_load : a = arrival rate x service time [slots in use on average].

    Returns
    -------
    P(wait), 1 where the load reaches the servers (a >= c: the queue grows without bound).

    Notes
    -----
    Erlang B from the Poisson distribution, :math:`B = p(c; a) / P(N \\le c; a)` (log space, so
    it holds for thousands of servers), then :math:`C = B / (1 - \\rho (1 - B))`,
    :math:`\\rho = a/c` [1]_.

    Examples
    --------
    >>> round(float(erlang_c(1, 0.5)), 4)  # M/M/1: the utilisation
    0.5
    >>> round(float(erlang_c(2, 1.0)), 4)  # two servers, half busy: 1/3
    0.3333
    """
    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered_load, dtype=float)
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = c * np.log(a) - a - gammaln(c + 1.0)
        cdf = gammaincc(c + 1.0, a)  # P(N <= c) for N ~ Poisson(a)
        b = np.exp(log_pmf) / cdf
        out: FloatArray = np.where(rho < 1.0, b / (1.0 - rho * (1.0 - b)), 1.0)
    return np.where(a > 0.0, out, 0.0)


def queue_wait_s(
    servers: ArrayLike, arrival_rate: ArrayLike, service_s: ArrayLike, *,
    service_cv2: float = 0.0,
) -> FloatArray:
    """Mean time a request waits for a free slot [s] (Allen-Cunneen M/G/c).

    Parameters
    ----------
    servers : slots of the replica (its batch).
    arrival_rate : [requests/s] offered to the replica.
    service_s : [s] time a request holds its slot.
    service_cv2 : squared coefficient of variation of the service time (0: deterministic).

    Returns
    -------
    wait [s]; ``inf`` where the arrivals reach the replica's capacity.

    Examples
    --------
    M/D/1 at 80% utilisation waits twice the service time (Pollaczek-Khinchine):

    >>> float(queue_wait_s(1, 0.8, 1.0))
    2.0
    """
    c = np.asarray(servers, dtype=float)
    lam = np.asarray(arrival_rate, dtype=float)
    s = np.asarray(service_s, dtype=float)
    a = lam * s
    with np.errstate(divide="ignore", invalid="ignore"):
        mmc = erlang_c(c, a) * s / (c - a)
        out: FloatArray = np.where(a < c, mmc * (1.0 + service_cv2) / 2.0, np.inf)
    return out


def ttft_under_load_s(
    ttft_s: ArrayLike, tpot_s: ArrayLike, *, batch: ArrayLike, arrival_rate: ArrayLike,
    cycle_s: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Mean time to first token of a replica under load, and the queue wait in it [s].

    A request arrives during a decode step and waits for it to end (half a step on average),
    then for one of the replica's ``batch`` slots, each held for a ``cycle_s``
    (:func:`queue_wait_s` with ``arrival_rate`` requests/s offered to the replica), then for
    its own prefill, ``ttft_s``.
    """
    wait = queue_wait_s(batch, arrival_rate, cycle_s)
    out: FloatArray = np.asarray(ttft_s, dtype=float) + 0.5 * np.asarray(tpot_s) + wait
    return out, wait
