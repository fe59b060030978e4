"""Monte Carlo projection of the largest feasible training run, year by year.

Draws come in chunks of 32,768 (so arrays stay in cache, and chunks can be Dask tasks); within
a chunk, per-draw inputs have shape ``(1, draws)``, year offsets ``(years, 1)``, and every
constraint is one numpy expression over ``(years, draws)`` in natural-log FLOP (float32: ln
FLOP near 70 keeps about 1e-5 relative precision, far below the spread of the inputs). There
is no Python loop over draws. Chunks return mergeable histograms and binding counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scalewall._errors import InvalidParameter
from scalewall.wall.constraints import (
    _ln_capital,
    _ln_data,
    _ln_latency,
    _ln_power,
    _ln_run_per_chip,
    _ln_stock_h100e,
)
from scalewall.wall.inputs import INPUTS, Z_P90, sample_inputs
from scalewall.wall.scenarios import Scenario, load_scenario

__all__ = [
    "BASE_YEAR",
    "CONSTRAINTS",
    "MAX_YEAR",
    "Sensitivity",
    "WallResult",
    "evaluate_ln_flop",
    "parse_years",
    "project",
]

#: Inputs are end-2023 stocks: year offsets count from here.
BASE_YEAR = 2024
#: Beyond this, extrapolating 2024 trends says nothing.
MAX_YEAR = 2060
CONSTRAINTS = ("power", "chips", "data", "capital", "latency")
_STOCK_KEYS = ("chip_stock_2024", "chip_production_2024_per_yr", "chip_production_growth",
               "chip_perf_growth", "wafers_2024_per_yr", "wafer_capex_growth",
               "wafer_volume_capex_ratio", "dies_per_wafer", "wafer_share_to_ai")
MAX_DRAWS = 50_000_000


def parse_years(text: str) -> list[int]:
    """``"2024:2040"`` (inclusive), ``"2030"`` or ``"2025,2030"`` -> years, checked.

    Examples
    --------
    >>> parse_years("2028:2030")
    [2028, 2029, 2030]
    """
    try:
        if ":" in text:
            lo, hi = (int(p) for p in text.split(":", 1))
            years = list(range(lo, hi + 1))
        else:
            years = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InvalidParameter(
            f"years must be FIRST:LAST, YEAR or YEAR,YEAR (e.g. 2024:2040), got {text!r}"
        ) from None
    _check_years(years, given=text)
    return years


def _check_years(years: Sequence[int], *, given: object) -> None:
    if not years:
        raise InvalidParameter(f"years: need at least one year, got {given!r}")
    bad = [y for y in years if not BASE_YEAR <= y <= MAX_YEAR]
    if bad:
        raise InvalidParameter(
            f"years must be within {BASE_YEAR}-{MAX_YEAR} (inputs are end-2023 stocks), got "
            f"{bad[0]} in {given!r}")


def evaluate_ln_flop(
    values: Mapping[str, Any], offsets: npt.NDArray[Any], *, flop_basis: str = "physical",
) -> dict[str, Any]:
    """ln FLOP of each constraint at year ``offsets`` for every draw in ``values``.

    ``values`` holds per-draw arrays of shape ``(draws,)`` or floats; ``offsets`` is a 1-D
    integer array of years since 2024. Returns arrays of shape ``(years, draws)``.
    Generation compute for synthetic data (share s, ratio r) divides the compute-bound
    constraints by 1 + r s; algorithmic efficiency multiplies every constraint but data (Ho et
    al. 2024: it does not relax the data wall).
    """
    some = next((x for x in values.values() if isinstance(x, np.ndarray)), None)
    dtype = some.dtype.type if some is not None else np.float64
    # constants become scalars of the draws' dtype, so float32 arrays are never upcast
    v = {k: (x[None, :] if isinstance(x, np.ndarray) else dtype(x)) for k, x in values.items()}
    t = offsets.astype(dtype)[:, None]  # (years, 1)
    flat = {k: (x if isinstance(x, np.ndarray) else dtype(x)) for k, x in values.items()}
    ln_stock_all = _ln_stock_h100e(int(offsets.max()), dtype=dtype,
                                   **{k: flat[k] for k in _STOCK_KEYS})
    ln_alg = t * np.log(dtype(v["algorithmic_efficiency_growth"])) \
        if np.any(np.asarray(v["algorithmic_efficiency_growth"]) != 1.0) else 0.0
    gen = np.log1p(np.asarray(v["synthetic_compute_ratio"] * v["synthetic_token_share"],
                              dtype=dtype))
    out = {
        "power": _ln_power(t, **v),
        "chips": ln_stock_all[offsets] + _ln_run_per_chip(**v),
        "data": _ln_data(t, **v),
        "capital": _ln_capital(t, **v),
        "latency": _ln_latency(t, **v),
    }
    for name in ("power", "chips", "capital"):
        if np.any(gen != 0):
            out[name] = out[name] - gen
    if not isinstance(ln_alg, float):
        for name in ("power", "chips", "capital", "latency"):
            out[name] = out[name] + ln_alg
    shape = (len(offsets), some.shape[0] if some is not None else 1)
    return {k: np.broadcast_to(np.asarray(x, dtype=dtype), shape) for k, x in out.items()}


@dataclass(frozen=True)
class Sensitivity:
    """How much one input moves ln feasible FLOP in the target year."""

    input: str
    spearman: float  # rank correlation of the input with feasible FLOP across draws
    low_flop: float  # feasible FLOP with this input at its p10, others at p50
    high_flop: float  # ... at its p90
    base_flop: float  # all inputs at p50

    @property
    def swing_decades(self) -> float:
        """|log10(high / low)|: the tornado bar length in orders of magnitude."""
        return abs(math.log10(self.high_flop / self.low_flop))


@dataclass(frozen=True)
class WallResult:
    """Per-year quantiles of each constraint and of the feasible run, binding probabilities."""

    scenario: str
    flop_basis: str
    years: tuple[int, ...]
    n_draws: int
    seed: int | None
    trend_flop: npt.NDArray[np.float64]  # (years,)
    constraints: dict[str, npt.NDArray[np.float64]]  # name -> (3, years): p10, p50, p90
    feasible_flop: npt.NDArray[np.float64]  # (3, years)
    binding: dict[str, npt.NDArray[np.float64]]  # name -> (years,) probability
    sensitivity_year: int | None = None
    sensitivity: tuple[Sensitivity, ...] = field(default=())

    def index(self, year: int) -> int:
        if year not in self.years:
            raise InvalidParameter(f"year {year} is not in the projection "
                                   f"({self.years[0]}-{self.years[-1]})")
        return self.years.index(year)

    def year_dict(self, year: int) -> dict[str, Any]:
        """The figures of one year: ``trend_flop``, ``feasible_flop``, ``constraints``,
        ``binding``, ``binding_constraint``."""
        i = self.index(year)

        def q(a: npt.NDArray[np.float64]) -> dict[str, float]:
            return {"p10": float(a[0, i]), "median": float(a[1, i]), "p90": float(a[2, i])}

        binding = {k: float(p[i]) for k, p in self.binding.items()}
        return {
            "year": year,
            "trend_flop": float(self.trend_flop[i]),
            "feasible_flop": q(self.feasible_flop),
            "constraints": {k: q(a) for k, a in self.constraints.items()},
            "binding": binding,
            "binding_constraint": max(binding, key=binding.__getitem__),
            "feasible_over_trend": float(self.feasible_flop[1, i] / self.trend_flop[i]),
        }

    def first_binding_years(self) -> dict[str, int | None]:
        """Per constraint, the first year whose median falls below the trend (None: never
        within the projection)."""
        out: dict[str, int | None] = {}
        for name, q in self.constraints.items():
            below = np.nonzero(q[1] < self.trend_flop)[0]
            out[name] = self.years[int(below[0])] if below.size else None
        return out

    def to_dict(self, *, year: int | None = None) -> dict[str, Any]:
        """JSON-ready: one year's figures at the top level when ``year`` is given, plus the
        per-year series, the sensitivities and the run's settings."""
        head: dict[str, Any] = self.year_dict(year) if year is not None else {}
        return {
            **head,
            "scenario": self.scenario,
            "flop_basis": self.flop_basis,
            "draws": self.n_draws,
            "seed": self.seed,
            "first_year_below_trend": self.first_binding_years(),
            "sensitivity_year": self.sensitivity_year,
            "sensitivity": [
                {"input": s.input, "spearman": s.spearman, "p10_flop": s.low_flop,
                 "p90_flop": s.high_flop, "base_flop": s.base_flop,
                 "swing_decades": s.swing_decades} for s in self.sensitivity
            ],
            "years": [self.year_dict(y) for y in self.years],
        }


# Quantiles come from per-year histograms of ln FLOP, which merge across chunks and Dask
# workers; 4,096 bins over ln(1e15)..ln(1e45) are 0.017 wide in ln (1.7%), and linear
# interpolation inside a bin brings the error well under the Monte Carlo noise.
_LN_LO = math.log(1e15)
_LN_HI = math.log(1e45)
_BINS = 4_096
_SCALE = _BINS / (_LN_HI - _LN_LO)
#: Draws per chunk: (years x chunk) float32 arrays stay in cache.
CHUNK_DRAWS = 32_768


def _histogram(ln: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Counts of ln FLOP per (year, bin): shape (years, _BINS)."""
    m = ln.shape[0]
    idx = ((ln - np.float32(_LN_LO)) * np.float32(_SCALE)).astype(np.intp)
    np.clip(idx, 0, _BINS - 1, out=idx)
    idx += (np.arange(m, dtype=np.intp) * _BINS)[:, None]
    return np.bincount(idx.ravel(), minlength=m * _BINS).reshape(m, _BINS)


def _hist_quantiles(counts: npt.NDArray[np.int64],
                    qs: Sequence[float] = (0.1, 0.5, 0.9)) -> npt.NDArray[np.float64]:
    """p10, p50, p90 FLOP per year from histogram counts: (3, years)."""
    cdf = np.cumsum(counts, axis=1)
    total = cdf[:, -1:].astype(float)
    out = np.empty((len(qs), counts.shape[0]))
    rows = np.arange(counts.shape[0])
    for j, q in enumerate(qs):
        target = q * total  # (years, 1)
        k = np.argmax(cdf >= target, axis=1)
        below = np.where(k > 0, cdf[rows, k - 1], 0)
        frac = (target[:, 0] - below) / np.maximum(counts[rows, k], 1)
        out[j] = np.exp(_LN_LO + (k + np.clip(frac, 0.0, 1.0)) / _SCALE)
    return out


@dataclass
class _Partial:
    """What a chunk contributes: histograms, binding counts and (for the sensitivity ranking)
    the first draws' normals and ln feasible FLOP in the ranking year."""

    counts: dict[str, npt.NDArray[np.int64]]
    binding: dict[str, npt.NDArray[np.int64]]
    n: int
    normals: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    ln_feasible: npt.NDArray[Any] | None = None

    def merge(self, other: _Partial) -> None:
        for k in self.counts:
            self.counts[k] += other.counts[k]
        for k in self.binding:
            self.binding[k] += other.binding[k]
        self.n += other.n


def _run_chunk(scenario: Scenario, offsets: npt.NDArray[np.int64], n: int,
               seed: np.random.SeedSequence, copula: bool, keep_row: int | None,
               dtype: type[np.floating[Any]] = np.float32) -> _Partial:
    values, normals = sample_inputs(scenario.inputs, scenario.correlations, n_draws=n,
                                    rng=np.random.default_rng(seed), copula=copula,
                                    dtype=dtype)
    ln = evaluate_ln_flop(values, offsets, flop_basis=scenario.flop_basis)  # (years, n) each
    ln_min = ln["power"].copy()
    for name in CONSTRAINTS[1:]:
        np.minimum(ln_min, ln[name], out=ln_min)
    part = _Partial(
        counts={name: _histogram(ln[name]) for name in CONSTRAINTS},
        binding={name: np.count_nonzero(ln[name] == ln_min, axis=1) for name in CONSTRAINTS},
        n=n,
    )
    part.counts["feasible"] = _histogram(ln_min)
    if keep_row is not None:
        part.normals = normals
        part.ln_feasible = ln_min[keep_row].copy()
    return part


def _run_on_dask(address: str, args: list[tuple[Any, ...]]) -> list[_Partial]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InvalidParameter(
            "dask needs the dask extra: pip install 'scalewall[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=False)
    try:
        target = cluster if cluster is not None else address
        with Client(target) as client:  # type: ignore[no-untyped-call]
            futures = client.map(_run_chunk_args, args, pure=False)
            return list(client.gather(futures))
    finally:
        if cluster is not None:
            cluster.close()


def _run_chunk_args(args: tuple[Any, ...]) -> _Partial:
    return _run_chunk(*args)


def _spearman(x: npt.NDArray[Any], y_rank: npt.NDArray[np.float64]) -> float:
    xr = np.empty(x.size)
    xr[np.argsort(x, kind="stable")] = np.arange(x.size)
    xr -= xr.mean()
    return float(xr @ y_rank / math.sqrt((xr @ xr) * (y_rank @ y_rank)))


def project(
    scenario: Scenario | str = "baseline",
    *,
    years: Sequence[int] = tuple(range(2024, 2041)),
    n_draws: int = 100_000,
    seed: int | None = 0,
    copula: bool = True,
    sensitivity_year: int | None = None,
    sensitivity_draws: int = 100_000,
    dask: str | None = None,
) -> WallResult:
    """Project the largest feasible training run for each year, with uncertainty.

    Parameters
    ----------
    scenario : Scenario or str
        A loaded scenario, a built-in name or a TOML path.
    years : sequence of int
        Calendar years, 2024-2060.
    n_draws : int
        Monte Carlo draws (>= 1,000).
    seed : int or None
        Seed of the draws; the same seed gives the same result on any backend (chunks draw
        from ``SeedSequence(seed).spawn``).
    copula : bool
        Join the inputs with the scenario's rank correlations (False: independent).
    sensitivity_year : int or None
        Rank the inputs by their effect on feasible FLOP in this year (must be in ``years``):
        Spearman correlation over the first ``sensitivity_draws`` draws, and one-at-a-time
        p10/p90 swings around the all-median point (the tornado chart).
    dask : str or None
        ``None`` runs in-process; ``"local"`` or a scheduler address spreads the chunks of
        draws over a Dask cluster (one task per chunk of 32,768 draws).

    Returns
    -------
    WallResult

    Notes
    -----
    Feasible compute is the smallest constraint, draw by draw:

    .. math:: C_{max}(y) = \\min(C_{power}, C_{chips}, C_{data}, C_{capital}, C_{latency})

    and the binding constraint is the argmin (section 9 of ``wall-models.md``; Epoch AI 2024).
    Each chunk of draws is one vectorized evaluation over (years x draws); quantiles come from
    merged histograms of ln FLOP.

    Examples
    --------
    >>> r = project(years=[2030], n_draws=20_000, seed=1)
    >>> r.year_dict(2030)["binding_constraint"]
    'power'
    """
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    years = [int(y) for y in years]
    _check_years(years, given=years)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or \
            not 1_000 <= n_draws <= MAX_DRAWS:
        raise InvalidParameter(
            f"n_draws must be an integer in [1000, {MAX_DRAWS:,}], got {n_draws!r}")
    if sensitivity_year is not None and sensitivity_year not in years:
        raise InvalidParameter(
            f"sensitivity_year {sensitivity_year} must be one of the projected years "
            f"({years[0]}-{years[-1]})")
    offsets = np.asarray(years, dtype=np.int64) - BASE_YEAR
    sizes = [CHUNK_DRAWS] * (n_draws // CHUNK_DRAWS)
    if n_draws % CHUNK_DRAWS:
        sizes.append(n_draws % CHUNK_DRAWS)
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    keep_row = years.index(sensitivity_year) if sensitivity_year is not None else None
    n_keep = -(-min(sensitivity_draws, n_draws) // CHUNK_DRAWS)  # chunks kept for ranking
    args = [(scenario, offsets, n, s, copula, keep_row if i < n_keep else None)
            for i, (n, s) in enumerate(zip(sizes, seeds, strict=True))]
    if dask is None:
        parts = [_run_chunk(*a) for a in args]
    else:
        parts = _run_on_dask(dask, args)
    total = parts[0]
    kept = [p for p in parts if p.ln_feasible is not None]
    for p in parts[1:]:
        total.merge(p)
    t = offsets.astype(float)
    alg = scenario.inputs["algorithmic_efficiency_growth"].p50 \
        if scenario.flop_basis == "effective" else 1.0
    trend = scenario.trend.flop_2024 * (scenario.trend.growth_per_year * alg) ** t
    sens: tuple[Sensitivity, ...] = ()
    if sensitivity_year is not None:
        ln_f = np.concatenate([p.ln_feasible for p in kept if p.ln_feasible is not None])
        normals = {k: np.concatenate([p.normals[k] for p in kept]) for k in kept[0].normals}
        sens = _sensitivities(scenario, ln_f, normals, sensitivity_year, sensitivity_draws)
    return WallResult(
        scenario=scenario.name, flop_basis=scenario.flop_basis, years=tuple(years),
        n_draws=n_draws, seed=seed, trend_flop=trend,
        constraints={name: _hist_quantiles(total.counts[name]) for name in CONSTRAINTS},
        feasible_flop=_hist_quantiles(total.counts["feasible"]),
        binding={name: total.binding[name] / total.n for name in CONSTRAINTS},
        sensitivity_year=sensitivity_year, sensitivity=sens,
    )


def _sensitivities(scenario: Scenario, ln_feasible: npt.NDArray[Any],
                   normals: Mapping[str, npt.NDArray[Any]], year: int,
                   n_sub: int) -> tuple[Sensitivity, ...]:
    random = sorted(normals)
    n = min(n_sub, ln_feasible.size)
    y_rank = np.empty(n)
    y_rank[np.argsort(ln_feasible[:n], kind="stable")] = np.arange(n)
    y_rank -= y_rank.mean()
    rho = {name: _spearman(normals[name][:n], y_rank) for name in random}
    # one at a time: all inputs at p50 (column 0), then each at p10 and at p90
    k = len(random)
    z = np.zeros((k, 2 * k + 1))
    for j in range(k):
        z[j, 1 + 2 * j], z[j, 2 + 2 * j] = -Z_P90, Z_P90
    values: dict[str, Any] = {n_: d.p50 for n_, d in scenario.inputs.items()}
    for j, name in enumerate(random):
        x = scenario.inputs[name].from_normal(z[j])
        high = INPUTS[name].high
        values[name] = np.minimum(x, high) if math.isfinite(high) else x
    ln = evaluate_ln_flop(values, np.asarray([year - BASE_YEAR]),
                          flop_basis=scenario.flop_basis)
    ln_min = np.minimum.reduce([ln[c][0] for c in CONSTRAINTS])
    flop = np.exp(ln_min)
    out = [Sensitivity(input=name, spearman=rho[name], low_flop=float(flop[1 + 2 * j]),
                       high_flop=float(flop[2 + 2 * j]), base_flop=float(flop[0]))
           for j, name in enumerate(random)]
    out.sort(key=lambda s: (-s.swing_decades, -abs(s.spearman)))
    return tuple(out)


