"""The largest training run each constraint allows in a year, and the trend.

Every function is pure and vectorized: arguments broadcast against each other (the Monte Carlo
passes per-draw inputs of shape ``(1, draws)`` and year offsets of shape ``(years, 1)``), and a
scalar in gives a scalar out. ``years_since_2024`` counts years of growth from the end-2023
stocks, so 2030 is 6, as in Epoch AI's report. The ``_ln_*`` kernels return natural logs of
FLOP (the Monte Carlo works in logs, where products are sums); the public functions exponentiate.

References
----------
.. [1] Sevilla, Besiroglu, Cottier, You, Roldán, Villalobos, Erdil 2024, "Can AI Scaling
   Continue Through 2030?", Epoch AI, https://epoch.ai/blog/can-ai-scaling-continue-through-2030
.. [2] Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv:2305.16264.
.. [3] Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
   arXiv:2203.15556.
.. [4] Cottier et al. 2024, "The rising costs of training frontier AI models",
   arXiv:2405.21015.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scalewall._types import ArrayLike

__all__ = [
    "CHINCHILLA_TOKENS_PER_PARAM",
    "FLOP_PER_PARAM_TOKEN",
    "MUENNIGHOFF_R_D_STAR",
    "capital_limited_flop",
    "chip_limited_flop",
    "data_limited_flop",
    "epoch_multiplier",
    "latency_limited_flop",
    "power_limited_flop",
    "trend_flop",
]

#: Training FLOP per parameter per token, C = 6 N D (Kaplan et al. 2020, eq. 2.1).
FLOP_PER_PARAM_TOKEN = 6.0
#: Compute-optimal tokens per parameter, D = 20 N (Hoffmann et al. 2022; Besiroglu et al. 2024).
CHINCHILLA_TOKENS_PER_PARAM = 20.0
#: Decay constant of repeated data, R_D* (Muennighoff et al. 2023, App. A; datablations README).
MUENNIGHOFF_R_D_STAR = 15.387756
# Chinchilla: 70B parameters, 80 layers (Hoffmann et al. 2022, Table 4): the anchor of L(N).
_ANCHOR_PARAMS = 7.0e10
_ANCHOR_LAYERS = 80.0
# Matmuls per layer on the critical path, forward and backward (Appendix E of [1]).
_MATMULS_PER_LAYER = 4.0
# Ranks in an NVLink all-reduce hop (Appendix E of [1]: 3 * t_intra).
_NVLINK_HOPS = 3.0
# GPUs in an NVLink node: tensor parallelism beyond this crosses InfiniBand.
_GPUS_PER_NODE = 8.0
# Fixed-point passes of the latency solve; each shrinks the error about fourfold.
_LATENCY_PASSES = 3


def _out(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def trend_flop(years_since_2024: ArrayLike, *, flop_2024: float, growth_per_year: float) -> Any:
    """Frontier training compute on trend [FLOP].

    Notes
    -----
    .. math:: C_{trend}(t) = C_{2024} \\, g^t

    Note 10 of [1]: 3.8e25 x 4.1^6 = 2e29 FLOP in 2030.

    Examples
    --------
    >>> f"{trend_flop(6, flop_2024=3.8e25, growth_per_year=4.1):.2g}"
    '1.8e+29'
    """
    t = np.asarray(years_since_2024, dtype=float)
    return _out(flop_2024 * growth_per_year ** t)


def _ln_ai_power_w(t: Any, *, dc_power_2024_w: Any, ai_dc_power_2024_w: Any,
                   dc_power_growth: Any, non_ai_dc_power_growth: Any) -> Any:
    ln_g = np.log(dc_power_growth)
    ln_gn = np.log(np.minimum(non_ai_dc_power_growth, dc_power_growth))
    non_ai = dc_power_2024_w - ai_dc_power_2024_w
    total = np.exp(np.log(dc_power_2024_w) + t * ln_g)  # (years, draws)
    other = np.exp(np.log(non_ai) + t * ln_gn)
    return np.log(total - other)


def _ln_power(t: Any, *, training_duration_s: Any, largest_run_share: Any,
              peak_flop_per_s_2024: Any, mfu: Any, power_per_chip_w: Any,
              flop_per_j_growth: Any, ai_dc_power_2024_w: Any, dc_power_2024_w: Any,
              dc_power_growth: Any, non_ai_dc_power_growth: Any, largest_campus_2030_w: Any,
              **_: Any) -> Any:
    grid = dict(dc_power_2024_w=dc_power_2024_w, ai_dc_power_2024_w=ai_dc_power_2024_w,
                dc_power_growth=dc_power_growth, non_ai_dc_power_growth=non_ai_dc_power_growth)
    ln_ai_w = _ln_ai_power_w(t, **grid)
    ln_ai_2030_w = _ln_ai_power_w(6.0, **grid)  # per draw
    # the run gets the larger of its share of all AI capacity and the largest campus, which
    # scales with AI capacity around its 2030 value (the report gives only 2030)
    ln_share = np.maximum(np.log(largest_run_share),
                          np.log(largest_campus_2030_w) - ln_ai_2030_w)
    ln_const = (ln_share + np.log(peak_flop_per_s_2024) - np.log(power_per_chip_w)
                + np.log(mfu) + np.log(training_duration_s))
    return ln_ai_w + ln_const + t * np.log(flop_per_j_growth)


def power_limited_flop(years_since_2024: ArrayLike, **inputs: Any) -> Any:
    """Largest run the power supply allows [FLOP].

    Parameters
    ----------
    years_since_2024 : float or array
        Years of growth from the end-2023 stocks [yr].
    **inputs : float or array
        ``training_duration_s`` [s], ``largest_run_share`` [1], ``peak_flop_per_s_2024``
        [FLOP/s], ``mfu`` [1], ``power_per_chip_w`` [W], ``flop_per_j_growth`` [1/yr],
        ``ai_dc_power_2024_w`` [W], ``dc_power_2024_w`` [W], ``dc_power_growth`` [1/yr],
        ``non_ai_dc_power_growth`` [1/yr], ``largest_campus_2030_w`` [W]; others are ignored.

    Notes
    -----
    .. math::
        P_{AI}(t) = P_{tot} g_{tot}^t - (P_{tot} - P_{AI,0}) \\min(g_{non}, g_{tot})^t

        P_{run}(t) = P_{AI}(t) \\max(f, P_{campus,2030} / P_{AI}(6))

        C = P_{run} \\, \\frac{H}{W} \\, g_{eff}^t \\, u \\, T

    Appendix A of [1]; the inter-datacentre bandwidth cap is not modelled (the report finds
    it rarely binds).

    Examples
    --------
    At the report's medians the run gets 26% of about 30 GW of US AI capacity in 2030 (about
    8 GW, more than the 2.5 GW campus):

    >>> from scalewall.wall.scenarios import load_scenario
    >>> med = {k: d.p50 for k, d in load_scenario("baseline").inputs.items()}
    >>> f"{power_limited_flop(6, **med):.1g}"
    '3e+29'
    """
    return _out(np.exp(_ln_power(np.asarray(years_since_2024, dtype=float), **inputs)))


def _ln_stock_h100e(t_max: int, *, chip_stock_2024: Any, chip_production_2024_per_yr: Any,
                    chip_production_growth: Any, chip_perf_growth: Any,
                    wafers_2024_per_yr: Any, wafer_capex_growth: Any,
                    wafer_volume_capex_ratio: Any, dies_per_wafer: Any,
                    wafer_share_to_ai: Any, dtype: Any = np.float64) -> Any:
    """ln of the H100e stock at year offsets 0..t_max, shape (t_max + 1, *draws)."""
    mid = (np.arange(t_max, dtype=dtype) + dtype(0.5)).reshape(-1, *([1] * np.ndim(
        chip_stock_2024)))  # midpoint of each production year
    ln_demand = np.log(chip_production_2024_per_yr) + mid * np.log(chip_production_growth)
    wafer_growth = 1.0 + (wafer_capex_growth - 1.0) * wafer_volume_capex_ratio
    ln_cap = (np.log(wafers_2024_per_yr) + np.log(dies_per_wafer) + np.log(wafer_share_to_ai)
              + mid * np.log(wafer_growth))
    produced = np.exp(np.minimum(ln_demand, ln_cap) + mid * np.log(chip_perf_growth))
    stock = np.cumsum(produced, axis=0)
    stock += chip_stock_2024
    first = np.log(np.broadcast_to(np.asarray(chip_stock_2024, dtype=dtype),
                                   (1, *stock.shape[1:])))
    return np.concatenate([first, np.log(stock)], axis=0)


def chip_limited_flop(years_since_2024: int, **inputs: Any) -> Any:
    """Largest run the accelerator stock allows [FLOP].

    Parameters
    ----------
    years_since_2024 : int
        Years of production since the end-2023 stock [yr].
    **inputs : float or array
        ``chip_stock_2024``, ``chip_production_2024_per_yr`` [H100e, H100e/yr],
        ``chip_production_growth``, ``chip_perf_growth`` [1/yr], ``wafers_2024_per_yr``,
        ``wafer_capex_growth``, ``wafer_volume_capex_ratio``, ``dies_per_wafer``,
        ``wafer_share_to_ai``, ``largest_run_share``, ``peak_flop_per_s_2024`` [FLOP/s],
        ``mfu``, ``training_duration_s`` [s].

    Notes
    -----
    Production in year k (midpoint k + 1/2), in H100-equivalents, is demand-led but capped by
    leading-edge wafers; the stock accumulates:

    .. math::
        S(t) = S_0 + \\sum_{k<t} \\min(P_0 g_c^{k+1/2},\\ W_0 d\\, s\\, g_w^{k+1/2})
        \\, g_p^{k+1/2}

        C = S(t) f H u T

    Appendix A of [1] (wafer growth g_w = 1 + (g_capex - 1) r).

    Examples
    --------
    >>> from scalewall.wall.scenarios import load_scenario
    >>> med = {k: d.p50 for k, d in load_scenario("baseline").inputs.items()}
    >>> f"{chip_limited_flop(6, **med):.1g}"
    '1e+30'
    """
    t = int(years_since_2024)
    ln_stock = _ln_stock_h100e(t, **_pick(inputs, _STOCK_KEYS))[t]
    return _out(np.exp(ln_stock + _ln_run_per_chip(**inputs)))


_STOCK_KEYS = ("chip_stock_2024", "chip_production_2024_per_yr", "chip_production_growth",
               "chip_perf_growth", "wafers_2024_per_yr", "wafer_capex_growth",
               "wafer_volume_capex_ratio", "dies_per_wafer", "wafer_share_to_ai")


def _pick(inputs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: inputs[k] for k in keys}


def _ln_run_per_chip(*, largest_run_share: Any, peak_flop_per_s_2024: Any, mfu: Any,
                     training_duration_s: Any, **_: Any) -> Any:
    return (np.log(largest_run_share) + np.log(peak_flop_per_s_2024) + np.log(mfu)
            + np.log(training_duration_s))


def epoch_multiplier(epochs: ArrayLike, *, r_d_star: float = MUENNIGHOFF_R_D_STAR) -> Any:
    """Effective data per unique token after ``epochs`` passes, D'/U [1].

    Notes
    -----
    .. math:: D'/U = 1 + R_D^* (1 - e^{-(E - 1)/R_D^*})

    Eq. 5 of [2] with R_D = E - 1 repetitions. Implemented here (not imported from
    ``scalewall.laws``) so the wall kernel has no dependency on the laws catalog.

    Examples
    --------
    >>> [round(epoch_multiplier(e), 2) for e in (1, 4, 40)]
    [1.0, 3.73, 15.17]
    """
    r_d = np.maximum(np.asarray(epochs, dtype=float) - 1.0, 0.0)
    return _out(1.0 + r_d_star * -np.expm1(-r_d / r_d_star))


def _ln_effective_tokens(t: Any, *, text_stock_tokens: Any, image_stock: Any,
                         video_stock_s: Any, audio_stock_s: Any, tokens_per_image: Any,
                         tokens_per_audio_s: Any, data_stock_growth: Any,
                         data_quality_share: Any, epochs: Any, synthetic_token_share: Any,
                         **_: Any) -> Any:
    stock = (text_stock_tokens + (image_stock + video_stock_s) * tokens_per_image
             + audio_stock_s * tokens_per_audio_s)
    r_d = np.maximum(epochs - 1.0, 0.0)
    multiplier = 1.0 + MUENNIGHOFF_R_D_STAR * -np.expm1(-r_d / MUENNIGHOFF_R_D_STAR)
    ln_const = (np.log(stock) + np.log(data_quality_share) + np.log(multiplier)
                - np.log1p(-synthetic_token_share))
    return ln_const + t * np.log(data_stock_growth)


def _ln_data(t: Any, *, overtraining_factor: Any, **inputs: Any) -> Any:
    ln_coef = math.log(FLOP_PER_PARAM_TOKEN / CHINCHILLA_TOKENS_PER_PARAM)
    ln_tokens = _ln_effective_tokens(t, **inputs)
    return ln_coef + 2.0 * ln_tokens - np.log(overtraining_factor)


def data_limited_flop(years_since_2024: ArrayLike, **inputs: Any) -> Any:
    """Largest compute-optimal run the data stock allows [FLOP].

    Parameters
    ----------
    years_since_2024 : float or array
        Years of stock growth [yr].
    **inputs : float or array
        ``text_stock_tokens`` [tokens], ``image_stock`` [images], ``video_stock_s``,
        ``audio_stock_s`` [s], ``tokens_per_image``, ``tokens_per_audio_s``,
        ``data_stock_growth`` [1/yr], ``data_quality_share`` [1], ``epochs`` [1],
        ``synthetic_token_share`` [1], ``overtraining_factor`` k [1].

    Notes
    -----
    .. math::
        D_{eff} = (T + (I + V) \\tau_i + A \\tau_a)\\, g_s^t\\, q\\, (D'/U)(E) / (1 - s)

        C = 6 N D_{eff},\\ N = D_{eff} / (20 k) \\Rightarrow C = 0.3 D_{eff}^2 / k

    Section "Data scarcity" and Appendix A of [1]; D'/U from eq. 5 of [2]; s is the synthetic
    share of tokens (0 in the report).

    Examples
    --------
    Text alone (5e14 tokens, used once) supports 0.3 x (5e14)^2 = 7.5e28 FLOP (note 75 of [1]):

    >>> c = data_limited_flop(0, text_stock_tokens=5e14, image_stock=0, video_stock_s=0,
    ...     audio_stock_s=0, tokens_per_image=0, tokens_per_audio_s=0, data_stock_growth=1,
    ...     data_quality_share=1, epochs=1, synthetic_token_share=0, overtraining_factor=1)
    >>> f"{c:.2g}"
    '7.5e+28'
    """
    return _out(np.exp(_ln_data(np.asarray(years_since_2024, dtype=float), **inputs)))


def _ln_capital(t: Any, *, cluster_budget_2024_usd: Any, budget_growth: Any,
                chip_price_2024_usd: Any, chip_price_growth: Any, chip_perf_growth: Any,
                peak_flop_per_s_2024: Any, mfu: Any, training_duration_s: Any,
                **_: Any) -> Any:
    ln_const = (np.log(cluster_budget_2024_usd) - np.log(chip_price_2024_usd)
                + np.log(peak_flop_per_s_2024) + np.log(mfu) + np.log(training_duration_s))
    ln_rate = np.log(budget_growth) - np.log(chip_price_growth) + np.log(chip_perf_growth)
    return ln_const + t * ln_rate


def capital_limited_flop(years_since_2024: ArrayLike, **inputs: Any) -> Any:
    """Largest run the hardware budget buys [FLOP].

    Parameters
    ----------
    years_since_2024 : float or array
        Years of budget and hardware growth [yr].
    **inputs : float or array
        ``cluster_budget_2024_usd`` [USD], ``budget_growth`` [1/yr], ``chip_price_2024_usd``
        [USD], ``chip_price_growth``, ``chip_perf_growth`` [1/yr], ``peak_flop_per_s_2024``
        [FLOP/s], ``mfu`` [1], ``training_duration_s`` [s].

    Notes
    -----
    .. math:: C = \\frac{B_0 g_B^t}{p_0 g_{price}^t} \\, H g_p^t \\, u \\, T

    The budget trend is Cottier et al.'s 2.4x/yr [4]; chips cost $30k growing 10%/yr while
    their FLOP/s grows 44%/yr (note 103 of [1]).

    Examples
    --------
    Note 103 of [1]: $200B of 2030 hardware at 40% utilisation for 3 months gives about
    2e29 FLOP:

    >>> c = capital_limited_flop(6, cluster_budget_2024_usd=200e9, budget_growth=1,
    ...     chip_price_2024_usd=3e4, chip_price_growth=1.1, chip_perf_growth=1.44,
    ...     peak_flop_per_s_2024=2e15, mfu=0.4, training_duration_s=7.9e6)
    >>> f"{c:.1g}"
    '2e+29'
    """
    return _out(np.exp(_ln_capital(np.asarray(years_since_2024, dtype=float), **inputs)))


def _ln_latency(t: Any, *, training_duration_s: Any, batch_tokens: Any,
                layer_scaling_exponent: Any, kernel_latency_s: Any, base_comm_latency_s: Any,
                nvlink_latency_s: Any, infiniband_latency_s: Any, min_tokens_per_gpu: Any,
                peak_flop_per_s_2024: Any, chip_perf_growth: Any, mfu: Any,
                **_: Any) -> Any:
    a_l = layer_scaling_exponent
    ln2 = math.log(2.0)
    # ln N (1 + a_L) = ln(T B) - ln(20 t_L) - ln(L_anchor N_anchor^-a_L)
    ln_rhs = (np.log(training_duration_s) + np.log(batch_tokens)
              - math.log(CHINCHILLA_TOKENS_PER_PARAM) - math.log(_ANCHOR_LAYERS)
              + a_l * math.log(_ANCHOR_PARAMS))
    inv = 1.0 / (1.0 + a_l)
    t_fixed = kernel_latency_s + base_comm_latency_s + 2.0 * _NVLINK_HOPS * nvlink_latency_s
    # ln of GPUs x min tokens / batch, less ln C: TP_2D^2 = C / (T H_t u) * B_min / B
    ln_tp_sq_off = (np.log(min_tokens_per_gpu) - np.log(batch_tokens)
                    - np.log(training_duration_s) - np.log(peak_flop_per_s_2024)
                    - np.log(mfu) - t * np.log(chip_perf_growth))
    ln_c_coef = math.log(FLOP_PER_PARAM_TOKEN * CHINCHILLA_TOKENS_PER_PARAM)
    layer_s = _MATMULS_PER_LAYER * t_fixed  # start: no inter-node hops
    ln_c: Any = None
    for _pass in range(_LATENCY_PASSES):
        ln_n = (ln_rhs - np.log(layer_s)) * inv
        ln_c = ln_c_coef + 2.0 * ln_n
        log2_tp = 0.5 * (ln_c + ln_tp_sq_off) / ln2
        hops = np.maximum(log2_tp - math.log2(_GPUS_PER_NODE), 0.0)
        layer_s = _MATMULS_PER_LAYER * (t_fixed + 2.0 * infiniband_latency_s * hops)
    return ln_c


def latency_limited_flop(years_since_2024: ArrayLike, **inputs: Any) -> Any:
    """Largest run whose serial steps fit in the training time [FLOP].

    Parameters
    ----------
    years_since_2024 : float or array
        Years of hardware growth (sets how many GPUs, hence how wide tensor parallelism) [yr].
    **inputs : float or array
        ``training_duration_s`` [s], ``batch_tokens`` [tokens], ``layer_scaling_exponent``,
        ``kernel_latency_s``, ``base_comm_latency_s``, ``nvlink_latency_s``,
        ``infiniband_latency_s`` [s], ``min_tokens_per_gpu`` [tokens],
        ``peak_flop_per_s_2024`` [FLOP/s], ``chip_perf_growth`` [1/yr], ``mfu`` [1].

    Notes
    -----
    Each of the D/B steps runs L layers in sequence, each at least t_L:

    .. math::
        T \\ge t_L L D / B,\\quad L = 80 (N / 7\\times10^{10})^{a_L},\\quad D = 20 N,\\quad
        C = 120 N^2

        t_L = 4 [t_k + t_c + 2 (3 t_{nv} + t_{ib} \\max(0, \\log_2(TP_{2D}/8)))],\\quad
        TP_{2D} = \\sqrt{n_{gpu} B_{min} / B}

    Appendix E of [1], solved by fixed-point iteration (n_gpu depends on C). Batch size is
    held fixed (the report's 60M-batch case).

    Examples
    --------
    >>> from scalewall.wall.scenarios import load_scenario
    >>> med = {k: d.p50 for k, d in load_scenario("baseline").inputs.items()}
    >>> f"{latency_limited_flop(6, **med):.1g}"
    '2e+31'
    """
    return _out(np.exp(_ln_latency(np.asarray(years_since_2024, dtype=float), **inputs)))
