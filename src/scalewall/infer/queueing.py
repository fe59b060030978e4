"""Waiting time of requests at a serving replica under load (multi-server queue).

A replica with continuous batching holds ``batch`` requests at once: each occupies a slot from
its admission to its last token, one cycle (its prefill and ``output`` decode steps). Requests
that arrive while every slot is busy wait. The replica is an M/G/c queue with c = ``batch``
slots, Poisson arrivals and a service time that barely varies (the same prompt and output
lengths). Its mean wait is Cosmetatos's M/D/c approximation: half the M/M/c wait (Erlang C),
as the Allen-Cunneen rule gives, times a correction for several servers; for one slot it is the
exact Pollaczek-Khinchine M/D/1 wait. Against a discrete-event simulation of the same queue
(:func:`simulated_wait_s`, ``benchmarks/queue_vs_simulation.py``) it is within a few percent
wherever the wait is more than a few thousandths of the cycle. Vectorized; every argument may
be an array.

References
----------
.. [1] D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, "Fundamentals of Queueing
   Theory", 4th ed., Wiley 2008: Erlang C (Sec. 2.3), Pollaczek-Khinchine (Sec. 5.1), and the
   Allen-Cunneen approximation for G/G/c (Sec. 7.2).
.. [2] A. O. Allen, "Probability, Statistics, and Queueing Theory with Computer Science
   Applications", 2nd ed., Academic Press 1990, Sec. 6.
.. [3] G. P. Cosmetatos, "Some approximate equilibrium results for the multi-server queue
   (M/G/r)", Operational Research Quarterly 27(3), 1976, pp. 615-620,
   doi:10.1057/jors.1976.123.
"""

from __future__ import annotations

import heapq

import numpy as np

from scalewall._types import ArrayLike, FloatArray

__all__ = [
    "busy_fraction", "erlang_c", "queue_wait_s", "simulated_wait_s", "ttft_under_load_s",
]


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
    from scipy.special import gammaincc, gammaln  # 0.2 s to import: only when a queue is asked

    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered_load, dtype=float)
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = c * np.log(a) - a - gammaln(c + 1.0)
        cdf = gammaincc(c + 1.0, a)  # P(N <= c) for N ~ Poisson(a)
        b = np.exp(log_pmf) / cdf
        out: FloatArray = np.where(rho < 1.0, b / (1.0 - rho * (1.0 - b)), 1.0)
    return np.where(a > 0.0, out, 0.0)


def busy_fraction(servers: ArrayLike, offered_load: ArrayLike) -> FloatArray:
    """Share of the time at least one request is in the replica (1 - P(empty), M/M/c), for
    ``servers`` and ``offered_load`` as in :func:`erlang_c`; 1 where the load reaches the
    servers.

    Notes
    -----
    :math:`P_0 = e^{-a} / [Q(c, a) + p(c; a)/(1 - \\rho)]`, with :math:`Q(c, a) = P(N < c)`
    and :math:`p(c; a)` the Poisson(a) distribution, is the M/M/c empty probability
    :math:`[\\sum_{k<c} a^k/k! + a^c/(c!\\,(1-\\rho))]^{-1}` [1]_ in log-safe form. Its two
    limits hold for any service time, so for the near-deterministic cycle too: one slot gives
    :math:`1 - \\rho` (every single-server queue), and many slots at low load give
    :math:`1 - e^{-a}` (the M/G/infinity occupancy is Poisson with mean a).

    Examples
    --------
    >>> round(float(busy_fraction(1, 0.3)), 4)  # one slot: the utilisation
    0.3
    >>> round(float(busy_fraction(2, 1.0)), 4)  # M/M/2 half busy: P0 = 1/3
    0.6667
    """
    from scipy.special import gammaincc, gammaln

    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered_load, dtype=float)
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pmf = np.exp(c * np.log(a) - a - gammaln(c + 1.0))
        below = gammaincc(c, a)  # P(N <= c - 1) for N ~ Poisson(a)
        p0 = np.exp(-a) / (below + pmf / (1.0 - rho))
        out: FloatArray = np.where(rho < 1.0, 1.0 - p0, 1.0)
    return np.where(a > 0.0, out, 0.0)


def queue_wait_s(
    servers: ArrayLike, arrival_rate: ArrayLike, service_s: ArrayLike, *,
    service_cv2: float = 0.0,
) -> FloatArray:
    """Mean time a request waits for a free slot [s] (M/G/c).

    Parameters
    ----------
    servers : slots of the replica (its batch).
    arrival_rate : [requests/s] offered to the replica.
    service_s : [s] time a request holds its slot.
    service_cv2 : squared coefficient of variation of the service time (0: deterministic).

    Returns
    -------
    wait [s]; ``inf`` where the arrivals reach the replica's capacity.

    Notes
    -----
    With :math:`W_M` the M/M/c wait, :math:`C(c, a)\\,S/(c - a)`, the deterministic wait is
    Cosmetatos's [3]_

    .. math:: W_D = \\tfrac12 W_M \\left[1 + \\frac{(1-\\rho)(c-1)(\\sqrt{4+5c}-2)}
              {16\\,\\rho\\,c}\\right]

    and a service with :math:`c_s^2 \\le 1` interpolates, :math:`c_s^2 W_M + (1-c_s^2) W_D`
    (his M/G/c rule); above 1 the Allen-Cunneen scaling :math:`(1+c_s^2)/2\\;W_M` [1]_.

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
        rho = a / c
        # the correction grows as 1/rho where the wait itself vanishes: bounded, no overflow
        mdc = 0.5 * mmc * (1.0 + (1.0 - rho) * (c - 1.0) * (np.sqrt(4.0 + 5.0 * c) - 2.0)
                           / (16.0 * np.maximum(rho, 1e-9) * c))
        mgc = (service_cv2 * mmc + (1.0 - service_cv2) * mdc if service_cv2 <= 1.0
               else mmc * (1.0 + service_cv2) / 2.0)
        out: FloatArray = np.where(a < c, np.where(a > 0.0, mgc, 0.0), np.inf)
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


def simulated_wait_s(
    servers: int, arrival_rate: float, service_s: float, *, n_requests: int = 100_000,
    seed: int = 0,
) -> float:
    """Mean wait of the same queue by discrete-event simulation [s]: Poisson arrivals, a
    fixed service time, first come first served on ``servers`` slots; the first tenth of the
    requests is discarded as warm-up. A reference for :func:`queue_wait_s`, not used by the
    planner (``benchmarks/queue_vs_simulation.py`` compares the two).

    Examples
    --------
    >>> round(simulated_wait_s(1, 0.5, 1.0, n_requests=200_000), 1)  # M/D/1: 0.5 exactly
    0.5
    """
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / arrival_rate, n_requests))
    free = [0.0] * servers  # when each slot frees, as a heap
    waits = np.empty(n_requests)
    for i, t in enumerate(arrivals.tolist()):
        start = max(heapq.heappop(free), t)
        waits[i] = start - t
        heapq.heappush(free, start + service_s)
    return float(waits[n_requests // 10:].mean())
