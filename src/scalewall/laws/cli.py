"""``scalewall laws optimal|loss|fit|compare`` and ``scalewall data``: parse, call, print.

Registered by :func:`scalewall.cli._register_optional_apps` through :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from scalewall._cli_common import fail as _fail
from scalewall._cli_common import parse_amount
from scalewall._cli_common import print_json as _print_json
from scalewall._errors import InvalidParameter, PlannerError
from scalewall.laws import plots

__all__ = ["register"]

laws_app = typer.Typer(help="Scaling laws: compute-optimal models, predicted loss, fitting your "
                       "own runs, comparing laws.", no_args_is_help=True)
console = Console()


def _with_plot(out: dict[str, Any], plot: Path | None, draw: Callable[[Path], object]) -> None:
    """Draw the figure into ``--plot`` FILE, when given, and record its path in ``out``."""
    if plot is not None:
        draw(plot)
        out["plot"] = str(plot)


class Law(StrEnum):
    hoffmann2022 = "hoffmann2022"
    hoffmann2022_unrounded = "hoffmann2022-unrounded"
    besiroglu2024 = "besiroglu2024"
    muennighoff2023 = "muennighoff2023"
    kaplan2020 = "kaplan2020"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Write a figure to FILE.png or "
                    "FILE.html (needs matplotlib).")]
CatalogOpt = Annotated[list[Path] | None, typer.Option("--catalog", help="Extra catalog TOML "
                       "file (repeatable).")]
LawsCatalogOpt = Annotated[list[Path] | None, typer.Option("--laws-catalog", help="Extra laws "
                           "catalog TOML file (repeatable); also SCALEWALL_LAWS_CATALOG.")]
LawOpt = Annotated[Law, typer.Option(help="Scaling law (catalog id).")]


def _amount(text: str | None, name: str) -> float | None:
    return None if text is None else parse_amount(text, name=name)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    v = float(x)
    return f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 or v == 0 else f"{v:.3e}"


def _table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    for key, value in rows.items():
        table.add_row(key, _fmt(value) if not isinstance(value, list) else
                      ", ".join(_fmt(v) for v in value))
    return table


def _frontier_curves(laws: list[str], lcat: Any) -> dict[str, Any]:
    from scalewall.laws.parametric import get_compute_optimal

    flop = np.logspace(18, 28, 60)
    curves = {}
    for law in laws:
        o = get_compute_optimal(flop, law=law, catalog=lcat)
        curves[law] = (flop, o.n_params, o.n_tokens, o.loss)
    return curves


@laws_app.command("optimal")
def optimal(
    compute: Annotated[str | None, typer.Option(help="Training FLOP budget, e.g. 5.76e23.")]
    = None,
    law: LawOpt = Law.hoffmann2022,
    unique_tokens: Annotated[str | None, typer.Option(help="Unique tokens available: also "
                             "give the data-constrained optimum (Muennighoff et al. 2023).")]
    = None,
    budget_usd: Annotated[str | None, typer.Option(help="Rental-dollar budget on --hardware "
                          "x --devices (through the training planner).")] = None,
    budget_mwh: Annotated[str | None, typer.Option(help="Facility-energy budget [MWh].")]
    = None,
    budget_days: Annotated[str | None, typer.Option(help="Wall-clock budget [days].")] = None,
    hardware: Annotated[str, typer.Option(help="Catalog accelerator for budgets and "
                        "inference costs.")] = "h100-sxm",
    devices: Annotated[int, typer.Option(min=1, help="Devices for a budget.")] = 1024,
    inference_tokens: Annotated[str | None, typer.Option(help="Lifetime inference tokens: "
                                "size for training plus inference (Sardana et al. 2024).")]
    = None,
    target_loss: Annotated[float | None, typer.Option(help="Loss to reach with "
                           "--inference-tokens.")] = None,
    like_params: Annotated[str | None, typer.Option(help="With --inference-tokens: target "
                           "the loss of the compute-optimal model of this size.")] = None,
    catalog: CatalogOpt = None,
    laws_catalog: LawsCatalogOpt = None,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The loss-optimal model for a FLOP, dollar, MWh or day budget, or for a target loss
    plus inference demand. JSON always has n_params, n_tokens and loss."""
    from scalewall.laws.constants import get_laws_catalog

    try:
        lcat = get_laws_catalog(laws_catalog or [])
        budgets = {k: v for k, v in (("usd", budget_usd), ("mwh", budget_mwh),
                                     ("days", budget_days)) if v is not None}
        modes = (compute is not None) + bool(budgets) + (inference_tokens is not None)
        if modes != 1 or len(budgets) > 1:
            raise InvalidParameter(
                "laws optimal: give exactly one of --compute, --budget-usd, --budget-mwh, "
                "--budget-days or --inference-tokens"
            )
        out: dict[str, Any]
        marker = None
        if compute is not None:
            from scalewall.laws.parametric import get_compute_optimal

            flop = _amount(compute, "compute") or 0.0
            o = get_compute_optimal(flop, law=law.value, catalog=lcat)
            out = o.to_dict()
            marker = (flop, float(o.n_params), float(o.n_tokens))
            if unique_tokens is not None:
                from scalewall.laws.repetition import optimal_data_constrained

                dc = optimal_data_constrained(
                    flop, _amount(unique_tokens, "unique-tokens") or 0.0, law=law.value,
                    catalog=lcat)
                out["data_constrained"] = dc.to_dict()
        elif budgets:
            from scalewall.catalog import get_catalog
            from scalewall.laws.costs import optimal_for_budget

            kind, text = next(iter(budgets.items()))
            b = optimal_for_budget(_amount(text, f"budget-{kind}") or 0.0, kind=kind,
                                   hardware=hardware, n_devices=devices, law=law.value,
                                   catalog=get_catalog(catalog or []), laws_catalog=lcat)
            out = b.to_dict()
            marker = (b.train_flop, b.n_params, b.n_tokens)
        else:
            out = _inference_aware(inference_tokens, target_loss, like_params, law.value,
                                   hardware, catalog, lcat)
        _with_plot(out, plot, lambda p: plots.plot_frontier(
            _frontier_curves([law.value], lcat), p, marker=marker))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    console.print(_table(f"optimal model ({out.get('law')})",
                         {k: v for k, v in out.items() if not isinstance(v, dict)}))
    for key, value in out.items():
        if isinstance(value, dict):
            console.print(_table(key, {k: v for k, v in value.items()
                                       if not isinstance(v, dict)}))


def _inference_aware(inference_tokens: str | None, target_loss: float | None,
                     like_params: str | None, law: str, hardware: str,
                     catalog: list[Path] | None, lcat: Any) -> dict[str, Any]:
    from scalewall.catalog import get_catalog
    from scalewall.laws.costs import inference_cost
    from scalewall.laws.inference_aware import chinchilla_tokens_for_params, inference_aware_optimal
    from scalewall.laws.parametric import FLOP_PER_PARAM_TOKEN, loss_chinchilla

    demand = _amount(inference_tokens, "inference-tokens") or 0.0
    c = lcat.chinchilla(law)
    if (target_loss is None) == (like_params is None):
        raise InvalidParameter(
            "laws optimal --inference-tokens: give exactly one of --target-loss or --like-params"
        )
    if like_params is not None:
        n_like = _amount(like_params, "like-params") or 0.0
        d_like = chinchilla_tokens_for_params(n_like, law=c)
        target = float(loss_chinchilla(n_like, d_like, e=c.e, a=c.a, b=c.b, alpha=c.alpha,
                                       beta=c.beta))
    else:
        target = float(target_loss or 0.0)
    o = inference_aware_optimal(target, demand, law=c)
    out: dict[str, Any] = {"law": c.id, "n_params": o.n_params, "n_tokens": o.n_tokens,
                           "loss": o.target_loss, "flop": o.to_dict()}
    # Real-cost version: dollars and energy per parameter-token of training (planner-free:
    # 6 FLOP at the achievable matmul rate) and of inference (the roofline estimate).
    cat = get_catalog(catalog or [])
    probe = inference_cost(1e9, 1e9, hardware=hardware, decode_batch=lcat.assumption(
        "decode_batch"), catalog=cat)
    train = inference_cost(1e9, 0.0, FLOP_PER_PARAM_TOKEN / 2.0 * 1e9, hardware=hardware,
                           decode_batch=lcat.assumption("decode_batch"), catalog=cat)
    for unit, attr in (("usd", "cost_usd"), ("energy_j", "energy_j")):
        k_inf, k_tr = getattr(probe, attr), getattr(train, attr)
        if k_inf is None or k_tr is None:
            continue
        r = inference_aware_optimal(target, demand, law=c,
                                    train_cost_per_param_token=float(k_tr) / 1e18,
                                    inference_cost_per_param_token=float(k_inf) / 1e18)
        out[unit] = r.to_dict()
    out["inference_cost_method"] = probe.method
    return out


@laws_app.command("loss")
def loss(
    params: Annotated[str, typer.Option(help="Parameters, e.g. 70B.")],
    tokens: Annotated[str, typer.Option(help="Training tokens, e.g. 1.4T.")],
    law: LawOpt = Law.hoffmann2022,
    unique_tokens: Annotated[str | None, typer.Option(help="Unique tokens: repeated epochs "
                             "lose value (Muennighoff et al. 2023).")] = None,
    laws_catalog: LawsCatalogOpt = None,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predicted loss L(N, D) [nats/token]."""
    from scalewall.laws.constants import get_laws_catalog
    from scalewall.laws.parametric import get_loss

    try:
        lcat = get_laws_catalog(laws_catalog or [])
        n = _amount(params, "params") or 0.0
        d = _amount(tokens, "tokens") or 0.0
        value = float(get_loss(n, d, law=law.value, catalog=lcat))
        out: dict[str, Any] = {"law": law.value, "n_params": n, "n_tokens": d, "loss": value}
        curves: dict[str, Any] = {}
        grid = np.logspace(np.log10(d) - 2, np.log10(d) + 1, 100)
        curves[f"{law.value}, N={n:.3g}"] = get_loss(n, grid, law=law.value, catalog=lcat)
        if unique_tokens is not None:
            from scalewall.laws.repetition import loss_data_constrained

            u = _amount(unique_tokens, "unique-tokens") or 0.0
            out["unique_tokens"] = u
            out["epochs"] = d / u
            out["loss_repeated"] = float(loss_data_constrained(n, d, u, law=law.value,
                                                               catalog=lcat))
            out["loss_penalty"] = out["loss_repeated"] - value
            curves[f"{u:.3g} unique tokens"] = loss_data_constrained(n, grid, u, law=law.value,
                                                                     catalog=lcat)
        _with_plot(out, plot, lambda p: plots.plot_loss_curve(
            grid, curves, p, title=f"predicted loss, {law.value}",
            marker=(d, out.get("loss_repeated", value))))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    console.print(_table("predicted loss", out))


@laws_app.command("fit")
def fit(
    runs_file: Annotated[Path, typer.Argument(help="CSV of runs: n_params, n_tokens (or "
                         "train_flop) and loss.")],
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95% "
                         "intervals.")] = 100,
    starts: Annotated[str, typer.Option(help="L-BFGS starts from the best points of the "
                      "4,500-point grid, or 'all'.")] = "32",
    drop_highest: Annotated[int, typer.Option(min=0, help="Drop the runs with the highest "
                            "loss first (Besiroglu et al. drop 5).")] = 0,
    seed: Annotated[int, typer.Option(help="Resampling seed.")] = 0,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit L = E + A/N^α + B/D^β to your runs (Huber on log-loss, L-BFGS from a grid, as
    Hoffmann et al.), with bootstrap 95% intervals; --plot draws fit and residuals."""
    from scalewall.laws.fitting import fit_law, read_runs_csv

    try:
        if starts != "all" and not starts.isdigit():
            raise InvalidParameter(f"--starts must be a positive integer or 'all', got {starts!r}")
        runs = read_runs_csv(runs_file)
        result = fit_law(runs, n_bootstrap=bootstrap, n_starts=None if starts == "all"
                         else int(starts), seed=seed, drop_highest=drop_highest)
        out = result.to_dict()
        _with_plot(out, plot, lambda p: plots.plot_fit(result, p))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    table = Table(title=f"fit of {result.n_runs} runs ({runs_file})", title_justify="left")
    for col in ("constant", "estimate", "95% low", "95% high"):
        table.add_column(col)
    for key, value in result.params.items():
        lo, hi = result.ci95.get(key, (None, None))
        table.add_row(key, _fmt(value), _fmt(lo), _fmt(hi))
    console.print(table)
    console.print(f"N_opt ∝ C^{result.tokens_per_param_exponent:.3f}; "
                  f"rms log residual {out['rms_log_residual']:.4f}")


@laws_app.command("compare")
def compare(
    compute: Annotated[str, typer.Option(help="Training FLOP budget.")] = "5.76e23",
    laws: Annotated[str, typer.Option(help="Comma-separated law ids.")] =
    "hoffmann2022,hoffmann2022-unrounded,besiroglu2024,kaplan2020",
    laws_catalog: LawsCatalogOpt = None,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute-optimal size, tokens and loss at one budget under several laws."""
    from scalewall.laws.constants import get_laws_catalog
    from scalewall.laws.parametric import get_compute_optimal

    try:
        lcat = get_laws_catalog(laws_catalog or [])
        flop = _amount(compute, "compute") or 0.0
        names = [s.strip() for s in laws.split(",") if s.strip()]
        rows = [get_compute_optimal(flop, law=name, catalog=lcat).to_dict() for name in names]
        out: dict[str, Any] = {"train_flop": flop, "laws": rows}
        _with_plot(out, plot, lambda p: plots.plot_frontier(
            _frontier_curves([r["law"] for r in rows], lcat), p))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    table = Table(title=f"compute-optimal models at {flop:.3g} FLOP", title_justify="left")
    for col in ("law", "parameters", "tokens", "tokens/param", "loss"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["law"], _fmt(r["n_params"]), _fmt(r["n_tokens"]),
                      _fmt(r["tokens_per_param"]), _fmt(r["loss"]))
    console.print(table)
    console.print("Losses of different laws are on different data sets (MassiveText, C4); "
                  "compare allocations, not losses.")


def data(
    tokens: Annotated[str, typer.Option(help="Planned training tokens, e.g. 15.6T.")],
    params: Annotated[str | None, typer.Option(help="Parameters, e.g. 405B.")] = None,
    model: Annotated[str | None, typer.Option(help="Catalog model instead of --params.")]
    = None,
    stock: Annotated[str, typer.Option(help="Public text stock (laws catalog id).")]
    = "villalobos2024",
    private_tokens: Annotated[list[str] | None, typer.Option(help="Your own corpus, in "
                              "tokens (repeatable).")] = None,
    max_epochs: Annotated[float | None, typer.Option(help="Epochs allowed before the rest "
                          "is a gap (default 4, Muennighoff et al. 2023).")] = None,
    teacher_params: Annotated[str | None, typer.Option(help="Teacher model that fills the "
                              "gap with synthetic data, e.g. 70B.")] = None,
    tokens_per_kept: Annotated[float | None, typer.Option(help="Generated tokens per kept "
                               "token after filtering (default 4).")] = None,
    prompt_per_kept: Annotated[float | None, typer.Option(help="Prompt tokens per kept "
                               "token (default 0.5).")] = None,
    hardware: Annotated[str, typer.Option(help="Accelerator running the teacher.")]
    = "h100-sxm",
    law: LawOpt = Law.hoffmann2022,
    catalog: CatalogOpt = None,
    laws_catalog: LawsCatalogOpt = None,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Data budget of a run: tokens needed against the stock, epochs and their loss penalty,
    and the cost of filling the gap with synthetic data."""
    from scalewall.arch.counts import n_params as count_params
    from scalewall.catalog import get_catalog
    from scalewall.laws.constants import get_laws_catalog
    from scalewall.laws.databudget import data_budget

    try:
        cat = get_catalog(catalog or [])
        if (params is None) == (model is None):
            raise InvalidParameter("data: give exactly one of --params or --model")
        n = _amount(params, "params") if params is not None else \
            float(count_params(cat.model(model or "")))
        report = data_budget(
            n or 0.0, _amount(tokens, "tokens") or 0.0, stock=stock,
            private_tokens=[_amount(t, "private-tokens") or 0.0 for t in private_tokens or []],
            max_epochs=max_epochs, law=law.value,
            teacher_params=_amount(teacher_params, "teacher-params"),
            tokens_per_kept=tokens_per_kept, prompt_tokens_per_kept=prompt_per_kept,
            hardware=hardware, catalog=cat, laws_catalog=get_laws_catalog(laws_catalog or []),
        )
        out = report.to_dict()
        _with_plot(out, plot, lambda p: plots.plot_data_budget(report, p))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    console.print(_table(f"data budget ({report.stock}: low, median, high)",
                         {k: v for k, v in out.items()
                          if k not in ("synthetic_cost", "estimates")}))
    if report.synthetic_cost is not None:
        sc = report.synthetic_cost.to_dict()
        console.print(_table(f"synthetic data for the gap (teacher on {sc['accelerator']})",
                             {k: v for k, v in sc.items() if k not in ("accelerator",)}))


def register(app: typer.Typer) -> None:
    """Add ``laws`` and ``data`` to the ``scalewall`` command."""
    app.add_typer(laws_app, name="laws")
    app.command("data")(data)
