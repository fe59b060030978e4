"""Figures of a projection: fan chart per constraint against the trend, binding probabilities
by year, and a tornado chart of sensitivities. Needs matplotlib (display code only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scalewall._errors import InvalidParameter
from scalewall.wall.montecarlo import CONSTRAINTS, WallResult

__all__ = ["write_plots"]

_COLORS = {"power": "#d62728", "chips": "#1f77b4", "data": "#2ca02c", "capital": "#9467bd",
           "latency": "#8c564b", "feasible": "#111111"}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidParameter(
            "--plot needs matplotlib: pip install 'scalewall[plot]' (or pip install matplotlib)"
        ) from None
    return plt


def write_plots(result: WallResult, directory: Path) -> list[Path]:
    """Write ``fan.png``, ``binding.png`` and (with sensitivities) ``tornado.png``."""
    plt = _pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    years = list(result.years)
    unit = "effective FLOP (2024 algorithms)" if result.flop_basis == "effective" else "FLOP"
    paths: list[Path] = []

    fig, axes = plt.subplots(2, 3, figsize=(14, 8), sharex=True, sharey=True)
    series = [(name, result.constraints[name]) for name in CONSTRAINTS]
    series.append(("feasible", result.feasible_flop))
    for ax, (name, q) in zip(axes.flat, series, strict=True):
        ax.fill_between(years, q[0], q[2], color=_COLORS[name], alpha=0.25,
                        label="p10-p90")
        ax.plot(years, q[1], color=_COLORS[name], lw=2, label="median")
        ax.plot(years, result.trend_flop, color="black", ls="--", lw=1, label="trend")
        ax.set_yscale("log")
        ax.set_title("feasible (smallest constraint)" if name == "feasible" else name)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"largest run [{unit}]")
    for ax in axes[-1]:
        ax.set_xlabel("year")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"The wall, scenario '{result.scenario}': largest feasible training run per "
                 f"constraint vs trend ({result.n_draws:,} draws)")
    fig.tight_layout()
    paths.append(directory / "fan.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 5))
    bottom = [0.0] * len(years)
    for name in CONSTRAINTS:
        p = list(result.binding[name])
        ax.bar(years, p, bottom=bottom, color=_COLORS[name], label=name, width=0.85)
        bottom = [b + v for b, v in zip(bottom, p, strict=True)]
    ax.set_ylim(0, 1)
    ax.set_xticks(years[:: max(1, len(years) // 9)])
    ax.set_ylabel("probability the constraint binds")
    ax.set_xlabel("year")
    ax.set_title(f"Which wall binds: scenario '{result.scenario}'")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    paths.append(directory / "binding.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    if result.sensitivity:
        top = [s for s in result.sensitivity if s.swing_decades > 0][:15][::-1]
        base = top[0].base_flop if top else 1.0
        fig, ax = plt.subplots(figsize=(9, 0.4 * len(top) + 1.8))
        for i, s in enumerate(top):
            lo, hi = min(s.low_flop, s.high_flop), max(s.low_flop, s.high_flop)
            ax.barh(i, hi - lo, left=lo, color="#4c72b0" if s.high_flop >= s.low_flop
                    else "#dd8452")
        ax.axvline(base, color="black", lw=1)
        ax.set_xscale("log")
        if top:
            edges = [v for s in top for v in (s.low_flop, s.high_flop)]
            ax.set_xlim(min(edges) / 1.3, max(edges) * 1.3)
        ax.set_yticks(range(len(top)), [s.input for s in top])
        ax.set_xlabel(f"feasible run in {result.sensitivity_year} [{unit}], input at p10 vs "
                      f"p90 (others at p50)")
        ax.set_title(f"Sensitivity, scenario '{result.scenario}' (blue: p90 raises, orange: "
                     f"p90 lowers)")
        fig.tight_layout()
        paths.append(directory / "tornado.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
