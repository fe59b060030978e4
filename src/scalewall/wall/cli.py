"""``scalewall wall``: parse, call :func:`scalewall.wall.project`, print, plot.

Registered by :func:`scalewall.cli._register_optional_apps` through :func:`register`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalewall._cli_common import fail as _fail
from scalewall._cli_common import jsonable as _jsonable
from scalewall._errors import PlannerError

__all__ = ["register"]

console = Console()


def _e(x: float) -> str:
    return f"{x:.1e}".replace("e+", "e")


def wall(
    scenario: Annotated[str, typer.Option(help="Built-in scenario (baseline, synthetic-data, "
                        "gigawatt-campuses, custom-chips, efficiency) or a scenario TOML "
                        "file.")] = "baseline",
    years: Annotated[str, typer.Option(help="Years FIRST:LAST (inclusive) or YEAR,YEAR.")]
    = "2024:2040",
    year: Annotated[int | None, typer.Option(help="Report this year in full (top level of "
                    "--json) and rank sensitivities for it; added to --years if outside.")]
    = None,
    draws: Annotated[int, typer.Option(help="Monte Carlo draws.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    no_copula: Annotated[bool, typer.Option("--no-copula", help="Sample the inputs "
                         "independently (ignore published correlations).")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write fan.png, binding.png and "
                    "tornado.png to this folder (needs matplotlib).")] = None,
    dask: Annotated[str | None, typer.Option(help="Run chunks of draws on Dask: 'local' or a "
                    "scheduler address.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Project the largest feasible training run per year under power, chips, data, capital
    and latency, with Monte Carlo uncertainty; which wall binds, and what moves it."""
    from scalewall.wall import parse_years, project

    try:
        year_list = parse_years(years)
        if year is not None:
            parse_years(str(year))
            year_list = sorted(set(year_list) | {year})
        focus = year if year is not None else (2030 if 2030 in year_list else year_list[0])
        result = project(scenario, years=year_list, n_draws=draws, seed=seed,
                         copula=not no_copula, sensitivity_year=focus, dask=dask)
        paths = [] if plot is None else _plots(result, plot)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        data = result.to_dict(year=focus if year is not None else None)
        if paths:
            data["plots"] = [str(p) for p in paths]
        sys.stdout.write(json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n")
        return
    _print_tables(result, focus)
    for p in paths:
        console.print(f"wrote {p}")


def _plots(result: Any, directory: Path) -> list[Path]:
    from scalewall.wall.plots import write_plots

    return write_plots(result, directory)


def _print_tables(result: Any, focus: int) -> None:
    from scalewall.wall import CONSTRAINTS

    basis = "effective FLOP" if result.flop_basis == "effective" else "FLOP"
    table = Table(title=f"The wall, scenario '{result.scenario}': median largest run per "
                  f"constraint [{basis}] ({result.n_draws:,} draws)", title_justify="left")
    for col in ("year", "trend", *CONSTRAINTS, "feasible", "binds"):
        table.add_column(col, justify="right", no_wrap=True)
    for y in result.years:
        d = result.year_dict(y)
        b = d["binding_constraint"]
        table.add_row(str(y), _e(d["trend_flop"]),
                      *[_e(d["constraints"][c]["median"]) for c in CONSTRAINTS],
                      _e(d["feasible_flop"]["median"]), f"{b} {d['binding'][b]:.0%}")
    console.print(table)
    d = result.year_dict(focus)
    detail = Table(title=f"{focus}: constraints p10 / median / p90 and binding probability",
                   title_justify="left")
    for col in ("constraint", "p10", "median", "p90", "P(binds)"):
        detail.add_column(col, justify="right")
    for c in CONSTRAINTS:
        q = d["constraints"][c]
        detail.add_row(c, _e(q["p10"]), _e(q["median"]), _e(q["p90"]), f"{d['binding'][c]:.1%}")
    console.print(detail)
    if result.sensitivity:
        sens = Table(title=f"Sensitivity of the feasible run in {focus} (top 10)",
                     title_justify="left")
        for col in ("input", "rank corr.", "at p10", "at p90", "swing [decades]"):
            sens.add_column(col, justify="right")
        for s in result.sensitivity[:10]:
            sens.add_row(s.input, f"{s.spearman:+.2f}", _e(s.low_flop), _e(s.high_flop),
                         f"{s.swing_decades:.2f}")
        console.print(sens)
    first = result.first_binding_years()
    console.print("first year the median falls below trend: " + ", ".join(
        f"{k} {v if v is not None else '-'}" for k, v in first.items()))


def register(app: typer.Typer) -> None:
    """Add ``scalewall wall`` to the main app."""
    app.command("wall")(wall)
